"""What a judge run returns: per-row scores or verdicts, summary metrics and warnings.

Three kinds of rows are kept apart everywhere: rows the judge scored, rows where the *judge*
failed (its call failed or its reply could not be read), and rows where the *candidate* failed
to answer (never sent to the judge). A judge failure is never a low score.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tunestudio.inference.batch import BatchResult

SCORED = "scored"
JUDGE_FAILED = "judge_failed"
CANDIDATE_FAILED = "candidate_failed"
# The outcome of one pair, after asking in both orders.
PAIR_OUTCOMES = ("a", "b", "tie", "inconsistent", JUDGE_FAILED, CANDIDATE_FAILED)


@dataclass
class SingleJudgeRow:
    """One item's judgement; ``scores`` has one entry per repeat (None = unreadable reply)."""

    index: int
    score: float | None  # the mean of the readable repeats
    scores: list[int | None] = field(default_factory=list)
    reason: str = ""
    judge_error: str = ""
    candidate_failed: bool = False

    @property
    def status(self) -> str:
        """``scored``, ``judge_failed`` or ``candidate_failed``."""
        if self.candidate_failed:
            return CANDIDATE_FAILED
        return SCORED if self.score is not None else JUDGE_FAILED

    @property
    def spread(self) -> float | None:
        """Standard deviation of the readable repeats (None with fewer than two)."""
        readable = [s for s in self.scores if s is not None]
        return statistics.stdev(readable) if len(readable) >= 2 else None


@dataclass
class SingleJudgeReport:
    """Single-answer scores for every item, in item order."""

    rubric: str
    judge: str
    rows: list[SingleJudgeRow]
    metrics: dict[str, float]
    warnings: list[str]
    batch: BatchResult
    repeats: int = 1

    @property
    def scores(self) -> list[float | None]:
        """Each row's score (None when not scored), for slicing by metadata."""
        return [row.score for row in self.rows]

    def columns(self) -> dict[str, list[Any]]:
        """The columns a judged table gets, in order: ``judge_score`` … ``judge_status``."""
        out: dict[str, list[Any]] = {
            "judge_score": [_cell(r.score) for r in self.rows],
            "judge_reason": [r.reason for r in self.rows],
            "judge_error": [r.judge_error for r in self.rows],
            "judge_status": [r.status for r in self.rows],
        }
        if self.repeats > 1:
            out["judge_scores"] = [", ".join(_text(s) for s in r.scores) for r in self.rows]
            out["judge_spread"] = [_cell(r.spread) for r in self.rows]
        return out


@dataclass
class PairRow:
    """One pair: the verdict of each order mapped back to the sides ``a``/``b``/``tie``."""

    index: int
    final: str  # one of PAIR_OUTCOMES
    verdict_ab: str | None = None  # A's answer shown first
    verdict_ba: str | None = None  # B's answer shown first
    reason_ab: str = ""
    reason_ba: str = ""
    judge_error: str = ""

    @property
    def b_score(self) -> float | None:
        """1 when B won, 0 when A won, ½ for a tie or an inconsistent pair (MT-Bench's rule)."""
        return {"b": 1.0, "a": 0.0, "tie": 0.5, "inconsistent": 0.5}.get(self.final)


@dataclass
class PairwiseReport:
    """Pairwise verdicts for every item, in item order; ``names`` name the sides a and b."""

    rubric: str
    judge: str
    names: tuple[str, str]
    rows: list[PairRow]
    metrics: dict[str, float]
    warnings: list[str]
    batch: BatchResult

    @property
    def b_scores(self) -> list[float | None]:
        """Each pair's :attr:`PairRow.b_score`, for slicing B's win rate by metadata."""
        return [row.b_score for row in self.rows]

    def label(self, outcome: str | None) -> str:
        """An outcome as a person reads it: the side's name for ``a``/``b``."""
        if outcome is None:
            return ""
        return {"a": self.names[0], "b": self.names[1]}.get(outcome, outcome)

    def columns(self) -> dict[str, list[Any]]:
        """The verdict columns of a pairs table, with sides written as their names."""
        return {
            "verdict_ab": [self.label(r.verdict_ab) for r in self.rows],
            "verdict_ba": [self.label(r.verdict_ba) for r in self.rows],
            "final": [self.label(r.final) for r in self.rows],
            "reason_ab": [r.reason_ab for r in self.rows],
            "reason_ba": [r.reason_ba for r in self.rows],
            "judge_error": [r.judge_error for r in self.rows],
        }


def single_metrics(rows: Sequence[SingleJudgeRow]) -> dict[str, float]:
    """Counts, the mean score, failure rates and, with repeats, how much the judge varies.

    ``judge_failure_rate`` is over judge calls (one per row and repeat; a row whose candidate
    failed makes none), so a row scored on two of three repeats counts one failed call.
    """
    status = Counter(row.status for row in rows)
    calls = sum(len(row.scores) for row in rows)
    failed_calls = sum(score is None for row in rows for score in row.scores)
    scores = [row.score for row in rows if row.score is not None]
    metrics: dict[str, float] = {
        "rows": len(rows),
        "scored": status[SCORED],
        "judge_failed": status[JUDGE_FAILED],
        "candidate_failed": status[CANDIDATE_FAILED],
        "judge_calls": calls,
        "judge_failure_rate": failed_calls / calls if calls else 0.0,
        "candidate_failure_rate": status[CANDIDATE_FAILED] / len(rows) if rows else 0.0,
    }
    if scores:
        metrics["mean_score"] = statistics.fmean(scores)
    if len(scores) >= 2:
        metrics["score_sd"] = statistics.stdev(scores)
    metrics.update(_repeat_metrics(rows))
    return metrics


def _repeat_metrics(rows: Sequence[SingleJudgeRow]) -> dict[str, float]:
    """Within-item variance of repeated judgements, pooled over items with two or more."""
    repeated = [[s for s in row.scores if s is not None] for row in rows]
    repeated = [scores for scores in repeated if len(scores) >= 2]
    if not repeated:
        return {}
    variance = statistics.fmean(statistics.variance(scores) for scores in repeated)
    agree = sum(len(set(scores)) == 1 for scores in repeated)
    return {
        "repeat_variance": variance,
        "repeat_sd": variance**0.5,
        "repeat_agreement": agree / len(repeated),
    }


def pair_metrics(rows: Sequence[PairRow]) -> dict[str, float]:
    """Win, tie and inconsistency rates among pairs judged in both orders, and failures.

    Rates are over *judged* pairs (both verdicts readable), so they add up to 1;
    ``swap_consistency`` is the share of those where both orders agree.
    """
    count = Counter(row.final for row in rows)
    judged = count["a"] + count["b"] + count["tie"] + count["inconsistent"]
    sent = len(rows) - count[CANDIDATE_FAILED]
    calls = 2 * sent  # each pair in both orders
    asked = [row for row in rows if row.final != CANDIDATE_FAILED]
    failed_calls = sum((r.verdict_ab is None) + (r.verdict_ba is None) for r in asked)
    metrics: dict[str, float] = {
        "pairs": len(rows),
        "judged": judged,
        "a_wins": count["a"],
        "b_wins": count["b"],
        "ties": count["tie"],
        "inconsistent": count["inconsistent"],
        "judge_failed": count[JUDGE_FAILED],
        "candidate_failed": count[CANDIDATE_FAILED],
        "judge_calls": calls,
        "judge_failure_rate": failed_calls / calls if calls else 0.0,
        "pair_failure_rate": count[JUDGE_FAILED] / sent if sent else 0.0,
    }
    if judged:
        metrics |= {
            "a_win_rate": count["a"] / judged,
            "b_win_rate": count["b"] / judged,
            "tie_rate": count["tie"] / judged,
            "inconsistent_rate": count["inconsistent"] / judged,
            "swap_consistency": 1 - count["inconsistent"] / judged,
            "b_score": (count["b"] + 0.5 * (count["tie"] + count["inconsistent"])) / judged,
        }
    return metrics


def _cell(value: float | None) -> float | str:
    return "" if value is None else round(value, 3)


def _text(score: int | None) -> str:
    return "–" if score is None else str(score)
