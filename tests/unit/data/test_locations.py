"""Where a problem is (row, line or item) and fix-it commands that run as printed."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from tunestudio.data import load_dataset
from tunestudio.data.problems import Problem
from tunestudio.data.validate import validate_file
from tunestudio.errors import DataError, DatasetInvalidError

BROKEN_JSONL = Path(__file__).resolve().parents[2] / "fixtures" / "broken" / "broken.jsonl"
HEADER = "System_Prompt,C_ID,T_ID,Text,Completion"


def _rows(n: int) -> str:
    return "".join(f",{i},0,질문 {i}번 배송 문의,배송\n" for i in range(n))


def test_problem_where_uses_the_row_label() -> None:
    line = Problem("error", "x", "m", file="d.jsonl", row=3, column="Text", row_label="line")
    assert line.where == "d.jsonl, line 3, column Text"
    assert str(line).startswith("[error] d.jsonl, line 3, column Text: m")
    assert Problem("error", "x", "m", file="d.csv", row=3).where == "d.csv, row 3"
    assert line.to_dict()["row_label"] == "line"


def test_convert_names_jsonl_lines_as_lines(tmp_path: Path) -> None:
    result = run_cli("data", "convert", BROKEN_JSONL, tmp_path / "o.csv")
    assert result.exit_code == 2
    err = result.stderr.replace("\n", " ")
    assert "broken.jsonl, line 2:" in err and "broken.jsonl, line 3:" in err
    assert "row 2" not in err


def test_every_located_jsonl_problem_counts_lines() -> None:
    report = validate_file(BROKEN_JSONL)
    located = [p for p in report.problems if p.row is not None]
    assert located and {p.row_label for p in located} == {"line"}


def test_hint_commands_use_the_path_as_given_and_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "my data"
    folder.mkdir()
    (folder / "train.csv").write_text(HEADER + "\n" + _rows(3), encoding="utf-8")  # no BOM
    monkeypatch.chdir(tmp_path)
    [note] = [p for p in validate_file("my data/train.csv").problems if p.code == "csv-no-bom"]
    command = "tunestudio data convert 'my data/train.csv' 'my data/train_clova.csv'"
    assert f"`{command}`" in note.hint
    result = run_cli(*shlex.split(command)[1:])
    assert result.exit_code == 0, result.stderr
    assert (folder / "train_clova.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_header_hints_give_the_whole_convert_command(tmp_path: Path) -> None:
    order = tmp_path / "order.csv"
    order.write_text("C_ID,System_Prompt,T_ID,Text,Completion\n0,,0,질문,답\n", encoding="utf-8")
    [problem] = [p for p in validate_file(order).problems if p.code == "column-order"]
    assert f"tunestudio data convert {order} {tmp_path / 'order_clova.csv'}" in problem.hint
    bare = tmp_path / "bare.csv"
    bare.write_text("Text,Completion\n질문,답\n", encoding="utf-8")
    missing = [p for p in validate_file(bare).problems if p.code == "missing-column"]
    assert missing and all(f"convert {bare} " in p.hint for p in missing)


def test_validate_commands_in_errors_are_quoted(tmp_path: Path) -> None:
    folder = tmp_path / "a b"
    folder.mkdir()
    path = folder / "x.jsonl"
    path.write_text("not json\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_dataset(path, "clova")
    assert f"tunestudio data validate '{path}'" in (err.value.hint or "")
    with pytest.raises(DatasetInvalidError) as invalid:
        validate_file(path).raise_for_errors()
    assert f"tunestudio data validate '{path}'" in (invalid.value.hint or "")


def test_convert_of_a_cp949_file_says_it_writes_utf8(tmp_path: Path) -> None:
    src = tmp_path / "old.csv"
    src.write_bytes((HEADER + "\n" + _rows(2)).encode("cp949"))
    result = run_cli("data", "convert", src, tmp_path / "new.csv")
    assert result.exit_code == 0, result.stderr
    out = result.stdout.replace("\n", " ")
    assert "CP949" in out and "UTF-8(BOM)로 씁니다" in out
    assert "tunestudio data convert" not in out  # not told to run the command it is running
    # validate, which does not convert, still gives the command
    [warning] = [p for p in validate_file(src).problems if p.code == "encoding"]
    assert f"tunestudio data convert {src} " in warning.hint
