"""The journal file: durable appends, torn lines, damage, other runs, locking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.inference.scripted import conversations
from tunestudio.inference import Journal, JournalError, RowResult, journal_beside, row_key
from tunestudio.types import GenParams

KEYS = [row_key(c) for c in conversations(["가", "나", "다"])]


def _open(path: Path, **kwargs: object) -> Journal:
    return Journal.open(path, model="tiny", params=GenParams(), **kwargs)  # type: ignore[arg-type]


def _write_two(path: Path) -> None:
    with _open(path) as journal:
        journal.append([RowResult(0, "하나", 12.3, 5, 2)], KEYS)
        journal.append([RowResult(2, "", 1.0, error="ValueError: x")], KEYS)


def test_appended_rows_come_back_after_reopening(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write_two(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    assert header["model"] == "tiny" and header["params"]["temperature"] == 0.0
    assert [json.loads(line)["i"] for line in lines[1:]] == [0, 2]
    with _open(path) as journal:
        assert journal.results[0] == RowResult(0, "하나", 12.3, 5, 2)
        assert not journal.results[2].ok and 1 not in journal.results
        journal.check_inputs(KEYS)


def test_the_last_line_for_a_row_wins(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write_two(path)
    with _open(path) as journal:
        journal.append([RowResult(2, "셋")], KEYS)
    with _open(path) as journal:
        assert journal.results[2].content == "셋"


def test_a_torn_last_line_is_ignored_and_trimmed(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write_two(path)
    whole = path.read_bytes()
    with path.open("ab") as fh:
        fh.write(b'{"i": 1, "input": "abc", "conte')  # killed in the middle of a write
    with _open(path) as journal:
        assert sorted(journal.results) == [0, 2]
        journal.append([RowResult(1, "둘")], KEYS)
    assert path.read_bytes().startswith(whole)
    with _open(path) as journal:
        assert journal.results[1].content == "둘"


def test_a_torn_header_starts_a_new_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"journal": "tunestudio.batch-jour')
    with _open(path) as journal:
        assert journal.results == {}
    assert json.loads(path.read_text(encoding="utf-8").splitlines()[0])["model"] == "tiny"


def test_a_damaged_line_in_the_middle_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write_two(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] = "not json"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(JournalError, match="line 2 of the journal is damaged") as info:
        _open(path)
    assert "--fresh" in (info.value.hint or "")


def test_another_file_is_not_taken_for_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('{"user": "질문"}\n', encoding="utf-8")
    with pytest.raises(JournalError, match="not a tunestudio batch journal"):
        _open(path)


def test_fresh_discards_the_old_run(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write_two(path)
    with Journal.open(path, model="other", params=GenParams(), fresh=True) as journal:
        assert journal.results == {}
    assert json.loads(path.read_text(encoding="utf-8").splitlines()[0])["model"] == "other"


def test_changed_or_missing_input_rows_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write_two(path)
    with _open(path) as journal:
        with pytest.raises(JournalError) as info:
            journal.check_inputs([KEYS[0], KEYS[1], row_key(conversations(["바뀜"])[0])])
        assert info.value.index == 2
        with pytest.raises(JournalError, match="the input now has only 2 row"):
            journal.check_inputs(KEYS[:2])
        journal.check_inputs([*KEYS, "extra row"])  # rows added at the end are fine


def test_a_second_writer_is_refused_while_the_first_holds_it(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with _open(path), pytest.raises(JournalError, match="another run is writing this journal"):
        _open(path)
    with _open(path):  # released on close
        pass


def test_journal_lives_beside_the_output() -> None:
    assert journal_beside(Path("runs/out.xlsx")) == Path("runs/out.xlsx.journal.jsonl")
