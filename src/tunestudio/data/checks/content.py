"""Content checks on every pair: empty fields, CLOVA's 4,000-character limit, dataset size."""

from __future__ import annotations

from tunestudio.data.checks.report import Target
from tunestudio.data.checks.view import DatasetView, Pair
from tunestudio.data.problems import Problem

MAX_CHARS = 4000  # CLOVA Studio's limit for one Text or Completion
MIN_ROWS = 100  # CLOVA Studio refuses smaller datasets
RECOMMENDED_ROWS = 400  # the HyperCLOVA X tuning cookbook's recommendation


def check_content(view: DatasetView) -> list[Problem]:
    """Empty and over-long texts, pair by pair, in file order."""
    problems: list[Problem] = []
    for pair in view.pairs:
        problems += _pair_problems(view, pair)
    return problems


def _pair_problems(view: DatasetView, pair: Pair) -> list[Problem]:
    out: list[Problem] = []
    fields = [("text", pair.text, pair.text_column, pair.text_name)]
    if view.has_completion:
        fields.append(("completion", pair.completion, pair.completion_column, pair.completion_name))
    for kind, value, column, name in fields:
        if not value.strip():
            out.append(
                Problem(
                    "error",
                    f"empty-{kind}",
                    f"{name} 값이 비어 있습니다",
                    "내용을 채우거나 이 행을 지우세요",
                    view.file,
                    pair.row,
                    column,
                    view.row_label,
                )
            )
        elif len(value) > MAX_CHARS:
            out.append(
                Problem(
                    "error",
                    "too-long",
                    f"{name} 값이 {len(value):,}자로 CLOVA Studio 한도 {MAX_CHARS:,}자를 넘습니다",
                    f"{MAX_CHARS:,}자 이하로 줄이거나 여러 행으로 나누세요",
                    view.file,
                    pair.row,
                    column,
                    view.row_label,
                )
            )
    return out


def check_size(view: DatasetView, target: Target = "clova") -> list[Problem]:
    """Fewer than 100 pairs is an error for CLOVA Studio; fewer than 400 is below advice.

    CLOVA Studio refuses an upload under 100 rows, but that is its rule, not a training limit:
    for ``target="local"`` the same finding is a warning, so small sets (learning curves) tune.
    """
    count = len(view.pairs)
    local = target == "local"
    if count == 0 and local:  # nothing to train on, whatever the target
        return [
            Problem(
                "error",
                "too-few-rows",
                "학습 예제가 하나도 없습니다",
                "Text와 Completion을 채운 행을 추가하세요",
                view.file,
                row_label=view.row_label,
            )
        ]
    if count < MIN_ROWS:
        hint = f"예제를 늘리세요 (HyperCLOVA X는 {RECOMMENDED_ROWS}개 이상을 권장합니다)"
        if local:
            hint = f"로컬 튜닝은 진행합니다. CLOVA Studio에 올리려면 {MIN_ROWS}개 이상으로 늘리세요"
        return [
            Problem(
                "warning" if local else "error",
                "too-few-rows",
                f"학습 예제가 {count}개뿐입니다. CLOVA Studio 튜닝에는 최소 {MIN_ROWS}개가 필요합니다",
                hint,
                view.file,
                row_label=view.row_label,
            )
        ]
    if count < RECOMMENDED_ROWS:
        return [
            Problem(
                "warning",
                "few-rows",
                f"학습 예제가 {count}개입니다. HyperCLOVA X 튜닝은 {RECOMMENDED_ROWS}개 이상을 권장합니다",
                "예제를 더 모으면 출력 형식과 정확도가 안정됩니다",
                view.file,
                row_label=view.row_label,
            )
        ]
    return []
