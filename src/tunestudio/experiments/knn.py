"""Classification by embedding search: embed the training texts once, label a question by a vote
of its nearest training texts (the seed's "Search API" side of search vs chat completion).

Embeddings are computed once per embedder for the whole training set and the test set and kept
in the run folder (``embeddings/<name>.npz``), so every training size × seed × k is a cheap
nearest-neighbour lookup over a subset of rows, and a rerun embeds nothing again.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tunestudio.errors import ConfigError

if TYPE_CHECKING:
    from tunestudio.ops.embeddings import Embedder


class KnnClassifier:
    """Labels texts by a vote of the ``k`` training vectors most similar to them (cosine).

    The vote is a plain majority; a tie goes to the tied label whose member is nearest, so
    ``k=1`` is the nearest neighbour's label and no tie is settled by alphabetical order.
    """

    def __init__(self, vectors: np.ndarray, labels: Sequence[str]) -> None:
        from sklearn.neighbors import NearestNeighbors

        if len(vectors) != len(labels) or not len(labels):
            raise ValueError(f"need one label per vector, got {len(vectors)} and {len(labels)}")
        self._labels = list(labels)
        # Brute force: exact cosine over a few thousand rows is fast, and an exact search keeps
        # the comparison with the generative model about the embedder, not the index.
        self._index = NearestNeighbors(metric="cosine", algorithm="brute").fit(vectors)

    def predict(self, queries: np.ndarray, k: int) -> list[str]:
        """The voted label of each query row (k is capped at the number of training rows)."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        _, neighbours = self._index.kneighbors(queries, n_neighbors=min(k, len(self._labels)))
        return [_vote([self._labels[i] for i in row]) for row in neighbours]


def _vote(labels: list[str]) -> str:
    # Counter.most_common is stable: equal counts keep first-seen order, and the labels come
    # nearest first, so a tie goes to the nearer neighbour.
    return Counter(labels).most_common(1)[0][0]


@dataclass
class EmbeddedSets:
    """The training and test texts as unit vectors, and what embedding them cost now."""

    name: str  # the embedder's own name (its spec)
    train: np.ndarray
    test: np.ndarray
    seconds: float  # wall time spent embedding in this run; 0 when read from the folder
    test_seconds: float  # of which the test texts


def embed_sets(
    spec: str | None,
    train_texts: Sequence[str],
    test_texts: Sequence[str],
    path: Path,
) -> EmbeddedSets:
    """Embed both sets with the embedder ``spec`` (None: the default), reusing ``path``.

    ``path`` (an ``.npz``) is reused only when it holds the same embedder's vectors of exactly
    these texts; otherwise the texts are embedded and the file is replaced.
    """
    embedder = open_embedder(spec)
    try:
        key = _key(embedder, train_texts, test_texts)
        cached = _read(path, key)
        if cached is not None:
            return EmbeddedSets(embedder.name, cached[0], cached[1], 0.0, 0.0)
        started = time.perf_counter()
        train = _vectors(embedder, train_texts)
        middle = time.perf_counter()
        test = _vectors(embedder, test_texts)
        ended = time.perf_counter()
    finally:
        embedder.close()
    _write(path, key, train, test)
    return EmbeddedSets(embedder.name, train, test, ended - started, ended - middle)


def open_embedder(spec: str | None) -> Embedder:
    """The embedder of ``spec``; with None, tunestudio's default embedder."""
    from tunestudio.ops.embeddings import load_embedder

    return load_embedder(spec)


def _vectors(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    vectors = np.asarray(embedder.embed(list(texts)), dtype=np.float32)
    if vectors.shape != (len(texts), embedder.dimensions):
        raise ConfigError(
            f"the embedder {embedder.name} returned {vectors.shape[0]} vectors for "
            f"{len(texts)} texts",
            where=embedder.name,
            hint="use another embedder; this one does not return one vector per text",
        )
    return vectors


def _key(embedder: Embedder, train: Sequence[str], test: Sequence[str]) -> str:
    digest = hashlib.sha256()
    identity = [embedder.name, embedder.dimensions, list(train), list(test)]
    digest.update(json.dumps(identity, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def _read(path: Path, key: str) -> tuple[np.ndarray, np.ndarray] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path) as data:
            if str(data["key"]) != key:
                return None  # other texts or another embedder: embed again
            return data["train"], data["test"]
    except (OSError, ValueError, KeyError):
        return None  # a damaged file is cheaper to redo than to explain


def _write(path: Path, key: str, train: np.ndarray, test: np.ndarray) -> None:
    # Written beside and renamed, so a stopped run never leaves half a file to be trusted.
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    np.savez_compressed(temp, key=np.array(key), train=train, test=test)
    os.replace(temp, path)
