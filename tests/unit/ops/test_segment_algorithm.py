"""The segmentation algorithm on hand-made sentence vectors and sizes (no model needed)."""

from __future__ import annotations

import itertools

from tunestudio.ops.segment import (
    AUTO_ALPHA,
    merge_small,
    segment,
    size_starts,
    split_large,
    split_sentences,
    topic_starts,
)

# Two topics: three sentences near one direction, then three near another.
A, A2, B, B2 = [1.0, 0.0, 0.1], [0.9, 0.1, 0.0], [0.0, 1.0, 0.1], [0.1, 0.9, 0.0]
TWO_TOPICS = [A, A2, A, B, B2, B]


def test_the_topic_change_is_the_deepest_gap() -> None:
    assert topic_starts(TWO_TOPICS, alpha=0.0, seg_count=2) == {3}
    assert topic_starts(TWO_TOPICS, alpha=0.0, seg_count=-1) == {3}
    assert topic_starts(TWO_TOPICS, alpha=AUTO_ALPHA, seg_count=-1) == {3}


def test_one_topic_has_no_break_and_seg_count_one_never_breaks() -> None:
    assert topic_starts([A, A, A, A], alpha=1.5, seg_count=-1) == set()
    assert topic_starts(TWO_TOPICS, alpha=0.0, seg_count=1) == set()


def test_higher_alpha_never_gives_fewer_breaks() -> None:
    three = [A, A2, B, B2, [0.0, 0.1, 1.0], [0.1, 0.0, 0.9], A]
    found = [topic_starts(three, alpha=a, seg_count=-1) for a in (-1.5, -0.5, 0.0, 0.5, 1.5)]
    assert all(low <= high for low, high in itertools.pairwise(found))


def test_sizes_pack_and_blank_lines_break() -> None:
    assert size_starts([40, 40, 40, 40], set(), -1, 100) == {2}
    assert size_starts([10, 10, 10], {2}, -1, 100) == {2}
    assert size_starts([10, 10, 10, 10, 10, 10], set(), 3, 1000) == {2, 4}


def test_split_large_and_merge_small() -> None:
    sizes = [30, 30, 30, 200, 5]
    assert split_large([[0, 1, 2, 3, 4]], sizes, 70) == [[0, 1], [2], [3], [4]]
    assert merge_small([[0], [1], [2, 3], [4]], sizes, 50, 100) == [[0, 1], [2, 3], [4]]
    assert merge_small([[0], [1]], sizes, -1, 100) == [[0], [1]]  # -1: auto, nothing merged


def test_kiwi_splits_korean_sentences_and_lines() -> None:
    sentences, after_blank = split_sentences("첫 문장입니다. 둘째 문장이죠?\n\n셋째 줄\n넷째 줄")
    assert [s.text for s in sentences] == ["첫 문장입니다.", "둘째 문장이죠?", "셋째 줄", "넷째 줄"]
    assert after_blank == {2} and all(s.morphemes > 0 for s in sentences)


def test_segment_with_an_embedder_uses_its_vectors() -> None:
    texts = ["배가 고픕니다.", "밥을 먹었어요.", "비가 옵니다.", "우산을 챙기세요."]
    vectors = dict(zip(texts, [A, A2, B, B2], strict=True))
    found = segment(" ".join(texts), embed=lambda batch: [vectors[t] for t in batch])
    assert found.spans == [[0, 1], [2, 3]] and found.paragraphs[1] == texts[2:]
