"""What the reader noticed about an input file, said the way the running command needs it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from tunestudio.data.table import Table

_ENCODING_WORD = {"cp949": "CP949(EUC-KR)", "utf-16": "UTF-16"}


def print_read_notes(table: Table, out: Path, console: Console) -> None:
    """Print the reader's notes; for a non-UTF-8 input, say that ``out`` is written as UTF-8.

    The reader's note says only what it found: the fix (`convert`) is what this command is
    doing already, so it is not suggested here.
    """
    for note in table.notes:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    if table.encoding in _ENCODING_WORD and out.suffix.lower() != ".xlsx":  # xlsx: no encoding
        written = "UTF-8(BOM)" if out.suffix.lower() == ".csv" else "UTF-8"
        console.print(
            f"[yellow]note:[/] 입력은 {_ENCODING_WORD[table.encoding]}이지만 "
            f"{escape(str(out))}에는 {written}로 씁니다",
            highlight=False,
        )
