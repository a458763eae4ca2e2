"""Scoring an embedder on a labelled pair set: AUC per label, the best-F1 threshold."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from tunestudio.data.table import write_table
from tunestudio.errors import DataFormatError
from tunestudio.ops.embed_eval import LabelledPair, read_pairs, score_pairs
from tunestudio.ops.embed_hash import KoreanHashEmbedder


class Lookup:
    """A real Embedder over fixed 2-d unit vectors: the scores are known exactly."""

    name = "lookup"
    dimensions = 2

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.vectors[t] for t in texts]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [1 for _ in texts]

    def close(self) -> None:
        pass


def test_perfectly_separated_pairs() -> None:
    e = Lookup({"a": [1.0, 0.0], "a2": [1.0, 0.0], "b": [0.0, 1.0], "c": [0.6, 0.8]})
    pairs = [
        LabelledPair("a", "a2", "paraphrase"),  # cosine 1.0
        LabelledPair("a", "c", "number"),  # 0.6
        LabelledPair("a", "b", "unrelated"),  # 0.0
    ]
    result = score_pairs(e, pairs)
    assert result.auc == {"number": 1.0, "unrelated": 1.0, "all": 1.0}
    assert (result.threshold, result.precision, result.recall, result.f1) == (1.0, 1.0, 1.0, 1.0)
    assert result.texts_per_second > 0


def test_a_look_alike_above_the_paraphrase_lowers_its_auc() -> None:
    e = Lookup({"a": [1.0, 0.0], "a2": [0.6, 0.8], "c": [1.0, 0.0], "b": [0.0, 1.0]})
    pairs = [
        LabelledPair("a", "a2", "paraphrase"),  # 0.6
        LabelledPair("a", "c", "negation"),  # 1.0: the look-alike wins
        LabelledPair("a", "b", "unrelated"),  # 0.0
    ]
    result = score_pairs(e, pairs)
    assert result.auc == {"negation": 0.0, "unrelated": 1.0, "all": 0.5}
    assert result.precision == pytest.approx(0.5)


def test_hash_ko_on_a_small_korean_set(tmp_path: Path) -> None:
    rows = [
        {"a": "환불하고 싶어요", "b": "환불 받으려면 어떻게 해요?", "label": "paraphrase"},
        {"a": "비밀번호를 잊어버렸어요", "b": "비밀번호 까먹었어요", "label": "paraphrase"},
        {"a": "환불하고 싶어요", "b": "오늘 날씨 어때요", "label": "unrelated"},
        {"a": "비밀번호를 잊어버렸어요", "b": "김치찌개 레시피 알려줘", "label": "unrelated"},
    ]
    path = write_table(tmp_path / "pairs.csv", ["a", "b", "label"], rows)
    result = score_pairs(KoreanHashEmbedder(), read_pairs(path))
    assert result.auc["unrelated"] == 1.0


def test_pair_file_problems_name_the_file_row_and_column(tmp_path: Path) -> None:
    path = write_table(tmp_path / "p.csv", ["a", "b"], [{"a": "x", "b": "y"}])
    with pytest.raises(DataFormatError, match="label") as caught:
        read_pairs(path)
    assert caught.value.where == str(path)
    rows = [{"a": "x", "b": "y", "label": "paraphrase"}, {"a": "x", "b": " ", "label": "number"}]
    path = write_table(tmp_path / "q.csv", ["a", "b", "label"], rows)
    with pytest.raises(DataFormatError, match="3행의 b 값이 비어 있습니다") as caught:
        read_pairs(path)
    assert caught.value.where == f"{path}:3"
