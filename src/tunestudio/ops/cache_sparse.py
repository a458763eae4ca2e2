"""An exact index for sparse vectors: cosine search that reads only the query's nonzero buckets.

``hash-ko`` vectors have tens of nonzero entries out of 2,048. Multiplying every stored row by
the query (:class:`~tunestudio.ops.cache_index.VectorIndex`) reads 8 KB per row for ~60 useful
products: 4 ms at 10,000 entries. Here each bucket keeps the rows that use it with their values
(an inverted index, as search engines keep per term), so a query touches only the rows that
share a bucket with it, and the result is exact — no approximation at any size.

Layout: the *sealed* rows are one sparse matrix, bucket by bucket (SciPy CSR: ``indptr`` per bucket;
row ids and values per entry). New rows go into a small dense *tail*, stored bucket-major so a
query reads its own buckets there too; when the tail is full it is merged into the sealed part
in one vectorised pass (the tail grows with the index, 1/8 of it, so merging stays O(1) per row
on average). Every array is replaced rather than changed in place, so a search works on a
consistent snapshot while another thread adds.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from scipy.sparse import _sparsetools

from tunestudio.ops.cache_index import Match, best_rows

TAIL_MIN, TAIL_MAX = 256, 4096


@dataclass(frozen=True)
class _Sealed:
    """Rows ``[0, size)`` by bucket: the rows and values of bucket b are at indptr[b]:indptr[b+1]."""

    size: int
    indptr: (
        np.ndarray
    )  # int32 (as the row ids: SciPy's kernels take one index type), dimensions + 1
    rows: np.ndarray  # int32
    values: np.ndarray  # float32

    def scores(self, buckets: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Dot products of the query (nonzero ``buckets`` with ``weights``) with every row.

        SciPy's own kernels for ``matrix[buckets].T @ weights`` (row gather, then a
        compressed-column product), called directly: through ``scipy.sparse`` the checks and
        index-type negotiation of the two calls cost more than the arithmetic at 10k rows.
        """
        out = np.zeros(self.size, dtype=np.float32)
        lengths = self.indptr[buckets + 1] - self.indptr[buckets]
        gathered = np.zeros(buckets.shape[0] + 1, dtype=np.int32)
        np.cumsum(lengths, out=gathered[1:])
        rows = np.empty(int(gathered[-1]), dtype=np.int32)
        values = np.empty(int(gathered[-1]), dtype=np.float32)
        count = buckets.shape[0]
        _sparsetools.csr_row_index(
            count, buckets, self.indptr, self.rows, self.values, rows, values
        )
        _sparsetools.csc_matvec(self.size, count, gathered, rows, values, weights, out)
        return out


class SparseIndex:
    """Unit vectors with their keys; ``search`` returns the closest above a threshold, exactly."""

    def __init__(self, dimensions: int) -> None:
        self.dimensions = dimensions
        empty = np.zeros(0, dtype=np.float32)
        self._sealed = _Sealed(
            0, np.zeros(dimensions + 1, dtype=np.int32), empty.astype(np.int32), empty
        )
        self._tail = np.zeros((dimensions, TAIL_MIN), dtype=np.float32)  # bucket-major
        self._tail_size = 0
        self._removed = np.zeros(TAIL_MIN, dtype=bool)
        self._keys: list[str] = []
        self._texts: list[str] = []
        self._rows: dict[str, int] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: str) -> bool:
        return key in self._rows

    def add(self, key: str, text: str, vector: np.ndarray) -> None:
        """Add one entry (a key already present is left as it is)."""
        self.add_many([(key, text, vector)])

    def add_many(self, entries: list[tuple[str, str, np.ndarray]]) -> None:
        """Add entries in order, merging the tail into the sealed rows whenever it fills."""
        with self._lock:
            for key, text, vector in entries:
                if key in self._rows:
                    continue
                column = np.asarray(vector, dtype=np.float32).reshape(-1)
                if column.shape[0] != self.dimensions:
                    raise ValueError(
                        f"vectors have {column.shape[0]} dimensions, not {self.dimensions}"
                    )
                if self._tail_size == self._tail.shape[1]:
                    self._merge_tail()
                self._tail[:, self._tail_size] = column
                self._tail_size += 1
                self._rows[key] = len(self._keys)
                self._keys.append(key)
                self._texts.append(text)
                if len(self._keys) > self._removed.shape[0]:
                    self._removed = np.concatenate([self._removed, np.zeros_like(self._removed)])

    def remove(self, key: str) -> None:
        """Make an entry unfindable (its answer expired or was evicted)."""
        with self._lock:
            row = self._rows.get(key)
            if row is not None:
                self._removed[row] = True

    def search(self, query: np.ndarray, threshold: float, limit: int = 5) -> list[Match]:
        """Up to ``limit`` entries with cosine ≥ ``threshold``, best first."""
        with self._lock:
            sealed = self._sealed
            tail, tail_size = self._tail, self._tail_size
            removed, keys, texts = self._removed, self._keys, self._texts
        if sealed.size + tail_size == 0:
            return []
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        buckets = np.flatnonzero(q).astype(np.int32)
        weights = q[buckets]
        scores = np.concatenate(
            [sealed.scores(buckets, weights), _tail_scores(tail[buckets, :tail_size], weights)]
        )
        scores[removed[: scores.shape[0]]] = -np.inf
        best = best_rows(scores, threshold, limit)
        return [Match(keys[i], texts[i], float(scores[i])) for i in best]

    def _merge_tail(self) -> None:
        """Move the tail's rows into a new sealed structure and start an empty, larger tail."""
        old = self._sealed
        buckets, columns = np.nonzero(self._tail[:, : self._tail_size])  # bucket-major order
        values = self._tail[buckets, columns]
        counts = np.bincount(buckets, minlength=self.dimensions)
        before = np.concatenate([[0], np.cumsum(counts)])  # new entries before each bucket
        old_counts = np.diff(old.indptr)
        # An old entry moves right by the new entries of earlier buckets; a new entry goes after
        # its bucket's old entries: old indptr[b + 1] + its rank among all new entries.
        old_moved = np.arange(old.rows.shape[0]) + np.repeat(before[:-1], old_counts)
        new_at = old.indptr[buckets + 1] + np.arange(buckets.shape[0])
        total = old.rows.shape[0] + buckets.shape[0]
        rows = np.empty(total, dtype=np.int32)
        merged = np.empty(total, dtype=np.float32)
        rows[old_moved], merged[old_moved] = old.rows, old.values
        rows[new_at], merged[new_at] = columns + old.size, values
        size = old.size + self._tail_size
        indptr = (old.indptr + before).astype(np.int32)
        self._sealed = _Sealed(size, indptr, rows, merged)
        capacity = int(np.clip(size // 8, TAIL_MIN, TAIL_MAX))
        self._tail = np.zeros((self.dimensions, capacity), dtype=np.float32)
        self._tail_size = 0


def _tail_scores(rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``weights @ rows`` without BLAS: a BLAS call leaves OpenBLAS's threads spinning for a
    while, and on a 2-core machine they took the core the next question's morphological
    analysis needed (a semantic miss took 1.5x as long). The sparse kernels use no BLAS."""
    scores: np.ndarray = np.einsum("i,ij->j", weights, rows)  # einsum's own loop, no BLAS
    return scores
