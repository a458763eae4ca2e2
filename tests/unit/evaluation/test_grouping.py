"""The country-grouping scorer on real country lists from examples/countries/test.csv."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunestudio.evaluation.predictions import Prediction, read_predictions
from tunestudio.evaluation.scorers import (
    FORMAT_INVALID,
    GENERATION_FAILED,
    RowDataError,
    get_scorer,
)
from tunestudio.evaluation.scorers.grouping_parse import parse_blocks, question_countries

TEST_CSV = Path(__file__).resolve().parents[3] / "examples" / "countries" / "test.csv"
QUESTION = "목록에서 나라를 대륙별로 분류해줘.\n\n일본, 케냐, 프랑스, 중국, 브라질"
COUNTRIES = ["일본", "케냐", "프랑스", "중국", "브라질"]
EXPECTED = (
    "목록에 있는 나라들을 대륙별로 분류하면 다음과 같습니다\n\n"
    "아시아: 일본, 중국\n\n아프리카: 케냐\n\n유럽: 프랑스\n\n남아메리카: 브라질"
)


def item(answer: str | None, meta: dict[str, object] | None = None, index: int = 0) -> Prediction:
    return Prediction(index, QUESTION, EXPECTED, answer, meta=meta or {})


def test_the_expected_answers_of_the_real_test_set_score_perfectly() -> None:
    predictions = read_predictions(TEST_CSV, answer_column="expected")
    report = get_scorer("grouping").score(predictions.items)
    assert report.metrics["accuracy"] == 1 and report.metrics["error_rate"] == 0
    assert report.metrics["countries"] == sum(
        len(json.loads(p.meta["countries"])) for p in predictions.items
    )
    sizes = {row["n_countries"]: row["examples"] for row in report.tables["by_n_countries"]}
    assert sizes == {10: 5, 15: 15, 20: 15, 30: 15}
    assert [row["n_continents"] for row in report.tables["by_n_continents"]] == [2, 3, 4, 5, 6]


def test_each_kind_of_item_error_is_counted() -> None:
    answer = (
        "아시아: 일본, 중국, 일본\n"  # 일본 twice
        "유럽: 프랑스, 브라질, 독일"  # 브라질 on the wrong continent; 독일 not in the list
    )  # 케냐 is missing
    row = get_scorer("grouping").score([item(answer)]).rows[0]
    assert row.match == 0
    assert row.error_class == "missing+misclassified+extra+duplicate"
    d = row.details
    assert (d["correct"], d["missing"], d["misclassified"], d["extra"], d["duplicate"]) == (
        3,
        1,
        1,
        1,
        1,
    )
    assert d["missing_items"] == "케냐"
    assert d["misclassified_items"] == "브라질 → 유럽"
    assert d["extra_items"] == "독일" and d["duplicate_items"] == "일본"


def test_model_formatting_variants_parse() -> None:
    answer = (
        "분류 결과는 다음과 같습니다:\n\n"
        "- **아시아**: 일본 및 중국.\n"
        "- 아프리카： 케냐\n"
        "유럽:\n"
        "- 프랑스\n\n"
        "남미: 브 라 질\n\n"
        "참고: 러시아는 유럽과 아시아에 걸쳐 있습니다."
    )
    row = get_scorer("grouping").score([item(answer)]).rows[0]
    assert row.match == 1, row.details


def test_an_invented_continent_makes_its_countries_misclassified() -> None:
    blocks = parse_blocks("중동: 일본\n아시아: 중국")
    assert blocks == [("중동", ["일본"]), ("아시아", ["중국"])]
    answer = "중동: 일본\n아시아: 중국\n아프리카: 케냐\n유럽: 프랑스\n남아메리카: 브라질"
    row = get_scorer("grouping").score([item(answer)]).rows[0]
    assert (
        row.error_class == "misclassified" and row.details["misclassified_items"] == "일본 → 중동"
    )


def test_no_block_is_a_format_failure_kept_out_of_item_counts() -> None:
    report = get_scorer("grouping").score(
        [item("잘 모르겠습니다."), item(None, index=1), item(EXPECTED, index=2)]
    )
    assert [row.error_class for row in report.rows] == [FORMAT_INVALID, GENERATION_FAILED, ""]
    assert report.metrics["countries"] == 5  # only the parsed answer's countries
    assert report.metrics["error_rate"] == pytest.approx(2 / 3)
    assert report.metrics["format_invalid_rate"] == pytest.approx(1 / 3)


def test_the_countries_column_wins_over_the_question() -> None:
    meta = {"countries": json.dumps(["일본", "케냐"], ensure_ascii=False)}
    row = get_scorer("grouping").score([item("아시아: 일본\n아프리카: 케냐", meta)]).rows[0]
    # Without the column the other three countries of the question would be missing.
    assert row.match == 1


def test_without_an_expected_answer_the_generator_table_is_the_truth() -> None:
    p = Prediction(0, QUESTION, None, "아시아: 일본, 중국\n아프리카: 케냐\n유럽: 프랑스, 브라질")
    row = get_scorer("grouping").score([p]).rows[0]
    assert row.details["misclassified_items"] == "브라질 → 유럽"


def test_bad_countries_cells_name_the_first_row_and_count_the_rest() -> None:
    rows = [
        item(EXPECTED, index=0),
        item("아시아: 일본", {"countries": "일본, 케냐"}, index=1),
        item("아시아: 일본", {"countries": '{"a": 1}'}, index=2),
    ]
    with pytest.raises(RowDataError) as caught:
        get_scorer("grouping").score(rows)
    assert caught.value.index == 1 and caught.value.column == "countries"
    assert caught.value.message.startswith("countries 열이 JSON 나라 목록이 아닙니다: '일본, 케냐'")
    assert caught.value.message.endswith("(이런 행이 모두 2개)")


def test_error_rate_by_number_of_countries() -> None:
    two = Prediction(0, "목록에서 나라를 대륙별로 분류해줘.\n\n일본, 케냐", None, "아시아: 일본")
    report = get_scorer("grouping").score([two, item(EXPECTED, index=1)])
    by_size = {row["n_countries"]: row for row in report.tables["by_n_countries"]}
    assert by_size[2]["error_rate"] == 1 and by_size[2]["missing"] == 1
    assert by_size[5]["error_rate"] == 0


def test_question_lists_are_split() -> None:
    assert question_countries(QUESTION) == COUNTRIES
    assert question_countries("다음 나라를 분류해 줘\n\n세인트 키츠 네비스, 앤티가 바부다") == [
        "세인트 키츠 네비스",
        "앤티가 바부다",
    ]
