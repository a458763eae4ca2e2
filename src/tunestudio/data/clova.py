"""The CLOVA Studio tuning format: ``System_Prompt, C_ID, T_ID, Text, Completion``.

Column names are matched case-insensitively, as CLOVA Studio does. Any other column is kept as
metadata of its conversation, so generated datasets carry their labels for error analysis.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from tunestudio.data.problems import Problem
from tunestudio.data.table import Table
from tunestudio.types import Conversation, Turn

CLOVA_COLUMNS = ["System_Prompt", "C_ID", "T_ID", "Text", "Completion"]
REQUIRED_COLUMNS = ["Text", "Completion"]


def _squash(name: str) -> str:
    return re.sub(r"[\s_\-.]", "", name).lower()


@dataclass
class ColumnMatch:
    """How a file's columns line up with the CLOVA columns."""

    found: dict[str, str] = field(default_factory=dict)  # canonical -> actual
    misnamed: dict[str, str] = field(default_factory=dict)  # canonical -> actual look-alike
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)

    def actual(self, canonical: str) -> str | None:
        return self.found.get(canonical) or self.misnamed.get(canonical)


def match_columns(columns: list[str]) -> ColumnMatch:
    """Match columns exactly (case-insensitive), then by look-alike names (``system prompt``)."""
    match = ColumnMatch()
    lowered: dict[str, list[str]] = {}
    for col in columns:
        lowered.setdefault(col.strip().lower(), []).append(col)
    match.duplicates = [cols[0] for cols in lowered.values() if len(cols) > 1]
    used: set[str] = set()
    for canon in CLOVA_COLUMNS:
        if hits := lowered.get(canon.lower()):
            match.found[canon] = hits[0]
            used.add(hits[0])
    squashed = {_squash(c): c for c in columns if c not in used}
    for canon in CLOVA_COLUMNS:
        if canon in match.found:
            continue
        key = _squash(canon)
        guess = squashed.get(key)
        if guess is None:
            close = difflib.get_close_matches(key, list(squashed), n=1, cutoff=0.75)
            guess = squashed[close[0]] if close else None
        if guess is not None and guess not in used:
            match.misnamed[canon] = guess
            used.add(guess)
        else:
            match.missing.append(canon)
    match.extra = [c for c in columns if c not in used and c.strip()]
    return match


def is_clova_table(columns: list[str]) -> bool:
    """True when the columns include at least CLOVA's ``Text`` and ``Completion``."""
    m = match_columns(columns)
    return all(m.actual(c) for c in REQUIRED_COLUMNS)


def as_text(value: Any) -> str:
    """A cell as text; JSON numbers and lists keep their JSON spelling."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_WHOLE = re.compile(r"\s*([0-9]+)(?:\.0+)?\s*")  # ASCII digits: what CLOVA Studio accepts
_MAX_DIGITS = 18  # an ID longer than this is a slip (a pasted phone number), not a count


def as_int(value: Any) -> int | None:
    """A C_ID/T_ID cell as an int, or None when it is not a whole number 0 or more."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return value if 0 <= value < 10**_MAX_DIGITS else None
    if isinstance(value, str) and (whole := _WHOLE.fullmatch(value)):
        # int() of the digits, not float(): float("9" * 400) is inf and int(inf) raises.
        digits = whole.group(1)
        return int(digits) if len(digits) <= _MAX_DIGITS else None
    return None


def conversations_from_table(table: Table) -> tuple[list[Conversation], list[Problem]]:
    """Group CLOVA rows into conversations by ``C_ID`` (each row alone when there is no C_ID).

    Returns the conversations and the problems that made a row unusable; the validator reports
    the rest (order, gaps, lengths) in detail.
    """
    match = match_columns(table.columns)
    problems: list[Problem] = []
    if any(not match.actual(c) for c in REQUIRED_COLUMNS):
        missing = [c for c in REQUIRED_COLUMNS if not match.actual(c)]
        problems.append(
            Problem(
                "error",
                "missing-column",
                f"필수 열 {', '.join(missing)}이(가) 없습니다",
                "첫 행(머리글)에 System_Prompt,C_ID,T_ID,Text,Completion을 적으세요",
                table.path.name,
                1 if table.row_label == "row" else None,  # JSON keys have no header row
                None,
                table.row_label,
            )
        )
        return [], problems
    col = {c: match.actual(c) for c in CLOVA_COLUMNS}
    text_col, completion_col = match.actual("Text") or "Text", match.actual("Completion") or ""

    meta_cols = match.extra
    by_id: dict[Any, Conversation] = {}
    for index, row in enumerate(table.rows):
        cid_raw = row.get(col["C_ID"]) if col["C_ID"] else index
        cid = as_int(cid_raw) if col["C_ID"] else index
        if cid is None:
            problems.append(
                Problem(
                    "error",
                    "bad-c-id",
                    f"C_ID {as_text(cid_raw)!r}은(는) 0 이상의 정수가 아닙니다",
                    "C_ID는 대화마다 0, 1, 2…처럼 1씩 늡니다",
                    table.path.name,
                    table.row_numbers[index],
                    col["C_ID"],
                    table.row_label,
                )
            )
            continue
        system = as_text(row.get(col["System_Prompt"])) if col["System_Prompt"] else ""
        turn = Turn(as_text(row.get(text_col)), as_text(row.get(completion_col)))
        meta = {m: row[m] for m in meta_cols if m in row}
        conv = by_id.get(cid)
        if conv is None:
            by_id[cid] = Conversation(system, [turn], meta, [table.row_numbers[index]])
        else:
            conv.turns.append(turn)
            conv.source_rows.append(table.row_numbers[index])
    return list(by_id.values()), problems


def clova_rows(conversations: list[Conversation]) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows in CLOVA format; C_ID is renumbered 0, 1, 2… in order."""
    meta_cols: dict[str, None] = {}
    for conv in conversations:
        meta_cols.update(dict.fromkeys(conv.meta))
    rows: list[dict[str, Any]] = []
    for cid, conv in enumerate(conversations):
        for tid, turn in enumerate(conv.turns):
            row: dict[str, Any] = {
                "System_Prompt": conv.system,
                "C_ID": cid,
                "T_ID": tid,
                "Text": turn.user,
                "Completion": turn.assistant,
            }
            row.update(conv.meta)
            rows.append(row)
    return CLOVA_COLUMNS + list(meta_cols), rows
