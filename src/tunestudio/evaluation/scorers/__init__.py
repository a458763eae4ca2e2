"""The scorers by name: ``get_scorer("classification", labels=[...])``.

Every scorer works on saved predictions (see :mod:`tunestudio.evaluation.predictions`). Options
are checked here, so a recipe or a command line that names an unknown scorer or option gets a
:class:`~tunestudio.errors.ConfigError` whose ``where`` is the field (``name`` or the option,
e.g. ``target``) for the caller to prefix, and whose hint lists the accepted values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from tunestudio.errors import ConfigError
from tunestudio.evaluation.scorers.base import (
    CORRECT,
    FORMAT_INVALID,
    GENERATION_FAILED,
    NO_EXPECTED,
    WRONG,
    RowDataError,
    RowScore,
    Scorer,
    ScoreReport,
)

__all__ = [
    "CORRECT",
    "FORMAT_INVALID",
    "GENERATION_FAILED",
    "NO_EXPECTED",
    "SCORERS",
    "STYLES",
    "WRONG",
    "RowDataError",
    "RowScore",
    "ScoreReport",
    "Scorer",
    "get_scorer",
]

STYLES = ("합쇼체", "해요체", "해라체", "반말", "명사형")

SCORERS: dict[str, str] = {
    "exact": "exact match after Korean-aware normalisation; format failures apart from wrong answers",
    "classification": "accuracy, per-label precision/recall/F1, confusion matrix, out-of-label-set rate",
    "grouping": "'대륙: 나라, 나라' answers: missing, misclassified, extra, duplicate countries",
    "style": "sentence-final speech style (합쇼체/해요체/해라체/반말) of every sentence",
    "textstats": "characters, tokens, sentences and bullets of each answer (no match)",
}


@dataclass(frozen=True)
class _Option:
    check: Callable[[Any], bool]
    accepted: str


_OPTIONS: dict[str, dict[str, _Option]] = {
    "exact": {},
    "classification": {
        "labels": _Option(
            lambda v: v is None or (_is_strings(v) and len(v) > 0), "a non-empty list of labels"
        )
    },
    "grouping": {},
    "style": {
        "target": _Option(lambda v: v in STYLES, " / ".join(STYLES)),
        "tokenizer": _Option(lambda v: v is None or isinstance(v, str), "a tokenizer folder"),
        "buckets": _Option(
            lambda v: v is None or _is_increasing(v),
            "increasing whole numbers ≥ 1, e.g. [20, 40, 80, 160]",
        ),
    },
    "textstats": {
        "tokenizer": _Option(lambda v: v is None or isinstance(v, str), "a tokenizer folder"),
    },
}
_REQUIRED = {"style": ("target",)}


def get_scorer(name: str, **options: Any) -> Scorer:
    """The scorer called ``name`` (see :data:`SCORERS`) built with ``options``."""
    if name not in SCORERS:
        raise ConfigError(
            f"unknown scorer {name!r}",
            where="name",
            hint=f"use one of: {', '.join(SCORERS)}",
        )
    _check_options(name, options)
    return _build(name, options)


def _check_options(name: str, options: dict[str, Any]) -> None:
    allowed = _OPTIONS[name]
    for key, value in options.items():
        if key not in allowed:
            accepted = ", ".join(allowed) if allowed else "none"
            raise ConfigError(
                f"the {name} scorer has no option {key!r}",
                where=key,
                hint=f"its options: {accepted}",
            )
        if not allowed[key].check(value):
            raise ConfigError(
                f"{value!r} is not accepted for the {name} scorer's {key}",
                where=key,
                hint=f"give {allowed[key].accepted}",
            )
    for key in _REQUIRED.get(name, ()):
        if options.get(key) is None:
            raise ConfigError(
                f"the {name} scorer needs the option {key!r}",
                where=key,
                hint=f"give {key}: {allowed[key].accepted}",
            )


def _build(name: str, options: dict[str, Any]) -> Scorer:
    # Imported here: the style and text scorers load kiwipiepy, classification scikit-learn.
    if name == "exact":
        from tunestudio.evaluation.scorers.exact import ExactMatch

        return ExactMatch()
    if name == "classification":
        from tunestudio.evaluation.scorers.classification import Classification

        return Classification(options.get("labels"))
    if name == "grouping":
        from tunestudio.evaluation.scorers.grouping import Grouping

        return Grouping()
    if name == "style":
        from tunestudio.evaluation.scorers.style import StyleScorer

        return StyleScorer(**options)
    from tunestudio.evaluation.scorers.textstats import TextStats

    return TextStats(**options)


def _is_strings(value: Any) -> bool:
    return (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and all(isinstance(v, str) and v.strip() for v in value)
    )


def _is_increasing(value: Any) -> bool:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        return False
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
        return False
    return all(a < b for a, b in pairwise(value))
