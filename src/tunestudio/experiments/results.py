"""What a run produces, in memory: evaluated variants, tuning runs, comparisons, curves.

A *variant* is one model as evaluated: a base model from the recipe, or that model tuned (on
the whole training set, or on one learning-curve sample). Its key names its files
(``outputs/<key>.csv``) and its column group in the prediction sheet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunestudio.evaluation.scorers.base import FORMAT_INVALID, GENERATION_FAILED

if TYPE_CHECKING:
    from tunestudio.evaluation.compare import PairedComparison
    from tunestudio.evaluation.predictions import Predictions
    from tunestudio.evaluation.scorers.base import ScoreReport
    from tunestudio.experiments.datasets import DataFile
    from tunestudio.experiments.recipe import Recipe
    from tunestudio.tuning.recipe import RecipeResult
    from tunestudio.tuning.spec import TuneSpec


@dataclass(frozen=True)
class Variant:
    """One model as evaluated; ``size``/``seed`` are set for a learning-curve sample."""

    key: str
    model: str  # the recipe's model name
    spec: str
    system: str | None = None
    tuned: bool = False
    size: int | None = None
    seed: int | None = None


@dataclass
class Evaluation:
    """A variant's answers to the test set and every scorer's verdict on them."""

    variant: Variant
    path: Path
    predictions: Predictions
    scores: list[ScoreReport]  # in the recipe's order; the first gives ``match``
    answered_now: int = 0
    from_journal: int = 0
    wall_s: float = 0.0

    @property
    def primary(self) -> ScoreReport:
        return self.scores[0]

    @property
    def matches(self) -> list[int | None]:
        return self.primary.matches

    def summary(self) -> dict[str, Any]:
        """model, accuracy, correct, scored, format_invalid, generation_failed, n."""
        rows = self.primary.rows
        scored = [r.match for r in rows if r.match is not None]
        classes = [r.error_class for r in rows]
        return {
            "model": self.variant.key,
            "accuracy": sum(scored) / len(scored) if scored else math.nan,
            "correct": sum(scored),
            "scored": len(scored),
            "format_invalid": classes.count(FORMAT_INVALID),
            "generation_failed": classes.count(GENERATION_FAILED),
            "n": len(rows),
        }


@dataclass
class Tuning:
    """One tuning run: its settings, data, result, and whether it was done by an earlier run."""

    variant: Variant
    spec: TuneSpec
    data: DataFile
    result: RecipeResult
    out_dir: Path
    wall_s: float
    reused: bool


@dataclass
class Pair:
    """A paired comparison of two variants on the same test set (``a`` before, ``b`` after)."""

    a: str
    b: str
    comparison: PairedComparison


@dataclass
class CurvePoint:
    """Accuracy of a model tuned on ``size`` rows, over its seeds, with a 95% interval."""

    model: str
    size: int
    seeds: int
    n: int  # scored rows, over all seeds
    accuracy: float
    low: float
    high: float

    @property
    def error(self) -> float:
        return 1 - self.accuracy


@dataclass
class GroupPoint:
    """Error probability of the rows whose metadata ``column`` equals ``value``."""

    column: str
    value: str
    variant: str  # a variant key, or ``<model> n=<size>`` over seeds in a learning curve
    size: int | None
    n: int
    error: float


@dataclass
class RunResult:
    """Everything a run made; the report is written from this."""

    recipe: Recipe
    run_dir: Path
    data: list[DataFile]
    evaluations: list[Evaluation]
    tunings: list[Tuning] = field(default_factory=list)
    pairs: list[Pair] = field(default_factory=list)
    curve: list[CurvePoint] = field(default_factory=list)
    groups: list[GroupPoint] = field(default_factory=list)
    judge: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    costs: list[dict[str, Any]] = field(default_factory=list)  # ledger sums per model (pipelines)

    def evaluation(self, key: str) -> Evaluation:
        return next(e for e in self.evaluations if e.variant.key == key)

    def best(self) -> Evaluation:
        """The evaluation with the highest accuracy (the first of equals)."""

        def accuracy(e: Evaluation) -> float:
            value = e.summary()["accuracy"]
            return -1.0 if math.isnan(value) else float(value)

        return max(self.evaluations, key=accuracy)
