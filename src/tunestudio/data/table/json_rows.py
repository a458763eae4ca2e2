"""JSON Lines and JSON tables: one object per line, or one array of objects."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tunestudio.data.table.model import RowIssue, Table
from tunestudio.errors import DataFormatError


def read_jsonl(path: Path, text: str) -> Table:
    """One JSON object per line; a line that is not one is a :class:`RowIssue`, not a stop."""
    table = Table(path, [], [], [], row_label="line")
    seen: dict[str, None] = {}
    # Only "\n" ends a JSONL line: str.splitlines() would also split at U+2028, U+0085 and
    # other characters that JSON strings may hold unescaped.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line, object_pairs_hook=_JsonObject.build)
        except (ValueError, RecursionError) as exc:
            table.issues.append(
                RowIssue(number, f"JSON으로 읽을 수 없습니다 ({_json_reason_ko(exc)})", _JSONL_HINT)
            )
            continue
        if not isinstance(value, dict):
            table.issues.append(
                RowIssue(number, f"JSON 객체가 아니라 {_json_type(value)}입니다", _JSONL_HINT)
            )
            continue
        _add_json_row(table, number, value, bool(_SURROGATE_ESCAPE.search(line)))
        seen.update(dict.fromkeys(table.rows[-1]))
    table.columns = list(seen)
    table.header = list(seen)
    return table


def read_json(path: Path, text: str) -> Table:
    """One array of objects (or an object holding exactly one array); items are numbered."""
    try:
        value = json.loads(text, object_pairs_hook=_JsonObject.build)
    except (ValueError, RecursionError) as exc:
        where = f"{path} line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else str(path)
        raise DataFormatError(
            f"not valid JSON: {_json_reason(exc)}",
            where=where,
            hint="a .json dataset is one array of objects: [{...}, {...}]",
        ) from None
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        value = lists[0] if len(lists) == 1 else value
    if not isinstance(value, list):
        raise DataFormatError(
            "the top level is not an array of rows",
            where=str(path),
            hint="a .json dataset is one array of objects: [{...}, {...}]",
        )
    table = Table(path, [], [], [], row_label="item")
    seen: dict[str, None] = {}
    escaped = bool(_SURROGATE_ESCAPE.search(text))
    for number, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            table.issues.append(
                RowIssue(
                    number,
                    f"JSON 객체가 아니라 {_json_type(item)}입니다",
                    '배열의 항목은 모두 {"열 이름": "값"} 형태의 객체여야 합니다',
                )
            )
            continue
        _add_json_row(table, number, item, escaped)
        seen.update(dict.fromkeys(table.rows[-1]))
    table.columns = list(seen)
    table.header = list(seen)
    return table


_JSONL_HINT = '한 줄에 JSON 객체 하나씩 적으세요: {"Text": "…", "Completion": "…"}'
_SURROGATES = re.compile("[\ud800-\udfff]")
# Decoded file text holds no surrogates, so a JSON string can only get one from an escape.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _json_reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return exc.msg
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return "a number is too long"  # int() refuses more than 4,300 digits


def _json_reason_ko(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.colno}번째 글자: {exc.msg}"
    if isinstance(exc, RecursionError):
        return "너무 깊게 중첩되어 있습니다"
    return "4,300자리가 넘는 숫자가 있습니다"


def _json_type(value: Any) -> str:
    names = {list: "배열", str: "문자열", int: "숫자", float: "숫자", bool: "참/거짓"}
    return names.get(type(value), "null")


class _JsonObject(dict[str, Any]):
    """A decoded JSON object that remembers the keys it repeated.

    ``json.loads`` keeps only the last value of a repeated key; a record such as
    ``{"Text": "a", "Text": "b"}`` would lose "a" without a word, so the reader reports it.
    """

    repeated: tuple[str, ...] = ()

    @classmethod
    def build(cls, pairs: list[tuple[str, Any]]) -> _JsonObject:
        obj = cls(pairs)
        if len(obj) != len(pairs):
            names = [k for k, _ in pairs]
            obj.repeated = tuple(dict.fromkeys(k for k in names if names.count(k) > 1))
        return obj


def _add_json_row(table: Table, number: int, record: dict[str, Any], escaped: bool) -> None:
    """Keep a JSON record as a row. When the JSON text had a surrogate escape (``escaped``), a
    lone surrogate ("\\ud800") becomes U+FFFD and an issue: such a string can be neither
    written as UTF-8 nor trained on. (Paired escapes decode to one character and pass.) A key
    the record repeats is an issue too: JSON keeps only its last value."""
    if repeated := getattr(record, "repeated", ()):
        names = ", ".join(repr(k) for k in repeated)
        table.issues.append(
            RowIssue(
                number,
                f"키 {names}이(가) 한 객체에 두 번 이상 나옵니다. JSON은 마지막 값만 남기므로 "
                "앞의 값은 읽지 못했습니다",
                "키마다 한 번만 쓰세요. 값이 둘 다 필요하면 키 이름을 다르게 하세요",
            )
        )
    row = {str(k): v for k, v in record.items()}
    if escaped and (clean := _no_surrogates(row)) != row:
        row = clean
        table.issues.append(
            RowIssue(
                number,
                "짝이 없는 UTF-16 서로게이트(\\ud800 등)가 있어 �로 바꿔 읽었습니다",
                "이 값을 만든 프로그램에서 글자가 깨지지 않았는지 확인하고 고치세요",
            )
        )
    table.rows.append(row)
    table.row_numbers.append(number)


def _no_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATES.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_SURROGATES.sub("\ufffd", k): _no_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_surrogates(v) for v in value]
    return value
