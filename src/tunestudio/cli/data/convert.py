"""``tunestudio data convert IN OUT [--to FORMAT]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tunestudio.cli.common import console
from tunestudio.cli.data.app import app


@app.command()
def convert(
    src: Annotated[Path, typer.Argument(help="Dataset to read (.csv, .jsonl, .json, .xlsx).")],
    dst: Annotated[Path, typer.Argument(help="File to write; its extension sets the table type.")],
    to: Annotated[
        str,
        typer.Option(
            "--to", help="Dataset format to write: clova, openai, alpaca, sharegpt or testset."
        ),
    ] = "clova",
    from_: Annotated[
        str | None,
        typer.Option("--from", help="Format of the input when it cannot be told from its columns."),
    ] = None,
) -> None:
    """Convert a dataset between CLOVA, OpenAI messages, Alpaca, ShareGPT and test-set tables."""
    from tunestudio.cli.data.notes import print_read_notes
    from tunestudio.data.formats import check_savable, load_dataset, save_dataset

    dataset = load_dataset(src, from_)
    check_savable(dataset.conversations, to, dataset.table.row_label)
    print_read_notes(dataset.table, dst, console)
    save_dataset(dataset.conversations, dst, to)
    turns = sum(len(c.turns) for c in dataset.conversations)
    console.print(
        f"wrote {len(dataset.conversations)} conversation(s), {turns} turn(s): "
        f"{dataset.format} → {to} in {dst}"
    )
