"""Dataset formats: CLOVA, OpenAI chat messages, Alpaca and ShareGPT, in any table file.

``load_dataset`` reads a file into :class:`Conversation`s whatever its format; ``save_dataset``
writes them in the format asked for. Nothing is dropped silently: a record that cannot become a
conversation is a :class:`Problem`, and ``load_dataset(strict=True)`` refuses to go on with one.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunestudio.data.clova import as_text, clova_rows, conversations_from_table, is_clova_table
from tunestudio.data.headers import refuse_duplicate_columns
from tunestudio.data.problems import Problem
from tunestudio.data.table import ROW_WORDS, Table, read_table, table_format, write_table
from tunestudio.errors import DataError
from tunestudio.types import Conversation, Turn

DATASET_FORMATS = ("clova", "openai", "alpaca", "sharegpt", "testset")
TESTSET_EXPECTED = ("expected", "answer", "label", "completion", "정답", "실제 정답", "target")
_ROLE_ALIASES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "bot": "assistant",
    "system": "system",
}


@dataclass
class Dataset:
    """Conversations read from one file, with the format they came in and what was wrong."""

    conversations: list[Conversation]
    format: str
    table: Table
    problems: list[Problem] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.table.path


def detect_format(table: Table) -> str:
    """Tell the dataset format from the columns (keys) a table has."""
    cols = {c.strip().lower() for c in table.columns}
    if "messages" in cols:
        return "openai"
    if "conversations" in cols:
        return "sharegpt"
    if {"instruction", "output"} <= cols:
        return "alpaca"
    if is_clova_table(table.columns):
        return "clova"
    if "user" in cols:
        return "testset"
    raise DataError(
        f"cannot tell the dataset format from the columns {table.columns[:8]}",
        where=str(table.path),
        hint="CLOVA needs System_Prompt,C_ID,T_ID,Text,Completion; OpenAI a 'messages' key; "
        "Alpaca 'instruction'/'output'; ShareGPT 'conversations'; a test set 'system'/'user'",
    )


def load_dataset(path: Path | str, fmt: str | None = None, *, strict: bool = True) -> Dataset:
    """Read any supported dataset file. With ``strict`` a broken record raises a DataError."""
    return dataset_from_table(read_table(path), fmt, strict=strict)


def dataset_from_table(table: Table, fmt: str | None = None, *, strict: bool = True) -> Dataset:
    """Turn a table already read into conversations (see :func:`load_dataset`)."""
    kind = fmt or detect_format(table)
    if kind not in DATASET_FORMATS:
        raise DataError(
            f"unknown dataset format {kind!r}", hint=f"use one of: {', '.join(DATASET_FORMATS)}"
        )
    if strict:
        refuse_duplicate_columns(table, kind)  # which of two same-named columns to read?
    problems = unreadable_row_problems(table)
    if kind == "clova":
        convs, more = conversations_from_table(table)
    else:
        convs, more = _records_to_conversations(table, _RECORD_READERS[kind])
    problems += more
    errors = [p for p in problems if p.severity == "error"]
    if strict and errors:
        shown = "\n".join(f"  {p}" for p in errors[:10])
        extra = f"\n  … and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise DataError(
            f"{len(errors)} record(s) cannot be read:\n{shown}{extra}",
            where=str(table.path),
            hint=f"run `tunestudio data validate {shlex.quote(str(table.path))}` for the full report",
        )
    return Dataset(convs, kind, table, problems)


def unreadable_row_problems(table: Table) -> list[Problem]:
    """The rows the reader could not parse, as error Problems."""
    return [
        Problem(
            "error",
            "unreadable-row",
            i.message,
            i.hint,
            table.path.name,
            i.row,
            None,
            table.row_label,
        )
        for i in table.issues
    ]


RecordReader = Callable[[dict[str, Any]], Conversation]


def _records_to_conversations(
    table: Table, reader: RecordReader
) -> tuple[list[Conversation], list[Problem]]:
    convs: list[Conversation] = []
    problems: list[Problem] = []
    for index, record in enumerate(table.rows):
        try:
            conv = reader(record)
        except _RecordError as exc:
            problems.append(
                Problem(
                    "error",
                    "bad-record",
                    exc.message,
                    exc.hint,
                    table.path.name,
                    table.row_numbers[index],
                    exc.column,
                    table.row_label,
                )
            )
            continue
        conv.source_rows = [table.row_numbers[index]]
        convs.append(conv)
    return convs, problems


class _RecordError(Exception):
    def __init__(self, message: str, hint: str, column: str | None = None):
        super().__init__(message)
        self.message, self.hint, self.column = message, hint, column


def _content_text(content: Any) -> str:
    """OpenAI content may be a string or a list of parts; only text parts carry tuning data."""
    if isinstance(content, list):
        texts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return "".join(t for t in texts if isinstance(t, str))
    return as_text(content)


def _pair_turns(messages: list[tuple[str, str]], column: str) -> tuple[str, list[Turn]]:
    """(role, text) pairs → system prompt and user/assistant turns, strictly alternating."""
    system = ""
    if messages and messages[0][0] == "system":
        system = messages[0][1]
        messages = messages[1:]
    turns: list[Turn] = []
    hint = "system 메시지(선택) 다음에는 user, assistant가 번갈아 와야 합니다"
    if not messages or len(messages) % 2:
        raise _RecordError(
            "user/assistant 쌍이 필요하고 마지막은 assistant 메시지여야 합니다", hint, column
        )
    for i in range(0, len(messages), 2):
        (r1, t1), (r2, t2) = messages[i], messages[i + 1]
        if (r1, r2) != ("user", "assistant"):
            raise _RecordError(
                f"{i + 1}·{i + 2}번째 메시지가 user, assistant가 아니라 {r1!r}, {r2!r}입니다",
                hint,
                column,
            )
        turns.append(Turn(t1, t2))
    return system, turns


def _meta(record: dict[str, Any], known: set[str]) -> dict[str, Any]:
    meta = record.get("metadata")
    out = dict(meta) if isinstance(meta, dict) else {}
    out.update({k: v for k, v in record.items() if k not in known and k != "metadata"})
    return out


def _read_openai(record: dict[str, Any]) -> Conversation:
    messages = record.get("messages")
    if not isinstance(messages, list):
        raise _RecordError(
            "'messages'가 배열이 아닙니다", '"messages": [{"role": …}]처럼 적으세요', "messages"
        )
    pairs: list[tuple[str, str]] = []
    for n, msg in enumerate(messages, start=1):
        if not isinstance(msg, dict) or msg.get("role") not in ("system", "user", "assistant"):
            role = msg.get("role") if isinstance(msg, dict) else type(msg).__name__
            raise _RecordError(
                f"{n}번째 메시지의 role이 {role!r}입니다",
                "role은 system, user, assistant 중 하나여야 합니다 (tool 호출은 CLOVA 형식으로 "
                "튜닝할 수 없습니다)",
                "messages",
            )
        pairs.append((msg["role"], _content_text(msg.get("content"))))
    system, turns = _pair_turns(pairs, "messages")
    return Conversation(system, turns, _meta(record, {"messages"}))


def _read_sharegpt(record: dict[str, Any]) -> Conversation:
    items = record.get("conversations")
    if not isinstance(items, list):
        raise _RecordError(
            "'conversations'가 배열이 아닙니다",
            '"conversations": [{"from": "human", "value": …}]처럼 적으세요',
            "conversations",
        )
    pairs: list[tuple[str, str]] = []
    if isinstance(record.get("system"), str) and record["system"]:
        pairs.append(("system", record["system"]))
    for n, item in enumerate(items, start=1):
        role = (
            _ROLE_ALIASES.get(str(item.get("from", "")).lower()) if isinstance(item, dict) else None
        )
        if role is None or not isinstance(item, dict):
            raise _RecordError(
                f"{n}번째 발화의 화자('from')를 알 수 없습니다",
                "'from'은 human/user, gpt/assistant, system 중 하나여야 합니다",
                "conversations",
            )
        pairs.append((role, as_text(item.get("value"))))
    system, turns = _pair_turns(pairs, "conversations")
    return Conversation(system, turns, _meta(record, {"conversations", "system"}))


def _read_alpaca(record: dict[str, Any]) -> Conversation:
    instruction = as_text(record.get("instruction"))
    extra = as_text(record.get("input"))
    user = f"{instruction}\n\n{extra}" if extra else instruction
    turns: list[Turn] = []
    history = record.get("history") or []
    if not isinstance(history, list) or not all(
        isinstance(h, list) and len(h) == 2 for h in history
    ):
        raise _RecordError(
            "'history'는 [질문, 답] 쌍의 배열이어야 합니다",
            '"history": [["질문", "답"], …]처럼 적으세요',
            "history",
        )
    turns = [Turn(as_text(u), as_text(a)) for u, a in history]
    turns.append(Turn(user, as_text(record.get("output"))))
    known = {"instruction", "input", "output", "system", "history"}
    return Conversation(as_text(record.get("system")), turns, _meta(record, known))


def _read_testset(record: dict[str, Any]) -> Conversation:
    lower = {k.strip().lower(): k for k in record}
    expected_key = next((lower[k] for k in TESTSET_EXPECTED if k in lower), None)
    user_key, system_key = lower.get("user"), lower.get("system")
    if user_key is None:
        raise _RecordError(
            "'user' 값이 없습니다", "테스트 셋에는 'user' 열이 있어야 합니다", "user"
        )
    known = {k for k in (user_key, system_key, expected_key) if k}
    expected = as_text(record.get(expected_key)) if expected_key else ""
    system = as_text(record.get(system_key)) if system_key else ""
    return Conversation(
        system, [Turn(as_text(record.get(user_key)), expected)], _meta(record, known)
    )


_RECORD_READERS: dict[str, RecordReader] = {
    "openai": _read_openai,
    "sharegpt": _read_sharegpt,
    "alpaca": _read_alpaca,
    "testset": _read_testset,
}


def _openai_record(conv: Conversation) -> dict[str, Any]:
    record: dict[str, Any] = {"messages": [m.to_dict() for m in conv.messages()]}
    if conv.meta:
        record["metadata"] = conv.meta
    return record


def _sharegpt_record(conv: Conversation) -> dict[str, Any]:
    items = []
    for turn in conv.turns:
        items += [{"from": "human", "value": turn.user}, {"from": "gpt", "value": turn.assistant}]
    record: dict[str, Any] = {"conversations": items}
    if conv.system:
        record["system"] = conv.system
    record.update(conv.meta)
    return record


def _alpaca_record(conv: Conversation) -> dict[str, Any]:
    *history, last = conv.turns
    record: dict[str, Any] = {"instruction": last.user, "input": "", "output": last.assistant}
    if conv.system:
        record["system"] = conv.system
    if history:
        record["history"] = [[t.user, t.assistant] for t in history]
    record.update(conv.meta)
    return record


def _testset_record(conv: Conversation) -> dict[str, Any]:
    last = conv.turns[-1]
    return {"system": conv.system, "user": last.user, "expected": last.assistant, **conv.meta}


_RECORD_WRITERS: dict[str, Callable[[Conversation], dict[str, Any]]] = {
    "openai": _openai_record,
    "sharegpt": _sharegpt_record,
    "alpaca": _alpaca_record,
    "testset": _testset_record,
}


def check_savable(conversations: list[Conversation], fmt: str, row_label: str = "row") -> None:
    """Raise a DataError when ``fmt`` cannot hold ``conversations`` without losing turns.

    A test-set table holds one question per row; a multi-turn conversation would keep only
    its last turn, so it is refused (call this before writing anything). ``row_label`` names
    the source rows in the message, as the input table counts them.
    """
    if fmt != "testset":
        return
    multi = [(i, c) for i, c in enumerate(conversations) if len(c.turns) > 1]
    if not multi:
        return
    word = ROW_WORDS.get(row_label, "행")
    shown = ", ".join(_conversation_place(i, c, word) for i, c in multi[:5])
    more = f" 외 {len(multi) - 5}개" if len(multi) > 5 else ""
    raise DataError(
        f"테스트 셋 표는 한 행에 질문 하나만 담는데, 여러 턴 대화가 {len(multi)}개 있습니다: "
        f"{shown}{more}. 테스트 셋으로 쓰면 마지막 턴만 남고 앞의 턴이 사라집니다",
        hint="여러 턴 대화는 --to clova나 --to openai(또는 sharegpt, alpaca)로 저장하세요",
    )


def _conversation_place(index: int, conv: Conversation, word: str) -> str:
    rows = conv.source_rows
    listed = ", ".join(map(str, rows[:6])) + ("…" if len(rows) > 6 else "")
    where = f", {word} {listed}" if rows else ""
    return f"대화 {index + 1}({len(conv.turns)}턴{where})"


def save_dataset(conversations: list[Conversation], path: Path | str, fmt: str = "clova") -> Path:
    """Write conversations as ``fmt`` into a .csv/.jsonl/.json/.xlsx file.

    Nothing is written when a conversation cannot be held by ``fmt`` (see
    :func:`check_savable`).
    """
    path = Path(path)
    kind = table_format(path)
    check_savable(conversations, fmt)
    if fmt == "clova":
        return write_table(path, *clova_rows(conversations))
    if fmt not in _RECORD_WRITERS:
        raise DataError(
            f"unknown dataset format {fmt!r}", hint=f"use one of: {', '.join(DATASET_FORMATS)}"
        )
    if fmt != "testset" and kind in ("csv", "xlsx"):
        raise DataError(
            f"the {fmt} format is nested JSON and cannot be a .{kind} table",
            where=str(path),
            hint="name the output .jsonl or .json",
        )
    records = [_RECORD_WRITERS[fmt](c) for c in conversations]
    keys: dict[str, None] = {}
    for rec in records:
        keys.update(dict.fromkeys(rec))
    return write_table(path, list(keys), records)
