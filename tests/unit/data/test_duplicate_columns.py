"""Repeated column names: every value is kept, validate reports them, strict loading refuses."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from tests.cli_runner import run_cli
from tunestudio.data import load_dataset, read_table
from tunestudio.data.table import unique_keys
from tunestudio.data.validate import validate_file
from tunestudio.errors import DataError

HEADER = "System_Prompt,C_ID,T_ID,Text,Completion"


def _csv(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\ufeff" + "\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_csv_reader_keeps_both_values_of_a_repeated_name(tmp_path: Path) -> None:
    path = _csv(tmp_path / "d.csv", f"{HEADER},note,note", ",0,0,질문,답,첫 메모,둘째 메모")
    table = read_table(path)
    assert table.header == ["System_Prompt", "C_ID", "T_ID", "Text", "Completion", "note", "note"]
    assert table.columns[-2:] == ["note", "note (2)"]
    assert table.rows[0]["note"] == "첫 메모" and table.rows[0]["note (2)"] == "둘째 메모"
    assert table.duplicate_columns() == {"note": [5, 6]}


def test_xlsx_reader_keeps_both_values_of_a_repeated_name(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["user", "expected", "user"])
    sheet.append(["질문 하나", "답", "질문 둘"])
    book.save(tmp_path / "t.xlsx")
    table = read_table(tmp_path / "t.xlsx")
    assert table.rows[0] == {"user": "질문 하나", "expected": "답", "user (2)": "질문 둘"}
    assert table.duplicate_columns() == {"user": [0, 2]}


def test_unique_keys_never_take_a_real_column_name() -> None:
    assert unique_keys(["a", "a (2)", "a", "a"]) == ["a", "a (2)", "a (3)", "a (4)"]
    assert unique_keys(["", "x", ""]) == ["", "x", "(2)"]


@pytest.mark.parametrize(
    ("header", "column", "shown"),
    [
        (f"{HEADER},note,note", "note", "'note' 열이 2번 (F열, G열)"),
        (f"{HEADER},Text", "Text", "'Text' 열이 2번 (D열, F열)"),
        # CLOVA Studio compares column names ignoring case
        ("System_Prompt,C_ID,T_ID,Text,Completion,text", "Text", "'Text', 'text' 열이 2번"),
    ],
)
def test_strict_loading_refuses_repeated_names(
    tmp_path: Path, header: str, column: str, shown: str
) -> None:
    path = _csv(tmp_path / "d.csv", header, ",0,0,질문,답,메모,메모2")
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert err.value.where == f"{path} row 1, column {column}"
    assert "같은 이름의 열이 여러 개" in err.value.message and shown in err.value.message
    assert "하나만 남기고" in (err.value.hint or "")
    # not strict (what validate uses): read, with both values kept
    assert load_dataset(path, strict=False).conversations


def test_validate_and_strict_loading_agree(tmp_path: Path) -> None:
    path = _csv(tmp_path / "t.csv", "system,user,expected,User", "s,질문,답,다른 질문")
    [problem] = [p for p in validate_file(path).errors if p.code == "duplicate-column"]
    assert (problem.row, problem.column) == (1, "user")
    assert "(B열, D열)" in problem.message
    with pytest.raises(DataError):
        load_dataset(path)


def test_convert_and_clean_refuse_instead_of_dropping_a_column(tmp_path: Path) -> None:
    path = _csv(tmp_path / "d.csv", f"{HEADER},note,note", ",0,0,질문,답,첫 메모,둘째 메모")
    for command in ("convert", "clean"):
        out = tmp_path / f"{command}.csv"
        result = run_cli("data", command, path, out)
        assert result.exit_code == 2, command
        assert f"{path} row 1, column note" in result.stderr.replace("\n", " ")
        assert "Traceback" not in result.stderr
        assert not out.exists()


def test_jsonl_repeated_key_is_an_unreadable_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    records = [
        '{"Text": "질문", "Completion": "답"}',
        '{"Text": "첫 질문", "Text": "둘째 질문", "Completion": "답"}',
    ]
    path.write_text("\n".join(records) + "\n", encoding="utf-8")
    table = read_table(path)
    [issue] = table.issues
    assert issue.row == 2 and "'Text'" in issue.message
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert "d.jsonl, line 2" in err.value.message
    report = validate_file(path)
    assert [p.row for p in report.errors if p.code == "unreadable-row"] == [2]


def test_json_repeated_key_names_the_item(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text(
        '[{"user": "a", "expected": "b"}, {"user": "c", "user": "d", "expected": "e"}]',
        encoding="utf-8",
    )
    [issue] = read_table(path).issues
    assert issue.row == 2
    # a nested object with a repeated key is read as JSON reads it (the last value)
    nested = tmp_path / "n.jsonl"
    nested.write_text(json.dumps({"messages": []}) + "\n", encoding="utf-8")
    assert read_table(nested).issues == []
