"""The semantic cache's in-memory vector index: cosine search over unit vectors.

Up to ``exact_limit`` entries a query is one matrix-vector product over every stored vector.
Beyond that, a brute-force product over 100k vectors reads the whole float32 matrix per query
(150 MB at 384 dimensions: ~20 ms on a 2-core machine, more than the lookup budget), so the
search runs in two stages: a product over a random projection of the vectors to
``sketch_dims`` dimensions picks ``candidates`` rows, and exact cosines over those rows decide.

The projection preserves dot products up to noise of about ``1/sqrt(sketch_dims)``, so a
stored question close enough to pass a cache threshold (cosine ≥ ~0.8) stays far above the
noise of unrelated rows. The second stage is exact, so the approximation can only cost a hit
(the model is called), never return an answer below the threshold. ``bench/bench_cache.py``
measures how often the two stages agree with the exact search.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController


@cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def _one_blas_thread() -> Any:
    """A matrix-vector product is memory-bound: extra BLAS threads only add hand-off costs,
    which on a busy 2-core machine were measured at 100x (24 ms instead of 0.13 ms for
    1,000 x 2,048). threadpoolctl (a scikit-learn dependency) limits them for the block."""
    return _controller().limit(limits=1, user_api="blas")


@dataclass(frozen=True)
class Match:
    """A stored question, its answer's key, and its cosine similarity to the query."""

    key: str
    text: str
    score: float


def best_rows(scores: np.ndarray, threshold: float, limit: int) -> np.ndarray:
    """The positions of the ``limit`` highest scores at or above ``threshold``, best first
    (partitioned first: when many rows pass, sorting them all cost more than the search)."""
    passing = np.flatnonzero(scores >= threshold)
    if passing.shape[0] > limit:
        passing = passing[np.argpartition(-scores[passing], limit - 1)[:limit]]
    best: np.ndarray = passing[np.argsort(-scores[passing], kind="stable")]
    return best


class VectorIndex:
    """Unit vectors with their keys; ``search`` returns the closest above a threshold."""

    def __init__(
        self,
        dimensions: int,
        *,
        exact_limit: int = 20_000,
        sketch_dims: int = 64,
        candidates: int = 256,
        seed: int = 0,
    ) -> None:
        self.dimensions = dimensions
        self.exact_limit = exact_limit
        self.candidates = candidates
        self.sketch_dims = min(sketch_dims, dimensions)
        self.seed = seed
        self._vectors = np.zeros((0, dimensions), dtype=np.float32)
        # the projection and the projected rows exist only once the index outgrows exact_limit
        self._projection: np.ndarray | None = None
        self._sketch: np.ndarray | None = None
        self._size = 0
        self._keys: list[str] = []
        self._texts: list[str] = []
        self._rows: dict[str, int] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._size

    def __contains__(self, key: str) -> bool:
        return key in self._rows

    def add(self, key: str, text: str, vector: np.ndarray) -> None:
        """Add one entry (a key already present is left as it is)."""
        self.add_many([(key, text, vector)])

    def add_many(self, entries: list[tuple[str, str, np.ndarray]]) -> None:
        """Add entries in one go (one copy of the matrix at most)."""
        with self._lock:
            unique = {key: (key, text, vec) for key, text, vec in entries if key not in self._rows}
            fresh = list(unique.values())
            if not fresh:
                return
            block = np.asarray([e[2] for e in fresh], dtype=np.float32).reshape(len(fresh), -1)
            if block.shape[1] != self.dimensions:
                raise ValueError(f"vectors have {block.shape[1]} dimensions, not {self.dimensions}")
            self._reserve(self._size + len(fresh))
            end = self._size + len(fresh)
            self._vectors[self._size : end] = block
            if self._sketch is not None and self._projection is not None:
                self._sketch[self._size : end] = block @ self._projection
            for offset, (key, text, _) in enumerate(fresh):
                self._rows[key] = self._size + offset
                self._keys.append(key)
                self._texts.append(text)
            self._size = end
            if self._size > self.exact_limit and self._sketch is None:
                self._start_sketch()  # once, on a write, so no lookup pays for it

    def remove(self, key: str) -> None:
        """Make an entry unfindable (its answer expired or was evicted)."""
        with self._lock:
            row = self._rows.get(key)
            if row is not None:  # a zero vector scores 0, below any useful threshold
                self._vectors[row] = 0.0
                if self._sketch is not None:
                    self._sketch[row] = 0.0

    def search(self, query: np.ndarray, threshold: float, limit: int = 5) -> list[Match]:
        """Up to ``limit`` entries with cosine ≥ ``threshold``, best first."""
        with self._lock:  # a consistent snapshot; the arrays are only replaced, never shrunk
            size, vectors, sketch = self._size, self._vectors, self._sketch
            projection, keys, texts = self._projection, self._keys, self._texts
        if size == 0:
            return []
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        with _one_blas_thread():
            if sketch is None or projection is None:
                rows = np.arange(size)
                scores = vectors[:size] @ q
            else:
                coarse = sketch[:size] @ (q @ projection)
                take = min(self.candidates, size)
                rows = np.argpartition(coarse, size - take)[size - take :]  # the largest
                scores = vectors[rows] @ q
        best = best_rows(scores, threshold, limit)
        return [Match(keys[rows[i]], texts[rows[i]], float(scores[i])) for i in best]

    def _reserve(self, needed: int) -> None:
        """Grow the arrays geometrically so adding n entries costs O(n) copies overall."""
        capacity = self._vectors.shape[0]
        if needed <= capacity:
            return
        capacity = max(needed, capacity * 2, 256)
        vectors = np.zeros((capacity, self.dimensions), dtype=np.float32)
        vectors[: self._size] = self._vectors[: self._size]
        self._vectors = vectors
        if self._sketch is not None:
            sketch = np.zeros((capacity, self.sketch_dims), dtype=np.float32)
            sketch[: self._size] = self._sketch[: self._size]
            self._sketch = sketch

    def _start_sketch(self) -> None:
        """Project every row once; from now on each added row is projected as it comes."""
        rng = np.random.default_rng(self.seed)
        # Gaussian entries scaled by 1/sqrt(k) keep dot products unbiased (Johnson-Lindenstrauss)
        projection = rng.standard_normal((self.dimensions, self.sketch_dims), dtype=np.float32)
        self._projection = projection / np.float32(np.sqrt(self.sketch_dims))
        sketch = np.zeros((self._vectors.shape[0], self.sketch_dims), dtype=np.float32)
        sketch[: self._size] = self._vectors[: self._size] @ self._projection
        self._sketch = sketch
