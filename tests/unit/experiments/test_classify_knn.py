"""The kNN classifier on small labelled sets, and the embeddings kept in the run folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tunestudio.experiments.knn import KnnClassifier, embed_sets


def _unit(*angles: float) -> np.ndarray:
    """Unit vectors in the plane at ``angles`` (degrees): cosine order = angle order."""
    radians = np.radians(angles)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1)


# Three of "a" near 0°, two of "b" near 90°, one "c" at 180°.
TRAIN = _unit(0, 10, 20, 80, 95, 180)
LABELS = ["a", "a", "a", "b", "b", "c"]


def test_k1_is_the_label_of_the_most_similar_training_vector() -> None:
    knn = KnnClassifier(TRAIN, LABELS)
    assert knn.predict(_unit(5, 85, 170, 100), k=1) == ["a", "b", "c", "b"]


def test_a_larger_k_lets_the_majority_outvote_the_nearest() -> None:
    knn = KnnClassifier(TRAIN, LABELS)
    # 60°: nearest is b (80°), but of the five nearest, three are a.
    assert knn.predict(_unit(60), k=1) == ["b"]
    assert knn.predict(_unit(60), k=5) == ["a"]


def test_a_tie_goes_to_the_label_of_the_nearer_neighbour_not_the_alphabet() -> None:
    knn = KnnClassifier(_unit(0, 30, 100, 120), ["z", "a", "b", "z"])
    # At 108°: neighbours by similarity b(100), z(120), a(30), z(0); k=2 ties b and z → b.
    assert knn.predict(_unit(108), k=2) == ["b"]
    # At 10°: z(0), a(30) tie at k=2 → z, the nearer, though "a" sorts first.
    assert knn.predict(_unit(10), k=2) == ["z"]


def test_k_beyond_the_training_rows_uses_them_all_and_bad_input_is_refused() -> None:
    knn = KnnClassifier(TRAIN[:2], LABELS[:2])
    assert knn.predict(_unit(170), k=50) == ["a"]
    with pytest.raises(ValueError, match="at least 1"):
        knn.predict(_unit(0), k=0)
    with pytest.raises(ValueError, match="one label per vector"):
        KnnClassifier(TRAIN, LABELS[:3])


def test_embeddings_are_kept_and_reused_only_for_the_same_texts(
    llama: Path, tmp_path: Path
) -> None:
    spec, path = f"hf:{llama}", tmp_path / "embeddings" / "rand.npz"
    train, test = ["결제가 두 번 됐어요", "택배가 안 와요"], ["환불은 언제 되나요"]
    first = embed_sets(spec, train, test, path)
    assert first.train.shape == (2, 32) and first.test.shape == (1, 32)
    assert np.allclose(np.linalg.norm(first.train, axis=1), 1.0, atol=1e-5)
    assert first.seconds > 0 and path.is_file()

    again = embed_sets(spec, train, test, path)
    assert again.seconds == 0.0  # read from the folder, nothing embedded
    assert np.array_equal(again.train, first.train) and np.array_equal(again.test, first.test)

    changed = embed_sets(spec, [*train, "비밀번호를 잊었어요"], test, path)
    assert changed.seconds > 0 and changed.train.shape == (3, 32)
    assert np.allclose(changed.train[:2], first.train, atol=1e-5)
