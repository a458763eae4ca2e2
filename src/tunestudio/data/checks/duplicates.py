"""Exact and near-duplicate examples, each group reported once with every row in it.

The unit is a conversation (a single-turn row is a conversation of one turn): two
conversations are duplicates when every turn's Text and Completion match after
:func:`exact_key`; near-duplicates are found with MinHash LSH among the distinct ones (the
first conversation of each exact group), so exact copies are listed only under ``duplicate``.
"""

from __future__ import annotations

from tunestudio.data.checks.report import Task
from tunestudio.data.checks.view import DatasetView, Pair
from tunestudio.data.near_dup import near_duplicate_groups
from tunestudio.data.normalize import exact_key
from tunestudio.data.problems import Problem, shown_label

_HINT = "하나만 남기고 지우세요 (clean 레시피의 dedup 단계가 처음 것만 남깁니다)"


def _key(conv: list[Pair]) -> tuple[str, ...]:
    return tuple(f"{exact_key(p.text)}\x00{exact_key(p.completion)}" for p in conv)


def _text_key(conv: list[Pair]) -> tuple[str, ...]:
    return tuple(exact_key(p.text) for p in conv)


def _joined(conv: list[Pair], task: Task) -> str:
    # A label set shares its few labels across thousands of rows, so for classification
    # only the inputs are compared; appending the label would make every pair look closer.
    if task == "classification":
        return "\n".join(p.text for p in conv)
    return "\n".join(f"{p.text}\n{p.completion}" for p in conv)


def check_duplicates(view: DatasetView, task: Task, threshold: float) -> list[Problem]:
    """Groups of identical conversations, then groups of near-identical distinct ones."""
    groups: dict[tuple[str, ...], list[list[Pair]]] = {}
    for conv in view.conversations:
        if any(p.text.strip() or p.completion.strip() for p in conv):
            groups.setdefault(_key(conv), []).append(conv)
    problems = [
        _problem(view, "duplicate", members, "완전히 같습니다", _HINT)
        for members in groups.values()
        if len(members) > 1
    ]
    return problems + _near(view, [g[0] for g in groups.values()], task, threshold)


def _near(
    view: DatasetView, distinct: list[list[Pair]], task: Task, threshold: float
) -> list[Problem]:
    """Near-duplicates among the distinct conversations.

    An exact duplicate is already reported under ``duplicate``, so each exact group takes part
    only through its first conversation: the same rows are not counted twice.
    """
    problems: list[Problem] = []
    for near in near_duplicate_groups([_joined(c, task) for c in distinct], threshold):
        members = sorted((distinct[index] for index in near), key=lambda c: c[0].row)
        if task == "classification" and len({_text_key(c) for c in members}) == 1:
            continue  # same Text, other label: already a label conflict
        how = f"거의 같습니다 (문자 3-gram 유사도 {threshold:.0%} 이상)"
        labels = {exact_key(c[-1].completion) for c in members}
        if task == "classification" and len(labels) > 1:
            shown = ", ".join(f"{c[0].row} {shown_label(c[-1].completion)}" for c in members)
            how += f". 그런데 라벨이 서로 다릅니다 ({view.row_word} {shown})"
        problems.append(
            _problem(
                view,
                "near-duplicate",
                members,
                how,
                "거의 같은 예제는 학습에 보태는 것이 적고 모델을 한쪽으로 치우치게 합니다. "
                "필요 없는 것은 지우고, 라벨이 다르다면 맞는 라벨로 고치세요 "
                "(clean 레시피의 dedup 단계)",
            )
        )
    return problems


def _problem(
    view: DatasetView, code: str, members: list[list[Pair]], how: str, hint: str
) -> Problem:
    rows = ", ".join(str(conv[0].row) for conv in members)
    multi = any(len(conv) > 1 for conv in members)
    what = (
        f"{view.row_word} {rows}에서 시작하는 대화가"
        if multi
        else f"{view.row_word} {rows}의 예제가"
    )
    first = members[0][0]
    return Problem(
        "warning",
        code,
        f"{what} {how}",
        hint,
        view.file,
        first.row,
        first.text_column,
        view.row_label,
    )
