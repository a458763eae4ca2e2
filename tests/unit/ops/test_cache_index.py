"""The vector index: exact search when small, two-stage search when large, removal."""

from __future__ import annotations

import numpy as np
import pytest

from tunestudio.ops.cache_index import VectorIndex


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def near(vector: np.ndarray, cosine: float, rng: np.random.Generator) -> np.ndarray:
    """A unit vector at exactly ``cosine`` from ``vector``."""
    noise = rng.standard_normal(vector.shape)
    noise -= (noise @ vector) * vector
    noise /= np.linalg.norm(noise)
    return (cosine * vector + np.sqrt(1 - cosine**2) * noise).astype(np.float32)


def test_search_returns_matches_above_the_threshold_best_first() -> None:
    rng = np.random.default_rng(0)
    query = unit(rng.standard_normal(32))
    index = VectorIndex(32)
    index.add_many([(f"k{c}", f"t{c}", near(query, c, rng)) for c in (0.5, 0.95, 0.85, 0.2)])
    index.add("k0.95", "again", unit(rng.standard_normal(32)))  # a known key is kept as it is
    matches = index.search(query, threshold=0.8)
    assert [(m.key, m.text) for m in matches] == [("k0.95", "t0.95"), ("k0.85", "t0.85")]
    assert matches[0].score == pytest.approx(0.95, abs=1e-5)
    assert index.search(query, threshold=0.99) == [] and len(index) == 4
    index.remove("k0.95")
    assert [m.key for m in index.search(query, threshold=0.8)] == ["k0.85"]


def test_two_stage_search_finds_what_exact_search_finds() -> None:
    rng = np.random.default_rng(1)
    dims, stored = 256, 30_000
    base = unit(rng.standard_normal((stored, dims)))
    big = VectorIndex(dims, exact_limit=1_000)
    exact = VectorIndex(dims, exact_limit=stored)
    entries = [(str(i), "", base[i]) for i in range(stored)]
    big.add_many(entries)
    exact.add_many(entries)
    found = 0
    for row in rng.choice(stored, 50, replace=False):
        query = near(base[row], 0.85, rng)  # a paraphrase-like neighbour of one stored row
        want = exact.search(query, threshold=0.8, limit=1)
        got = big.search(query, threshold=0.8, limit=1)
        assert got == [] or got == want  # never a wrong or below-threshold answer
        found += got == want
    assert [m.key for m in want] == [str(row)]
    assert found >= 48  # the sketch may lose a rare hit, never invent one


def test_vectors_of_the_wrong_size_are_refused() -> None:
    with pytest.raises(ValueError, match="3 dimensions, not 4"):
        VectorIndex(4).add("k", "t", np.ones(3, dtype=np.float32))
