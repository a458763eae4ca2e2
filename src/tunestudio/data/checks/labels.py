"""Classification checks: which task this is, the label table, rare, too many, conflicting and
look-alike labels.

A label is the Completion exactly as written, since that is the string the model learns to
produce; look-alikes (``오류 해결`` / ``오류해결``) are found and reported, not merged.
"""

from __future__ import annotations

from collections import Counter

from tunestudio.data.checks.report import LabelCount, Task
from tunestudio.data.checks.view import DatasetView, Pair
from tunestudio.data.normalize import exact_key, loose_key
from tunestudio.data.problems import Problem, shown_label

MAX_LABELS = 15  # CLOVA Studio's advice for multi-class tuning
MIN_LABEL_ROWS = 200  # CLOVA Studio's advice per class
GUESS_MAX_LABELS = 50  # more distinct completions than this is not a label set
_GUESS_MAX_LABEL_CHARS = 100
# A few multi-row conversations in a label set are usually C_ID slips, not dialogue.
_GUESS_MAX_MULTI_TURN = 0.1
_SIMILAR_MAX_LABELS = 300  # pairwise edit distance beyond this would be quadratic work
_SIMILAR_MAX_EDITS = 2
_SIMILAR_MAX_RATIO = 0.15  # 1 edit in 7+ characters, 2 in 14+: "긍정"/"부정" stay apart


def decide_task(view: DatasetView, task: Task | None) -> tuple[Task, bool, str]:
    """(task, assumed?, reason): the given task, or a guess from the completions."""
    if task is not None:
        return task, False, "작업을 직접 지정했습니다"
    multi = sum(len(conv) > 1 for conv in view.conversations)
    if multi > _GUESS_MAX_MULTI_TURN * len(view.conversations):
        return "generation", True, "여러 턴 대화가 많아 생성(generation) 작업으로 판단했습니다"
    counts = Counter(exact_key(p.completion) for p in view.pairs if p.completion.strip())
    total = sum(counts.values())
    if not view.has_completion or not total:
        return "generation", True, "Completion이 없어 생성(generation) 작업으로 판단했습니다"
    repeated = sum(n for n in counts.values() if n >= 3)
    longest = max(len(label) for label in counts)
    if (
        len(counts) <= GUESS_MAX_LABELS
        and repeated >= 0.9 * total
        and longest <= _GUESS_MAX_LABEL_CHARS
    ):
        return (
            "classification",
            True,
            f"Completion이 {len(counts)}가지 짧은 값이고 대부분 여러 번 쓰여 분류(classification) "
            "작업으로 판단했습니다",
        )
    return (
        "generation",
        True,
        f"Completion(서로 다른 값 {len(counts):,}개)이 라벨 모음처럼 보이지 않아 생성(generation) "
        "작업으로 판단했습니다",
    )


def _rows_by_label(view: DatasetView) -> dict[str, list[Pair]]:
    groups: dict[str, list[Pair]] = {}
    for pair in view.pairs:
        if pair.completion.strip():
            groups.setdefault(pair.completion, []).append(pair)
    return groups


def label_table(view: DatasetView) -> list[LabelCount]:
    """Every label with its count, share and first row, most used first."""
    groups = _rows_by_label(view)
    total = sum(len(g) for g in groups.values()) or 1
    table = [LabelCount(label, len(g), len(g) / total, g[0].row) for label, g in groups.items()]
    return sorted(table, key=lambda c: (-c.count, c.first_row))


def check_labels(
    view: DatasetView, labels: list[LabelCount], size_rules: bool = True
) -> list[Problem]:
    """Too many labels, rare labels and look-alike labels.

    The first two are advice on how much training data a label needs; ``size_rules=False``
    (for a test set) leaves them out and checks only for look-alikes.
    """
    column = view.pairs[0].completion_column if view.pairs else None
    if not size_rules:
        return _similar_labels(view, labels, column)
    problems: list[Problem] = []
    if len(labels) > MAX_LABELS:
        problems.append(
            Problem(
                "warning",
                "too-many-labels",
                f"라벨이 {len(labels)}개입니다. CLOVA Studio 분류 튜닝은 {MAX_LABELS}개 이하를 권장합니다",
                "비슷한 라벨을 합치거나 작업을 둘로 나누세요",
                view.file,
                None,
                column,
                view.row_label,
            )
        )
    for label in labels:
        if label.count < MIN_LABEL_ROWS:
            problems.append(
                Problem(
                    "warning",
                    "label-rare",
                    f"라벨 {_snippet(label.label)}의 예제가 {label.count}개입니다 (처음 나온 "
                    f"{view.row_word} {label.first_row}). 분류 튜닝은 라벨마다 {MIN_LABEL_ROWS}개 이상을 권장합니다",
                    "이 라벨의 예제를 늘리거나, 오타라면 맞는 라벨로 고치세요",
                    view.file,
                    None,
                    column,
                    view.row_label,
                )
            )
    return problems + _similar_labels(view, labels, column)


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance of ``a`` and ``b``, or ``limit + 1`` once it surely exceeds it."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        cur = [i]
        for j, char_b in enumerate(b, start=1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (char_a != char_b)))
        if min(cur) > limit:
            return limit + 1
        prev = cur
    return prev[-1]


def _look_alike(a: str, b: str) -> int | None:
    """0 when two loose keys are equal, the number of edits when they are close, else None."""
    if a == b:
        return 0
    limit = min(_SIMILAR_MAX_EDITS, int(_SIMILAR_MAX_RATIO * max(len(a), len(b))))
    if limit < 1:
        return None
    edits = edit_distance(a, b, limit)
    return edits if edits <= limit else None


def _similar_labels(
    view: DatasetView, labels: list[LabelCount], column: str | None
) -> list[Problem]:
    """Each label that looks like a more used one (labels are sorted most used first)."""
    if len(labels) > _SIMILAR_MAX_LABELS:
        return []
    keys = [loose_key(label.label) for label in labels]
    problems: list[Problem] = []
    for i, label in enumerate(labels):
        for j in range(i):  # compare with the more used labels only; keep the first look-alike
            edits = _look_alike(keys[j], keys[i]) if keys[i] and keys[j] else None
            if edits is None:
                continue
            problems.append(_similar_problem(view, labels[j], label, edits, column))
            break
    return problems


def _similar_problem(
    view: DatasetView, keep: LabelCount, other: LabelCount, edits: int, column: str | None
) -> Problem:
    how = "띄어쓰기·문장부호·대소문자만 다릅니다" if edits == 0 else f"{edits}글자만 다릅니다"
    return Problem(
        "warning",
        "similar-labels",
        f"라벨 {other.label!r}({other.count}개)와 {keep.label!r}({keep.count}개)는 {how}. "
        "같은 라벨이라면 하나로 통일해야 합니다",
        f"더 많이 쓰인 {keep.label!r}(으)로 고치세요 "
        f"(clean 레시피의 relabel 단계: {other.label!r} → {keep.label!r})",
        view.file,
        other.first_row,
        column,
        view.row_label,
    )


def check_conflicts(view: DatasetView) -> list[Problem]:
    """The same Text labelled differently: every row involved, grouped by label."""
    by_text: dict[str, list[Pair]] = {}
    for pair in view.pairs:
        if pair.text.strip() and pair.completion.strip():
            by_text.setdefault(exact_key(pair.text), []).append(pair)
    problems: list[Problem] = []
    for group in by_text.values():
        by_label: dict[str, list[int]] = {}
        for pair in group:
            by_label.setdefault(exact_key(pair.completion), []).append(pair.row)
        if len(by_label) < 2:
            continue
        shown = " / ".join(
            f"{_snippet(label)} {view.row_word} {', '.join(map(str, rows))}"
            for label, rows in by_label.items()
        )
        problems.append(
            Problem(
                "error",
                "label-conflict",
                f"같은 Text {_snippet(group[0].text)}에 라벨이 다릅니다: {shown}",
                "한 문장에는 한 라벨만 있어야 합니다. 맞는 라벨로 고치거나 틀린 행을 지우세요",
                view.file,
                group[0].row,
                group[0].completion_column,
                view.row_label,
            )
        )
    return problems


def _snippet(text: str, width: int = 40) -> str:
    flat = " ".join(text.split())
    return shown_label(flat if len(flat) <= width else flat[: width - 1] + "…")
