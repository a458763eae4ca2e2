"""Paragraph (topic) segmentation of Korean text, as CLOVA Studio's segmentation tool answers.

What this does, and how it differs from CLOVA's model-based segmentation:

1. Sentences come from kiwipiepy (``Kiwi.split_into_sents``), line by line, so a line break
   always ends a sentence, as in CLOVA's documented example input.
2. With an embedder, paragraphs are found TextTiling-style (Hearst 1997) over sentence
   embeddings: the similarity at each gap compares the mean vectors of the two sentences before
   and after it; a gap's *depth* is how far it sits below the peaks on either side; the deepest
   gaps become paragraph breaks. ``seg_count`` ≥ 1 takes the ``seg_count - 1`` deepest gaps;
   otherwise breaks are the valleys deeper than ``mean - alpha * std`` of the depths (a higher
   ``alpha`` gives more paragraphs, as CLOVA documents; ``alpha = -100``, "auto", uses Hearst's
   own cutoff, ``mean - std / 2``); blank lines in the text are breaks too, unless
   ``seg_count`` fixes the number. CLOVA uses a trained segmentation model instead, so its
   breaks will differ; the quality here is the embedder's (a causal LM's is weak).
3. Without an embedder, breaks come from the text's own blank lines and from the sizes:
   ``seg_count`` ≥ 1 cuts into that many parts of about equal length, else paragraphs are
   packed up to ``max_size`` characters.
4. ``post_process`` then splits paragraphs longer than ``max_size`` characters at sentence
   boundaries and merges those shorter than ``min_size`` into a neighbour when the result
   still fits (``min_size = -1``, "auto", merges nothing).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiwipiepy import Kiwi

AUTO_ALPHA = -100.0
HEARST_ALPHA = 0.5  # Hearst's cutoff, mean - std/2, in this module's alpha terms
WINDOW = 2  # sentences on each side of a gap whose vectors are averaged
Embed = Callable[[list[str]], list[list[float]]]
_kiwi_lock = threading.Lock()


@dataclass(frozen=True)
class Sentence:
    """One sentence and the number of morphemes Kiwi found in it."""

    text: str
    morphemes: int


@dataclass(frozen=True)
class Segmentation:
    """The sentences, and each paragraph as the (global) indices of its sentences."""

    sentences: list[Sentence]
    spans: list[list[int]]

    @property
    def paragraphs(self) -> list[list[str]]:
        """Each paragraph as its list of sentences (CLOVA's ``topicSeg``)."""
        return [[self.sentences[i].text for i in span] for span in self.spans]


@lru_cache(maxsize=1)
def _kiwi() -> Kiwi:
    from kiwipiepy import Kiwi

    return Kiwi()


def split_sentences(text: str) -> tuple[list[Sentence], set[int]]:
    """Kiwi's sentences of every line, and the indices of sentences that follow a blank line."""
    sentences: list[Sentence] = []
    after_blank: set[int] = set()
    blank = False
    for line in text.splitlines():
        if not line.strip():
            blank = bool(sentences)
            continue
        if blank:
            after_blank.add(len(sentences))
            blank = False
        with _kiwi_lock:  # one Kiwi for the process; calls are serialised to be safe
            found = _kiwi().split_into_sents(line, return_tokens=True)
        sentences += [Sentence(s.text, len(s.tokens or ())) for s in found if s.text.strip()]
    return sentences, after_blank


def segment(
    text: str,
    *,
    alpha: float = 0.0,
    seg_count: int = -1,
    post_process: bool = False,
    max_size: int = 1000,
    min_size: int = 300,
    embed: Embed | None = None,
) -> Segmentation:
    """Split ``text`` into paragraphs of consecutive sentences (see the module docstring)."""
    sentences, after_blank = split_sentences(text)
    if not sentences:
        return Segmentation([], [])
    sizes = [len(s.text) for s in sentences]
    if embed is not None and len(sentences) > 1:
        starts = topic_starts(embed([s.text for s in sentences]), alpha, seg_count)
        if seg_count < 1:  # the author's own blank lines are breaks as well
            starts |= after_blank
    else:
        starts = size_starts(sizes, after_blank, seg_count, max_size)
    spans = _spans(len(sentences), starts)
    if post_process:
        spans = merge_small(split_large(spans, sizes, max_size), sizes, min_size, max_size)
    return Segmentation(sentences, spans)


def topic_starts(vectors: Sequence[Sequence[float]], alpha: float, seg_count: int) -> set[int]:
    """Sentence indices that start a new paragraph, from the depth of similarity valleys."""
    sims = _gap_similarities(vectors)
    depths = _depths(sims)
    gaps = range(len(depths))  # gap g lies between sentence g and g + 1
    if seg_count >= 1:
        deepest = sorted(gaps, key=lambda g: (-depths[g], g))[: seg_count - 1]
        return {g + 1 for g in deepest}
    mean = sum(depths) / len(depths)
    std = math.sqrt(sum((d - mean) ** 2 for d in depths) / len(depths))
    cutoff = mean - (HEARST_ALPHA if alpha == AUTO_ALPHA else alpha) * std
    # Only valleys break: the slopes beside a valley are deep too, but belong to it.
    return {g + 1 for g in gaps if depths[g] > max(0.0, cutoff) and _is_valley(sims, g)}


def _is_valley(sims: Sequence[float], gap: int) -> bool:
    """Whether the similarity at ``gap`` is no higher than at the gaps either side."""
    before = sims[gap - 1] if gap > 0 else math.inf
    after = sims[gap + 1] if gap + 1 < len(sims) else math.inf
    return sims[gap] <= before and sims[gap] <= after


def size_starts(
    sizes: Sequence[int], after_blank: set[int], seg_count: int, max_size: int
) -> set[int]:
    """Paragraph starts from sizes alone: ``seg_count`` equal parts, else blank lines and
    packing up to ``max_size`` characters."""
    if seg_count >= 1:
        starts: set[int] = set()
        total, running = sum(sizes), 0
        for index, size in enumerate(sizes[:-1]):
            running += size
            if len(starts) < seg_count - 1 and running >= total * (len(starts) + 1) / seg_count:
                starts.add(index + 1)
        return starts
    starts, length = set(after_blank), 0
    for index, size in enumerate(sizes):
        if index in starts or (index and length + size > max_size):
            starts.add(index)
            length = 0
        length += size
    return starts - {0}


def split_large(spans: list[list[int]], sizes: Sequence[int], max_size: int) -> list[list[int]]:
    """Paragraphs over ``max_size`` characters cut at sentence boundaries (a single sentence
    longer than that stays whole: sentences are never cut)."""
    out: list[list[int]] = []
    for span in spans:
        current: list[int] = []
        for index in span:
            if current and sum(sizes[i] for i in current) + sizes[index] > max_size:
                out.append(current)
                current = []
            current.append(index)
        out.append(current)
    return out


def merge_small(
    spans: list[list[int]], sizes: Sequence[int], min_size: int, max_size: int
) -> list[list[int]]:
    """Paragraphs under ``min_size`` characters joined to the next (or, last, the previous)
    one when the two together stay within ``max_size``."""
    if min_size <= 0:
        return spans
    out = [list(span) for span in spans]
    index = 0
    while index < len(out) and len(out) > 1:
        size = sum(sizes[i] for i in out[index])
        other = index + 1 if index + 1 < len(out) else index - 1
        both = size + sum(sizes[i] for i in out[other])
        if size < min_size and both <= max_size:
            first, second = sorted((index, other))
            out[first : second + 1] = [out[first] + out[second]]
            index = min(index, first)
            continue
        index += 1
    return out


def _gap_similarities(vectors: Sequence[Sequence[float]]) -> list[float]:
    """Cosine similarity at each gap between the mean vectors of the windows either side."""
    sims = []
    for gap in range(len(vectors) - 1):
        left = _mean(vectors[max(0, gap - WINDOW + 1) : gap + 1])
        right = _mean(vectors[gap + 1 : gap + 1 + WINDOW])
        sims.append(_cosine(left, right))
    return sims


def _depths(sims: Sequence[float]) -> list[float]:
    """How far each gap lies below the highest point reached climbing left and right."""
    depths = []
    for gap, value in enumerate(sims):
        left = right = value
        for j in range(gap - 1, -1, -1):
            if sims[j] < left:
                break
            left = sims[j]
        for j in range(gap + 1, len(sims)):
            if sims[j] < right:
                break
            right = sims[j]
        depths.append((left - value) + (right - value))
    return depths


def _spans(count: int, starts: set[int]) -> list[list[int]]:
    spans: list[list[int]] = [[]]
    for index in range(count):
        if index in starts and spans[-1]:
            spans.append([])
        spans[-1].append(index)
    return spans


def _mean(vectors: Sequence[Sequence[float]]) -> list[float]:
    return [sum(column) / len(vectors) for column in zip(*vectors, strict=True)]


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0
