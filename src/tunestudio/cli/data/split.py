"""``tunestudio data split IN --test-size N [--stratify] [--seed S] [--train OUT] [--test OUT]``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tunestudio.cli.common import console, err_console
from tunestudio.cli.data.app import app

if TYPE_CHECKING:
    from tunestudio.data.split import SplitResult

_COUNT = re.compile(r"\s*\d+\s*")


def parse_test_size(value: str) -> float:
    """``100`` → 100 (a count), ``0.2`` → 0.2 (a fraction); anything else is a usage error."""
    if _COUNT.fullmatch(value) and int(value) >= 1:
        return int(value)
    try:
        fraction = float(value)
    except ValueError:
        fraction = -1.0
    if not 0 < fraction < 1:
        raise typer.BadParameter(
            f"{value!r} is neither a count (an integer ≥ 1) nor a fraction between 0 and 1",
            param_hint="--test-size",
        )
    return fraction


def _beside(src: Path, role: str) -> Path:
    return src.with_name(f"{src.stem}.{role}{src.suffix}")


@app.command()
def split(
    src: Annotated[
        Path, typer.Argument(metavar="IN", help="Dataset to split (.csv, .jsonl, .json, .xlsx).")
    ],
    test_size: Annotated[
        str,
        typer.Option(
            "--test-size",
            help="Test conversations: a count (100) or a fraction (0.2). For single-turn data "
            "a conversation is a row.",
        ),
    ],
    stratify: Annotated[
        bool,
        typer.Option(
            "--stratify", help="Keep each label's share (label = completion of the last turn)."
        ),
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same split.")] = 0,
    train: Annotated[
        Path | None,
        typer.Option("--train", help="Train file.", show_default="<stem>.train<ext> beside IN"),
    ] = None,
    test: Annotated[
        Path | None,
        typer.Option("--test", help="Test file.", show_default="<stem>.test<ext> beside IN"),
    ] = None,
    test_format: Annotated[
        str | None,
        typer.Option(
            "--test-format",
            help="Test file format: clova, or testset (columns system, user, expected).",
            show_default="the input's format",
        ),
    ] = None,
    near_dup_threshold: Annotated[
        float,
        typer.Option(
            "--near-dup-threshold",
            help="Jaccard similarity of character 3-grams at which user texts count as "
            "near-duplicates and are kept on one side.",
            min=0.01,
            max=1.0,
        ),
    ] = 0.8,
) -> None:
    """Split a dataset into train and test files with no near-duplicate leakage."""
    from tunestudio.data.formats import check_savable, load_dataset, save_dataset
    from tunestudio.data.split import split_conversations
    from tunestudio.errors import ConfigError

    size = parse_test_size(test_size)
    if test_format not in (None, "clova", "testset"):
        raise typer.BadParameter(
            f"{test_format!r}: use clova or testset", param_hint="--test-format"
        )
    train_path, test_path = train or _beside(src, "train"), test or _beside(src, "test")
    if src.resolve() in (train_path.resolve(), test_path.resolve()):
        raise ConfigError(
            "an output file is the input file", where=str(src), hint="give other --train/--test"
        )
    if train_path.resolve() == test_path.resolve():
        raise ConfigError(
            "--train and --test name the same file", where=str(train_path), hint="give two files"
        )
    dataset = load_dataset(src)
    check_savable(dataset.conversations, test_format or dataset.format, dataset.table.row_label)
    with err_console.status("finding near-duplicates and splitting…"):
        result = split_conversations(
            dataset.conversations, size, stratify, seed, near_dup_threshold
        )
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    save_dataset(result.train, train_path, dataset.format)
    save_dataset(result.test, test_path, test_format or dataset.format)
    _report(result, train_path, test_path)


def _report(result: SplitResult, train_path: Path, test_path: Path) -> None:
    from rich.markup import escape
    from rich.table import Table

    from tunestudio.data.problems import shown_label

    title = "stratified split" if result.stratified else "random split"
    table = Table(title=title, title_justify="left")
    table.add_column("label")
    for name in ("train", "test", "test share"):
        table.add_column(name, justify="right")
    for row in result.label_counts:
        label = escape(shown_label(row.label, quote=False))
        table.add_row(label, f"{row.train:,}", f"{row.test:,}", f"{row.test_share:.1%}")
    n_train, n_test = len(result.train), len(result.test)
    table.add_section()
    share = n_test / (n_train + n_test)
    table.add_row("[bold]total[/]", f"{n_train:,}", f"{n_test:,}", f"{share:.1%}")
    console.print(table)
    console.print(
        f"near-duplicate groups kept together: {result.groups_kept_together:,} "
        f"({result.grouped_conversations:,} conversations)"
    )
    console.print(
        f"leak check: {result.leak_checked:,} test conversation(s) checked, "
        "none has a near-duplicate in train"
    )
    console.print(f"wrote {train_path} ({n_train:,}) and {test_path} ({n_test:,})")
