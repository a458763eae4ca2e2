"""Make a composed inquiry read like what customers really type.

Four independent operations, each drawn at random: a casual register (반말), the misspellings
Korean users commonly make (어케, 안되요, 결재, 할려면…), missing spaces (띄어쓰기 빠짐) and
loose punctuation (??, ㅠㅠ, no full stop). None touches the product alias or changes the intent,
so the label stays decidable.
"""

from __future__ import annotations

import random
import re

_CASUAL_RATE = 0.25
_MISSPELL_RATE = 0.3
_HANGUL_BASE, _JONG_COUNT = 0xAC00, 28
_JONG_B, _JONG_M = 17, 16  # final ㅂ and ㅁ in a Hangul syllable

# Polite endings → casual ones, applied in order (the general 요-drop last).
_CASUAL: tuple[tuple[str, str], ...] = (
    (r"주세요", "줘"),
    (r"드려요", "드림"),
    (r"이에요|예요|에요", "야"),
    (r"(?<![세이])요(?=[\s?.!,~ㅠㅜ]|$)", ""),
)

# Correct spelling (a regular expression) → what users type instead.
_MISSPELLINGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("어떻게", ("어케", "어떡게", "어떻해")),
    ("어떡하죠", ("어떻하죠", "어뜩하죠")),
    ("안 돼요", ("안돼요", "안되요")),
    ("돼요", ("되요",)),
    ("됐어요", ("됬어요",)),
    ("결제", ("결재",)),
    ("하려면", ("할려면",)),
    ("으려면", ("을려면",)),
    ("하려고", ("할려고",)),
    ("있나요", ("있나여", "있나용")),
    ("되나요", ("되나여",)),
    ("궁금해요", ("궁금해여", "궁금")),
    ("궁금합니다", ("궁금합니당",)),
    ("비밀번호를", ("비번을",)),
    ("비밀번호가", ("비번이",)),
    ("비밀번호(?![를가는])", ("비번",)),
    ("휴대폰", ("핸드폰", "폰")),
    ("모르겠어요", ("모르겟어요",)),
    ("안녕하세요", ("안녕하세여", "안뇽하세요")),
    ("알려주세요", ("알려주세여", "알려주셈")),
    ("감사합니다", ("감사합니당", "감사해요")),
    ("싶어요", ("싶어여",)),
    ("로그인", ("로긴",)),
    ("뭘", ("머",)),
)
_EMOTES = ("ㅠㅠ", "ㅜㅜ", "ㅠ", "...", "!!", "ㅡㅡ", "ㅠㅠㅠ")


def add_noise(text: str, rng: random.Random) -> str:
    """``text`` after a random choice of register, misspelling, spacing and punctuation noise."""
    if rng.random() < _CASUAL_RATE:
        text = casual(text)
    text = misspell(text, rng)
    text = drop_spaces(text, rng)
    return loosen_punctuation(text, rng)


def casual(text: str) -> str:
    """Polite endings → casual: 알려주세요 → 알려줘, 궁금합니다 → 궁금함, 있나요? → 있나?"""
    text = re.sub(r"습니다", "음", text)
    text = re.sub(r"([가-힣])니다", _bnida, text)
    for pattern, repl in _CASUAL:
        text = re.sub(pattern, repl, text)
    return text


def _bnida(match: re.Match[str]) -> str:
    """합니다 → 함, 됩니다 → 됨: a syllable ending in ㅂ before 니다 takes ㅁ instead."""
    code = ord(match[1]) - _HANGUL_BASE
    if code % _JONG_COUNT != _JONG_B:
        return match[0]
    return chr(_HANGUL_BASE + code - _JONG_B + _JONG_M)


def misspell(text: str, rng: random.Random) -> str:
    """Each known word, when present, is misspelt with probability ``_MISSPELL_RATE``."""
    for right, wrongs in _MISSPELLINGS:
        if re.search(right, text) and rng.random() < _MISSPELL_RATE:
            text = re.sub(right, rng.choice(wrongs), text)
    return text


def drop_spaces(text: str, rng: random.Random) -> str:
    """Some texts lose half their spaces, a few lose them all (띄어쓰기 빠짐)."""
    roll = rng.random()
    if roll < 0.05:
        return text.replace(" ", "")
    if roll < 0.17:
        return "".join(ch for ch in text if ch != " " or rng.random() < 0.5)
    return text


def loosen_punctuation(text: str, rng: random.Random) -> str:
    """Drop the final full stop, double a question mark, or trail off with ㅠㅠ, ?? or …"""
    roll = rng.random()
    if roll < 0.15:
        return text.rstrip(".?!")
    if roll < 0.25 and text.endswith("?"):
        return text + rng.choice(("?", "?", "!"))
    if roll < 0.37:
        return text.rstrip(".") + rng.choice(_EMOTES)
    return text
