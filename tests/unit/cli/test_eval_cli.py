"""``tunestudio eval score`` and ``eval compare`` on real files, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_runner import run_cli
from tunestudio.data.table import read_table, write_table

SYSTEM = "문의를 읽고 카테고리명만 출력하세요."
COLUMNS = ["system", "user", "expected", "role", "content", "error"]
QUESTIONS = [
    ("MYBOX 요금제가 얼마인가요?", "MYBOX 가격"),
    ("마이박스 결제 영수증을 받고 싶어요", "MYBOX 결제"),
    ("밴드 계정 비밀번호를 잊었어요", "네이버밴드 계정"),
    ("멤버십 해지하면 환불되나요", "네이버플러스멤버십 결제"),
    ("밴드 앱이 자꾸 꺼져요", "네이버밴드 오류해결"),
]


def predictions(
    path: Path, answers: list[str | None], questions: list[tuple[str, str]] = QUESTIONS
) -> Path:
    rows = [
        {
            "system": SYSTEM,
            "user": question,
            "expected": expected,
            "role": "assistant",
            "content": answer or "",
            "error": "" if answer is not None else "HTTP 503 from the server",
        }
        for (question, expected), answer in zip(questions, answers, strict=True)
    ]
    return write_table(path, COLUMNS, rows)


BEFORE = [
    "MYBOX 가격",
    "MYBOX 가격",
    "문의 감사합니다.\n확인 후 안내드리겠습니다.",
    None,
    "네이버밴드 오류",
]
AFTER = [
    "MYBOX 가격입니다.",
    "MYBOX 결제",
    "네이버밴드 계정",
    "네이버플러스멤버십 결제",
    "MYBOX 가격",
]


def _clean(text: str) -> str:
    return " ".join(text.split())


def test_score_prints_metrics_and_writes_the_scored_table(tmp_path: Path) -> None:
    source = predictions(tmp_path / "before.csv", BEFORE)
    out = tmp_path / "scored.xlsx"
    result = run_cli("eval", "score", source, "-s", "exact", "-s", "classification", "-o", out)
    assert result.exit_code == 0, result.stderr
    text = _clean(result.stdout)
    assert "accuracy │ 20.0%" in text
    assert "out_of_label_set_rate │ 20.0%" in text  # 네이버밴드 오류 is no label
    assert "confusion (rows: expected #, columns: answered #)" in text
    table = read_table(out)
    assert table.columns[: len(COLUMNS)] == COLUMNS
    assert [r["match"] for r in table.rows] == ["1", "0", "0", "0", "0"]
    assert [r["error_class"] for r in table.rows] == [
        "",
        "wrong",
        "format_invalid",
        "generation_failed",
        "wrong",
    ]
    assert [r["classification.error_class"] for r in table.rows][-1] == "out_of_label_set"
    assert table.rows[1]["classification.predicted"] == "MYBOX 가격"


def test_score_json_has_every_scorer(tmp_path: Path) -> None:
    source = predictions(tmp_path / "after.csv", AFTER)
    result = run_cli("eval", "score", source, "-s", "exact", "-s", "textstats", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["rows"] == 5
    assert data["scorers"]["exact"]["metrics"]["accuracy"] == 0.8
    assert data["scorers"]["exact"]["metrics"]["near_miss_rate"] == 0.2
    assert data["scorers"]["textstats"]["metrics"]["n"] == 5


def test_style_scorer_from_the_command_line(tmp_path: Path) -> None:
    rows = [
        {"user": "가격이 올랐다.", "content": "가격이 올랐어요."},
        {"user": "배송이 늦었다.", "content": "배송이 늦었습니다."},
    ]
    source = write_table(tmp_path / "style.jsonl", ["user", "content"], rows)
    result = run_cli("eval", "score", source, "-s", "style", "--target", "해요체", "--json")
    assert result.exit_code == 0, result.stderr
    metrics = json.loads(result.stdout)["scorers"]["style"]["metrics"]
    assert metrics["success_rate"] == 0.5


def test_a_missing_answer_column_is_named(tmp_path: Path) -> None:
    source = predictions(tmp_path / "p.csv", AFTER)
    result = run_cli("eval", "score", source, "--answer-column", "reply")
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert f"error: {source}: 답변 열 'reply' 이(가) 없습니다" in _clean(result.stderr)


def test_scoring_needs_an_expected_column(tmp_path: Path) -> None:
    source = write_table(tmp_path / "p.csv", ["user", "content"], [{"user": "q", "content": "a"}])
    result = run_cli("eval", "score", source)
    assert result.exit_code == 2
    assert "정답 열이 없어 exact 채점을 할 수 없습니다" in _clean(result.stderr)
    assert "--expected-column" in result.stderr


def test_an_unknown_scorer_lists_the_scorers(tmp_path: Path) -> None:
    source = predictions(tmp_path / "p.csv", AFTER)
    result = run_cli("eval", "score", source, "-s", "bleu")
    assert result.exit_code == 2
    assert "error: --scorer: unknown scorer 'bleu'" in _clean(result.stderr)
    assert "exact, classification, grouping, style, textstats" in result.stderr


def test_an_option_without_its_scorer_is_refused(tmp_path: Path) -> None:
    source = predictions(tmp_path / "p.csv", AFTER)
    result = run_cli("eval", "score", source, "--target", "해요체")
    assert result.exit_code == 2
    assert "error: --target: this option is for the style scorer, which is not chosen" in _clean(
        result.stderr
    )
    bad = run_cli("eval", "score", source, "-s", "style", "--target", "존댓말")
    assert "error: --target: '존댓말' is not accepted" in _clean(bad.stderr)


def test_an_expected_value_outside_the_labels_names_row_and_column(tmp_path: Path) -> None:
    source = predictions(tmp_path / "p.csv", AFTER)
    labels = "MYBOX 가격,MYBOX 결제,네이버밴드 계정,네이버밴드 오류해결"
    result = run_cli("eval", "score", source, "-s", "classification", "--labels", labels)
    assert result.exit_code == 2
    # The fourth item is on row 5 of the CSV (row 1 is the header).
    assert (
        "error: p.csv row 5, column expected: 레이블 목록에 없는 정답이 1개 행에 있습니다: "
        "'네이버플러스멤버십 결제' (1개 행)"
    ) in _clean(result.stderr)


def test_output_over_the_input_is_refused(tmp_path: Path) -> None:
    source = predictions(tmp_path / "p.csv", AFTER)
    result = run_cli("eval", "score", source, "-o", source)
    assert result.exit_code == 2
    assert "overwrite the input" in result.stderr
    assert read_table(source).columns == COLUMNS


def test_compare_prints_flips_and_statistics(tmp_path: Path) -> None:
    before = predictions(tmp_path / "before.csv", BEFORE)
    after = predictions(tmp_path / "after.xlsx", AFTER)
    out = tmp_path / "flips.csv"
    result = run_cli("eval", "compare", before, after, "-o", out)
    assert result.exit_code == 0, result.stderr
    text = _clean(result.stdout)
    assert "fixed (wrong → right) │ 3" in text
    assert "regressed (right → wrong) │ 0" in text
    assert "still wrong │ 1" in text and "right in both │ 1" in text
    assert "accuracy 20.0% → 80.0% (n = 5)" in text
    assert "McNemar p 0.25 (exact, on 3 changed items)" in text
    flips = read_table(out)
    assert [r["flip"] for r in flips.rows] == [
        "both_right",
        "fixed",
        "fixed",
        "fixed",
        "still_wrong",
    ]
    assert flips.rows[3]["before"] == "(error: HTTP 503 from the server)"
    assert [r["row"] for r in flips.rows] == ["2", "3", "4", "5", "6"]


def test_compare_json(tmp_path: Path) -> None:
    before = predictions(tmp_path / "before.csv", BEFORE)
    after = predictions(tmp_path / "after.csv", AFTER)
    result = run_cli("eval", "compare", before, after, "--json", "--seed", "3")
    data = json.loads(result.stdout)
    assert (data["fixed"], data["regressed"], data["n"]) == (3, 0, 5)
    assert data["difference"] == 0.6 and data["mcnemar_p"] == 0.25
    low, high = data["difference_ci"]
    assert 0 < low <= 0.6 <= high <= 1


def test_compare_refuses_different_test_sets(tmp_path: Path) -> None:
    before = predictions(tmp_path / "before.csv", BEFORE)
    shuffled = [QUESTIONS[1], QUESTIONS[0], *QUESTIONS[2:]]
    after = predictions(tmp_path / "after.csv", AFTER, shuffled)
    result = run_cli("eval", "compare", before, after)
    assert result.exit_code == 2
    text = _clean(result.stderr)
    assert "error: after.csv row 2: 이 행의 질문이 before.csv row 2 와 다릅니다" in text
    shorter = predictions(tmp_path / "short.csv", AFTER[:3], QUESTIONS[:3])
    result = run_cli("eval", "compare", before, shorter)
    assert "the two files have 5 and 3 rows" in result.stderr


def test_compare_needs_a_scorer_with_a_match(tmp_path: Path) -> None:
    before = predictions(tmp_path / "before.csv", BEFORE)
    result = run_cli("eval", "compare", before, before, "-s", "textstats")
    assert result.exit_code == 2
    assert "the textstats scorer gives no right/wrong to compare" in result.stderr


def test_compare_accepts_another_system_prompt(tmp_path: Path) -> None:
    before = predictions(tmp_path / "before.csv", BEFORE)
    table = read_table(predictions(tmp_path / "after.csv", AFTER))
    rows = [{**row, "system": "카테고리 하나만 답하세요."} for row in table.rows]
    after = write_table(tmp_path / "after.csv", table.columns, rows)
    result = run_cli("eval", "compare", before, after, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["fixed"] == 3
