"""The table a reader returns: rows as the file has them, with the numbers a person sees."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunestudio.errors import DataFormatError

TABLE_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".json": "json", ".xlsx": "xlsx"}
# How Korean messages name what a Table.row_label counts: CSV/XLSX rows, JSONL lines, JSON items.
ROW_WORDS = {"row": "행", "line": "줄", "item": "항목"}


@dataclass(frozen=True)
class RowIssue:
    """A row the reader could not take as it is (bad JSON, wrong number of CSV fields)."""

    row: int
    message: str
    hint: str


@dataclass
class Table:
    """A file's rows as read, with the numbers a person sees for each row.

    ``columns`` are the keys of ``rows``, unique and in file order. ``header`` is the first
    row exactly as the file has it: when a CSV/XLSX header repeats a name (``note,note``), the
    later column is keyed ``note (2)`` in ``columns`` so that no value is overwritten, and
    :meth:`duplicate_columns` reports the repeat.
    """

    path: Path
    columns: list[str]
    rows: list[dict[str, Any]]
    row_numbers: list[int]
    encoding: str = "utf-8"
    row_label: str = "row"
    notes: list[str] = field(default_factory=list)
    issues: list[RowIssue] = field(default_factory=list)
    header: list[str] = field(default_factory=list)

    def where(self, index: int, column: str | None = None) -> str:
        """``train.csv row 12, column Text`` for the row at ``index`` in ``rows``."""
        text = f"{self.path.name} {self.row_label} {self.row_numbers[index]}"
        return f"{text}, column {column}" if column else text

    def __len__(self) -> int:
        return len(self.rows)

    def duplicate_columns(self, fold_case: bool = False) -> dict[str, list[int]]:
        """Header names that occur more than once: first spelling → 0-based positions.

        With ``fold_case`` names are compared as CLOVA Studio compares them: ignoring case and
        the spaces around them (``Text`` and ``text `` are one column). Blank names are left out.
        """
        positions: dict[str, list[int]] = {}
        spelling: dict[str, str] = {}
        for index, name in enumerate(self.header or self.columns):
            if not name.strip():
                continue
            key = name.strip().lower() if fold_case else name
            positions.setdefault(key, []).append(index)
            spelling.setdefault(key, name)
        return {spelling[k]: where for k, where in positions.items() if len(where) > 1}


def unique_keys(header: Sequence[str]) -> list[str]:
    """The header with repeated names made unique (``note``, ``note (2)``), for row keys.

    The first column of a name keeps it; a later one gets the first ``(n)`` suffix that no
    other column uses, so every cell of the file has its own key.
    """
    keys: list[str] = []
    used = set(header)
    first: set[str] = set()
    for name in header:
        if name not in first:
            first.add(name)
            keys.append(name)
            continue
        n = 2
        while f"{name} ({n})".strip() in used:
            n += 1
        key = f"{name} ({n})".strip()
        used.add(key)
        keys.append(key)
    return keys


def table_format(path: Path, explicit: str | None = None) -> str:
    """The table format named by ``explicit`` or by the file's extension."""
    if explicit:
        fmt = explicit.lower().lstrip(".")
        if fmt not in TABLE_EXTENSIONS.values():
            raise DataFormatError(
                f"unknown table format {explicit!r}",
                hint=f"use one of: {', '.join(TABLE_EXTENSIONS.values())}",
            )
        return fmt
    fmt_or_none = TABLE_EXTENSIONS.get(path.suffix.lower())
    if fmt_or_none is None:
        raise DataFormatError(
            f"cannot tell the format from the extension {path.suffix or '(none)'!r}",
            where=str(path),
            hint="name the file .csv, .jsonl, .json or .xlsx",
        )
    return fmt_or_none
