"""Near-duplicate detection with MinHash LSH, verified by exact Jaccard.

LSH proposes candidate pairs cheaply; each candidate is then checked with the true Jaccard
similarity of character 3-grams of :func:`loose_key`, so a reported pair is never an artefact
of hashing.

:class:`NearDupIndex` serves incremental use with datasketch's MinHash LSH. The whole-list
searches (:func:`near_duplicate_pairs`, :func:`near_matches`) hash every 3-gram of every text
in one numpy pass (the same affine MinHash scheme, vectorised) and band the signatures with
numpy: per-text MinHash objects cost about 100 µs each, which made 50,000 rows take half a
minute; this takes a few seconds.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import reduce
from itertools import combinations, product

import numpy as np
from datasketch import MinHash, MinHashLSH

from tunestudio.data.normalize import jaccard, loose_key, shingles

DEFAULT_THRESHOLD = 0.8
_NUM_PERM = 128
_BATCH_PERM = 64  # with 12 bands of 5 rows, 99% of pairs at Jaccard 0.8 are still proposed
_RECALL = 0.99  # share of pairs at exactly the threshold that LSH must propose
_BLOCK = 1 << 17  # 3-grams hashed per numpy block: 2**17 x 64 x 8 bytes = 64 MB


def _hash32(data: bytes) -> int:
    # CRC32 is several times faster than datasketch's default SHA1, and the affine32 scheme
    # mixes every input hash with the MurmurHash3 finalizer before permuting it.
    return zlib.crc32(data)


# Generating 128 permutations costs more than hashing a short text, so every MinHash of the
# index is a copy of this one.
_TEMPLATE = MinHash(num_perm=_NUM_PERM, seed=1, hashfunc=_hash32)


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
        """Index ``text``; returns its index."""
        grams = shingles(text)
        index = len(self._shingles)
        self._shingles.append(grams)
        if grams:
            self._lsh.insert(index, _minhash(grams))
        return index

    def query(self, text: str) -> list[tuple[int, float]]:
        """(index, similarity) of every indexed text at least ``threshold`` similar."""
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
    mh = _TEMPLATE.copy()
    # Text read from JSON may hold lone surrogates, which strict UTF-8 refuses to encode.
    mh.update_batch([g.encode("utf-8", "surrogatepass") for g in grams])
    return mh


class _Grams:
    """Every text's 3-grams of :func:`loose_key` as 63-bit ids (three 21-bit code points).

    ``ids[offsets[i]:offsets[i + 1]]`` are text i's grams (repeats included). A key shorter
    than three characters is one gram, as in :func:`shingles`; an empty key has none.
    """

    def __init__(self, texts: Sequence[str]):
        keys = [loose_key(t) for t in texts]
        # \x00 separates keys and \x01 pads short ones: neither survives loose_key.
        padded = [k + "\x01" * (3 - len(k)) if 0 < len(k) < 3 else k for k in keys]
        joined = "\x00".join(padded) + "\x00\x00"
        points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        cp = points.astype(np.uint64)
        ids = (cp[:-2] << np.uint64(42)) | (cp[1:-1] << np.uint64(21)) | cp[2:]
        inside = (points[:-2] != 0) & (points[1:-1] != 0) & (points[2:] != 0)
        self.ids = ids[inside]
        counts = np.array([max(len(k) - 2, 0) for k in padded], dtype=np.int64)
        self.offsets = np.concatenate(([0], np.cumsum(counts)))
        self._sets: dict[int, set[int]] = {}

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def nonempty(self) -> np.ndarray:
        return np.flatnonzero(np.diff(self.offsets) > 0)

    def set(self, index: int) -> set[int]:
        if index not in self._sets:
            span = self.ids[self.offsets[index] : self.offsets[index + 1]]
            self._sets[index] = set(span.tolist())
        return self._sets[index]

    def jaccard(self, a: int, b: int, other: _Grams | None = None) -> float:
        left, right = self.set(a), (other or self).set(b)
        return len(left & right) / len(left | right)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer: every input bit moves every output bit."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


_RNG = np.random.default_rng(1)
_A = _RNG.integers(0, 2**63, size=_BATCH_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_B = _RNG.integers(0, 2**63, size=_BATCH_PERM, dtype=np.uint64)


def _signatures(grams: _Grams, rows: np.ndarray) -> np.ndarray:
    """MinHash signatures (len(rows) x _BATCH_PERM) of the non-empty texts ``rows``: the
    minimum over a text's grams of ``a * mix(gram) + b`` (mod 2**64), block by block."""
    starts, ends = grams.offsets[rows], grams.offsets[rows + 1]
    sigs = np.empty((len(rows), _BATCH_PERM), dtype=np.uint64)
    first = 0
    while first < len(rows):
        last = max(first + 1, int(np.searchsorted(ends, starts[first] + _BLOCK, side="right")))
        span = grams.ids[starts[first] : ends[last - 1]]
        hashed = _A[:, None] * _mix(span)[None, :] + _B[:, None]  # one row per permutation
        # Texts are contiguous in ids, so each one's minimum is one reduceat segment (along
        # rows: reducing along axis 0 is several times slower).
        segments = starts[first:last] - starts[first]
        sigs[first:last] = np.minimum.reduceat(hashed, segments, axis=1).T
        first = last
    return sigs


def _bands(threshold: float, perms: int = _BATCH_PERM) -> tuple[int, int]:
    """(bands, rows per band): the longest bands that still propose _RECALL of pairs at
    ``threshold`` (a pair agrees on one MinHash row with probability = its Jaccard)."""
    for rows in range(perms, 0, -1):
        bands = perms // rows
        if 1 - (1 - threshold**rows) ** bands >= _RECALL:
            return bands, rows
    return perms, 1


def _buckets(sigs: np.ndarray, threshold: float) -> Iterator[np.ndarray]:
    """Groups of signature rows that agree on a whole band (each band folded to one hash)."""
    bands, width = _bands(threshold)
    for band in range(bands):
        columns = sigs[:, band * width : (band + 1) * width].T
        keys = reduce(lambda acc, col: _mix(acc ^ col), columns, np.zeros(len(sigs), np.uint64))
        _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        shared = np.flatnonzero(counts[inverse] > 1)  # most texts share a band with none
        order = shared[np.argsort(inverse[shared], kind="stable")]
        starts = np.flatnonzero(np.diff(inverse[order])) + 1
        yield from np.split(order, starts) if order.size else ()


def near_duplicate_pairs(
    texts: Sequence[str], threshold: float = DEFAULT_THRESHOLD
) -> list[NearMatch]:
    """Every pair i < j of texts whose similarity is at least ``threshold``."""
    grams = _Grams(texts)
    rows = grams.nonempty()
    candidates: set[tuple[int, int]] = set()
    for members in _buckets(_signatures(grams, rows), threshold):
        candidates.update(combinations(sorted(rows[members].tolist()), 2))
    pairs = [NearMatch(i, j, grams.jaccard(i, j)) for i, j in candidates]
    return sorted((p for p in pairs if p.similarity >= threshold), key=lambda p: (p.right, p.left))


def near_matches(
    queries: Sequence[str], texts: Sequence[str], threshold: float = DEFAULT_THRESHOLD
) -> list[NearMatch]:
    """Every (query index, text index) pair at least ``threshold`` similar, in query order.

    Only pairs across the two lists are compared, so this is how a test set is checked
    against a training set.
    """
    q_grams, t_grams = _Grams(queries), _Grams(texts)
    q_rows, t_rows = q_grams.nonempty(), t_grams.nonempty()
    sigs = np.vstack([_signatures(q_grams, q_rows), _signatures(t_grams, t_rows)])
    candidates: set[tuple[int, int]] = set()
    for members in _buckets(sigs, threshold):
        qs = q_rows[members[members < len(q_rows)]].tolist()
        ts = t_rows[members[members >= len(q_rows)] - len(q_rows)].tolist()
        candidates.update(product(qs, ts))
    pairs = [NearMatch(q, t, q_grams.jaccard(q, t, t_grams)) for q, t in candidates]
    return sorted((p for p in pairs if p.similarity >= threshold), key=lambda p: (p.left, p.right))


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
