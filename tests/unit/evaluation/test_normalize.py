"""Korean-aware answer normalisation: what matches, at which step, and what must never match."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tunestudio.data.generators.countries import COUNTRY_CONTINENT, UN_MEMBERS
from tunestudio.evaluation.normalize import (
    STEPS,
    copula_suffixes,
    is_near_miss,
    levels,
    match_step,
    normalize,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def inquiry_labels() -> list[str]:
    with (EXAMPLES / "inquiry" / "test.csv").open(encoding="utf-8-sig") as fh:
        return sorted({row["expected"] for row in csv.DictReader(fh)})


LABELS = inquiry_labels()
NAMES = [*LABELS, *COUNTRY_CONTINENT, *UN_MEMBERS]


@pytest.mark.parametrize(
    ("answer", "expected", "step"),
    [
        ("긍정", "긍정", "unicode"),
        ("  긍정\n", "긍정", "whitespace"),
        ("MYBOX   결제", "MYBOX 결제", "whitespace"),
        ("정답: 긍정", "긍정", "prefix"),
        ("Answer: MYBOX 가격", "MYBOX 가격", "prefix"),
        ("정답은 MYBOX 가격입니다", "MYBOX 가격", "copula"),
        ("'긍정'", "긍정", "quotes"),
        ("“긍정”", "긍정", "quotes"),
        ("「MYBOX 계정」", "MYBOX 계정", "quotes"),
        ("긍정.", "긍정", "punctuation"),
        ("긍정!!", "긍정", "punctuation"),
        ("긍정…", "긍정", "punctuation"),
        ("긍정입니다", "긍정", "copula"),
        ("긍정입니다.", "긍정", "copula"),
        ("긍정이에요", "긍정", "copula"),
        ("긍정이요", "긍정", "copula"),
        ("긍정임", "긍정", "copula"),
        ("바다예요", "바다", "copula"),
        ("'긍정'입니다.", "긍정", "copula"),
        ("「네이버밴드 계정」입니다.", "네이버밴드 계정", "copula"),
        (
            "세이셸이에요",
            "세이셸",
            "copula",
        ),  # kiwi reads it as one noun; the anchored check takes it
        ("MYBOX입니다", "MYBOX", "copula"),
        ("mybox 결제", "MYBOX 결제", "case"),
        ("네이버 밴드 오류 해결", "네이버밴드 오류해결", "spacing"),
        ("ＭＹＢＯＸ　결제", "MYBOX 결제", "unicode"),  # full-width letters and space
    ],
)
def test_an_answer_matches_at_the_named_step(answer: str, expected: str, step: str) -> None:
    assert match_step(answer, expected) == step


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("부정", "긍정"),
        ("", ""),  # an empty answer is never a match, even to an empty text
        ("바다", "바"),  # 다 is not a copula after a vowel: 바다 is a word
        ("고양이다", "고양"),  # 고양이 + 다, not 고양 + 이다
        ("필요", "필"),  # 요 after a consonant is not an ending
        ("MYBOX 결제 및 가격", "MYBOX 결제"),
        ("긍정적입니다", "긍정"),
        ("책임", "책"),  # 임 ends ordinary words too; kiwi knows 책임 is one noun
        ("모임", "모"),
        ("수요", "수"),
    ],
)
def test_content_is_never_cut_to_make_a_match(answer: str, expected: str) -> None:
    assert match_step(answer, expected) is None


def test_normalisation_keeps_every_real_label_and_country_name_whole() -> None:
    assert len(LABELS) == 15
    for name in NAMES:
        assert normalize(name, "copula") == name, name


def test_no_label_or_country_plus_a_copula_ending_is_another_one() -> None:
    for a in NAMES:
        for b in NAMES:
            if a != b:
                assert match_step(b, a) is None, (a, b)


def test_every_label_and_country_matches_with_an_unambiguous_polite_ending() -> None:
    for name in NAMES:
        for suffix in copula_suffixes(name, unambiguous=True):
            assert match_step(name + suffix, name) == "copula", name + suffix
            assert match_step(f"'{name}'{suffix}.", name) == "copula", name + suffix


@pytest.mark.parametrize("noun", ["긍정", "부정", "중국", "바다", "MYBOX 결제", "네이버밴드 계정"])
def test_ambiguous_endings_come_off_where_kiwi_sees_a_copula(noun: str) -> None:
    # A bare 요 after a vowel (결제요) is never taken off: kiwi reads 요 as a particle after any
    # noun, misread names included (산마리노예 + 요), and 수요 or 가요 are words.
    for suffix in set(copula_suffixes(noun)) - {"요"}:
        assert normalize(noun + suffix, "copula") == noun, noun + suffix


def test_copula_endings_follow_the_last_sound() -> None:
    assert "이에요" in copula_suffixes("계정") and "예요" not in copula_suffixes("계정")
    assert "예요" in copula_suffixes("바다") and "이다" not in copula_suffixes("바다")
    assert "입니다" in copula_suffixes("MYBOX")
    assert "임" in copula_suffixes("긍정") and "임" not in copula_suffixes("긍정", unambiguous=True)


def test_a_verb_is_not_taken_for_a_copula() -> None:
    assert normalize("옷을 입니다", "copula") == "옷을 입니다"  # 입다, to wear
    assert normalize("감사합니다", "copula") == "감사합니다"
    assert normalize("캐나다", "copula") == "캐나다"


def test_compatibility_jamo_survive() -> None:
    # NFKC would turn ㅋ into a conjoining jamo; only full-width ASCII is folded.
    assert normalize("ㅋㅋ 좋아요", "unicode") == "ㅋㅋ 좋아요"
    assert normalize("①", "unicode") == "①"


def test_a_one_sided_bracket_stays() -> None:
    assert normalize("MYBOX (유료)", "quotes") == "MYBOX (유료)"
    assert normalize("(A) 또는 (B)", "quotes") == "(A) 또는 (B)"
    assert normalize("(MYBOX 결제)", "quotes") == "MYBOX 결제"


def test_levels_has_one_text_per_step_and_near_miss_starts_after_spacing() -> None:
    assert len(levels("정답: '긍정'입니다.")) == len(STEPS)
    assert levels("정답: '긍정'입니다.")[-1] == "긍정"
    assert not is_near_miss("unicode") and not is_near_miss("whitespace")
    assert is_near_miss("copula") and not is_near_miss(None)


def test_an_unknown_step_is_named() -> None:
    with pytest.raises(ValueError, match="unknown normalisation step 'nfc'"):
        normalize("x", "nfc")
