"""CLOVA conversation structure: C_ID 0, 1, 2… with each conversation's rows together, T_ID
0, 1, 2… inside each conversation, and one System_Prompt per conversation.

Each check reports a break once and then carries on from the value it found, so one missing
conversation is one problem, not one per following row.
"""

from __future__ import annotations

from typing import Any

from tunestudio.data.checks.view import row_word
from tunestudio.data.clova import ColumnMatch, as_int, as_text
from tunestudio.data.problems import Problem
from tunestudio.data.table import Table

_C_HINT = "C_ID는 대화마다 0, 1, 2…처럼 1씩 늘고, 한 대화의 행은 붙어 있어야 합니다"
_T_HINT = "T_ID는 대화마다 0에서 시작해 턴마다 1씩 늡니다 (싱글턴 데이터는 모두 0)"


def check_ids(table: Table, match: ColumnMatch) -> list[Problem]:
    """C_ID, T_ID and System_Prompt checks; nothing when there is no C_ID column."""
    cid_col = match.actual("C_ID")
    if cid_col is None:
        return []
    problems, cids = _c_ids(table, cid_col)
    if tid_col := match.actual("T_ID"):
        problems += _t_ids(table, tid_col, cids)
    if system_col := match.actual("System_Prompt"):
        problems += _system_prompts(table, system_col, cids)
    return sorted(problems, key=lambda p: p.row or 0)


def _problem(table: Table, index: int, column: str, code: str, message: str, hint: str) -> Problem:
    row = table.row_numbers[index]
    return Problem("error", code, message, hint, table.path.name, row, column, table.row_label)


def _not_whole(value: Any, name: str) -> str:
    shown = as_text(value)
    return (
        f"{name} 값이 비어 있습니다"
        if not shown.strip()
        else f"{name} {shown!r}은(는) 0 이상의 정수가 아닙니다"
    )


def _c_ids(table: Table, col: str) -> tuple[list[Problem], list[int | None]]:
    problems: list[Problem] = []
    cids: list[int | None] = []
    last_row: dict[int, int] = {}  # C_ID -> row number of its latest row
    prev, high = None, -1
    for index, row in enumerate(table.rows):
        cid = as_int(row.get(col))
        cids.append(cid)
        if cid is None:
            problems.append(
                _problem(table, index, col, "bad-c-id", _not_whole(row.get(col), "C_ID"), _C_HINT)
            )
            continue
        found = _c_id_break(cid, prev, high, last_row, row_word(table))
        if found:
            problems.append(_problem(table, index, col, found[0], found[1], _C_HINT))
        last_row[cid] = table.row_numbers[index]
        prev, high = cid, max(high, cid)
    return problems, cids


def _c_id_break(
    cid: int, prev: int | None, high: int, last_row: dict[int, int], word: str
) -> tuple[str, str] | None:
    """(code, message) when ``cid`` does not continue the conversation or start the next."""
    if cid == prev or (prev is not None and cid == high + 1):
        return None
    if prev is None:
        return (
            None
            if cid == 0
            else ("c-id-start", f"첫 대화의 C_ID가 {cid}입니다. 0부터 시작해야 합니다")
        )
    if cid in last_row:
        return (
            "c-id-split",
            f"C_ID {cid} 대화의 행이 떨어져 있습니다 (앞선 {word} {last_row[cid]}). "
            "한 대화의 행은 이어져 있어야 합니다",
        )
    if cid > high + 1:
        missing = f"{high + 1}" if cid == high + 2 else f"{high + 1}~{cid - 1}"
        return "c-id-gap", f"C_ID가 {high}에서 {cid}(으)로 건너뜁니다 ({missing} 없음)"
    return "c-id-order", f"C_ID {cid}이(가) 더 큰 C_ID {high} 뒤에 나옵니다"


def _t_ids(table: Table, col: str, cids: list[int | None]) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[int, set[int]] = {}
    last: dict[int, int] = {}
    for index, row in enumerate(table.rows):
        tid, cid = as_int(row.get(col)), cids[index]
        if tid is None:
            problems.append(
                _problem(table, index, col, "bad-t-id", _not_whole(row.get(col), "T_ID"), _T_HINT)
            )
            continue
        if cid is None:
            continue
        found = _t_id_break(cid, tid, last.get(cid), seen.setdefault(cid, set()))
        if found:
            problems.append(_problem(table, index, col, found[0], found[1], _T_HINT))
        seen[cid].add(tid)
        last[cid] = tid
    return problems


def _t_id_break(cid: int, tid: int, last: int | None, seen: set[int]) -> tuple[str, str] | None:
    if last is None:
        if tid == 0:
            return None
        return (
            "t-id-start",
            f"C_ID {cid} 대화의 첫 행인데 T_ID가 {tid}입니다. 대화마다 0부터 시작합니다",
        )
    if tid == last + 1:
        return None
    if tid in seen:
        return (
            "t-id-duplicate",
            f"C_ID {cid} 대화에 T_ID {tid}이(가) 또 나옵니다. 새 대화라면 C_ID를 1 늘리고, "
            "다음 턴이라면 T_ID를 1 늘리세요",
        )
    if tid > last + 1:
        return "t-id-gap", f"C_ID {cid} 대화에서 T_ID가 {last}에서 {tid}(으)로 건너뜁니다"
    return "t-id-order", f"C_ID {cid} 대화에서 T_ID {tid}이(가) T_ID {last} 뒤에 나옵니다"


def _system_prompts(table: Table, col: str, cids: list[int | None]) -> list[Problem]:
    problems: list[Problem] = []
    first: dict[int, tuple[int, str]] = {}  # C_ID -> (row number, prompt) of its first row
    for index, row in enumerate(table.rows):
        cid = cids[index]
        if cid is None:
            continue
        prompt = as_text(row.get(col))
        if cid not in first:
            first[cid] = (table.row_numbers[index], prompt)
        elif prompt != first[cid][1]:
            problems.append(
                _problem(
                    table,
                    index,
                    col,
                    "system-prompt-mismatch",
                    f"C_ID {cid} 대화의 System_Prompt가 이 대화의 첫 행({row_word(table)} "
                    f"{first[cid][0]})과 다릅니다",
                    "한 대화의 모든 행에는 같은 System_Prompt를 넣어야 합니다",
                )
            )
    return problems
