"""Compose one inquiry from a situation, a product alias and label-free frames.

A verb phrase such as ``휴지통에서 지운 사진을 복구하다`` is conjugated by Kiwi (already a
dependency for Korean text) into the form a frame asks for: ``{do:려면}`` → ``…복구하려면``,
``{do:는}`` → ``…복구하는``; Kiwi picks 으려면/려면, drops ㄹ (만들다 → 만드는) and handles the
irregular verbs, so the bank can be written in plain dictionary forms.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, TypeVar

from tunestudio.data.generators.inquiry_bank import SLOT, FrameSet, Phrases

if TYPE_CHECKING:
    from kiwipiepy import Kiwi

T = TypeVar("T")

# Kiwi morphemes for each form a frame may ask of a verb phrase.
_MORPHEMES: dict[str, tuple[tuple[str, str], ...]] = {
    "려면": (("으려면", "EC"),),
    "려고": (("으려고", "EC"),),
    "는": (("는", "ETM"),),
    "고": (("고", "EC"),),
    "을": (("을", "ETM"),),
    "나요": (("나요", "EF"),),
    "기": (("기", "ETN"),),
    "어야": (("어야", "EC"),),
    "는데": (("는데", "EC"),),
}

# How an inquiry is put together, with how often: a bare question, a bare topic, a situation
# before or after the question, a product lead-in with the situation and a follow-up question,
# or two situation sentences and the question. Each name is a method of _Writer.
_SHAPES: tuple[tuple[tuple[str, ...], int], ...] = (
    (("ask",), 30),
    (("topic",), 12),
    (("context", "ask"), 20),
    (("ask", "context"), 8),
    (("lead",), 18),
    (("context", "topic"), 6),
    (("two_contexts", "ask"), 6),
)
_NEEDS_CONTEXT = {"context": 1, "lead": 1, "two_contexts": 2}
# What closes a context sentence before the next part: users end them every which way.
_CONTEXT_ENDS: tuple[tuple[str, int], ...] = (
    (".", 10),
    ("", 6),
    (",", 3),
    ("..", 2),
    ("ㅠㅠ", 2),
    ("...", 1),
    ("!", 1),
)
_OPEN_RATE = 0.18
_CLOSE_RATE = 0.18


@cache
def _kiwi() -> Kiwi:
    from kiwipiepy import Kiwi  # loads a model (a second or two); only when inquiries are made

    # Joining morphemes needs none of the extra dictionaries; skipping them makes loading and
    # the first join several times faster, with the same output.
    return Kiwi(load_default_dict=False, load_typo_dict=False, load_multi_dict=False)


@cache
def conjugate(phrase: str, form: str) -> str:
    """``'사진을 복구하다', '려면'`` → ``'사진을 복구하려면'``: the last word takes the form."""
    head, _, verb = phrase.rpartition(" ")
    joined = _kiwi().join([(verb[:-1], "VV"), *_MORPHEMES[form]])
    return f"{head} {joined}" if head else joined


def fill(frame: str, alias: str, do: str = "", about: str = "") -> str:
    """Put the product alias, a conjugated verb phrase and a topic into a frame's slots."""

    def slot(match: re.Match[str]) -> str:
        name, form = match[1], match[2]
        if name == "P":
            return alias
        if name == "about":
            return about
        return conjugate(do, form)

    return SLOT.sub(slot, frame)


def weighted(rng: random.Random, options: Sequence[tuple[T, int]]) -> T:
    """One option, drawn with its relative weight."""
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def render(
    situation: Phrases, aliases: Sequence[tuple[str, int]], frames: FrameSet, rng: random.Random
) -> str:
    """One inquiry about ``situation``, before any noise."""
    writer = _Writer(situation, weighted(rng, aliases), frames, rng)
    have = len(situation.context)
    shapes = [(s, w) for s, w in _SHAPES if all(_NEEDS_CONTEXT.get(p, 0) <= have for p in s)]
    text = " ".join(getattr(writer, part)() for part in weighted(rng, shapes))
    if rng.random() < _OPEN_RATE:
        text = rng.choice(frames.open) + text
    if rng.random() < _CLOSE_RATE:
        text += rng.choice(frames.close)
    return text


@dataclass
class _Writer:
    """The parts an inquiry is made of, each drawn afresh from the situation and frames."""

    situation: Phrases
    alias: str
    frames: FrameSet
    rng: random.Random

    def ask(self) -> str:
        return fill(
            self.rng.choice(self.frames.do), self.alias, do=self.rng.choice(self.situation.do)
        )

    def topic(self) -> str:
        frame, about = self.rng.choice(self.frames.about), self.rng.choice(self.situation.about)
        return fill(frame, self.alias, about=about)

    def context(self) -> str:
        return self._ended(self.rng.choice(self.situation.context))

    def two_contexts(self) -> str:
        first, second = self.rng.sample(self.situation.context, 2)
        return f"{self._ended(first)} {self._ended(second)}"

    def lead(self) -> str:
        lead = fill(self.rng.choice(self.frames.lead), self.alias)
        return f"{lead}{self.context()} {self.rng.choice(self.frames.follow)}"

    def _ended(self, sentence: str) -> str:
        return sentence + weighted(self.rng, _CONTEXT_ENDS)
