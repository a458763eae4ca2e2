"""Predictions as scorers see them: one row per test item, read back from a saved table.

A predictions table is what ``tunestudio infer`` writes (every input column plus ``content``
and ``error``), or any table with an answer column and an expected column. Scoring reads it
again and never calls a model, so a scorer can be changed and re-run on old outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunestudio.data.table import Table, read_table
from tunestudio.errors import DataError

EXPECTED_COLUMNS = ("expected", "answer", "label", "completion", "정답", "Completion")
INPUT_COLUMNS = ("user", "Text", "input", "question", "질문")
ANSWER_COLUMN = "content"


@dataclass(frozen=True)
class Prediction:
    """One test item: what was asked, what was expected, what the model answered."""

    index: int
    input: str
    expected: str | None
    answer: str | None  # None when the generation failed (see ``error``)
    error: str = ""
    system: str = ""
    meta: dict[str, Any] = field(default_factory=dict)  # every other column, e.g. skill

    @property
    def failed(self) -> bool:
        """The model gave no answer (an API error, a timeout…), which is not a wrong answer."""
        return self.answer is None


@dataclass
class Predictions:
    """A scored-to-be table: its items in file order, and the table to write results beside."""

    items: list[Prediction]
    table: Table
    answer_column: str
    expected_column: str | None

    def where(self, index: int) -> str:
        """``out.xlsx row 12``: the item at ``index`` as a person finds it in the file."""
        return self.table.where(index)

    def __len__(self) -> int:
        return len(self.items)


def read_predictions(
    path: Path | str,
    *,
    answer_column: str = ANSWER_COLUMN,
    expected_column: str | None = None,
) -> Predictions:
    """Read a predictions table; the expected column is found by name unless given."""
    table = read_table(path)
    _require(
        table,
        answer_column,
        "답변",
        "tunestudio infer 의 출력 파일을 주거나 --answer-column 으로 열을 지정하세요",
    )
    expected = expected_column or _first_present(table.columns, EXPECTED_COLUMNS)
    if expected_column:
        _require(
            table, expected_column, "정답", "--expected-column 에 파일에 있는 열 이름을 주세요"
        )
    input_column = _first_present(table.columns, INPUT_COLUMNS)
    return Predictions(
        items=[
            _item(i, row, answer_column, expected, input_column) for i, row in enumerate(table.rows)
        ],
        table=table,
        answer_column=answer_column,
        expected_column=expected,
    )


def _item(
    index: int, row: dict[str, Any], answer: str, expected: str | None, input_column: str | None
) -> Prediction:
    error = _text(row.get("error"))
    taken = {answer, "error", "system", "System_Prompt", expected, input_column}
    return Prediction(
        index=index,
        input=_text(row.get(input_column)) if input_column else "",
        expected=_text(row.get(expected)) if expected else None,
        answer=None if error else _text(row.get(answer)),
        error=error,
        system=_text(row.get("system", row.get("System_Prompt"))),
        meta={k: v for k, v in row.items() if k not in taken},
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from a spreadsheet's empty cell
        return ""
    return str(value)


def _first_present(columns: Sequence[str], names: Sequence[str]) -> str | None:
    lowered = {c.strip().lower(): c for c in columns}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _require(table: Table, column: str, what: str, hint: str) -> None:
    if column not in table.columns:
        raise DataError(
            f"{what} 열 '{column}' 이(가) 없습니다 (있는 열: {', '.join(table.columns)})",
            where=str(table.path),
            hint=hint,
        )
