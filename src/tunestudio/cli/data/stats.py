"""``tunestudio data stats FILE [--tokenizer HF_ID_OR_PATH] [--png PATH] [--json]``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tunestudio.cli.common import console, err_console
from tunestudio.cli.data.app import app

if TYPE_CHECKING:
    from rich.table import Table

    from tunestudio.data.stats import DatasetStats, LengthSummary


@app.command()
def stats(
    file: Annotated[
        Path,
        typer.Argument(metavar="FILE", help="Dataset to describe (.csv, .jsonl, .json, .xlsx)."),
    ],
    tokenizer: Annotated[
        str | None,
        typer.Option(
            "--tokenizer",
            help="Count tokens with this tokenizer: a local folder (offline) or a hub id.",
        ),
    ] = None,
    png: Annotated[
        Path | None,
        typer.Option(
            "--png", help="Where to write the chart.", show_default="<stem>.stats.png beside FILE"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the numbers as JSON.")] = False,
) -> None:
    """Rows, turns, labels and lengths (characters, and tokens with --tokenizer), with a chart."""
    from tunestudio.data.formats import load_dataset
    from tunestudio.data.stats import dataset_stats, load_tokenizer, plot_stats

    dataset = load_dataset(file)
    with err_console.status("loading the tokenizer…" if tokenizer else "counting…"):
        tok = load_tokenizer(tokenizer) if tokenizer else None
        result = dataset_stats(
            dataset.conversations,
            rows=len(dataset.table.rows),
            tokenizer=tok,
            tokenizer_name=tokenizer,
        )
        chart = plot_stats(
            result,
            png or file.with_name(f"{file.stem}.stats.png"),
            title=f"{file.name} — {result.conversations:,} conversations, {result.rows:,} rows",
        )
    if as_json:
        payload = {"file": str(file), "format": dataset.format, **result.to_dict()}
        typer.echo(json.dumps({**payload, "png": str(chart)}, ensure_ascii=False, indent=2))
        return
    _print_report(result, file, dataset.format, tokenizer)
    console.print(f"chart: {chart}")


def _print_report(stats: DatasetStats, file: Path, fmt: str, tokenizer: str | None) -> None:
    from rich.markup import escape

    console.print(_overview(stats, file, fmt))
    console.print(_lengths(stats, "chars", "length in characters"))
    if stats.tokens is None:
        console.print("[dim]token counts need --tokenizer (a local tokenizer folder or a hub id)")
    else:
        title = f"length in tokens ({escape(tokenizer or '')}, no special tokens or template)"
        console.print(_lengths(stats, "tokens", title))
    console.print(
        "[dim]System_Prompt is counted once per conversation, Text and Completion once per turn"
    )
    if stats.labels:
        console.print(_labels(stats))


def _overview(stats: DatasetStats, file: Path, fmt: str) -> Table:
    from rich.table import Table

    table = Table(title=f"{file.name} ({fmt})", title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    turns = stats.turns
    table.add_row("rows", f"{stats.rows:,}")
    table.add_row("conversations", f"{stats.conversations:,}")
    if turns.min == turns.max:
        table.add_row("turns per conversation", f"{turns.min}")
    else:
        table.add_row(
            "turns per conversation",
            f"min {turns.min} · mean {turns.mean:.1f} · p50 {turns.p50:g} · max {turns.max}",
        )
    if stats.labels:
        table.add_row("labels", f"{len(stats.labels)} (completion of the last turn)")
    else:
        table.add_row("distinct completions", f"{stats.distinct_completions:,} (not a label set)")
    return table


def _lengths(stats: DatasetStats, unit: str, title: str) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("field")
    for name in ("count", "empty", "min", "mean", "p50", "p95", "max"):
        table.add_column(name, justify="right")
    for name, summary in stats.summary(unit).items():
        table.add_row(name, *_numbers(summary))
    return table


def _numbers(s: LengthSummary) -> list[str]:
    return [f"{s.count:,}", f"{s.empty:,}", f"{s.min:,}", f"{s.mean:,.1f}"] + [
        f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}" for v in (s.p50, s.p95, s.max)
    ]


def _labels(stats: DatasetStats) -> Table:
    from rich.markup import escape
    from rich.table import Table

    from tunestudio.data.problems import shown_label

    table = Table(title="labels", title_justify="left")
    table.add_column("label")
    table.add_column("conversations", justify="right")
    table.add_column("share", justify="right")
    for label, count in stats.labels.items():
        shown = escape(shown_label(label, quote=False))
        table.add_row(shown, f"{count:,}", f"{count / stats.conversations:.1%}")
    return table
