"""The classification scorer on the real inquiry labels: label reading, F1 and the confusion."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tunestudio.errors import ConfigError
from tunestudio.evaluation.predictions import Prediction
from tunestudio.evaluation.scorers import (
    FORMAT_INVALID,
    GENERATION_FAILED,
    RowDataError,
    get_scorer,
)
from tunestudio.evaluation.scorers.classification import FAILURE_COLUMNS, find_label

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
with (EXAMPLES / "inquiry" / "test.csv").open(encoding="utf-8-sig") as _fh:
    LABELS = sorted({row["expected"] for row in csv.DictReader(_fh)})

PAY, PRICE, BAND = "MYBOX 결제", "MYBOX 가격", "네이버밴드 계정"
ANSWERS = [
    (PAY, PAY),
    (PAY, "MYBOX 결제입니다."),
    (PAY, PRICE),  # wrong label
    (PRICE, PRICE),
    (PRICE, "MYBOX 요금"),  # no such label
    (PRICE, None),  # generation failed
    (BAND, "네이버 밴드 계정"),  # spacing near miss
    (BAND, "문의하신 내용을 확인해 보니 네이버밴드의 계정 관련 문의로 분류할 수 있겠습니다"),
]


def items() -> list[Prediction]:
    return [Prediction(i, "문의", e, a) for i, (e, a) in enumerate(ANSWERS)]


def test_answers_are_read_as_labels_after_normalisation() -> None:
    report = get_scorer("classification", labels=LABELS).score(items())
    predicted = [row.details["predicted"] for row in report.rows]
    assert predicted == [
        PAY,
        PAY,
        PRICE,
        PRICE,
        FAILURE_COLUMNS["out_of_label_set"],
        FAILURE_COLUMNS[GENERATION_FAILED],
        BAND,
        FAILURE_COLUMNS[FORMAT_INVALID],
    ]
    assert [row.error_class for row in report.rows] == [
        "",
        "",
        "wrong_label",
        "",
        "out_of_label_set",
        GENERATION_FAILED,
        "",
        FORMAT_INVALID,
    ]
    assert report.rows[6].details["matched_by"] == "spacing"


def test_metrics_and_per_label_numbers() -> None:
    report = get_scorer("classification", labels=LABELS).score(items())
    m = report.metrics
    assert m["accuracy"] == pytest.approx(4 / 8)
    assert m["out_of_label_set_rate"] == pytest.approx(1 / 8)
    assert m["format_invalid_rate"] == pytest.approx(1 / 8)
    assert m["generation_failed_rate"] == pytest.approx(1 / 8)
    assert m["n_labels"] == 15
    per = {row["label"]: row for row in report.tables["per_label"]}
    # MYBOX 결제: 2 of 3 found (recall 2/3), both answers of it right (precision 1).
    assert per[PAY]["precision"] == 1 and per[PAY]["recall"] == pytest.approx(2 / 3)
    # MYBOX 가격: answered twice, right once (precision 1/2); 1 of 3 found.
    assert per[PRICE]["precision"] == pytest.approx(1 / 2)
    assert per[PRICE]["recall"] == pytest.approx(1 / 3)
    assert per[BAND]["f1"] == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert per["MYBOX 계정"]["support"] == 0 and per["MYBOX 계정"]["f1"] == 0
    # Macro F1 over the three labels in play, not all fifteen.
    f1s = [per[PAY]["f1"], per[PRICE]["f1"], per[BAND]["f1"]]
    assert m["macro_f1"] == pytest.approx(sum(f1s) / 3)


def test_confusion_rows_are_expected_labels_with_failure_columns() -> None:
    report = get_scorer("classification", labels=LABELS).score(items())
    rows = {row["expected"]: row for row in report.tables["confusion"]}
    assert len(rows) == 15
    assert rows[PAY][PAY] == 2 and rows[PAY][PRICE] == 1
    assert rows[PRICE][FAILURE_COLUMNS["out_of_label_set"]] == 1
    assert rows[PRICE][FAILURE_COLUMNS[GENERATION_FAILED]] == 1
    assert rows[BAND][FAILURE_COLUMNS[FORMAT_INVALID]] == 1
    assert sum(v for row in rows.values() for k, v in row.items() if k != "expected") == 8


def test_without_labels_the_expected_values_are_the_label_set() -> None:
    report = get_scorer("classification").score(items())
    assert report.metrics["n_labels"] == 3
    assert [row["label"] for row in report.tables["per_label"]] == sorted([PAY, PRICE, BAND])


def test_expected_values_outside_the_given_labels_are_all_named() -> None:
    bad = [
        Prediction(0, "q", PAY, PAY),
        Prediction(1, "q", "MYBOX 요금", PAY),
        Prediction(2, "q", BAND, PAY),
        Prediction(3, "q", "MYBOX 요금", PAY),
    ]
    with pytest.raises(RowDataError) as caught:
        get_scorer("classification", labels=[PAY, PRICE]).score(bad)
    assert caught.value.index == 1 and caught.value.column == "expected"
    assert (
        "레이블 목록에 없는 정답이 3개 행에 있습니다: 'MYBOX 요금' (2개 행), '네이버밴드 계정' (1개 행)"
        in (caught.value.message)
    )


def test_find_label_prefers_the_earliest_step() -> None:
    assert find_label("MYBOX 결제", ["MYBOX결제", "MYBOX 결제"]) == ("MYBOX 결제", "unicode")
    assert find_label("아무 말", LABELS) == (None, None)


@pytest.mark.parametrize(
    ("options", "field"),
    [({"labels": []}, "labels"), ({"labels": "a,b"}, "labels"), ({"label": ["a"]}, "label")],
)
def test_bad_options_are_config_errors(options: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        get_scorer("classification", **options)
    assert field in str(caught.value)
