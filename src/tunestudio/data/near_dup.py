"""Near-duplicate detection with MinHash LSH (datasketch), verified by exact Jaccard.

LSH proposes candidate pairs cheaply; each candidate is then checked with the true Jaccard
similarity of character 3-grams, so a reported pair is never an artefact of hashing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from datasketch import MinHash, MinHashLSH

from tunestudio.data.normalize import jaccard, shingles

DEFAULT_THRESHOLD = 0.8
_NUM_PERM = 128


@dataclass(frozen=True)
class NearMatch:
    """A pair of texts (by index) and their character-3-gram Jaccard similarity."""

    left: int
    right: int
    similarity: float


class NearDupIndex:
    """An LSH index over texts; ``query`` returns indexes of indexed texts similar to a text."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD):
        self.threshold = threshold
        # LSH is tuned a little below the verify threshold so that borderline pairs are
        # still proposed; the exact Jaccard check then decides.
        self._lsh = MinHashLSH(threshold=max(0.05, threshold - 0.15), num_perm=_NUM_PERM)
        self._shingles: list[set[str]] = []

    def add(self, text: str) -> int:
        grams = shingles(text)
        index = len(self._shingles)
        self._shingles.append(grams)
        if grams:
            self._lsh.insert(index, _minhash(grams))
        return index

    def query(self, text: str) -> list[tuple[int, float]]:
        grams = shingles(text)
        if not grams:
            return []
        found = []
        for index in self._lsh.query(_minhash(grams)):
            sim = jaccard(grams, self._shingles[index])
            if sim >= self.threshold:
                found.append((int(index), sim))
        return sorted(found)


def _minhash(grams: set[str]) -> MinHash:
    mh = MinHash(num_perm=_NUM_PERM, seed=1)
    mh.update_batch([g.encode("utf-8") for g in grams])
    return mh


def near_duplicate_pairs(
    texts: Sequence[str], threshold: float = DEFAULT_THRESHOLD
) -> list[NearMatch]:
    """Every pair i < j of texts whose similarity is at least ``threshold``."""
    index = NearDupIndex(threshold)
    pairs: list[NearMatch] = []
    for j, text in enumerate(texts):
        pairs.extend(NearMatch(i, j, sim) for i, sim in index.query(text))
        index.add(text)
    return pairs


def near_duplicate_groups(
    texts: Sequence[str], threshold: float = DEFAULT_THRESHOLD
) -> list[list[int]]:
    """Connected groups of near-duplicates (each of two or more indexes), in first-seen order."""
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for pair in near_duplicate_pairs(texts, threshold):
        a, b = find(pair.left), find(pair.right)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(len(texts)):
        groups.setdefault(find(i), []).append(i)
    return [g for g in groups.values() if len(g) > 1]
