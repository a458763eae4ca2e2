"""Prediction workbooks: sheets whose columns are grouped under a header (one group per model),
with a frozen header, set widths and coloured ``match`` cells — what reviewers open in Excel.

The writer is generic; :mod:`tunestudio.experiments.report` chooses the sheets and columns.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tunestudio.errors import TuneStudioError

ColumnKind = Literal["text", "long", "match", "number", "percent"]
WIDTHS: dict[ColumnKind, int] = {"text": 18, "long": 48, "match": 8, "number": 11, "percent": 11}
MATCH_FILLS = {1: "C6EFCE", 0: "FFC7CE"}  # Excel's own "good" and "bad" cell colours
HEADER_FILL, GROUP_FILL = "F2F2F2", "DDEBF7"
MAX_CELL = 32_767  # Excel's limit on the characters of one cell


@dataclass
class Column:
    """A sheet column: its header, the group header above it, and how its cells look."""

    header: str
    group: str = ""
    kind: ColumnKind = "text"


@dataclass
class Sheet:
    name: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)


def write_workbook(path: Path | str, sheets: list[Sheet]) -> Path:
    """Write ``sheets`` to an .xlsx at ``path`` (atomically: a temporary file, then renamed)."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for sheet in sheets:
        _fill(book.create_sheet(_sheet_title(sheet.name)), sheet)
    path = Path(path)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp.xlsx")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        book.save(temp)
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise TuneStudioError(
            f"cannot write the workbook: {exc.strerror or exc}",
            where=str(path),
            hint="close the file if Excel has it open, or choose another --output",
        ) from exc
    return path


def _fill(ws: Any, sheet: Sheet) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    grouped = any(c.group for c in sheet.columns)
    first = 2 if grouped else 1
    if grouped:
        _group_row(ws, sheet.columns)
    bold, fill = Font(bold=True), PatternFill("solid", fgColor=HEADER_FILL)
    for index, column in enumerate(sheet.columns, start=1):
        cell = ws.cell(row=first, column=index, value=column.header)
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(index)].width = WIDTHS[column.kind]
    for offset, row in enumerate(sheet.rows, start=first + 1):
        for index, (column, value) in enumerate(zip(sheet.columns, row, strict=True), start=1):
            _cell(ws.cell(row=offset, column=index), column.kind, value)
    ws.freeze_panes = ws.cell(row=first + 1, column=1)


def _group_row(ws: Any, columns: list[Column]) -> None:
    """The first header row: each group's name merged over its columns."""
    from openpyxl.styles import Alignment, Font, PatternFill

    start = 1
    while start <= len(columns):
        end = start
        while end < len(columns) and columns[end].group == columns[start - 1].group:
            end += 1
        name = columns[start - 1].group
        if name:
            cell = ws.cell(row=1, column=start, value=name)
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor=GROUP_FILL)
            cell.alignment = Alignment(horizontal="center")
            if end > start:
                ws.merge_cells(start_row=1, start_column=start, end_row=1, end_column=end)
        start = end + 1


def _cell(cell: Any, kind: ColumnKind, value: Any) -> None:
    from openpyxl.styles import Alignment, PatternFill

    if isinstance(value, float) and math.isnan(value):
        value = None
    if isinstance(value, str):
        value = _text(value)
    cell.value = value
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"  # a model's answer "=1+1" is text, never a formula Excel runs
    if kind == "long":
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    elif kind == "percent":
        cell.number_format = "0.0%"
    elif kind == "match" and value in MATCH_FILLS:
        cell.fill = PatternFill("solid", fgColor=MATCH_FILLS[value])
        cell.alignment = Alignment(horizontal="center")


def _text(value: str) -> str:
    # Excel refuses control characters in a cell and holds at most 32,767 characters.
    value = "".join(ch for ch in value if ch in "\t\n\r" or ord(ch) >= 32)
    return value if len(value) <= MAX_CELL else value[: MAX_CELL - 1] + "…"


def _sheet_title(name: str) -> str:
    # Excel allows 31 characters and none of []:*?/\ in a sheet name.
    cleaned = "".join("_" if c in "[]:*?/\\" else c for c in name)
    return cleaned[:31] or "sheet"
