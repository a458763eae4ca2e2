"""Repeated column names: a header that names two columns alike cannot say which to read.

The table readers keep every column (a repeat is keyed ``note (2)``); these functions find the
repeats, the same way for ``validate`` (an error) and for strict loading (a refusal).
"""

from __future__ import annotations

import shlex

from tunestudio.data.table import Table
from tunestudio.errors import DataError


def duplicate_columns(table: Table, kind: str) -> dict[str, list[int]]:
    """Repeated column names that make a table ambiguous for dataset format ``kind``.

    CLOVA and test-set columns are matched ignoring case and outer spaces (as CLOVA Studio
    does, and as the readers look them up), so ``Text`` and ``text`` count as one name there;
    other formats read their keys exactly.
    """
    return table.duplicate_columns(fold_case=kind in ("clova", "testset"))


def refuse_duplicate_columns(table: Table, kind: str) -> None:
    """Raise a DataError naming each repeated column: which one holds the data is unknowable."""
    duplicates = duplicate_columns(table, kind)
    if not duplicates:
        return
    name = next(iter(duplicates))
    shown = "; ".join(_repeated(table, n, p) for n, p in duplicates.items())
    place = f"{table.path} row 1" if table.row_label == "row" else str(table.path)
    raise DataError(
        f"같은 이름의 열이 여러 개라 어느 값을 써야 할지 알 수 없습니다: {shown}",
        where=f"{place}, column {name}",
        hint="하나만 남기고 나머지 열을 지우거나 다른 이름으로 바꾸세요 "
        f"(`tunestudio data validate {shlex.quote(str(table.path))}`가 모든 문제를 보여 줍니다)",
    )


def _repeated(table: Table, name: str, positions: list[int]) -> str:
    header = table.header or table.columns
    spellings = ", ".join(dict.fromkeys(repr(header[i]) for i in positions))
    if table.row_label != "row":
        return f"{spellings} 키"
    letters = ", ".join(f"{column_letter(i)}열" for i in positions)
    return f"1행의 {spellings} 열이 {len(positions)}번 ({letters})"


def column_letter(index: int) -> str:
    """Excel's column letter for a 0-based column index (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters
