"""A dataset seen as the checks need it: one :class:`Pair` per Text/Completion, located.

CLOVA tables are read row by row straight from the table, so that a row with a broken C_ID is
still checked for content. Other formats (OpenAI messages, Alpaca, ShareGPT, test sets) go
through :mod:`tunestudio.data.formats`; each of their turns becomes a pair on the record's row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tunestudio.data.clova import ColumnMatch, as_int, as_text, match_columns
from tunestudio.data.formats import (
    TESTSET_EXPECTED,
    dataset_from_table,
    detect_format,
    unreadable_row_problems,
)
from tunestudio.data.problems import Problem
from tunestudio.data.table import ROW_WORDS, Table
from tunestudio.errors import DataError
from tunestudio.types import Conversation

# (user part, assistant part, column) per format, for naming where a problem is.
_PARTS = {
    "openai": ("user 메시지", "assistant 메시지", "messages"),
    "sharegpt": ("human 발화", "gpt 발화", "conversations"),
}


@dataclass(frozen=True)
class Pair:
    """One user text and its answer, with the row a person sees and the fields' names."""

    row: int
    text: str
    completion: str
    text_column: str
    completion_column: str
    text_name: str  # how a message names the field: "Text", "2번째 턴 user 메시지"
    completion_name: str


@dataclass
class DatasetView:
    """The pairs of one file, grouped into conversations, and what was found reading them."""

    table: Table
    format: str
    pairs: list[Pair] = field(default_factory=list)
    conversations: list[list[Pair]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    has_completion: bool = True
    columns: ColumnMatch | None = None  # for CLOVA tables

    @property
    def file(self) -> str:
        return self.table.path.name

    @property
    def row_label(self) -> str:
        """``row``, ``line`` or ``item``: what this file's row numbers count."""
        return self.table.row_label

    @property
    def row_word(self) -> str:
        return row_word(self.table)

    @property
    def has_text(self) -> bool:
        """False for a CLOVA table without a Text column: its rows cannot be checked."""
        return self.columns is None or self.columns.actual("Text") is not None


def row_word(table: Table) -> str:
    """How a message names a row of this table: 행 (CSV/XLSX), 줄 (JSONL), 항목 (JSON)."""
    return ROW_WORDS.get(table.row_label, "행")


def build_view(table: Table) -> DatasetView:
    """Read ``table`` as whichever dataset format its columns say (CLOVA when unclear)."""
    try:
        kind = detect_format(table)
    except DataError:
        kind = "clova"  # the column checks then say what is missing and how to name it
    if kind == "clova":
        return _clova_view(table)
    dataset = dataset_from_table(table, kind, strict=False)
    view = DatasetView(table, kind, problems=list(dataset.problems))
    if kind == "testset":
        view.has_completion = _expected_column(table.columns) is not None
    for conv in dataset.conversations:
        _add_conversation(view, conv, _record_parts(kind, table.columns, len(conv.turns)))
    return view


def _clova_view(table: Table) -> DatasetView:
    # The header as written: a repeated name is one column to match (and one error to report).
    match = match_columns(table.header or table.columns)
    view = DatasetView(table, "clova", columns=match)
    view.problems = unreadable_row_problems(table)
    text_col, completion_col = match.actual("Text"), match.actual("Completion")
    if text_col is None:
        return view
    view.has_completion = completion_col is not None  # a test set may have inputs only
    cid_col = match.actual("C_ID")
    by_cid: dict[int, int] = {}  # C_ID -> index of its conversation
    for index, row in enumerate(table.rows):
        cid = as_int(row.get(cid_col)) if cid_col else None
        conv = by_cid.get(cid) if cid is not None else None
        if conv is None:
            conv = len(view.conversations)
            view.conversations.append([])
            if cid is not None:
                by_cid[cid] = conv
        pair = Pair(
            row=table.row_numbers[index],
            text=as_text(row.get(text_col)),
            completion=as_text(row.get(completion_col)) if completion_col else "",
            text_column=text_col,
            completion_column=completion_col or "Completion",
            text_name="Text",
            completion_name="Completion",
        )
        view.pairs.append(pair)
        view.conversations[conv].append(pair)
    return view


def _expected_column(columns: list[str]) -> str | None:
    lower = {c.strip().lower(): c for c in columns}
    return next((lower[k] for k in TESTSET_EXPECTED if k in lower), None)


def _record_parts(kind: str, columns: list[str], turns: int) -> list[tuple[str, str, str, str]]:
    """(text column, completion column, text name, completion name) for each turn."""
    if kind in _PARTS:
        user, assistant, column = _PARTS[kind]
        prefix = [f"{t + 1}번째 턴 " if turns > 1 else "" for t in range(turns)]
        return [(column, column, p + user, p + assistant) for p in prefix]
    if kind == "alpaca":
        history = [
            ("history", "history", f"history {t + 1}번째 질문", f"history {t + 1}번째 답")
            for t in range(turns - 1)
        ]
        return [*history, ("instruction", "output", "instruction", "output")]
    lower = {c.strip().lower(): c for c in columns}
    user = lower.get("user", "user")
    expected = _expected_column(columns) or "expected"
    return [(user, expected, user, expected)] * turns


def _add_conversation(
    view: DatasetView, conv: Conversation, parts: list[tuple[str, str, str, str]]
) -> None:
    row = conv.source_rows[0] if conv.source_rows else 0
    pairs = [Pair(row, turn.user, turn.assistant, *parts[t]) for t, turn in enumerate(conv.turns)]
    view.conversations.append(pairs)
    view.pairs.extend(pairs)
