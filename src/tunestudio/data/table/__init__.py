"""Read and write tables (CSV, JSONL, JSON, XLSX) without losing or guessing anything.

A :class:`Table` keeps the columns in file order, every row's values as the file had them and
the row number a person sees when opening the file (header = row 1 in CSV/XLSX, the line number
in JSONL, the item number in JSON). Rows that cannot be parsed are kept as :class:`RowIssue`s
for the validator to report, instead of stopping at the first one.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tunestudio.data.table.json_rows import read_json, read_jsonl
from tunestudio.data.table.model import (
    ROW_WORDS,
    TABLE_EXTENSIONS,
    RowIssue,
    Table,
    table_format,
    unique_keys,
)
from tunestudio.data.table.text import decode_text, read_csv
from tunestudio.data.table.xlsx import read_xlsx, write_xlsx
from tunestudio.errors import DataFormatError

__all__ = [
    "ROW_WORDS",
    "TABLE_EXTENSIONS",
    "RowIssue",
    "Table",
    "decode_text",
    "read_table",
    "table_format",
    "unique_keys",
    "write_table",
]


def read_table(path: Path | str, fmt: str | None = None) -> Table:
    """Read a table file. Raises :class:`DataFormatError` only when nothing can be read."""
    path = Path(path)
    if not path.exists():
        raise DataFormatError(
            "file not found",
            where=str(path),
            hint="check the path; relative paths are from the current directory",
        )
    if path.is_dir():
        raise DataFormatError(
            "this is a folder, not a file",
            where=str(path),
            hint="give the path of a .csv, .jsonl, .json or .xlsx file",
        )
    kind = table_format(path, fmt)
    if kind == "xlsx":
        return read_xlsx(path)
    text, encoding, notes = decode_text(path.read_bytes(), path)
    reader = {"csv": read_csv, "jsonl": read_jsonl, "json": read_json}[kind]
    table = reader(path, text)
    table.encoding = encoding
    table.notes = notes + table.notes
    return table


def write_table(
    path: Path | str, columns: Sequence[str], rows: Iterable[dict[str, Any]], fmt: str | None = None
) -> Path:
    """Write rows; CSV is UTF-8 with BOM, as CLOVA Studio requires."""
    path = Path(path)
    kind = table_format(path, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = list(rows)
    if kind == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_csv_value(row.get(c)) for c in columns])
    elif kind == "jsonl":
        with path.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(
                    json.dumps({c: row.get(c) for c in columns if c in row}, ensure_ascii=False)
                    + "\n"
                )
    elif kind == "json":
        items = [{c: row.get(c) for c in columns if c in row} for row in rows]
        path.write_text(json.dumps(items, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    else:
        write_xlsx(path, columns, rows)
    return path


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
