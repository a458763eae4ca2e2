"""``tunestudio data clean IN OUT --config clean.yaml``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tunestudio.cli.common import console, err_console
from tunestudio.cli.data.app import app
from tunestudio.errors import ConfigError

if TYPE_CHECKING:
    from tunestudio.data.clean import CleanConfig, CleanResult, StepReport
    from tunestudio.types import Conversation


@app.command()
def clean(
    src: Annotated[Path, typer.Argument(help="Dataset to clean (.csv, .jsonl, .json, .xlsx).")],
    dst: Annotated[Path, typer.Argument(help="Where to write the cleaned dataset.")],
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Cleaning recipe (YAML). Without one: NFC, whitespace and exact duplicates only.",
        ),
    ] = None,
    removed: Annotated[
        Path | None,
        typer.Option(
            "--removed",
            help="Where to write removed rows (default: beside OUT, out.csv → out.removed.csv).",
        ),
    ] = None,
    to: Annotated[
        str,
        typer.Option("--to", help="Format to write: clova, openai, alpaca, sharegpt or testset."),
    ] = "clova",
    from_: Annotated[
        str | None,
        typer.Option("--from", help="Format of the input when it cannot be told from its columns."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would change; write nothing.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON instead of a table.")
    ] = False,
) -> None:
    """Clean a dataset step by step; removed rows go to a side file with the reason."""
    from tunestudio.cli.data.notes import print_read_notes
    from tunestudio.data.clean import default_config, load_clean_config
    from tunestudio.data.formats import check_savable, load_dataset, save_dataset

    recipe = load_clean_config(config) if config else default_config()
    removed_path = removed or dst.with_name(f"{dst.stem}.removed{dst.suffix}")
    _check_paths(src, dst, removed_path, to)
    dataset = load_dataset(src, from_)
    # Before the work: a format that cannot hold the data loses nothing, and writes nothing.
    check_savable(dataset.conversations, to, dataset.table.row_label)
    print_read_notes(dataset.table, dst, err_console)
    result = _run(dataset.conversations, recipe)
    if not dry_run:
        save_dataset(result.kept, dst, to)
        save_dataset(result.removed_as_dataset(), removed_path, to)
    if as_json:
        report = result.to_dict() | {
            "output": None if dry_run else str(dst),
            "removed_file": None if dry_run else str(removed_path),
        }
        typer.echo(json.dumps(report, ensure_ascii=False, indent=1))
        return
    _print_report(result, dataset.table.row_label)
    _print_summary(result, dst, removed_path, dry_run)


def _check_paths(src: Path, dst: Path, removed_path: Path, to: str) -> None:
    """Fail before any work: an unknown format or extension, or a write over the input."""
    from tunestudio.data.formats import DATASET_FORMATS
    from tunestudio.data.table import table_format

    if to not in DATASET_FORMATS:
        raise ConfigError(
            f"unknown dataset format {to!r}", hint=f"use one of: {', '.join(DATASET_FORMATS)}"
        )
    table_format(dst)
    table_format(removed_path)
    if dst.resolve() == src.resolve():
        raise ConfigError(
            "the output would overwrite the input",
            where=str(dst),
            hint="write the cleaned dataset to a new file, e.g. train.clean.csv",
        )
    if removed_path.resolve() in (dst.resolve(), src.resolve()):
        raise ConfigError(
            "the removed-rows file must differ from the input and the output",
            where=str(removed_path),
            hint="pass another path with --removed",
        )


def _run(conversations: list[Conversation], recipe: CleanConfig) -> CleanResult:
    from rich.progress import BarColumn, Progress, TextColumn

    from tunestudio.data.clean import run_pipeline

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
    )
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("cleaning", total=len(recipe.steps))

        def on_step(index: int, name: str) -> None:
            progress.update(task, completed=index - 1, description=f"step {index}: {name}")

        result = run_pipeline(conversations, recipe, on_step=on_step)
        progress.update(task, completed=len(recipe.steps))
    return result


def _print_report(result: CleanResult, row_label: str) -> None:
    from rich.table import Table

    table = Table(show_lines=True, expand=True)
    table.add_column("#", justify="right", no_wrap=True)
    # no_wrap: "text, completion, system" on one line, not one field per line
    table.add_column("step", no_wrap=True)
    table.add_column("rows\nchanged", justify="right", no_wrap=True)
    table.add_column("rows\nremoved", justify="right", no_wrap=True)
    table.add_column("what it did (examples)", ratio=1, overflow="fold")
    for report in result.reports:
        table.add_row(
            str(report.index),
            f"{report.name}\n[dim]{', '.join(report.fields)}[/]",
            f"{report.rows_changed:,}",
            f"{report.rows_removed:,}",
            _details(report, row_label),
        )
    console.print(table)


def _details(report: StepReport, row_label: str) -> str:
    """Tallies, notes and up to three examples, as plain text for one table cell."""
    from rich.markup import escape

    lines = []
    if report.tally:
        lines.append(", ".join(f"{k} {v:,}" for k, v in list(report.tally.items())[:6]))
    lines += [f"[yellow]note:[/] {escape(note)}" for note in report.notes]
    for ex in report.examples:
        where = f"{row_label} {ex.row}" if ex.row is not None else "—"
        if ex.reason is not None:
            lines.append(f"{where}: {escape(ex.reason)}")
        else:
            before, after = ex.excerpt(width=32)
            lines.append(f"{where} {ex.field}: {escape(repr(before))} → {escape(repr(after))}")
    return "\n".join(lines)


def _print_summary(result: CleanResult, dst: Path, removed_path: Path, dry_run: bool) -> None:
    conv_in = len(result.kept) + len(result.removed)
    console.print(
        f"rows in: {result.rows_in:,} ({conv_in:,} conversations) → "
        f"rows out: {result.rows_out:,} ({len(result.kept):,} conversations); "
        f"removed: {result.rows_in - result.rows_out:,} rows"
    )
    if result.removed and not result.kept:
        err_console.print("[yellow]warning:[/] every row was removed; check the recipe")
    if dry_run:
        console.print("dry run: nothing written")
        return
    console.print(f"wrote {dst}")
    console.print(f"removed rows (with step and reason): {removed_path}")
