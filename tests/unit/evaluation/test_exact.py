"""The exact-match scorer on real inquiry labels: matches, near misses and the failure classes."""

from __future__ import annotations

import pytest

from tunestudio.evaluation.predictions import Prediction
from tunestudio.evaluation.scorers import (
    CORRECT,
    FORMAT_INVALID,
    GENERATION_FAILED,
    NO_EXPECTED,
    WRONG,
    get_scorer,
)


def item(index: int, expected: str | None, answer: str | None) -> Prediction:
    return Prediction(
        index, "문의", expected, answer, error="" if answer is not None else "timeout"
    )


ITEMS = [
    item(0, "MYBOX 결제", "MYBOX 결제"),
    item(1, "MYBOX 결제", "MYBOX 결제입니다."),
    item(2, "네이버밴드 계정", "'네이버밴드 계정'"),
    item(3, "네이버밴드 계정", "MYBOX 계정"),
    item(4, "MYBOX 가격", None),
    item(5, "MYBOX 가격", "문의하신 내용은\nMYBOX 가격에 해당합니다."),
    item(6, "MYBOX 가격", "   "),
    item(
        7,
        "네이버플러스멤버십 결제",
        "이 문의는 네이버플러스멤버십의 결제와 환불에 관한 문의로 보입니다",
    ),
    item(8, "", "MYBOX 가격"),
]


def test_each_row_gets_its_class_and_details() -> None:
    report = get_scorer("exact").score(ITEMS)
    assert report.matches == [1, 1, 1, 0, 0, 0, 0, 0, None]
    classes = [row.error_class for row in report.rows]
    assert classes == [
        CORRECT,
        CORRECT,
        CORRECT,
        WRONG,
        GENERATION_FAILED,
        FORMAT_INVALID,
        FORMAT_INVALID,
        FORMAT_INVALID,
        NO_EXPECTED,
    ]
    details = [row.details for row in report.rows]
    assert details[0]["matched_by"] == "exact" and details[0]["near_miss"] == 0
    assert details[1] == {"normalized": "MYBOX 결제", "matched_by": "copula", "near_miss": 1}
    assert details[2]["matched_by"] == "quotes"
    assert details[3] == {"normalized": "MYBOX 계정", "matched_by": ""}
    assert [details[i]["format_problem"] for i in (5, 6, 7)] == ["multi_line", "empty", "too_long"]


def test_metrics_leave_out_rows_without_an_expected_answer() -> None:
    metrics = get_scorer("exact").score(ITEMS).metrics
    assert metrics["n"] == 8
    assert metrics["accuracy"] == pytest.approx(3 / 8)
    assert metrics["accuracy_answered"] == pytest.approx(3 / 7)
    assert metrics["near_miss_rate"] == pytest.approx(2 / 8)
    assert metrics["format_invalid_rate"] == pytest.approx(3 / 8)
    assert metrics["generation_failed_rate"] == pytest.approx(1 / 8)
    assert metrics["wrong_rate"] == pytest.approx(1 / 8)


def test_tables_count_classes_and_near_miss_steps() -> None:
    tables = get_scorer("exact").score(ITEMS).tables
    counts = {row["error_class"]: row["count"] for row in tables["error_classes"]}
    assert counts == {"correct": 3, "format_invalid": 3, "wrong": 1, "generation_failed": 1}
    assert sorted((r["step"], r["count"]) for r in tables["near_miss_steps"]) == [
        ("copula", 1),
        ("quotes", 1),
    ]


def test_a_long_expected_answer_is_not_held_to_the_short_answer_format() -> None:
    summary = "첫째 문장입니다.\n둘째 문장입니다."
    report = get_scorer("exact").score([item(0, summary, "전혀 다른\n여러 줄의\n요약입니다")])
    assert report.rows[0].error_class == WRONG


def test_an_empty_table_scores_to_zeroes() -> None:
    report = get_scorer("exact").score([])
    assert report.rows == [] and report.metrics["n"] == 0 and report.metrics["accuracy"] == 0
