from __future__ import annotations

import csv
import importlib.util
import io
import json
import random
from pathlib import Path
from types import ModuleType
from typing import Any

import openpyxl
import pytest

from tests.cli_runner import run_cli
from tunestudio.data import save_dataset
from tunestudio.data.checks.labels import edit_distance
from tunestudio.data.problems import Problem
from tunestudio.data.validate import ValidationReport, validate_file
from tunestudio.errors import ConfigError, DataFormatError, DatasetInvalidError
from tunestudio.types import Conversation, Turn

BROKEN = Path(__file__).resolve().parents[2] / "fixtures" / "broken"
MANIFEST = json.loads((BROKEN / "manifest.json").read_text(encoding="utf-8"))
HEADER = "System_Prompt,C_ID,T_ID,Text,Completion"
_SYLLABLES = "가나다라마바사아자차카타파하거너더러머버서어저처커터퍼허고노도로모보소오조초구누두루"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_fixtures", BROKEN / "make_fixtures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _key(p: Problem | dict[str, Any]) -> tuple[Any, ...]:
    d = p.to_dict() if isinstance(p, Problem) else p
    return (d["file"], d["severity"], d["code"], d["row"], d["column"])


def _codes(report: ValidationReport, severity: str | None = None) -> list[str]:
    return [p.code for p in report.problems if severity in (None, p.severity)]


def _texts(count: int, seed: int = 3) -> list[str]:
    """Distinct made-up inquiries that are not near-duplicates of each other."""
    rng = random.Random(seed)
    words = lambda: " ".join("".join(rng.choices(_SYLLABLES, k=3)) for _ in range(5))  # noqa: E731
    return [f"문의 {words()}?" for _ in range(count)]


def _write_csv(path: Path, rows: list[list[Any]], header: str = HEADER, bom: bool = True) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header.split(","))
    writer.writerows(rows)
    path.write_text(("\ufeff" if bom else "") + buffer.getvalue(), encoding="utf-8")
    return path


def _classification(count: int, labels: list[str]) -> list[list[Any]]:
    return [
        ["분류하라", i, 0, text, labels[i % len(labels)]] for i, text in enumerate(_texts(count))
    ]


# --- the broken fixture: every planted problem, at its row, and nothing else as an error ----


def test_fixture_files_are_what_the_generator_writes(tmp_path: Path) -> None:
    _generator().write(tmp_path)
    for path in tmp_path.iterdir():
        assert path.read_bytes() == (BROKEN / path.name).read_bytes(), path.name


@pytest.mark.parametrize("name", ["broken.csv", "missing_columns.csv", "broken.jsonl"])
def test_every_planted_problem_is_reported_at_its_row(name: str) -> None:
    entry = MANIFEST["files"][name]
    planted = list(entry["planted"])
    test_path = None
    if "test" in entry:
        test_path = BROKEN / entry["test"]
        planted += MANIFEST["files"][entry["test"]]["planted"]
    report = validate_file(BROKEN / name, test_path=test_path)

    reported = {_key(p) for p in report.problems}
    missing = [p for p in planted if _key(p) not in reported]
    assert not missing, f"planted but not reported: {missing}"
    planted_errors = sorted(_key(p) for p in planted if p["severity"] == "error")
    assert sorted(_key(p) for p in report.errors) == planted_errors
    assert set(_codes(report)) == {p["code"] for p in planted}
    if "task" in entry:
        assert (report.task, report.task_assumed) == (entry["task"], True)


def test_broken_fixture_messages_name_the_rows_and_counts() -> None:
    report = validate_file(BROKEN / "broken.csv", test_path=BROKEN / "broken_test.csv")
    by_code = report.by_code()
    assert "4,321자" in by_code["too-long"][0].message
    conflict = by_code["label-conflict"][0].message
    assert "123" in conflict and "129" in conflict  # both rows of the contradiction
    assert "행 130, 134" in by_code["duplicate"][0].message
    assert "행 135, 139" in by_code["near-duplicate"][0].message
    similar = {p.row: p for p in by_code["similar-labels"]}
    assert "'네이버플러스멤버십 오류 해결'(으)로" in similar[140].hint  # the more frequent one
    assert "'MYBOX 기능문의 및 사용방법'(으)로" in similar[155].hint
    leaked = MANIFEST["files"]["broken.csv"]["leaked_training_rows"]
    overlaps = [by_code[c][0] for c in ("test-overlap", "test-overlap-normalized")]
    overlaps.append(by_code["test-near-overlap"][0])
    for problem, train_row in zip(overlaps, leaked, strict=True):
        assert f"broken.csv 행 {train_row}" in problem.message
    labels = {label.label: label.count for label in report.labels}
    assert len(labels) == 18 and labels["MYBOX 기능문의 및 사용빙법"] == 1


# --- clean data --------------------------------------------------------------------------


def test_clean_classification_dataset_has_no_problems_at_all(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "clean.csv", _classification(400, ["MYBOX 가격", "밴드 계정"]))
    report = validate_file(path)
    assert report.problems == []
    assert report.task == "classification" and report.task_assumed
    assert [(c.label, c.count) for c in report.labels] == [("MYBOX 가격", 200), ("밴드 계정", 200)]


def test_clean_multi_turn_generation_dataset_has_no_errors(tmp_path: Path) -> None:
    texts = _texts(600, seed=9)
    convs = [
        Conversation("- 친절한 상담원", [Turn(texts[i], texts[i + 1]), Turn(texts[i + 2], "네.")])
        for i in range(0, 600, 3)
    ]
    report = validate_file(save_dataset(convs, tmp_path / "chat.csv"))
    assert report.errors == []
    assert (report.task, report.rows, report.conversations) == ("generation", 400, 200)


# --- CLI: JSON, exit codes, the human report ----------------------------------------------


def test_json_output_is_the_whole_report() -> None:
    result = run_cli(
        "data", "validate", BROKEN / "broken.csv", "--test", BROKEN / "broken_test.csv", "--json"
    )
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["task"] == "classification" and data["task_assumed"] is True
    assert data["rows"] == 200 and data["row_label"] == "row"
    counts = {s: sum(p["severity"] == s for p in data["problems"]) for s in ("error", "warning")}
    assert data["summary"]["errors"] == counts["error"] == 24
    assert data["summary"]["warnings"] == counts["warning"]
    assert {"severity", "code", "message", "hint", "file", "row", "column"} <= set(
        data["problems"][0]
    )
    assert len([p for p in data["problems"] if p["code"] == "label-rare"]) == 18  # none capped
    assert {"label", "count", "share", "first_row"} <= set(data["labels"][0])


def test_exit_codes(tmp_path: Path) -> None:
    clean = _write_csv(tmp_path / "clean.csv", _classification(400, ["가", "나"]))
    warned = _write_csv(tmp_path / "small.csv", _classification(150, ["가", "나"]))
    assert run_cli("data", "validate", clean).exit_code == 0
    small = run_cli("data", "validate", warned)
    assert small.exit_code == 0 and "few-rows" in small.stdout
    assert run_cli("data", "validate", BROKEN / "broken.jsonl").exit_code == 1
    missing = run_cli("data", "validate", tmp_path / "nope.csv")
    assert missing.exit_code == 2 and "file not found" in missing.stderr
    assert "Traceback" not in missing.stdout + missing.stderr


def test_human_report_groups_caps_and_shows_labels() -> None:
    result = run_cli("data", "validate", BROKEN / "broken.csv", "--show", "3")
    out = result.stdout
    assert result.exit_code == 1
    assert "broken.csv: CLOVA 형식 · 200행 · 대화 195개 · 작업 분류 (자동 판단) · 오류 22" in out
    assert "label-rare" in out and "… 외 15개" in out  # 18 rare labels, 3 shown
    assert "라벨 18개" in out and "MYBOX 기능문의 및 사용빙법" in out
    assert out.index("c-id-gap") < out.index("few-rows")  # errors before warnings


def test_task_option_overrides_the_guess(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "d.csv", _classification(400, ["가", "나"]))
    data = json.loads(run_cli("data", "validate", path, "--task", "generation", "--json").stdout)
    assert (data["task"], data["task_assumed"], data["labels"]) == ("generation", False, [])
    assert run_cli("data", "validate", path, "--task", "poem").exit_code == 2


# --- the individual checks ----------------------------------------------------------------


def test_generation_is_guessed_for_varied_completions(tmp_path: Path) -> None:
    texts = _texts(300, seed=5)
    rows = [["", i, 0, texts[i], texts[i + 150]] for i in range(150)]
    report = validate_file(_write_csv(tmp_path / "gen.csv", rows))
    assert (report.task, report.task_assumed) == ("generation", True)
    assert "서로 다른 값 150개" in report.task_reason and report.labels == []


def test_too_long_completion_says_the_count(tmp_path: Path) -> None:
    rows = _classification(120, ["가", "나"])
    rows[5][4] = "답" * 4001
    report = validate_file(_write_csv(tmp_path / "d.csv", rows), task="generation")
    [problem] = [p for p in report.errors if p.code == "too-long"]
    assert (problem.row, problem.column) == (7, "Completion") and "4,001자" in problem.message


def test_similar_labels_need_a_close_spelling_not_just_a_short_distance() -> None:
    assert edit_distance("mybox가격", "mybox가걱", 2) == 1
    assert edit_distance("abc", "xyz", 1) == 2  # gives up past the limit


def test_short_labels_that_differ_are_not_look_alikes(tmp_path: Path) -> None:
    report = validate_file(_write_csv(tmp_path / "d.csv", _classification(400, ["긍정", "부정"])))
    assert "similar-labels" not in _codes(report)


def test_xlsx_rows_are_the_rows_excel_shows(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    for i, text in enumerate(_texts(120)):
        sheet.append(["분류하라", i, 0, text, "가" if i % 2 else "나"])
    sheet.insert_rows(10)  # a blank row 10: Excel still counts it
    sheet.cell(row=20, column=4).value = None  # Text of Excel row 20 emptied
    sheet.cell(row=30, column=2).value = "셋"  # C_ID of Excel row 30 is not a number…
    sheet.cell(row=40, column=4).value = "여러 줄\n셀"
    sheet.cell(row=41, column=5).value = None
    book.save(tmp_path / "d.xlsx")
    report = validate_file(tmp_path / "d.xlsx")
    assert {(p.code, p.row) for p in report.errors} == {
        ("empty-text", 20),
        ("bad-c-id", 30),
        ("c-id-gap", 31),  # …so its conversation number is missing, once
        ("empty-completion", 41),
    }
    assert "file-type" in _codes(report, "info")


def test_cp949_csv_is_read_and_warned_about(tmp_path: Path) -> None:
    rows = _classification(120, ["네이버밴드 계정", "MYBOX 가격"])
    rows[3][3] = ""
    buffer = io.StringIO()
    csv.writer(buffer).writerows([HEADER.split(","), *rows])
    path = tmp_path / "old.csv"
    path.write_bytes(buffer.getvalue().encode("cp949"))
    report = validate_file(path)
    assert report.encoding == "cp949"
    [warning] = [p for p in report.warnings if p.code == "encoding"]
    assert "CP949" in warning.message and "convert" in warning.hint
    assert [(p.code, p.row) for p in report.errors] == [("empty-text", 5)]
    assert {label.label for label in report.labels} == {"네이버밴드 계정", "MYBOX 가격"}


def test_missing_and_misnamed_columns_are_all_reported(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "d.csv", [["a", "b"]], header="question,answer")
    report = validate_file(path)
    missing = sorted(p.message for p in report.errors if p.code == "missing-column")
    assert missing == ["'C_ID' 열이 없습니다", "'Completion' 열이 없습니다", "'T_ID' 열이 없습니다",
                       "'Text' 열이 없습니다"]  # fmt: skip
    assert "messages" in report.errors[-1].hint  # points at the other formats too


def test_non_clova_files_get_the_content_checks(tmp_path: Path) -> None:
    lines = [
        {"messages": [{"role": "user", "content": "안녕"}, {"role": "assistant", "content": "네"}]},
        {"messages": [{"role": "user", "content": "질문"}]},
        {"messages": [{"role": "user", "content": "질문2"}, {"role": "assistant", "content": " "}]},
    ]
    path = tmp_path / "chat.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in lines), encoding="utf-8")
    report = validate_file(path)
    assert report.format == "openai" and report.row_label == "line"
    assert {(p.code, p.row, p.column) for p in report.errors} == {
        ("bad-record", 2, "messages"),
        ("empty-completion", 3, "messages"),
        ("too-few-rows", None, None),
    }
    assert not {"missing-column", "bad-c-id", "csv-no-bom"} & set(_codes(report))


def test_alpaca_and_sharegpt_turns_are_located(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    records = [
        {"instruction": "요약해", "input": "", "output": "요약", "history": [["", "답"]]},
        {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]},
    ]
    path.write_text(json.dumps(records[0], ensure_ascii=False) + "\n", encoding="utf-8")
    [problem] = [p for p in validate_file(path).errors if p.code == "empty-text"]
    assert (problem.row, problem.column) == (1, "history")
    path.write_text(json.dumps(records[1]) + "\n", encoding="utf-8")
    assert validate_file(path).format == "sharegpt"


def test_test_set_in_clova_format_is_checked_for_leakage(tmp_path: Path) -> None:
    rows = _classification(120, ["가", "나"])
    train = _write_csv(tmp_path / "train.csv", rows)
    test = _write_csv(tmp_path / "test.csv", [["분류하라", 0, 0, rows[7][3], "가"]])
    report = validate_file(train, test_path=test)
    [leak] = [p for p in report.errors if p.code == "test-overlap"]
    assert (leak.file, leak.row, leak.column) == ("test.csv", 2, "Text")
    assert "train.csv 행 9" in leak.message


def test_unreadable_files_are_one_error_in_the_report(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json", encoding="utf-8")
    report = validate_file(path)
    assert [(p.code, p.severity) for p in report.problems] == [("unreadable-file", "error")]
    bad_test = validate_file(BROKEN / "broken.jsonl", test_path=path)
    assert "unreadable-file" in _codes(bad_test, "error")


def test_bad_arguments_raise(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError):
        validate_file(tmp_path / "missing.csv")
    with pytest.raises(ConfigError):
        validate_file(BROKEN / "broken.jsonl", task="poem")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        validate_file(BROKEN / "broken.jsonl", near_dup_threshold=0)


def test_raise_for_errors_carries_the_report() -> None:
    report = validate_file(BROKEN / "missing_columns.csv")
    with pytest.raises(DatasetInvalidError) as err:
        report.raise_for_errors()
    assert err.value.report is report and err.value.exit_code == 1
    assert "missing-column" in err.value.message


def test_near_identical_texts_with_different_labels_are_named(tmp_path: Path) -> None:
    rows = _classification(120, ["가", "나"])
    rows[10][3] = rows[20][3] + "요"  # rows 12 and 22: one syllable apart, labels 가 and 나
    rows[10][4], rows[20][4] = "가", "나"
    report = validate_file(_write_csv(tmp_path / "d.csv", rows))
    [near] = [p for p in report.warnings if p.code == "near-duplicate"]
    assert near.row == 12 and "라벨이 서로 다릅니다" in near.message
    assert "12 '가'" in near.message and "22 '나'" in near.message


def test_test_set_with_inputs_only(tmp_path: Path) -> None:
    rows = _classification(120, ["가", "나"])
    train = _write_csv(tmp_path / "train.csv", rows)
    inputs = _write_csv(tmp_path / "inputs.csv", [[rows[0][3]], ["새 문장"]], header="Text")
    report = validate_file(train, test_path=inputs)
    assert [(p.code, p.file, p.row) for p in report.errors] == [("test-overlap", "inputs.csv", 2)]


def test_exact_duplicates_are_not_reported_again_as_near_duplicates(tmp_path: Path) -> None:
    rows = _classification(120, ["가", "나"])
    rows[1][3:5] = rows[0][3:5]  # row 3 is an exact copy of row 2
    rows[2][3:5] = [rows[0][3] + "요", rows[0][4]]  # row 4 is one syllable more
    report = validate_file(_write_csv(tmp_path / "d.csv", rows))
    [exact] = [p for p in report.warnings if p.code == "duplicate"]
    [near] = [p for p in report.warnings if p.code == "near-duplicate"]
    assert "행 2, 3의 예제가 완전히" in exact.message
    assert "행 2, 4의 예제가 거의" in near.message  # row 3 only under duplicate


def test_raw_example_rows_are_counted_once() -> None:
    report = validate_file(Path(__file__).resolve().parents[3] / "examples/inquiry/raw.csv")
    exact = {p.row: p.message for p in report.warnings if p.code == "duplicate"}
    near = {p.row: p.message for p in report.warnings if p.code == "near-duplicate"}
    assert "행 143, 183의" in exact[143] and "행 143, 281의" in near[143]


def test_wrapped_task_and_hint_lines_stay_indented(monkeypatch: pytest.MonkeyPatch) -> None:
    from tunestudio.cli.common import console

    monkeypatch.setattr(console, "_width", 100)  # the width docs/data.md is printed at
    raw = Path(__file__).resolve().parents[3] / "examples/inquiry/raw.csv"
    lines = run_cli("data", "validate", raw).stdout.splitlines()
    task = next(i for i, line in enumerate(lines) if line.startswith("  작업: "))
    assert lines[task + 1].startswith(" " * len("  작업: "))  # under the text, not column 0
    hint = next(i for i, line in enumerate(lines) if line.startswith("  해결: 거의 같은 예제"))
    assert lines[hint + 1].startswith(" " * len("  해결: "))
    starts = {line[:1] for line in lines if line and not line.startswith("라벨 18개")}
    assert starts <= {" ", "✗", "!", "r", "┏", "┃", "┡", "│", "└"}, starts
