"""``tunestudio data generate countries|inquiries``: the cookbooks' example datasets."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from tunestudio.cli.common import console
from tunestudio.cli.data.app import app
from tunestudio.errors import ConfigError

if TYPE_CHECKING:
    from tunestudio.types import Conversation

generate_app = typer.Typer(
    help="Generate the cookbooks' datasets: country classification and customer inquiries.",
    no_args_is_help=True,
)
app.add_typer(generate_app, name="generate")

Rows = Annotated[int, typer.Option("--rows", "-n", min=0, help="Number of training rows.")]
Out = Annotated[
    Path,
    typer.Option(
        "--out", "-o", help="Training set to write (CLOVA format; .csv, .jsonl, .json or .xlsx)."
    ),
]
Seed = Annotated[
    int, typer.Option("--seed", help="Random seed; the same seed gives the same file.")
]
TestRows = Annotated[
    int | None,
    typer.Option(
        "--test-rows", min=0, help="Test-set rows (default 100 when --test-out is given)."
    ),
]
TestOut = Annotated[
    list[Path] | None,
    typer.Option(
        "--test-out",
        help="Test set to write as system,user,expected (+ metadata) columns; repeat for more "
        "file types, e.g. --test-out test.csv --test-out test.xlsx.",
    ),
]


@generate_app.command()
def countries(
    rows: Rows,
    out: Out,
    counts: Annotated[
        str,
        typer.Option(
            "--counts",
            help="Countries per row as COUNT:WEIGHT,… (the cookbook's 10:1,15:3,20:3,30:3) or "
            "one fixed COUNT.",
        ),
    ] = "10:1,15:3,20:3,30:3",
    continents: Annotated[
        str, typer.Option("--continents", help="Continents per row, LOW-HIGH or one number.")
    ] = "2-6",
    subset: Annotated[
        int | None,
        typer.Option("--subset", min=1, help="Use only the first N countries of each continent."),
    ] = None,
    seed: Seed = 0,
    system: Annotated[
        str, typer.Option("--system", help="System prompt (the cookbook used none).")
    ] = "",
    test_rows: TestRows = None,
    test_out: TestOut = None,
) -> None:
    """Country classification (seed 003): sort a shuffled list of UN members by continent."""
    from tunestudio.data.generators.countries import (
        generate_countries,
        parse_continents,
        parse_counts,
    )

    parsed_counts, parsed_continents = parse_counts(counts), parse_continents(continents)
    tests = _test_plan(test_rows, test_out, out)

    def make(n: int, split: str, avoid: list[list[str]]) -> list[Conversation]:
        with _progress(f"{split} countries", n) as step:
            return generate_countries(
                n,
                counts=parsed_counts,
                continents=parsed_continents,
                subset=subset,
                seed=seed,
                split=split,
                system=system,
                avoid=avoid,
                progress=step,
            )

    train = make(rows, "train", [])
    _write(train, out, "clova")
    _print_countries(train, "train")
    if tests:
        test = make(tests[0], "test", [c.meta["countries"] for c in train])
        for path in tests[1]:
            _write(test, path, "testset")
        _print_countries(test, "test")


@generate_app.command()
def inquiries(
    rows: Rows,
    out: Out,
    seed: Seed = 0,
    test_rows: TestRows = None,
    test_out: TestOut = None,
) -> None:
    """Customer-inquiry classification (seed 001): 15 categories of three NAVER services.

    The test set is written from held-out situations and frames and never repeats or nearly
    repeats a training text, so it measures generalisation.
    """
    from tunestudio.data.generators.inquiries import generate_inquiries

    tests = _test_plan(test_rows, test_out, out)
    with _progress("inquiries", rows) as step:
        train = generate_inquiries(rows, seed=seed, progress=step)
    _write(train, out, "clova")
    test: list[Conversation] = []
    if tests:
        with _progress("test inquiries", tests[0]) as step:
            test = generate_inquiries(
                tests[0],
                seed=seed,
                split="test",
                avoid=[c.turns[0].user for c in train],
                progress=step,
            )
        for path in tests[1]:
            _write(test, path, "testset")
    _print_labels(train, test if tests else None)


def _test_plan(
    test_rows: int | None, test_out: list[Path] | None, out: Path
) -> tuple[int, list[Path]] | None:
    """(rows, paths) of the test set to write, or None; checks the options make sense."""
    from tunestudio.data.table import table_format

    for path in [out, *(test_out or [])]:
        table_format(path)  # an unknown extension fails now, not after generating
    if not test_out:
        if test_rows:
            raise ConfigError(
                "--test-rows was given without --test-out",
                where="--test-rows",
                hint="add --test-out test.csv to say where the test set goes",
            )
        return None
    clash = [p for p in test_out if p.resolve() == out.resolve()]
    if clash:
        raise ConfigError(
            f"{clash[0]} is both the training set and a test set",
            where="--test-out",
            hint="give the test set its own file name",
        )
    return (100 if test_rows is None else test_rows), test_out


@contextmanager
def _progress(what: str, total: int) -> Iterator[Callable[[int], None]]:
    """A transient rich progress bar; yields the callback the generators report to."""
    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(f"generating {what}", total=total)
        yield lambda done: bar.update(task, completed=done)


def _write(conversations: list[Conversation], path: Path, fmt: str) -> None:
    from tunestudio.data.formats import save_dataset

    save_dataset(conversations, path, fmt)
    console.print(f"wrote {len(conversations)} rows ({fmt}) → {path}", highlight=False)


def _print_labels(train: list[Conversation], test: list[Conversation] | None) -> None:
    """Rows per category, in the order of the category list."""
    from tunestudio.data.generators.inquiries import INQUIRY_LABELS

    splits = [("train", train)] + ([("test", test)] if test is not None else [])
    counts = [Counter(c.turns[0].assistant for c in convs) for _, convs in splits]
    table = Table(title="rows per category", title_justify="left")
    table.add_column("category")
    for name, _ in splits:
        table.add_column(name, justify="right")
    for label in INQUIRY_LABELS:
        table.add_row(label, *(str(count[label]) for count in counts))
    console.print(table)


def _print_countries(conversations: list[Conversation], split: str) -> None:
    """Rows by number of countries (lines) and number of continents (columns)."""
    pairs = Counter(
        (int(c.meta["n_countries"]), int(c.meta["n_continents"])) for c in conversations
    )
    ks = sorted({k for _, k in pairs})
    table = Table(title=f"{split}: rows per list size", title_justify="left")
    for name in ["countries", *(f"{k} cont." for k in ks), "rows"]:
        table.add_column(name, justify="right")
    for n in sorted({n for n, _ in pairs}):
        cells = [str(pairs[n, k]) for k in ks]
        table.add_row(str(n), *cells, str(sum(pairs[n, k] for k in ks)))
    console.print(table)
