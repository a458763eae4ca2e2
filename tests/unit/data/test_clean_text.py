"""The text steps of `data clean`, one by one, on Korean examples."""

from __future__ import annotations

import unicodedata
from collections import Counter

import pytest

from tunestudio.data.clean.config import (
    NfcStep,
    RelabelStep,
    RemoveEmojiStep,
    RemoveSpecialStep,
    SlangStep,
    SquashRepeatsStep,
    WhitespaceStep,
)
from tunestudio.data.clean.text import (
    TextFn,
    default_slang_map,
    delete_spans,
    nfc_step,
    relabel_step,
    remove_emoji_step,
    remove_special_step,
    slang_step,
    squash_repeats_step,
    whitespace_step,
)


def apply(fn: TextFn, value: str) -> tuple[str, Counter[str]]:
    tally: Counter[str] = Counter()
    return fn(value, tally), tally


def test_nfc_composes_hangul_jamo() -> None:
    decomposed = unicodedata.normalize("NFD", "환불 문의")
    assert len(decomposed) > len("환불 문의")
    out, _ = apply(nfc_step(NfcStep(step="nfc")), decomposed)
    assert out == "환불 문의"


WS = whitespace_step(WhitespaceStep(step="whitespace"))


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("  요금이   얼마예요?  ", "요금이 얼마예요?"),
        ("요금이\u00a0얼마예요?", "요금이 얼마예요?"),  # no-break space
        ("요금이\u3000얼마예요?", "요금이 얼마예요?"),  # ideographic space
        ("요금\u200b이 얼마\ufeff예요?", "요금이 얼마예요?"),  # zero-width space, BOM
        ("요금이\t얼마예요?", "요금이 얼마예요?"),
        ("첫 줄  \r\n\r\n\r\n\n둘째 줄", "첫 줄\n\n둘째 줄"),
    ],
)
def test_whitespace_normalises_odd_spaces_runs_and_ends(before: str, after: str) -> None:
    assert apply(WS, before)[0] == after


def test_whitespace_keeps_indentation_and_emoji_joiners() -> None:
    code = "예시:\n    print(1)\n        print(2)"
    assert apply(WS, code)[0] == code
    family = "가족 👨\u200d👩\u200d👧 사진"
    assert apply(WS, family)[0] == family
    # a joiner between two letters is an invisible typo
    assert apply(WS, "와\u200d우")[0] == "와우"


def test_whitespace_options_can_be_turned_off() -> None:
    fn = whitespace_step(
        WhitespaceStep(step="whitespace", trim=False, collapse=False, odd_spaces=False)
    )
    assert apply(fn, " a  b\u00a0c ")[0] == " a  b\u00a0c "
    none_blank = whitespace_step(WhitespaceStep(step="whitespace", max_blank_lines=0))
    assert apply(none_blank, "가\n\n\n나")[0] == "가\n나"


EMOJI = remove_emoji_step(RemoveEmojiStep(step="remove_emoji"))


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("좋아요 👍 감사합니다", "좋아요 감사합니다"),
        ("감사합니다😊.", "감사합니다."),
        ("👍🏻 좋아요", "좋아요"),  # skin tone modifier goes with its emoji
        ("좋아요👍감사", "좋아요 감사"),  # words do not run together
        ("가족 👨\u200d👩\u200d👧 사진", "가족 사진"),  # a ZWJ sequence is one emoji
        ("1️⃣ 번 문의", "번 문의"),  # keycap
    ],
)
def test_remove_emoji(before: str, after: str) -> None:
    assert apply(EMOJI, before)[0] == after


def test_remove_emoji_keeps_korean_emoticons_punctuation_and_the_keep_list() -> None:
    text = "ㅋㅋ ㅠㅠ ^^ 진짜요?! (3,000원) #1"
    out, tally = apply(EMOJI, text)
    assert out == text
    assert tally == Counter()
    keep = remove_emoji_step(RemoveEmojiStep(step="remove_emoji", keep="©"))
    assert apply(keep, "© 네이버 😀")[0] == "© 네이버"


def test_remove_emoji_counts() -> None:
    _, tally = apply(EMOJI, "😀😀 좋아요 👍")
    assert tally["emoji"] == 3


SPECIAL = remove_special_step(RemoveSpecialStep(step="remove_special"))


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("!!bjaowjd@@", "!!bjaowjd"),
        ("★이벤트★ 당첨 ※필독", "이벤트 당첨 필독"),
        ("감사합니다 ^^ ♥♥", "감사합니다"),
        ("가격♡할인", "가격 할인"),
        ("문의 | 답변 ▶ 확인", "문의 답변 확인"),
    ],
)
def test_remove_special_deletes_symbol_noise(before: str, after: str) -> None:
    assert apply(SPECIAL, before)[0] == after


@pytest.mark.parametrize(
    "text",
    [
        "가격은 10,000원(부가세 포함)~ 50% 할인? 네!",
        "2024-01-15 오후 3:30까지 「공지」 확인…",
        "[전화번호]로 연락 주세요. '네' \"아니요\"",
        "MYBOX 100GB/월 ₩3,300 & $2.5",
        "漢字 カナ αβ ① 혼용 문장",
        "문의는 help_desk@naver.com 또는 https://help.naver.com/a_b?x=1 로",
    ],
)
def test_remove_special_keeps_letters_digits_punctuation_emails_and_urls(text: str) -> None:
    out, tally = apply(SPECIAL, text)
    assert out == text
    assert tally == Counter()


def test_remove_special_keep_options() -> None:
    fn = remove_special_step(RemoveSpecialStep(step="remove_special", also_keep="#"))
    assert apply(fn, "C# 문의 ★")[0] == "C# 문의"
    unprotected = remove_special_step(
        RemoveSpecialStep(step="remove_special", protect_emails_urls=False)
    )
    # without protection the address is torn apart, which is why protection is the default
    assert apply(unprotected, "a_b@naver.com")[0] == "a b naver.com"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # the emoji stood between two tokens with spaces around it: they stay apart
        ("…ㅠㅠㅠㅠㅠ 😭😭 [전화번호] 로", "…ㅠㅠㅠㅠㅠ [전화번호] 로"),
        ("좋아요 👍 (진짜)", "좋아요 (진짜)"),
        ("ㅋㅋ😂[사진]", "ㅋㅋ [사진]"),
        ("좋아요!😊감사", "좋아요! 감사"),
        ('a 😀 "b"', 'a "b"'),
        # punctuation written against the emoji joins the word before it, as it would
        ("감사합니다😊.", "감사합니다."),
        ("안녕 😊!", "안녕!"),
        ("(😊좋아)", "(좋아)"),
        # no space is added at the ends
        ("😀 좋아요 😀", "좋아요"),
    ],
)
def test_remove_emoji_never_glues_the_words_around_it(before: str, after: str) -> None:
    assert apply(EMOJI, before)[0] == after


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("안내 ★★★ (필독)", "안내 (필독)"),
        ("가격♡[공지]", "가격 [공지]"),
        ('문의 ※ "긴급"', '문의 "긴급"'),
        ("끝~♥", "끝~"),
    ],
)
def test_remove_special_never_glues_the_words_around_it(before: str, after: str) -> None:
    assert apply(SPECIAL, before)[0] == after


def test_delete_spans_keeps_one_space_and_drops_emptied_lines() -> None:
    assert delete_spans("가★나", [(1, 2)]) == "가 나"
    assert delete_spans("가 ★ ★ 나", [(2, 3), (4, 5)]) == "가 나"
    assert delete_spans("★가", [(0, 1)]) == "가"
    assert delete_spans("가★\n나", [(1, 2)]) == "가\n나"
    # a line of nothing but deleted characters goes with its line break
    assert delete_spans("😀\n가", [(0, 1)]) == "가"
    assert delete_spans("가\n★ ★\n나", [(2, 3), (4, 5)]) == "가\n나"
    assert delete_spans("가\n ★", [(3, 4)]) == "가"


SQUASH = squash_repeats_step(SquashRepeatsStep(step="squash_repeats"))


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("ㅋㅋㅋㅋㅋ 웃겨요", "ㅋㅋ 웃겨요"),
        ("진짜!!!!", "진짜!"),
        ("왜요???", "왜요?"),
        ("ㅠㅠㅠㅠ 환불해주세요", "ㅠㅠ 환불해주세요"),
        ("그래서...... 음", "그래서... 음"),
        ("하하하하하", "하하"),
        ("감사합니다~~~", "감사합니다~"),
    ],
)
def test_squash_repeats(before: str, after: str) -> None:
    assert apply(SQUASH, before)[0] == after


@pytest.mark.parametrize(
    "text",
    ["1,000,000원 0000 결제", "AAA 건전지 3개", "ㅋㅋ 좋아요!", "음.. 그렇군요", "www.naver.com"],
)
def test_squash_repeats_leaves_digits_latin_and_short_runs(text: str) -> None:
    assert apply(SQUASH, text)[0] == text


def test_squash_repeats_options() -> None:
    fn = squash_repeats_step(
        SquashRepeatsStep(step="squash_repeats", max_repeat=3, max_repeat_punct=2, latin=True)
    )
    assert apply(fn, "ㅋㅋㅋㅋㅋ!!!! soooo")[0] == "ㅋㅋㅋ!! sooo"


SLANG = slang_step(SlangStep(step="slang"))


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("비밀번호 어케 바꿔요?", "비밀번호 어떻게 바꿔요?"),
        ("넘 비싸요", "너무 비싸요"),
        ("결제했어요. 글구 환불은요?", "결제했어요. 그리고 환불은요?"),
        ("머 하나 물어볼게요", "뭐 하나 물어볼게요"),
        ("어케, 어케?", "어떻게, 어떻게?"),
        ("걍 해지할래요 ㄱㅅ", "그냥 해지할래요 감사합니다"),
    ],
)
def test_slang_replaces_whole_words(before: str, after: str) -> None:
    assert apply(SLANG, before)[0] == after


@pytest.mark.parametrize(
    "text",
    [
        "저어케이크 주문했어요",  # 어케 inside a longer word
        "계정을 찾을려면 어케해야되나요",  # attached: not a whole word, left as it is
        "다음 단계로 넘어가요",  # 넘 starts 넘어가요
        "머리가 아파요",  # 머 starts 머리
        "돈을 낼 거예요",  # 낼 is a verb form; not in the default map
    ],
)
def test_slang_never_rewrites_inside_a_longer_word(text: str) -> None:
    assert apply(SLANG, text)[0] == text


def test_slang_user_map_and_exclude() -> None:
    fn = slang_step(SlangStep(step="slang", map={"네플멤": "네이버플러스멤버십"}, exclude=["넘"]))
    out, tally = apply(fn, "네플멤 넘 좋아요 어케 해요")
    assert out == "네이버플러스멤버십 넘 좋아요 어떻게 해요"
    assert tally == Counter({"네플멤→네이버플러스멤버십": 1, "어케→어떻게": 1})
    only_mine = slang_step(SlangStep(step="slang", use_default_map=False, map={"겜": "게임"}))
    assert apply(only_mine, "겜 어케 해요")[0] == "게임 어케 해요"


def test_default_slang_map_is_loaded_from_the_package() -> None:
    table = default_slang_map()
    assert table["어케"] == "어떻게"
    assert table["글구"] == "그리고"
    assert "낼" not in table  # ambiguous words stay out


def test_relabel_matches_the_whole_value_only() -> None:
    fn = relabel_step(RelabelStep(step="relabel", map={"MYBOX 가격": "MYBOX 결제"}))
    assert apply(fn, " MYBOX 가격 ")[0] == "MYBOX 결제"
    assert apply(fn, "MYBOX 가격 문의")[0] == "MYBOX 가격 문의"
