"""The speech-style scorer on real Korean sentences of each style."""

from __future__ import annotations

import pytest

from tunestudio.errors import ConfigError
from tunestudio.evaluation.predictions import Prediction
from tunestudio.evaluation.scorers import GENERATION_FAILED, get_scorer
from tunestudio.evaluation.scorers.style import text_styles

SENTENCES = {
    "합쇼체": [
        "오늘 날씨가 좋습니다.",
        "회의는 3시에 시작합니까?",
        "기다려 주십시오.",
        "감사합니다~",
    ],
    "해요체": ["이 제품은 정말 좋아요.", "어디 가세요?", "그렇죠?", "정말요?", "좋아요 😊"],
    "해라체": ["나는 학교에 간다.", "이것은 책이다.", "빨리 와라!", "같이 가자.", "좋구나."],
    "반말": ["밥 먹었어?", "그거 내 거야.", "오늘은 쉬는 날이지.", "내일 할게."],
    "명사형": ["회의 일정을 확정함.", "결과를 공유했음."],
    "unknown": ["제품 설명", "## 요약"],
}


@pytest.mark.parametrize(("style", "sentence"), [(s, t) for s, ts in SENTENCES.items() for t in ts])
def test_each_sentence_gets_its_style(style: str, sentence: str) -> None:
    [found] = text_styles([sentence])
    # kiwi may split an emoji off as a sentence of its own, which has no style.
    assert [s for _, s in found] in ([style], [style, "unknown"])


def test_quoted_speech_takes_the_style_of_the_outer_sentence() -> None:
    assert text_styles(['"정말 좋네요"라고 말했습니다.']) == [
        [('"정말 좋네요"라고 말했습니다.', "합쇼체")]
    ]


def test_lines_are_sentences_of_their_own() -> None:
    [found] = text_styles(["## 요약\n- 가격이 올랐습니다.\n- 배송이 늦어요."])
    assert [style for _, style in found] == ["unknown", "합쇼체", "해요체"]


def items() -> list[Prediction]:
    short = "가격이 올랐다."
    long = " ".join(["회사는 올해 새로운 서비스를 시작했고 많은 사용자가 가입했다."] * 4)
    return [
        Prediction(0, short, None, "가격이 올랐어요."),
        Prediction(1, short, None, "가격이 올랐어요. 배송은 늦습니다."),
        Prediction(2, long, None, "## 요약\n회사는 새 서비스를 시작했어요. 많은 분이 가입했어요."),
        Prediction(3, long, None, "회사가 새 서비스를 시작했다."),
        Prediction(4, long, None, None),
        Prediction(5, short, None, "가격 인상"),
    ]


def test_success_needs_every_styled_sentence_in_the_target() -> None:
    report = get_scorer("style", target="해요체").score(items())
    assert report.matches == [1, 0, 1, 0, 0, 0]
    classes = [row.error_class for row in report.rows]
    assert classes == ["", "wrong_style", "", "wrong_style", GENERATION_FAILED, "no_style"]
    assert report.rows[1].details["styles"] == "해요체, 합쇼체"
    assert report.rows[1].details["off_target"] == "배송은 늦습니다."
    m = report.metrics
    assert m["success_rate"] == pytest.approx(2 / 6)
    assert m["sentences"] == 8
    assert m["share_해요체"] == pytest.approx(4 / 8) and m["share_unknown"] == pytest.approx(2 / 8)


def test_success_rate_by_input_length_in_kiwi_morphemes() -> None:
    report = get_scorer("style", target="해요체", buckets=[10, 40]).score(items())
    table = {row["input_tokens"]: row for row in report.tables["by_input_tokens"]}
    assert set(table) == {"<10", "≥40"}
    assert table["<10"]["rows"] == 3 and table["<10"]["successes"] == 1
    assert table["≥40"]["rows"] == 3 and table["≥40"]["success_rate"] == pytest.approx(1 / 3)
    assert table["<10"]["unit"] == "kiwi morphemes"
    assert (
        report.rows[0].details["input_tokens"] < 10 <= 40 <= report.rows[2].details["input_tokens"]
    )


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({}, "target"),
        ({"target": "존댓말"}, "target"),
        ({"target": "해요체", "buckets": [40, 20]}, "buckets"),
        ({"target": "해요체", "colour": 1}, "colour"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        get_scorer("style", **options)
    assert caught.value.where == field
