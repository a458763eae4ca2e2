"""A labelled Korean paraphrase set: pairs of inquiries that mean the same, or only look alike.

Built from ``banks/paraphrase.yaml``: hand-written intents, each said several ways, some with
a look-alike of the opposite meaning. A pair is one of six kinds (:data:`PAIR_LABELS`):

- ``paraphrase`` — two different wordings of one intent with the same slot values;
- ``negation`` — a wording and its negated look-alike (안/못/-지 않다/없다);
- ``number`` / ``entity`` — one intent, only a number (금액, 용량, 날짜…) or an entity
  (기기, 결제수단, 장소…) differs;
- ``related`` — two intents of one topic; ``unrelated`` — two intents of different topics.

Each side is then roughened like real user text (반말, common misspellings, missing spaces,
loose punctuation, dropped particles) at the same rate for every kind, so noise says nothing
about the label. Deterministic for a seed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tunestudio.config import validate_model
from tunestudio.data.generators.inquiry_noise import add_noise

if TYPE_CHECKING:
    from kiwipiepy import Kiwi

PAIR_LABELS = ("paraphrase", "negation", "number", "entity", "related", "unrelated")
DEFAULT_PAIR_COUNTS: dict[str, int] = {
    "paraphrase": 200,
    "negation": 60,
    "number": 60,
    "entity": 60,
    "related": 60,
    "unrelated": 60,
}
PAIR_COLUMNS = ("a", "b", "label", "topic")
_NOISE_RATE = 0.5  # each side, every label alike
_PARTICLE_DROP_RATE = 0.2
_SAME_TEMPLATE_RATE = 0.5  # number/entity pairs: half differ in the value only
_SLOT = re.compile(r"\{(\w+)\}")

Values = dict[str, tuple[str, ...]]  # slot name → the surface forms of its chosen value


class Intent(BaseModel):
    """One request, said several ways, and its negated look-alikes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    topic: str
    slots: dict[str, str] = Field(default_factory=dict, description="slot → value group")
    say: list[str] = Field(min_length=2, description="Wordings with the same meaning.")
    neg: list[str] = Field(default_factory=list, description="Look-alikes, opposite meaning.")

    @model_validator(mode="after")
    def _slots_declared(self) -> Intent:
        for text in (*self.say, *self.neg):
            used = set(_SLOT.findall(text))
            if used != set(self.slots):
                raise ValueError(
                    f"{self.id}: {text!r} uses {sorted(used)}, not {sorted(self.slots)}"
                )
        return self


class ParaphraseBank(BaseModel):
    """Value groups (entities and numbers, each value in its spellings) and the intents."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entities: dict[str, list[list[str]]]
    numbers: dict[str, list[list[str]]]
    intents: list[Intent] = Field(min_length=2)

    @model_validator(mode="after")
    def _groups_exist(self) -> ParaphraseBank:
        groups = {**self.entities, **self.numbers}
        for intent in self.intents:
            for slot, group in intent.slots.items():
                if len(groups.get(group, [])) < 2:
                    raise ValueError(f"{intent.id}.{slot}: group {group!r} needs two values")
        return self

    def group(self, name: str) -> list[list[str]]:
        """The values of an entity or number group."""
        return self.entities.get(name) or self.numbers[name]

    def with_slot_kind(self, kind: str) -> list[Intent]:
        """Intents having a slot of ``kind`` (``entities`` or ``numbers``)."""
        names = self.entities if kind == "entities" else self.numbers
        return [i for i in self.intents if any(g in names for g in i.slots.values())]


@dataclass(frozen=True)
class Pair:
    """One row of the paraphrase set."""

    a: str
    b: str
    label: str
    topic: str

    def row(self) -> list[str]:
        """The row in :data:`PAIR_COLUMNS` order."""
        return [self.a, self.b, self.label, self.topic]


@cache
def load_paraphrase_bank() -> ParaphraseBank:
    """The bank shipped with the package, checked (a ConfigError names the bad entry)."""
    path = files("tunestudio.data.generators") / "banks" / "paraphrase.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return validate_model(ParaphraseBank, data, "banks/paraphrase.yaml")


def generate_pairs(
    seed: int = 7, counts: Mapping[str, int] | None = None, *, noise: bool = True
) -> list[Pair]:
    """``counts[label]`` distinct pairs of each label, shuffled; the same list for a seed."""
    bank = load_paraphrase_bank()
    rng = random.Random(seed)
    wanted = DEFAULT_PAIR_COUNTS if counts is None else counts
    pairs: list[Pair] = []
    seen: set[frozenset[str]] = set()
    for label, count in wanted.items():
        make = _MAKERS[label]
        made, attempts = 0, 0
        while made < count and attempts < count * 50:  # the bank bounds how many exist
            attempts += 1
            a, b, topic = make(bank, rng)
            if noise:
                a, b = _roughen(a, rng), _roughen(b, rng)
            key = frozenset((a, b))
            if a == b or key in seen:
                continue
            seen.add(key)
            pairs.append(Pair(*((a, b) if rng.random() < 0.5 else (b, a)), label, topic))
            made += 1
    rng.shuffle(pairs)
    return pairs


def _draw(bank: ParaphraseBank, intent: Intent, rng: random.Random) -> Values:
    return {slot: tuple(rng.choice(bank.group(g))) for slot, g in intent.slots.items()}


def _fill(template: str, values: Values, rng: random.Random) -> str:
    """The template with each slot in one of its value's spellings, chosen per side."""
    return _SLOT.sub(lambda m: rng.choice(values[m[1]]), template)


def _paraphrase(bank: ParaphraseBank, rng: random.Random) -> tuple[str, str, str]:
    intent = rng.choice(bank.intents)
    first, second = rng.sample(intent.say, 2)
    values = _draw(bank, intent, rng)
    return _fill(first, values, rng), _fill(second, values, rng), intent.topic


def _negation(bank: ParaphraseBank, rng: random.Random) -> tuple[str, str, str]:
    intent = rng.choice([i for i in bank.intents if i.neg])
    values = _draw(bank, intent, rng)
    said, negated = rng.choice(intent.say), rng.choice(intent.neg)
    return _fill(said, values, rng), _fill(negated, values, rng), intent.topic


def _changed(kind: str) -> Callable[[ParaphraseBank, random.Random], tuple[str, str, str]]:
    """A maker of pairs where one slot of ``kind`` (entities/numbers) takes another value."""

    def make(bank: ParaphraseBank, rng: random.Random) -> tuple[str, str, str]:
        intent = rng.choice(bank.with_slot_kind(kind))
        groups = bank.entities if kind == "entities" else bank.numbers
        slot = rng.choice([s for s, g in intent.slots.items() if g in groups])
        values = _draw(bank, intent, rng)
        other = dict(values)
        other[slot] = tuple(
            rng.choice([v for v in bank.group(intent.slots[slot]) if tuple(v) != values[slot]])
        )
        first = rng.choice(intent.say)
        same = rng.random() < _SAME_TEMPLATE_RATE
        second = first if same else rng.choice([t for t in intent.say if t != first])
        return _fill(first, values, rng), _fill(second, other, rng), intent.topic

    return make


def _related(bank: ParaphraseBank, rng: random.Random) -> tuple[str, str, str]:
    first = rng.choice(bank.intents)
    second = rng.choice([i for i in bank.intents if i.topic == first.topic and i.id != first.id])
    a = _fill(rng.choice(first.say), _draw(bank, first, rng), rng)
    return a, _fill(rng.choice(second.say), _draw(bank, second, rng), rng), first.topic


def _unrelated(bank: ParaphraseBank, rng: random.Random) -> tuple[str, str, str]:
    first = rng.choice(bank.intents)
    second = rng.choice([i for i in bank.intents if i.topic != first.topic])
    a = _fill(rng.choice(first.say), _draw(bank, first, rng), rng)
    b = _fill(rng.choice(second.say), _draw(bank, second, rng), rng)
    return a, b, "/".join(sorted((first.topic, second.topic)))


_MAKERS: dict[str, Callable[[ParaphraseBank, random.Random], tuple[str, str, str]]] = {
    "paraphrase": _paraphrase,
    "negation": _negation,
    "number": _changed("numbers"),
    "entity": _changed("entities"),
    "related": _related,
    "unrelated": _unrelated,
}


def _roughen(text: str, rng: random.Random) -> str:
    """Half the texts get user-style noise; a fifth of those lose their 을/를/이/가."""
    if rng.random() >= _NOISE_RATE:
        return text
    if rng.random() < _PARTICLE_DROP_RATE:
        text = drop_particles(text)
    return add_noise(text, rng)


def drop_particles(text: str) -> str:
    """``'사진을 복구하고 싶어요'`` → ``'사진 복구하고 싶어요'``: subject/object particles go."""
    kept, last = [], 0
    for token in _kiwi().tokenize(text):
        if token.tag in ("JKS", "JKO") and token.start > last:
            kept.append(text[last : token.start])
            last = token.start + token.len
    kept.append(text[last:])
    return "".join(kept)


@cache
def _kiwi() -> Kiwi:
    from kiwipiepy import Kiwi  # a second to load; only when pairs are made

    return Kiwi()
