"""Row steps: each looks at whole conversations and says which to remove, and why.

A row step returns one entry per conversation: ``None`` to keep it, or the reason (in Korean,
for the people who read the removed file) to remove it. It also tallies what it found.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence

from tunestudio.data.clean.config import DedupStep, DropLabelsStep, LengthStep
from tunestudio.data.clean.results import FIELD_COLUMNS, WorkItem
from tunestudio.data.near_dup import NearDupIndex
from tunestudio.data.normalize import exact_key, loose_key
from tunestudio.data.problems import shown_label

RowFn = Callable[[Sequence[WorkItem], Counter[str]], list[str | None]]


def values(item: WorkItem, fields: Sequence[str]) -> Iterator[tuple[str, int, str]]:
    """(field, turn, value) for the chosen fields; the system prompt counts once, as turn 0."""
    if "system" in fields:
        yield "system", 0, item.current.system
    for turn in range(len(item.current.turns)):
        for name in ("text", "completion"):
            if name in fields:
                yield name, turn, item.get(name, turn)


def column(item: WorkItem, field_name: str, turn: int) -> str:
    """``Text`` for a single-turn conversation, ``Text(턴 2)`` for the second turn of several."""
    name = FIELD_COLUMNS[field_name]
    if field_name == "system" or len(item.current.turns) == 1:
        return name
    return f"{name}(턴 {turn + 1})"


def drop_labels_step(cfg: DropLabelsStep) -> RowFn:
    """Remove conversations with a turn whose value is one of the labels."""
    labels = {unicodedata.normalize("NFC", label.strip()) for label in cfg.labels}

    def check(items: Sequence[WorkItem], tally: Counter[str]) -> list[str | None]:
        return [_first_label(item, cfg.fields, labels, tally) for item in items]

    return check


def _first_label(
    item: WorkItem, fields: Sequence[str], labels: set[str], tally: Counter[str]
) -> str | None:
    for name, turn, value in values(item, fields):
        key = unicodedata.normalize("NFC", value.strip())
        if key in labels:
            tally[label_tally_key(key)] += 1
            return f"{column(item, name, turn)} 값이 제거 대상 라벨 {shown_label(key)}입니다"
    return None


def label_tally_key(label: str) -> str:
    """How a label is counted in a step's tally (and shown in the report): ``(빈 값)`` when empty."""
    return shown_label(label, quote=False)


def length_step(cfg: LengthStep) -> RowFn:
    """Remove conversations with a value shorter than min_chars or longer than max_chars."""

    def check(items: Sequence[WorkItem], tally: Counter[str]) -> list[str | None]:
        return [_length_reason(item, cfg, tally) for item in items]

    return check


def _length_reason(item: WorkItem, cfg: LengthStep, tally: Counter[str]) -> str | None:
    for name, turn, value in values(item, cfg.fields):
        size = len(value.strip())
        where = column(item, name, turn)
        if cfg.min_chars is not None and size < cfg.min_chars:
            tally["too short"] += 1
            return f"{where} 값이 {size:,}자로 최소 {cfg.min_chars:,}자보다 짧습니다"
        if cfg.max_chars is not None and size > cfg.max_chars:
            tally["too long"] += 1
            return f"{where} 값이 {size:,}자로 최대 {cfg.max_chars:,}자보다 깁니다"
    return None


def dedup_step(cfg: DedupStep) -> RowFn:
    """Remove exact and near duplicates of an earlier kept conversation (the first one stays).

    Only kept conversations are indexed, so a chain a≈b≈c never removes c for resembling b,
    which is itself gone; every reason names a row that is in the output.
    """

    def check(items: Sequence[WorkItem], tally: Counter[str]) -> list[str | None]:
        seen = _Seen(cfg)
        reasons: list[str | None] = []
        for item in items:
            text = "\n".join(v for _, _, v in values(item, cfg.fields))
            if not loose_key(text):
                reasons.append(None)  # nothing to compare: empty values are not duplicates
                continue
            match = seen.match(text)
            if match is None:
                seen.add(item, text)
                reasons.append(None)
                continue
            kind, first, similarity = match
            tally[kind] += 1
            reason = (
                f"{first.label}의 정확한 중복"
                if kind == "exact"
                else f"{first.label}의 근사 중복 (유사도 {similarity:.2f})"
            )
            if conflict := _label_conflict(item, first, cfg):
                tally["different completion"] += 1
                reason += conflict
            reasons.append(reason)
        return reasons

    return check


class _Seen:
    """The conversations kept so far, by exact key and in a MinHash index."""

    def __init__(self, cfg: DedupStep):
        self.cfg = cfg
        self.exact: dict[str, WorkItem] = {}
        self.near = NearDupIndex(cfg.threshold)
        self.indexed: list[WorkItem] = []

    def match(self, text: str) -> tuple[str, WorkItem, float] | None:
        """("exact" | "near", the kept conversation, similarity), or None for a new one."""
        if self.cfg.exact and (first := self.exact.get(exact_key(text))) is not None:
            return "exact", first, 1.0
        if self.cfg.near and (hits := self.near.query(text)):
            # the most similar; among equals, the earliest
            index, similarity = max(hits, key=lambda hit: (hit[1], -hit[0]))
            return "near", self.indexed[index], similarity
        return None

    def add(self, item: WorkItem, text: str) -> None:
        self.exact.setdefault(exact_key(text), item)
        if self.cfg.near:
            self.near.add(text)
            self.indexed.append(item)


def _label_conflict(item: WorkItem, first: WorkItem, cfg: DedupStep) -> str:
    """Same input, different answer: the dataset disagrees with itself; say so."""
    if "completion" in cfg.fields:
        return ""
    mine = [t.assistant.strip() for t in item.current.turns]
    theirs = [t.assistant.strip() for t in first.current.turns]
    if mine == theirs:
        return ""
    return (
        f" — Completion이 다릅니다({_answers(mine)} ≠ {_answers(theirs)}); "
        "어느 쪽이 맞는지 확인하세요"
    )


def _answers(completions: list[str]) -> str:
    return " / ".join(shown_label(c) for c in completions)
