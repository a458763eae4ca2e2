"""Fuzz the readers and the validator: whatever a file holds, the only exceptions that escape
are TuneStudioErrors (which the CLI turns into messages), and the CLI never shows a traceback."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from tests.cli_runner import run_cli
from tunestudio.data import load_dataset, read_table
from tunestudio.data.validate import validate_file
from tunestudio.errors import TuneStudioError

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EXTENSIONS = st.sampled_from([".csv", ".jsonl", ".json", ".xlsx"])
CLOVA = ["System_Prompt", "C_ID", "T_ID", "Text", "Completion"]

# Values a JSON file may hold, including the awkward ones: lone surrogates ("\\ud800" is valid
# JSON but not encodable text), huge numbers, NaN.
ANY_CHAR_TEXT = st.text(st.characters(exclude_categories=()), max_size=30)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | ANY_CHAR_TEXT
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(
    [
        *CLOVA,
        "messages",
        "conversations",
        "instruction",
        "output",
        "user",
        "system",
        "role",
        "content",
        "from",
        "value",
        "history",
        "expected",
        "text ",
    ]
)


@contextmanager
def _file(suffix: str, data: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"data{suffix}"
        path.write_bytes(data)
        yield path


def _only_our_errors(path: Path) -> None:
    """Every entry point either returns or raises a TuneStudioError."""
    readers: list[Callable[[Path], Any]] = [
        read_table,
        load_dataset,
        validate_file,
        # the label checks and the leakage check, on the same odd data
        lambda p: validate_file(p, task="classification", test_path=p),
    ]
    for read in readers:
        with suppress(TuneStudioError):
            read(path)


@FUZZ
@given(data=st.binary(max_size=400), suffix=EXTENSIONS)
def test_arbitrary_bytes(data: bytes, suffix: str) -> None:
    with _file(suffix, data) as path:
        _only_our_errors(path)


@FUZZ
@given(text=st.text(max_size=300), suffix=EXTENSIONS)
def test_arbitrary_text(text: str, suffix: str) -> None:
    with _file(suffix, text.encode("utf-8", "surrogatepass")) as path:
        _only_our_errors(path)


@FUZZ
@given(records=st.lists(st.dictionaries(KEYS, JSON_VALUES, max_size=5) | JSON_VALUES, max_size=6))
def test_jsonl_records_of_any_shape(records: list[Any]) -> None:
    lines = "\n".join(json.dumps(r, allow_nan=True) for r in records)
    with _file(".jsonl", lines.encode()) as path:
        _only_our_errors(path)
    with _file(".json", json.dumps(records).encode()) as path:
        _only_our_errors(path)


# Pieces of almost-JSON: a 5,000-digit number (int() refuses it), lone surrogates, separators
# that str.splitlines() would treat as line ends.
JSONISH = st.lists(
    st.sampled_from(
        [
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            '"Text"',
            '"Completion"',
            '"messages"',
            '"role"',
            '"user"',
            '"a\\ud800b"',
            '"\u2028"',
            '"\x85"',
            "1" * 5000,
            "1e999",
            "-0",
            "NaN",
            "null",
            "\n",
        ]
    ),
    max_size=25,
).map("".join)


@FUZZ
@given(text=JSONISH, suffix=st.sampled_from([".jsonl", ".json"]))
def test_almost_json(text: str, suffix: str) -> None:
    with _file(suffix, text.encode()) as path:
        _only_our_errors(path)


CELLS = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.text("0123456789", min_size=300, max_size=400),  # float() of it is inf
    st.integers(-5, 5),
    st.floats(allow_nan=False),
    st.booleans(),
)


@FUZZ
@given(
    header=st.lists(st.sampled_from([*CLOVA, "text ", "Compleiton", "", "label"]), max_size=7),
    rows=st.lists(st.lists(CELLS, max_size=8), max_size=8),
)
def test_csv_with_clova_like_headers(header: list[str], rows: list[list[Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    with _file(".csv", buffer.getvalue().encode("utf-8", "surrogatepass")) as path:
        _only_our_errors(path)


XLSX_CELLS = st.one_of(
    st.none(),
    st.text(max_size=20).map(lambda s: ILLEGAL_CHARACTERS_RE.sub("", s)),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.datetimes(min_value=datetime(1901, 1, 1), max_value=datetime(2100, 1, 1)),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(XLSX_CELLS, max_size=7), max_size=7), clova_header=st.booleans())
def test_real_workbooks_with_random_cells(rows: list[list[Any]], clova_header: bool) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    if clova_header:
        sheet.append(CLOVA)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    with _file(".xlsx", buffer.getvalue()) as path:
        _only_our_errors(path)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode), suffix=EXTENSIONS)
def test_cli_never_shows_a_traceback(data: bytes, suffix: str) -> None:
    with _file(suffix, data) as path:
        for args in (("data", "validate", str(path)), ("data", "validate", str(path), "--json")):
            result = run_cli(*args)
            assert "Traceback" not in result.stdout + result.stderr
            assert result.exit_code in (0, 1, 2), result


# --- what the fuzzing found, pinned down ---------------------------------------------------


def test_a_number_too_long_for_int_is_a_row_issue(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"Text": "a", "Completion": "b"}\n{"C_ID": ' + "1" * 5000 + "}\n")
    table = read_table(path)
    assert [(i.row, "4,300자리" in i.message) for i in table.issues] == [(2, True)]


def test_a_c_id_of_many_digits_is_not_a_whole_number(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("C_ID,T_ID,Text,Completion\n" + "9" * 400 + ",0,a,b\n", encoding="utf-8")
    report = validate_file(path)
    assert [(p.code, p.row) for p in report.errors if p.code == "bad-c-id"] == [("bad-c-id", 2)]


def test_jsonl_lines_end_only_at_newlines(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    record = {"Text": "줄\u2028바꿈\x85문자", "Completion": "b"}
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    table = read_table(path)
    assert table.issues == [] and table.rows == [record]


def test_lone_surrogates_are_replaced_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"Text": "a\\ud800b", "C": "\\ud83d\\ude00"}\n', encoding="utf-8")
    table = read_table(path)
    assert table.rows == [{"Text": "a\ufffdb", "C": "😀"}]
    assert [i.row for i in table.issues] == [1]


def test_trailing_empty_csv_cells_are_not_a_field_count_problem(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("Text,Completion,\na,b,,\nc,d\ne,f,g\n", encoding="utf-8")
    table = read_table(path)
    assert table.columns == ["Text", "Completion"]
    assert [i.row for i in table.issues] == [4]
