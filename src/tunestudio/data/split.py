"""Split conversations into train and test without leakage.

A test set only measures something when none of its questions were seen in training. Here a
"question" is the user text of a conversation (every turn joined); conversations whose user
texts are near-duplicates (character-3-gram Jaccard ≥ threshold) or equal up to spacing and
punctuation (``loose_key``) form one group, and a group always lands on one side. With
``stratify`` each label (the completion of the last turn) keeps its share on both sides.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from tunestudio.data.near_dup import DEFAULT_THRESHOLD, NearDupIndex, near_duplicate_groups
from tunestudio.data.normalize import loose_key
from tunestudio.data.problems import shown_label
from tunestudio.data.stats import completion_label, label_counts
from tunestudio.errors import ConfigError, DataError
from tunestudio.types import Conversation

MAX_STRATIFY_LABELS = 50


@dataclass(frozen=True)
class LabelCount:
    """How many conversations with one label went to each side."""

    label: str
    train: int
    test: int

    @property
    def test_share(self) -> float:
        total = self.train + self.test
        return self.test / total if total else 0.0


@dataclass
class SplitResult:
    """The two sides, where each conversation came from, and what the split had to respect.

    ``train_index``/``test_index`` are positions in the input list (in input order).
    ``groups_kept_together`` counts the groups of two or more near-duplicate or duplicate
    conversations; ``label_counts`` is empty when the completions are not a small label set.
    ``leak_checked`` is how many test conversations were checked against train after the split.
    """

    train: list[Conversation]
    test: list[Conversation]
    train_index: list[int]
    test_index: list[int]
    groups_kept_together: int
    grouped_conversations: int
    label_counts: list[LabelCount]
    stratified: bool
    leak_checked: int
    warnings: list[str] = field(default_factory=list)


def user_text(conv: Conversation) -> str:
    """What a conversation asks: the user text of every turn, one per line."""
    return "\n".join(turn.user for turn in conv.turns)


def resolve_test_size(test_size: float, total: int) -> int:
    """A test size given as a count (int ≥ 1) or a fraction (float, 0 < x < 1) → a count.

    Fractions round half up; the tiny epsilon keeps float error from rounding a true half down
    (0.29 × 50 is 14.5, but ``0.29 * 50`` is 14.499999999999998).
    """
    if isinstance(test_size, bool) or not isinstance(test_size, (int, float)):
        raise ConfigError(
            f"test size {test_size!r} is not a number",
            hint="give a count such as 100 or a fraction such as 0.2",
        )
    if isinstance(test_size, float):
        if not 0 < test_size < 1:
            raise ConfigError(
                f"test size {test_size} is not a fraction between 0 and 1",
                hint="give a whole count such as 100 or a fraction such as 0.2",
            )
        count = math.floor(test_size * total + 0.5 + 1e-9)
        if count < 1:
            raise DataError(
                f"비율 {test_size} × 대화 {total}개 = 0개라 테스트에 넣을 대화가 없습니다",
                hint="--test-size에 더 큰 비율이나 1 이상의 개수를 주세요",
            )
    elif test_size < 1:
        raise ConfigError(
            f"test size {test_size} is less than 1",
            hint="give a count of at least 1 or a fraction such as 0.2",
        )
    else:
        count = test_size
    if count >= total:
        raise DataError(
            f"테스트 크기 {count}개가 전체 대화 수 {total}개 이상이라 학습 데이터가 남지 않습니다",
            hint=f"--test-size를 {total - 1} 이하의 개수나 1보다 작은 비율(예: 0.2)로 주세요",
        )
    return count


def leakage_groups(texts: Sequence[str], threshold: float = DEFAULT_THRESHOLD) -> list[list[int]]:
    """Every index in exactly one group: near-duplicates and loose-key duplicates join."""
    by_key: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        by_key.setdefault(loose_key(text), []).append(i)
    return _union(len(texts), [*by_key.values(), *near_duplicate_groups(texts, threshold)])


def _union(size: int, linked: Sequence[Sequence[int]]) -> list[list[int]]:
    """Connected components of ``range(size)`` where each list in ``linked`` is connected."""
    parent = list(range(size))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for members in linked:
        root = find(members[0])
        for other in members[1:]:
            parent[find(other)] = root
    groups: dict[int, list[int]] = {}
    for i in range(size):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def split_conversations(
    convs: Sequence[Conversation],
    test_size: float,
    stratify: bool = False,
    seed: int = 0,
    near_dup_threshold: float = DEFAULT_THRESHOLD,
) -> SplitResult:
    """Split ``convs`` into train and test with exactly ``test_size`` test conversations.

    Near-duplicate and duplicate conversations stay on one side; with ``stratify`` each label
    keeps its share (within one conversation, unless a near-duplicate group is bigger than
    what its label has left). The same seed gives the same split.
    """
    if not 0 < near_dup_threshold <= 1:
        raise ConfigError(
            f"near-duplicate threshold {near_dup_threshold} is outside (0, 1]",
            hint="use a Jaccard similarity such as 0.8 (1.0 keeps only exact duplicates together)",
        )
    if len(convs) < 2:
        raise DataError(
            f"대화가 {len(convs)}개뿐이라 학습/테스트로 나눌 수 없습니다",
            hint="대화가 2개 이상인 데이터셋을 주세요",
        )
    n_test = resolve_test_size(test_size, len(convs))
    labels = [completion_label(c) for c in convs]
    counts = label_counts(convs)
    labelled = _looks_like_labels(counts, len(convs))
    stratified = stratify and labelled
    if stratified:
        _require_two_per_label(counts)
    keys = labels if stratified else [""] * len(convs)
    texts = [user_text(c) for c in convs]
    test_set, groups = _split_groups(texts, keys, n_test, seed, near_dup_threshold)
    big = [g for g in groups if len(g) > 1]
    return SplitResult(
        train=[c for i, c in enumerate(convs) if i not in test_set],
        test=[c for i, c in enumerate(convs) if i in test_set],
        train_index=[i for i in range(len(convs)) if i not in test_set],
        test_index=sorted(test_set),
        groups_kept_together=len(big),
        grouped_conversations=sum(len(g) for g in big),
        label_counts=_side_counts(labels, test_set, counts) if labelled else [],
        stratified=stratified,
        leak_checked=len(test_set),
        warnings=[_not_labels(counts)] if stratify and not labelled else [],
    )


def _split_groups(
    texts: list[str], keys: list[str], n_test: int, seed: int, threshold: float
) -> tuple[set[int], list[list[int]]]:
    """Pick the test side from whole groups, then check it against train independently.

    The groups come from a banded MinHash search; the check uses a separate LSH index
    (:class:`NearDupIndex`), verified by exact Jaccard. Both are probabilistic, so when the
    check finds a pair the first search missed, every pair the index knows is joined and the
    pick is redone (same seed). A leak that survives that is a bug: AssertionError.
    """
    groups = leakage_groups(texts, threshold)
    quotas = _quotas(Counter(keys), n_test)
    test_set = _pick_test(groups, keys, quotas, n_test, random.Random(seed))
    if cross_pairs(texts, test_set, threshold):
        groups = _union(len(texts), [*groups, *_index_pairs(texts, threshold)])
        test_set = _pick_test(groups, keys, quotas, n_test, random.Random(seed))
        train = [t for i, t in enumerate(texts) if i not in test_set]
        verify_no_leak(train, [texts[i] for i in sorted(test_set)], threshold)
    return test_set, groups


def _index_pairs(texts: Sequence[str], threshold: float) -> list[tuple[int, int]]:
    """Every near-duplicate pair as the checking index sees them."""
    index = NearDupIndex(threshold)
    pairs: list[tuple[int, int]] = []
    for j, text in enumerate(texts):
        pairs += [(i, j) for i, _ in index.query(text)]
        index.add(text)
    return pairs


def _not_labels(counts: Counter[str]) -> str:
    return (
        f"completions are not a small label set ({len(counts)} distinct values), so "
        "--stratify does not apply; made a plain random split instead"
    )


def _looks_like_labels(counts: Counter[str], total: int) -> bool:
    """Few distinct completions that repeat on average: classification labels.

    Looser than the stats rule (every label used twice) on purpose, so that a label used once
    is reported as an error instead of silently turning stratification off.
    """
    return 0 < len(counts) <= MAX_STRATIFY_LABELS and len(counts) * 2 <= total


def _require_two_per_label(counts: Counter[str]) -> None:
    rare = [label for label, n in counts.items() if n < 2]
    if rare:
        shown = ", ".join(shown_label(label) for label in rare[:10])
        more = f" 외 {len(rare) - 10}개" if len(rare) > 10 else ""
        raise DataError(
            f"레이블 {shown}{more}의 대화가 1개뿐이라 층화 분할(--stratify)을 할 수 없습니다",
            hint="그 레이블의 예시를 더 만들거나, 오타라면 고치거나, --stratify 없이 나누세요",
        )


def _quotas(totals: Counter[str], n_test: int) -> dict[str, int]:
    """Test rows per label, proportional and summing to ``n_test`` (largest remainder)."""
    size = sum(totals.values())
    exact = {label: count * n_test / size for label, count in totals.items()}
    quotas = {label: math.floor(share) for label, share in exact.items()}
    by_remainder = sorted(exact, key=lambda label: (quotas[label] - exact[label], label))
    for label in by_remainder[: n_test - sum(quotas.values())]:
        quotas[label] += 1
    return quotas


def _pick_test(
    groups: list[list[int]],
    keys: list[str],
    quotas: dict[str, int],
    n_test: int,
    rng: random.Random,
) -> set[int]:
    """Whole groups, in random order, that fill the label quotas and exactly ``n_test``."""
    order = list(range(len(groups)))
    rng.shuffle(order)
    per_group = [Counter(keys[i] for i in group) for group in groups]
    left = dict(quotas)
    chosen: list[int] = []
    need = n_test

    def take(g: int) -> None:
        nonlocal need
        chosen.append(g)
        need -= len(groups[g])
        for key, n in per_group[g].items():
            left[key] -= n

    def overshoot(g: int) -> int:
        return sum(max(0, n - left[key]) for key, n in per_group[g].items())

    for g in order:  # first pass: only groups that fit every label's quota
        if need and overshoot(g) == 0:
            take(g)
    # Second pass, only when groups are too big for what a label has left: fill the exact size
    # with the groups that overshoot the label quotas least.
    taken = set(chosen)
    for g in sorted((g for g in order if g not in taken), key=overshoot):
        if len(groups[g]) <= need:
            take(g)
    if need:
        _cannot_fill(n_test, n_test - need, max(len(g) for g in groups))
    return {i for g in chosen for i in groups[g]}


def _cannot_fill(n_test: int, placed: int, largest: int) -> None:
    raise DataError(
        f"비슷한 대화 묶음을 나누지 않고는 테스트에 정확히 {n_test}개를 넣을 수 없습니다 "
        f"({placed}개까지 가능, 가장 큰 묶음 {largest}개)",
        hint=f"--test-size {placed}처럼 크기를 바꾸거나, 다른 --seed를 쓰거나, "
        "--near-dup-threshold를 높여 묶음을 작게 하세요",
    )


def _side_counts(labels: list[str], test: set[int], counts: Counter[str]) -> list[LabelCount]:
    in_test = Counter(labels[i] for i in test)
    return [
        LabelCount(label, total - in_test[label], in_test[label])
        for label, total in counts.most_common()
    ]


def cross_pairs(
    texts: Sequence[str], test: set[int], threshold: float = DEFAULT_THRESHOLD
) -> list[tuple[int, int]]:
    """(test index, train index) pairs of near-duplicate or loose-key-equal texts."""
    index = NearDupIndex(threshold)
    train = [i for i in range(len(texts)) if i not in test]
    by_key = {loose_key(texts[i]): i for i in train}
    for i in train:
        index.add(texts[i])
    pairs: list[tuple[int, int]] = []
    for i in sorted(test):
        if (twin := by_key.get(loose_key(texts[i]))) is not None:
            pairs.append((i, twin))
        pairs += [(i, train[j]) for j, _ in index.query(texts[i])]
    return pairs


def verify_no_leak(
    train_texts: Sequence[str], test_texts: Sequence[str], threshold: float = DEFAULT_THRESHOLD
) -> int:
    """Check that no test text has a near-duplicate or loose-key duplicate in train.

    Returns how many test texts were checked. A hit after :func:`split_conversations` means
    its grouping is broken, so this raises AssertionError (a bug to report), not a user error.
    """
    texts = [*train_texts, *test_texts]
    leaks = cross_pairs(texts, set(range(len(train_texts), len(texts))), threshold)
    if leaks:
        raise AssertionError(
            f"internal error: {len(leaks)} test/train pair(s) are near-duplicates "
            f"(first: {texts[leaks[0][0]][:80]!r}); please report this as a tunestudio bug"
        )
    return len(test_texts)
