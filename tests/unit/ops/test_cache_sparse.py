"""The sparse index: the same matches as multiplying every row, across tail merges."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tunestudio.ops.cache_index import VectorIndex
from tunestudio.ops.cache_sparse import TAIL_MIN, SparseIndex
from tunestudio.ops.embed_hash import KoreanHashEmbedder


def sparse_rows(count: int, dims: int, nonzero: int, rng: np.random.Generator) -> np.ndarray:
    """Unit rows with ``nonzero`` entries each, drawn from a few popular buckets and many rare
    ones (as hashed n-grams are: some are in most questions)."""
    rows = np.zeros((count, dims), dtype=np.float32)
    popular = rng.choice(dims, 8, replace=False)
    for row in rows:
        picked = np.union1d(rng.choice(popular, 3), rng.choice(dims, nonzero, replace=False))
        row[picked] = rng.standard_normal(picked.shape[0])
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_search_equals_the_dense_index_across_merges() -> None:
    rng = np.random.default_rng(0)
    dims, count = 512, 3 * TAIL_MIN + 37  # several merges and a partly filled tail
    rows = sparse_rows(count, dims, 12, rng)
    sparse, dense = SparseIndex(dims), VectorIndex(dims)
    entries = [(f"k{i}", f"t{i}", rows[i]) for i in range(count)]
    for start in range(0, count, 100):  # in several calls, as a cache adds them
        sparse.add_many(entries[start : start + 100])
        dense.add_many(entries[start : start + 100])
    assert len(sparse) == count and "k5" in sparse and "nope" not in sparse
    for i in rng.choice(count, 40, replace=False):
        query = rows[i] + 0.4 * sparse_rows(1, dims, 12, rng)[0]
        query /= np.linalg.norm(query)
        got, want = sparse.search(query, 0.2, limit=3), dense.search(query, 0.2, limit=3)
        assert [m.key for m in got] == [m.key for m in want]
        assert [m.score for m in got] == pytest.approx([m.score for m in want], abs=1e-5)
        assert got[0].key == f"k{i}" and got[0].text == f"t{i}"


def test_known_keys_are_kept_and_removed_ones_not_found() -> None:
    rng = np.random.default_rng(1)
    rows = sparse_rows(TAIL_MIN + 2, 64, 6, rng)
    index = SparseIndex(64)
    index.add_many([(str(i), "", rows[i]) for i in range(TAIL_MIN + 2)])
    index.add("0", "again", rows[1])  # a known key is left as it is
    assert [m.key for m in index.search(rows[0], 0.99)] == ["0"]
    index.remove("0")  # sealed by now
    index.remove(str(TAIL_MIN + 1))  # still in the tail
    assert index.search(rows[0], 0.99) == []
    assert index.search(rows[TAIL_MIN + 1], 0.99) == []
    assert [m.key for m in index.search(rows[1], 0.99)] == ["1"]


def test_an_empty_index_and_a_query_sharing_no_bucket() -> None:
    index = SparseIndex(8)
    assert index.search(np.eye(8, dtype=np.float32)[0], 0.1) == []
    index.add("a", "", np.eye(8, dtype=np.float32)[1])
    assert index.search(np.eye(8, dtype=np.float32)[0], 0.1) == []
    with pytest.raises(ValueError, match="3 dimensions, not 8"):
        index.add("k", "t", np.ones(3, dtype=np.float32))


def test_searches_during_adds_see_a_consistent_index() -> None:
    rng = np.random.default_rng(2)
    rows = sparse_rows(4 * TAIL_MIN, 128, 8, rng)
    index = SparseIndex(128)
    index.add("first", "", rows[0])
    failures: list[str] = []

    def search() -> None:
        for _ in range(300):
            found = index.search(rows[0], 0.999, limit=1)
            if [m.key for m in found] != ["first"]:
                failures.append(repr(found))

    reader = threading.Thread(target=search)
    reader.start()
    for i in range(1, rows.shape[0]):
        index.add(str(i), "", rows[i])
    reader.join()
    assert failures == []


def test_hash_ko_questions_find_their_paraphrase() -> None:
    embedder = KoreanHashEmbedder()
    asked = ["결제가 두 번 됐어요. 환불되나요?", "비밀번호를 바꾸고 싶어요", "배송이 너무 늦어요"]
    index = SparseIndex(embedder.dimensions)
    vectors = embedder.embed_array(asked)
    index.add_many([(q, q, v) for q, v in zip(asked, vectors, strict=True)])
    query = embedder.embed_array(["결제가 두번 되었어요 환불 되나요"])[0]
    assert [m.key for m in index.search(query, 0.3)] == [asked[0]]
