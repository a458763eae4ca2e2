"""The semantic cache's guard: look-alike Korean questions that ask something else.

Embeddings place "환불 되나요?" and "환불 안 되나요?" close together (they share every content
word), yet the right answers are opposite. After a vector match the guard compares what the
two questions assert, from Kiwi's morphemes (kiwipiepy), and rejects the match when they
differ in

* **negation** — 안/못 (MAG), -지 않다/못하다/말다 (VX), 아니다 (VCN), 없다 (VA), 모르다,
  and the prefixes 불/비/미/무 (XPN). Only the parity counts, so "안 돼요" and "불가능해요"
  agree, while "돼요" and "안 돼요" do not;
* **numbers** — digits (SN) and Korean numerals, Sino-Korean (이천이십사, 3만) and native
  (세 개, 다섯, 열다섯), compared as values, so "3개" and "세 개" agree and "3개"/"5개" do not;
* **entities** — proper nouns (NNP), Latin and Hanja words (SL, SH) that only one question
  names ("네이버 웹툰" vs "네이버"), or the same proper noun followed by different common
  nouns in the two ("네이버 페이" vs "네이버 쇼핑": the brand's product is part of the name).

A rejection only costs a cache hit (the model is asked), so the rules lean towards rejecting.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiwipiepy import Kiwi

NEGATORS = {
    "MAG": {"안", "못"},
    "VX": {"않", "못하", "말"},
    "VCN": {"아니"},
    "VA": {"없"},
    "VV": {"모르"},
    "XPN": {"불", "비", "미", "무"},
}
SINO_DIGITS = dict(zip("영공일이삼사오육칠팔구", (0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9), strict=True))
SMALL_UNITS = {"십": 10, "백": 100, "천": 1000}
BIG_UNITS = {"만": 10**4, "억": 10**8, "조": 10**12}
# native numerals and their determiner forms (세 개, 네 번, 스무 살)
NATIVE = {
    "하나": 1, "한": 1, "둘": 2, "두": 2, "셋": 3, "세": 3, "석": 3, "서": 3, "넷": 4, "네": 4,
    "넉": 4, "너": 4, "다섯": 5, "여섯": 6, "일곱": 7, "여덟": 8, "아홉": 9, "열": 10,
    "스물": 20, "스무": 20, "서른": 30, "마흔": 40, "쉰": 50, "예순": 60, "일흔": 70,
    "여든": 80, "아흔": 90,
}  # fmt: skip
NUMBER_TAGS = {"SN", "NR"}
ENTITY_TAGS = {"NNP", "SL", "SH"}


@dataclass(frozen=True)
class Facts:
    """What a question asserts, as far as the guard compares it."""

    negated: bool
    numbers: tuple[float, ...]  # sorted values
    entities: frozenset[str]
    products: frozenset[tuple[str, str]]  # (proper noun, the common noun right after it)


class Guard:
    """Compares two questions; :meth:`check` names the first difference that matters."""

    def __init__(self, kiwi: Kiwi | None = None) -> None:
        self._kiwi = kiwi  # None: the process's shared Kiwi, loaded on first use
        self._lock = threading.Lock()
        # Stored questions are compared again and again: keep the facts of many (a few hundred
        # bytes each) so a cache of tens of thousands of questions never re-analyses one.
        self.facts = lru_cache(maxsize=1 << 17)(self._facts)

    def check(self, question: str, cached: str) -> str | None:
        """``None`` when ``cached`` may answer ``question``; else why not: negation/number/entity."""
        a, b = self.facts(question), self.facts(cached)
        if a.negated != b.negated:
            return "negation"
        if a.numbers != b.numbers:
            return "number"
        if a.entities != b.entities:
            return "entity"
        products_a, products_b = dict(a.products), dict(b.products)
        if any(products_b.get(name, noun) != noun for name, noun in products_a.items()):
            return "entity"
        return None

    def _facts(self, text: str) -> Facts:
        tokens = self._tokenize(text)
        negations = sum(1 for t in tokens if t.form in NEGATORS.get(t.tag, ()))
        return Facts(
            negated=negations % 2 == 1,
            numbers=tuple(sorted(_numbers(tokens))),
            entities=frozenset(_name(t.form) for t in tokens if t.tag in ENTITY_TAGS),
            products=frozenset(_products(tokens)),
        )

    def _tokenize(self, text: str) -> list[Any]:
        if self._kiwi is None:  # the process's shared analyser, whose analyses are cached
            from tunestudio.korean import tokens

            return list(tokens(text))
        with self._lock:
            return list(self._kiwi.tokenize(text))


def _runs(tokens: list[Any], tags: set[str]) -> Iterable[list[Any]]:
    """Maximal runs of adjacent tokens (no space between) whose tag is in ``tags``."""
    run: list[Any] = []
    for token in tokens:
        if token.tag in tags and (not run or token.start == run[-1].end):
            run.append(token)
            continue
        if run:
            yield run
        run = [token] if token.tag in tags else []
    if run:
        yield run


def _numbers(tokens: list[Any]) -> list[float]:
    """Every number the tokens state: digit and numeral runs, and numeral determiners."""
    values = [v for run in _runs(tokens, NUMBER_TAGS) if (v := _run_value(run)) is not None]
    values += [NATIVE[t.form] for t in tokens if t.tag == "MM" and t.form in NATIVE]
    return values


def _run_value(run: list[Any]) -> float | None:
    text = "".join(t.form for t in run).replace(",", "")
    native = _native_value(text)
    return native if native is not None else _sino_value(text)


def _native_value(text: str) -> float | None:
    """열다섯 → 15, 스물한 → 21 (greedy, longest word first); None if not native."""
    total, rest = 0, text
    while rest:
        word = next((w for w in sorted(NATIVE, key=len, reverse=True) if rest.startswith(w)), None)
        if word is None:
            return None
        total, rest = total + NATIVE[word], rest[len(word) :]
    return float(total) if text else None


def _sino_value(text: str) -> float | None:
    """이천이십사 → 2024, 3만 → 30000, 2천5백 → 2500, 1.5 → 1.5; None if unreadable."""
    total, section, digit = 0.0, 0.0, None
    index = 0
    while index < len(text):
        end = index
        while end < len(text) and (text[end].isdigit() or text[end] == "."):
            end += 1
        if end > index:  # a run of digits is one value
            try:
                digit, index = float(text[index:end]), end
            except ValueError:
                return None
            continue
        char = text[index]
        if char in SINO_DIGITS:
            digit = float(SINO_DIGITS[char])
        elif char in SMALL_UNITS:
            section, digit = section + (1.0 if digit is None else digit) * SMALL_UNITS[char], None
        elif char in BIG_UNITS:
            part = section + (digit or 0.0)
            total, section, digit = total + (part or 1.0) * BIG_UNITS[char], 0.0, None
        else:
            return None
        index += 1
    return total + section + (digit or 0.0)


def _name(form: str) -> str:
    return form.replace(" ", "").lower()


def _products(tokens: list[Any]) -> set[tuple[str, str]]:
    """(proper noun, common noun right after it): 네이버 페이 → (네이버, 페이)."""
    pairs = itertools.pairwise(tokens)
    return {(_name(a.form), b.form) for a, b in pairs if a.tag == "NNP" and b.tag == "NNG"}
