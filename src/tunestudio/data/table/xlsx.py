"""Excel workbooks: the first sheet, cells as the text Excel shows; written as one sheet."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tunestudio.data.table.model import RowIssue, Table, unique_keys
from tunestudio.errors import DataFormatError


def read_xlsx(path: Path) -> Table:
    """The first sheet; row 1 is the header and rows keep the numbers Excel shows."""
    import openpyxl  # heavy; only for Excel files
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError, TypeError) as exc:
        raise DataFormatError(
            f"cannot open as an Excel workbook ({type(exc).__name__})",
            where=str(path),
            hint="save it from Excel as .xlsx, or export it as CSV UTF-8",
        ) from None
    except Exception as exc:  # zip and XML parsers raise many types for a damaged file
        raise DataFormatError(
            f"the workbook is damaged ({type(exc).__name__})",
            where=str(path),
            hint="open and save it again in Excel, or export it as CSV UTF-8",
        ) from None
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header_cells = next(rows, None)
        if header_cells is None or all(c is None for c in header_cells):
            raise DataFormatError(
                "the first sheet is empty or its first row is blank",
                where=f"{path} row 1",
                hint="put the column names in row 1 of the first sheet",
            )
        header = [_cell_text(c) for c in header_cells]
        while header and header[-1] == "":
            header.pop()
        keys = unique_keys(header)
        table = Table(path, keys, [], [], row_label="row", header=header)
        for number, cells in enumerate(rows, start=2):
            values = [_cell_text(c) for c in cells]
            if not any(v.strip() for v in values):
                continue
            if len(values) > len(header) and any(v.strip() for v in values[len(header) :]):
                table.issues.append(
                    RowIssue(
                        number,
                        "마지막 열보다 오른쪽에 값이 있습니다",
                        "그 칸들에도 1행에 열 이름을 붙이거나 값을 지우세요",
                    )
                )
            values = values[: len(header)] + [""] * (len(header) - len(values))
            table.rows.append(dict(zip(keys, values, strict=True)))
            table.row_numbers.append(number)
        if len(book.worksheets) > 1:
            table.notes.append(
                f"시트 {len(book.worksheets)}개 중 첫 시트 {sheet.title!r}만 읽었습니다"
            )
        return table
    finally:
        book.close()


def _cell_text(value: Any) -> str:
    """Excel cells come back typed; datasets want the text a person sees in the cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    return str(value)


def write_xlsx(path: Path, columns: Sequence[str], rows: list[dict[str, Any]]) -> None:
    """One sheet named ``data``; lists and dicts as JSON text, control characters dropped."""
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("data")
    sheet.append(list(columns))
    for row in rows:
        sheet.append([_xlsx_value(row.get(c)) for c in columns])
    book.save(path)


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        # Excel cells hold at most 32,767 characters and no control characters.
        return "".join(ch for ch in value if ch in "\t\n\r" or ord(ch) >= 32)
    return value
