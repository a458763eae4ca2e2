"""Batch inputs (test sets, CLOVA datasets) and outputs (every input column + the answers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunestudio.data.table import read_table, write_table
from tunestudio.errors import DataError, DataFormatError
from tunestudio.inference import (
    OUTPUT_COLUMNS,
    RowResult,
    output_table,
    read_batch_input,
    write_atomic,
)
from tunestudio.inference.tables import check_output_path
from tunestudio.types import Message

TESTSET_COLUMNS = ["system", "user", "expected", "note"]
TESTSET_ROWS = [
    {"system": "분류하세요", "user": "환불은 언제 되나요?", "expected": "결제", "note": "a"},
    {"system": "", "user": "사진이 안 올라가요", "expected": "MYBOX", "note": "b"},
]


def _testset(tmp_path: Path, suffix: str) -> Path:
    return write_table(tmp_path / f"test{suffix}", TESTSET_COLUMNS, TESTSET_ROWS)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".jsonl"])
def test_a_test_set_becomes_one_conversation_per_row(tmp_path: Path, suffix: str) -> None:
    batch = read_batch_input(_testset(tmp_path, suffix))
    assert batch.kind == "testset" and len(batch) == 2
    assert batch.conversations[0] == [
        Message("system", "분류하세요"),
        Message("user", "환불은 언제 되나요?"),
    ]
    assert batch.conversations[1] == [Message("user", "사진이 안 올라가요")]  # no empty system
    assert batch.where(1) == ("test.jsonl line 2" if suffix == ".jsonl" else f"test{suffix} row 3")


def test_system_option_replaces_every_rows_system_prompt(tmp_path: Path) -> None:
    batch = read_batch_input(_testset(tmp_path, ".csv"), system="한 단어로 답하세요")
    assert [c[0] for c in batch.conversations] == [Message("system", "한 단어로 답하세요")] * 2


def test_column_names_match_whatever_their_case(tmp_path: Path) -> None:
    path = write_table(tmp_path / "t.csv", ["System", "User"], [{"System": "s", "User": "q"}])
    assert read_batch_input(path).conversations == [[Message("system", "s"), Message("user", "q")]]


def test_clova_rows_are_asked_after_their_conversations_earlier_turns(tmp_path: Path) -> None:
    columns = ["System_Prompt", "C_ID", "T_ID", "Text", "Completion"]
    rows = [
        {"System_Prompt": "상담원", "C_ID": 0, "T_ID": 0, "Text": "안녕", "Completion": "네"},
        {"System_Prompt": "상담원", "C_ID": 0, "T_ID": 1, "Text": "환불?", "Completion": "가능"},
        {"System_Prompt": "", "C_ID": 1, "T_ID": 0, "Text": "사진", "Completion": "MYBOX"},
    ]
    batch = read_batch_input(write_table(tmp_path / "train.csv", columns, rows))
    assert batch.kind == "clova"
    assert batch.conversations == [
        [Message("system", "상담원"), Message("user", "안녕")],
        [
            Message("system", "상담원"),
            Message("user", "안녕"),
            Message("assistant", "네"),
            Message("user", "환불?"),
        ],
        [Message("user", "사진")],
    ]


def test_no_question_column_names_the_file_and_its_columns(tmp_path: Path) -> None:
    path = write_table(tmp_path / "q.csv", ["system", "question"], [{"question": "x"}])
    with pytest.raises(DataError) as info:
        read_batch_input(path)
    assert info.value.where == str(path)
    assert "system, question" in info.value.message
    assert "`user`" in (info.value.hint or "")


def test_rows_with_an_empty_question_are_listed(tmp_path: Path) -> None:
    rows = [{"user": "q1"}, {"user": " "}, {"user": "q3"}, {"user": ""}]
    rows = [{**r, "expected": "e"} for r in rows]
    path = write_table(tmp_path / "t.csv", ["user", "expected"], rows)
    with pytest.raises(DataError, match="질문이 빈 행이 2개 있습니다: row 3, 5") as info:
        read_batch_input(path)
    assert info.value.where == f"{path}, column user"


def test_rows_that_cannot_be_read_stop_the_run_instead_of_vanishing(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"user": "a"}\n{"user": \n{"user": "c"}\n', encoding="utf-8")
    with pytest.raises(DataError, match="읽을 수 없는 행이 1개 있습니다 \\(line 2: "):
        read_batch_input(path)


def test_an_empty_input_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("system,user\n", encoding="utf-8")
    with pytest.raises(DataError, match="데이터 행이 없습니다"):
        read_batch_input(path)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".jsonl"])
def test_output_keeps_input_columns_and_rows_and_adds_answers(tmp_path: Path, suffix: str) -> None:
    batch = read_batch_input(_testset(tmp_path, suffix))
    results = [RowResult(0, "결제", 12.34, 30, 2), RowResult(1, error="ValueError: x")]
    columns, rows = output_table(batch, results)
    assert columns == [*TESTSET_COLUMNS, *OUTPUT_COLUMNS]
    out = write_atomic(tmp_path / f"out{suffix}", columns, rows)
    table = read_table(out)
    assert table.columns == columns
    got = [{k: str(v) for k, v in row.items()} for row in table.rows]
    assert [r["user"] for r in got] == [r["user"] for r in TESTSET_ROWS]
    assert [r["content"] for r in got] == ["결제", ""]
    assert [r["role"] for r in got] == ["assistant", "assistant"]
    assert got[0]["latency_ms"] == "12.3" and got[0]["input_tokens"] == "30"
    assert [r["error"] for r in got] == ["", "ValueError: x"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_an_earlier_runs_answer_columns_are_replaced_in_place(tmp_path: Path) -> None:
    path = write_table(tmp_path / "t.csv", ["user", "content"], [{"user": "q", "content": "old"}])
    columns, rows = output_table(read_batch_input(path), [RowResult(0, "new")])
    assert columns == [
        "user",
        "content",
        "role",
        "latency_ms",
        "input_tokens",
        "output_tokens",
        "error",
    ]
    assert rows[0]["content"] == "new"


def test_output_must_be_a_table_and_not_the_input(tmp_path: Path) -> None:
    source = _testset(tmp_path, ".csv")
    with pytest.raises(DataError, match="overwrite the input"):
        check_output_path(tmp_path / "." / "test.csv", source)
    with pytest.raises(DataFormatError, match=r"extension '\.txt'"):
        check_output_path(tmp_path / "out.txt", source)
    assert check_output_path(tmp_path / "out.xlsx", source) == tmp_path / "out.xlsx"
