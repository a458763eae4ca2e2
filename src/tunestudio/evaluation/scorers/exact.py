"""Exact match after Korean-aware normalisation: the seeds' ``match`` column (1/0).

A row is, in this order: ``no_expected`` (match None: nothing to compare with),
``generation_failed`` (the model gave no answer), a match (``긍정입니다.`` matches ``긍정``; when
it needed more than Unicode and whitespace normalisation it is a *near miss*, still a match, and
``exact.matched_by`` names the step), ``format_invalid`` (empty, or multi-line / over-long next to
a short single-line expected answer; see :func:`~tunestudio.evaluation.scorers.common.format_problem`),
or ``wrong``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tunestudio.evaluation.normalize import is_near_miss, match_step, normalize
from tunestudio.evaluation.predictions import Prediction
from tunestudio.evaluation.scorers.base import (
    CORRECT,
    FORMAT_INVALID,
    GENERATION_FAILED,
    NO_EXPECTED,
    WRONG,
    RowScore,
    ScoreReport,
)
from tunestudio.evaluation.scorers.common import (
    class_table,
    count_table,
    format_problem,
    rate,
    scored,
)

NEAR_MISS = "near_miss"  # a detail, not an error class: the row is a match
DISPLAY_STEP = "copula"  # the normalised answer shown to people: before case-folding and unspacing


class ExactMatch:
    """Exact match of the answer and the expected text after :mod:`normalisation
    <tunestudio.evaluation.normalize>`; format failures are counted apart from wrong answers."""

    name = "exact"

    def score(self, items: Sequence[Prediction]) -> ScoreReport:
        """Score every item; see the module docstring for the classes."""
        rows = [score_row(item) for item in items]
        return ScoreReport(self.name, rows, _metrics(rows), _tables(rows))


def score_row(item: Prediction) -> RowScore:
    """One row's verdict, with the normalised answer and the step that made it match."""
    if not (item.expected or "").strip():
        return RowScore(None, NO_EXPECTED)
    expected = item.expected or ""
    if item.answer is None:
        return RowScore(0, GENERATION_FAILED)
    step = match_step(item.answer, expected)
    details: dict[str, Any] = {
        "normalized": normalize(item.answer, DISPLAY_STEP),
        "matched_by": matched_by(step),
    }
    if step is not None:
        return RowScore(1, CORRECT, details | {NEAR_MISS: int(is_near_miss(step))})
    problem = format_problem(item.answer, expected)
    if problem:
        return RowScore(0, FORMAT_INVALID, details | {"format_problem": problem})
    return RowScore(0, WRONG, details)


def matched_by(step: str | None) -> str:
    """How a row matched: ``exact``, the normalisation step of a near miss, or ``""`` (no match)."""
    if step is None:
        return ""
    return step if is_near_miss(step) else "exact"


def _metrics(rows: list[RowScore]) -> dict[str, float]:
    judged = scored(rows)
    answered = [row for row in judged if row.error_class != GENERATION_FAILED]
    matches = sum(row.match or 0 for row in judged)

    def share(error_class: str) -> float:
        return rate(sum(row.error_class == error_class for row in judged), len(judged))

    return {
        "n": float(len(judged)),
        "accuracy": rate(matches, len(judged)),
        "accuracy_answered": rate(matches, len(answered)),
        "near_miss_rate": rate(sum(row.details.get(NEAR_MISS, 0) for row in judged), len(judged)),
        "format_invalid_rate": share(FORMAT_INVALID),
        "generation_failed_rate": share(GENERATION_FAILED),
        "wrong_rate": share(WRONG),
    }


def _tables(rows: list[RowScore]) -> dict[str, list[dict[str, Any]]]:
    judged = scored(rows)
    near = [str(row.details["matched_by"]) for row in judged if row.details.get(NEAR_MISS)]
    return {"error_classes": class_table(judged), "near_miss_steps": count_table(near, "step")}
