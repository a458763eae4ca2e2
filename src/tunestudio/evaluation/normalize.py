"""Korean-aware answer normalisation for matching: "긍정" == "긍정입니다" == "'긍정'." == "정답: 긍정".

Normalisation is a ladder of named steps (:data:`STEPS`). Level *k* applies steps 0…k until the
text stops changing (so ``"'긍정'입니다."`` loses the period, then the copula, then the quotes).
:func:`match_step` names the first level at which an answer equals the expected text; the first
two levels only undo how text is stored (Unicode form, spacing at the ends), every later one is a
*near miss* that a report shows apart.

The copula step has two halves. On its own a text loses a trailing copula ending that
kiwipiepy's morphological analysis finds after a noun (``긍정입니다`` = noun + VCP + EF →
``긍정``) and that fits the noun's last sound, while ``캐나다`` and ``바다`` are nouns and stay
whole. Kiwi does not know every foreign name (it reads ``세이셸이에요`` as one noun), so when two
texts are compared an answer also matches when it is the expected text followed by an ending
that never ends an ordinary word (``입니다``, ``이에요`` after a consonant, ``예요`` after a
vowel…; see :func:`copula_suffixes`). That check is anchored on the expected text, so it cannot
cut real content. A bare ``다`` or ``이다`` after a vowel is never taken (``고양`` + ``이다``
is 고양이다, "it is a cat").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

from tunestudio.korean import kiwi

if TYPE_CHECKING:
    from kiwipiepy import Token

STEPS: tuple[str, ...] = (
    "unicode",  # NFC; full-width ASCII (Ａ，：) to half-width
    "whitespace",  # runs of spaces/newlines → one space; trimmed
    "prefix",  # a leading "정답:", "답:", "Answer:", "정답은 " …
    "quotes",  # surrounding quotes and bracket pairs: " ' “ ” ‘ ’ ` 「」 『』 «» () [] <> 《》 【】
    "punctuation",  # trailing . 。 ! ? ~ …
    "copula",  # a trailing copula / polite ending after a noun: 입니다, 이다, (이)에요, 예요, 이요, 임
    "case",  # Latin letters case-folded (mybox == MYBOX)
    "spacing",  # every space removed (오류 해결 == 오류해결)
)
# Matches at these levels are exact: they only undo how the text was stored or trimmed.
EXACT_STEPS = frozenset({"unicode", "whitespace"})

_SPACE = re.compile(r"\s+")
_PREFIX = re.compile(
    r"^(?:정답|답변|답|분류\s*결과|분류|카테고리|레이블|라벨|결과|answer|label|category)"
    r"\s*(?::|은\s|는\s|=)\s*",
    re.IGNORECASE,
)
_TRAILING_PUNCT = re.compile(r"[\s.。!?~…]+$")
_QUOTES = "\"'“”‘’`"
# Brackets come off only as a pair around the whole text, so "MYBOX (유료)" keeps its ")".
_PAIRS = {"「": "」", "『": "』", "«": "»", "(": ")", "[": "]", "<": ">", "《": "》", "【": "】"}
# Full-width ASCII (U+FF01…U+FF5E) and the ideographic space. Whole-string NFKC would also turn
# compatibility jamo such as ㅋ into conjoining jamo and ① into 1, which are not the same answer.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}

# Morphological tags after which a copula is a copula: nouns, foreign words, numbers, roots,
# a nominalised verb (없음), a closing quote or bracket ('긍정'입니다).
_NOUN_TAGS = ("NNG", "NNP", "NNB", "NR", "NP", "SL", "SH", "SN", "XSN", "XR", "ETN", "SSC")
# Sentence-final endings that follow the copula 이 in answers: 입니다 이다 이에요/예요 임 이야.
_COPULA_ENDINGS = frozenset({"ᆸ니다", "다", "에요", "예요", "어요", "요", "ᆷ", "음", "야"})
# Endings that are a copula even when kiwi gives the 이 no letters (바다예요, 바다임, 방글라데시요).
_SILENT_COPULA = frozenset({"예요", "ᆷ", "요"})
# Copula endings by the noun's last sound. The unambiguous ones may be taken off whenever the
# expected text comes before them; the others also end ordinary words (책+임 = 책임, 수+요 = 수요,
# 길+이다 = 길이다), so they come off only where kiwi's analysis finds a copula there.
_UNAMBIGUOUS = {
    "consonant": ("입니다", "이에요", "이요", "이야"),
    "vowel": ("입니다", "예요"),
    "other": ("입니다", "이에요", "예요", "이요", "이야"),  # MYBOX입니다, 5G예요
}
_AMBIGUOUS = {"consonant": ("이다", "임"), "vowel": ("요", "임"), "other": ("이다", "임")}
_CLOSERS = "\"'”’`」』»)]>》】 "
# The copula step is for short, label-like answers. Longer texts (summaries, chatter) are
# compared as they are, which also keeps kiwi off every paragraph at every level.
_COPULA_MAX_CHARS = 120


def normalize(text: str, upto: str = STEPS[-1]) -> str:
    """``text`` after every normalisation step up to and including ``upto``."""
    return levels(text)[_step_index(upto)]


@lru_cache(maxsize=65536)
def levels(text: str) -> tuple[str, ...]:
    """The text after each level of :data:`STEPS`, one entry per step, in order."""
    out: list[str] = []
    current = text
    for index in range(len(STEPS)):
        current = _fixpoint(current, _FUNCTIONS[: index + 1])
        out.append(current)
    return tuple(out)


def match_step(answer: str, expected: str) -> str | None:
    """The first step at which ``answer`` and ``expected`` normalise to the same text, or None.

    Empty texts never match (an empty answer is a format failure, not a correct blank).
    """
    copula = STEPS.index("copula")
    for index, (a, e) in enumerate(zip(levels(answer), levels(expected), strict=True)):
        if a and (a == e or (index >= copula and _has_copula_suffix(a, e, index))):
            return STEPS[index]
    return None


def copula_suffixes(noun: str, *, unambiguous: bool = False) -> tuple[str, ...]:
    """The copula endings that may follow ``noun`` (``이에요`` after 계정, ``예요`` after 바다).

    With ``unambiguous`` only those that never end an ordinary word (see the module docstring).
    """
    last = noun.rstrip(_CLOSERS)[-1:]
    if not ("가" <= last <= "힣"):
        sound = "other"
    else:
        sound = "consonant" if (ord(last) - ord("가")) % 28 else "vowel"
    return _UNAMBIGUOUS[sound] if unambiguous else _UNAMBIGUOUS[sound] + _AMBIGUOUS[sound]


def _has_copula_suffix(answer: str, expected: str, level: int) -> bool:
    """``answer`` is ``expected`` (normalised to ``level``, quotes and all) plus a copula ending."""
    for suffix in copula_suffixes(expected, unambiguous=True):
        head = answer.removesuffix(suffix)
        if head != answer and head.strip() and levels(head)[level] == expected:
            return True
    return False


def is_near_miss(step: str | None) -> bool:
    """True when a match needed more than storage-level normalisation (see :data:`EXACT_STEPS`)."""
    return step is not None and step not in EXACT_STEPS


def _step_index(step: str) -> int:
    try:
        return STEPS.index(step)
    except ValueError:
        raise ValueError(
            f"unknown normalisation step {step!r}; steps: {', '.join(STEPS)}"
        ) from None


def _fixpoint(text: str, functions: tuple[Callable[[str], str], ...]) -> str:
    # Stripping one layer can expose another ("'긍정'입니다." → "'긍정'" → "긍정"). Every
    # function shortens the text or leaves it alone, so this settles within a few rounds.
    for _ in range(8):
        before = text
        for function in functions:
            text = function(text)
        if text == before:
            break
    return text


def _unicode(text: str) -> str:
    return unicodedata.normalize("NFC", text.translate(_FULL_WIDTH))


def _whitespace(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _prefix(text: str) -> str:
    stripped = _PREFIX.sub("", text, count=1)
    return stripped if stripped.strip() else text


def _quotes(text: str) -> str:
    if len(text) >= 2 and (_PAIRS.get(text[0]) == text[-1] or _is_quote_pair(text[0], text[-1])):
        inner = text[1:-1]
        if text[0] not in inner and text[-1] not in inner:
            return inner.strip()
    # A lone quote at one end ("긍정) comes off, unless it opens a quote closed inside the text
    # ('긍정'입니다, where the copula has to come off first).
    if text and text[0] in _QUOTES and text[0] not in text[1:]:
        text = text[1:].strip()
    if text and text[-1] in _QUOTES and text[-1] not in text[:-1]:
        text = text[:-1].strip()
    return text


def _is_quote_pair(first: str, last: str) -> bool:
    return first in _QUOTES and last in _QUOTES


def _punctuation(text: str) -> str:
    return _TRAILING_PUNCT.sub("", text) or text


@lru_cache(maxsize=65536)
def _copula(text: str) -> str:
    if not text or len(text) > _COPULA_MAX_CHARS or not ("가" <= text[-1] <= "힣"):
        return text  # a copula ends in a Hangul syllable; skip the analyser otherwise
    cut = _copula_start(kiwi().tokenize(text))
    if not cut:
        return text
    noun, ending = text[:cut].rstrip(), text[cut:].strip()
    # Kiwi can misread a name (고양 + 이다 for 고양이다); the ending must fit the noun's sound.
    return noun if ending in copula_suffixes(noun) else text


def _copula_start(tokens: list[Token]) -> int | None:
    """Where a trailing copula ending starts in the analysed text, or None when there is none.

    Accepted endings: noun + 이(VCP) + 입니다/이다/이에요/이야/임, noun + 예요, noun + (이)요.
    """
    if len(tokens) < 2:
        return None
    last, before = tokens[-1], tokens[-2]
    if last.tag == "JX" and last.form == "이요":  # 중국이요
        return last.start if before.tag in _NOUN_TAGS else None
    if last.tag == "JX" and last.form == "요":  # 긍정이요 = JKS 이 + JX 요
        # A bare JX 요 after a noun is left alone: kiwi glues unknown names to their ending
        # (산마리노예 + 요), and cutting there would leave half a word.
        noun = tokens[-3] if len(tokens) >= 3 else None
        if before.tag == "JKS" and before.form == "이" and noun and noun.tag in _NOUN_TAGS:
            return before.start
        return None
    if last.tag != "EF" or last.form not in _COPULA_ENDINGS:
        return None
    if before.tag == "VCP" and len(tokens) >= 3 and tokens[-3].tag in _NOUN_TAGS:
        if before.len > 0 or last.form in _SILENT_COPULA:
            return min(before.start, last.start)
        return None
    if before.tag in _NOUN_TAGS and last.form == "예요":
        return last.start
    return None


def _case(text: str) -> str:
    return text.casefold()


def _spacing(text: str) -> str:
    return _SPACE.sub("", text)


_FUNCTIONS: tuple[Callable[[str], str], ...] = (
    _unicode,
    _whitespace,
    _prefix,
    _quotes,
    _punctuation,
    _copula,
    _case,
    _spacing,
)
