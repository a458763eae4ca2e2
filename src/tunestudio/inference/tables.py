"""Batch inputs and outputs as tables: test sets and CLOVA datasets in, answers out.

A test set (the cookbooks' evaluation sheet) has a ``user`` column, an optional ``system``
column and anything else (``expected``, labels…). A CLOVA dataset has ``System_Prompt, C_ID,
T_ID, Text, Completion``; every row is asked on its own, after the earlier turns of its
conversation (their ``Text`` and ``Completion``) as history. So the last turn is asked exactly
as the conversation leads up to it, and the earlier turns get answers too: one answer per
input row.

The output keeps every input column in order and adds :data:`OUTPUT_COLUMNS`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tunestudio.data.clova import as_text, conversations_from_table, is_clova_table
from tunestudio.data.table import Table, read_table, table_format, write_table
from tunestudio.errors import DataError
from tunestudio.inference.journal import RowResult
from tunestudio.types import Conversation, Message

OUTPUT_COLUMNS = ("role", "content", "latency_ms", "input_tokens", "output_tokens", "error")


@dataclass
class BatchInput:
    """The rows of an input file as conversations to send, one per table row."""

    table: Table
    kind: Literal["testset", "clova"]
    conversations: list[list[Message]]
    notes: list[str] = field(default_factory=list)

    def where(self, index: int) -> str:
        """``test.csv row 12``: the row at ``index`` as a person finds it in the file."""
        return self.table.where(index)

    def __len__(self) -> int:
        return len(self.conversations)


def read_batch_input(path: Path | str, *, system: str | None = None) -> BatchInput:
    """Read a test set or a CLOVA dataset; ``system`` replaces every row's system prompt.

    Raises :class:`DataError` naming the file (and rows) when the file has rows that cannot
    be read, no ``user``/CLOVA columns, or rows with an empty question.
    """
    table = read_table(path)
    _refuse_unreadable_rows(table)
    if not table.rows:
        raise DataError(
            "입력 파일에 데이터 행이 없습니다",
            where=str(table.path),
            hint="헤더 아래에 질문이 담긴 행을 추가하세요",
        )
    user_column = _find_column(table.columns, "user")
    if user_column is not None:
        batch = _testset(table, user_column, system)
    elif is_clova_table(table.columns):
        batch = _clova(table, system)
    else:
        raise DataError(
            f"질문 열을 찾지 못했습니다. 이 파일의 열: {', '.join(table.columns)}",
            where=str(table.path),
            hint="테스트셋이면 질문을 담은 `user` 열(과 선택 사항인 `system` 열)을, CLOVA "
            "데이터셋이면 System_Prompt, C_ID, T_ID, Text, Completion 열을 두세요",
        )
    batch.notes = list(table.notes)
    return batch


def _refuse_unreadable_rows(table: Table) -> None:
    # Answering the rest would silently drop these rows from the output.
    if not table.issues:
        return
    shown = "; ".join(f"{table.row_label} {i.row}: {i.message}" for i in table.issues[:5])
    more = f" 외 {len(table.issues) - 5}개" if len(table.issues) > 5 else ""
    raise DataError(
        f"읽을 수 없는 행이 {len(table.issues)}개 있습니다 ({shown}{more})",
        where=str(table.path),
        hint=f"{table.issues[0].hint}; 전체 목록은 `tunestudio data validate {table.path}`",
    )


def _find_column(columns: Sequence[str], name: str) -> str | None:
    return next((c for c in columns if c.strip().lower() == name), None)


def _testset(table: Table, user_column: str, system: str | None) -> BatchInput:
    system_column = _find_column(table.columns, "system")
    conversations: list[list[Message]] = []
    empty: list[int] = []
    for index, row in enumerate(table.rows):
        user = as_text(row.get(user_column))
        if not user.strip():
            empty.append(table.row_numbers[index])
        row_system = as_text(row.get(system_column)) if system_column else ""
        prompt = system if system is not None else row_system
        conversations.append(_messages(prompt, [], user))
    _refuse_empty(table, user_column, empty)
    return BatchInput(table, "testset", conversations)


def _clova(table: Table, system: str | None) -> BatchInput:
    convs, problems = conversations_from_table(table)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        shown = "; ".join(str(p) for p in errors[:5])
        raise DataError(
            f"CLOVA 데이터셋의 행 {len(errors)}개를 대화로 묶을 수 없습니다 ({shown})",
            where=str(table.path),
            hint=errors[0].hint or f"`tunestudio data validate {table.path}`로 확인하세요",
        )
    index_of = {number: i for i, number in enumerate(table.row_numbers)}
    conversations: list[list[Message]] = [[] for _ in table.rows]
    empty: list[int] = []
    for conv in convs:
        for turn_no, (turn, number) in enumerate(zip(conv.turns, conv.source_rows, strict=True)):
            if not turn.user.strip():
                empty.append(number)
            prompt = system if system is not None else conv.system
            conversations[index_of[number]] = _messages(prompt, _history(conv, turn_no), turn.user)
    _refuse_empty(table, "Text", sorted(empty))
    return BatchInput(table, "clova", conversations)


def _history(conv: Conversation, turn_no: int) -> list[Message]:
    history: list[Message] = []
    for turn in conv.turns[:turn_no]:
        history += [Message("user", turn.user), Message("assistant", turn.assistant)]
    return history


def _messages(system: str, history: list[Message], user: str) -> list[Message]:
    head = [Message("system", system)] if system.strip() else []
    return [*head, *history, Message("user", user)]


def _refuse_empty(table: Table, column: str, numbers: list[int]) -> None:
    if not numbers:
        return
    shown = ", ".join(map(str, numbers[:10])) + (" …" if len(numbers) > 10 else "")
    raise DataError(
        f"질문이 빈 행이 {len(numbers)}개 있습니다: {table.row_label} {shown}",
        where=f"{table.path}, column {column}",
        hint="질문을 채우거나 그 행을 지우세요 (빈 질문은 모델에 보낼 수 없습니다)",
    )


def output_table(
    batch: BatchInput, results: Sequence[RowResult]
) -> tuple[list[str], list[dict[str, Any]]]:
    """The input's columns and rows with each row's answer added, in input order.

    An input column named like an output column (say, the ``content`` of an earlier run) is
    replaced in place by this run's value.
    """
    columns = list(batch.table.columns)
    columns += [c for c in OUTPUT_COLUMNS if c not in columns]
    rows = []
    for row, result in zip(batch.table.rows, results, strict=True):
        rows.append({**row, **_answer_cells(result)})
    return columns, rows


def _answer_cells(result: RowResult) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": result.content,
        "latency_ms": round(result.latency_ms, 1),
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "error": result.error,
    }


def check_output_path(path: Path | str, input_path: Path | str) -> Path:
    """Refuse an output the tables cannot write, or one that would overwrite the input."""
    path = Path(path)
    table_format(path)
    if path.exists() and path.resolve() == Path(input_path).resolve():
        raise DataError(
            "the output would overwrite the input file",
            where=str(path),
            hint="write the answers to a new file, e.g. -o answers.xlsx",
        )
    return path


def write_atomic(path: Path | str, columns: Sequence[str], rows: list[dict[str, Any]]) -> Path:
    """Write a table to a temporary file beside ``path`` and rename it into place.

    A reader never sees half a file, and a crash while writing leaves the old one intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
    try:
        write_table(temp, columns, rows)
        with temp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return path
