"""The scorer seam: a scorer turns predictions into per-row scores and summary metrics.

Every scorer works on saved predictions (:mod:`tunestudio.evaluation.predictions`), so changing
a scorer never needs the model again. A row is ``match`` 1 or 0 (the seeds' ``match`` column)
or ``None`` when it cannot be scored (no expected answer); ``error_class`` says why a row is not
a match, with the model's failures to answer (``generation_failed``) and to follow the format
(``format_invalid``) kept apart from wrong answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tunestudio.errors import DataError
from tunestudio.evaluation.predictions import Prediction

CORRECT = ""
GENERATION_FAILED = "generation_failed"
FORMAT_INVALID = "format_invalid"
WRONG = "wrong"
NO_EXPECTED = "no_expected"  # match None: the row has no expected answer to compare with


class RowDataError(DataError):
    """One row's data cannot be scored (e.g. an expected value that is not a known label).

    Scorers see predictions without their file, so they give the row's ``index`` (and the
    ``column``); the caller turns it into ``test.xlsx row 12, column expected`` with
    :meth:`Predictions.where <tunestudio.evaluation.predictions.Predictions.where>`.
    """

    def __init__(
        self, message: str, *, index: int, column: str | None = None, hint: str | None = None
    ):
        super().__init__(message, where=f"item {index + 1}", hint=hint)
        self.index = index
        self.column = column


@dataclass
class RowScore:
    """One row's verdict. ``details`` become extra columns named ``<scorer>.<key>``."""

    match: int | None
    error_class: str = CORRECT
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ScoreReport:
    """A scorer's result over a whole predictions table.

    ``metrics`` are the headline numbers (e.g. ``accuracy``, ``format_invalid_rate``);
    ``tables`` are named row lists for reports (e.g. ``per_label``, ``confusion``).
    """

    scorer: str
    rows: list[RowScore]
    metrics: dict[str, float]
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def matches(self) -> list[int | None]:
        """The per-row ``match`` column, in row order."""
        return [row.match for row in self.rows]


class Scorer(Protocol):
    """Anything with a name that scores a sequence of predictions."""

    name: str

    def score(self, items: Sequence[Prediction]) -> ScoreReport:
        """Score every item; rows in the result line up with ``items``."""
        ...
