"""Token-level compression: particles and fillers go, nouns, numbers, labels and quotes stay."""

from __future__ import annotations

import pytest

from tunestudio.ops.compress_tokens import TIERS, TokenCompressor, kiwi

LABELS = ["MYBOX 가격", "네이버밴드 보안 및 해킹"]
TEXT = (
    '고객이 "앱 잠금"을 설정하려면 정말 MYBOX 앱의 설정에서 암호를 켜야 합니다. '
    "요금은 월 1,650원이고 자세한 내용은 https://help.naver.com 에서 확인할 수 있습니다."
)


def morphemes(text: str, tags: tuple[str, ...]) -> list[str]:
    return [t.form for t in kiwi().tokenize(text) if t.tag.startswith(tags)]


def test_particles_are_removed_but_nouns_numbers_and_labels_survive_exactly() -> None:
    text = TEXT + " 이 문의는 MYBOX 가격 카테고리와 네이버밴드 보안 및 해킹 카테고리를 구분합니다."
    out = TokenCompressor(labels=LABELS).compress(text)

    assert morphemes(out, ("JKS", "JKO")) == []  # every subject and object particle is gone
    assert len(out) < len(text)
    for noun in morphemes(text, ("NNG", "NNP", "SL")):  # every noun is still there, spelled alike
        assert noun in out
    for kept in ["1,650원", "https://help.naver.com", '"앱 잠금"', *LABELS]:
        assert kept in out


def test_the_rebuilt_words_are_well_formed_korean() -> None:
    out = TokenCompressor().compress(
        "상담원님 도와주실 수 있나요? 이 문의는 결제 문의로 분류합니다."
    )

    assert "도와줄 수 있나요?" in out  # honorific 시 dropped, ending re-inflected by Kiwi
    assert "분류함." in out  # declarative ending to the note style
    assert TokenCompressor().compress("가격 문의로 봅니다.") == "가격 문의 봄."  # 보 + ᆸ니다
    assert "실" not in out and "ᆷ" not in out  # no stray jamo left behind


def test_fused_particles_and_number_ranges_are_left_alone() -> None:
    out = TokenCompressor().compress("내 계정은 3일에서 5일 사이에 복구됩니다.")

    assert out.startswith("내 계정")  # 내 = 나 + 의: removing 의 would respell the word
    assert "3일에서 5일" in out


def test_protect_regexes_and_keep_lines_are_copied_unchanged() -> None:
    keep_line = "- 카테고리: 결제를 먼저 확인하고 계정을 나중에 봅니다."
    text = "[주의: 결제를 취소하면 환불이 됩니다] 고객이 결제를 취소합니다.\n" + keep_line
    out = TokenCompressor(protect=[r"\[[^\]]*\]"], keep=["카테고리"]).compress(text)

    first, second = out.split("\n")
    assert first.startswith("[주의: 결제를 취소하면 환불이 됩니다]")
    assert "고객 결제 취소함." in first
    assert second == keep_line


def test_repeated_punctuation_and_fillers_are_trimmed() -> None:
    out = TokenCompressor().compress("음... 정말 그냥 해결해 주세요!! 제발요?!")

    # 제발 is an adverb like 정말; its 요 goes with it, and "?!" has nothing left to close
    assert out == "해결해 주세요!"


@pytest.mark.parametrize("share", [0.97, 0.93])
def test_a_budget_stops_at_the_fewest_removals_that_meet_it(share: float) -> None:
    compressor = TokenCompressor()
    budget = int(len(TEXT) * share)
    out = compressor.compress(TEXT, budget)
    everything = compressor.compress(TEXT)

    assert len(out) <= budget
    assert len(out) > len(everything)  # it did not strip more than it needed to


def test_an_unreachable_budget_applies_every_tier_and_returns_the_floor() -> None:
    compressor = TokenCompressor()
    assert compressor.compress(TEXT, 1) == compressor.compress(TEXT)
    assert TIERS[0] == "filler" and TIERS[-1] == "particles"  # least meaning is lost first


def test_text_without_candidates_is_returned_byte_for_byte() -> None:
    text = "MYBOX 2TB 11,000원\n\n  https://naver.com"
    assert TokenCompressor().compress(text) == text


def test_slang_and_misread_words_are_left_whole_and_no_jamo_is_left_behind() -> None:
    text = "저기요 밴드에서 로긴 화면 어케 되나여? 감사합니당"
    out = TokenCompressor().compress(text)

    assert out.startswith("밴드 로긴 화면 어케")  # 저기요 is one interjection, gone whole
    assert out.endswith("감사합니당")  # Kiwi reads 당 as 합니다 + a stray ᆼ: left as written
    assert not any("\u1100" <= char <= "\u11ff" for char in out)


def test_question_words_stay_because_the_question_depends_on_them() -> None:
    out = TokenCompressor().compress("결제는 어떻게 취소하고 환불은 언제 되나요?")
    assert out == "결제 어떻게 취소하고 환불 언제 되나요?"
