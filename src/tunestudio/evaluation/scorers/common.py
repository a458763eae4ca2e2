"""Helpers every scorer shares: rates, error-class tables and the format-failure rule."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from tunestudio.evaluation.normalize import normalize
from tunestudio.evaluation.scorers.base import RowScore

# An expected answer this short and on one line is a label-like answer; a reply to it that runs
# over several lines or is much longer did not follow the format (chatter, an explanation).
SHORT_EXPECTED_CHARS = 50
LONG_ANSWER_FACTOR = 2
LONG_ANSWER_SLACK = 20


def rate(count: int, total: int) -> float:
    """``count / total``, and 0.0 for an empty total (an empty table has no failures)."""
    return count / total if total else 0.0


def is_short(text: str) -> bool:
    """A single-line text of at most :data:`SHORT_EXPECTED_CHARS` characters."""
    text = text.strip()
    return "\n" not in text and len(text) <= SHORT_EXPECTED_CHARS


def format_problem(answer: str, reference: str) -> str | None:
    """Why ``answer`` does not have the shape of a short ``reference`` answer, or None.

    An empty answer is always a format failure. When the reference is short (see
    :func:`is_short`) an answer is one too when it has more than one non-empty line or is longer
    than ``max(2 × reference, reference + 20)`` characters after trimming prefixes, quotes and
    trailing punctuation.
    """
    if not answer.strip():
        return "empty"
    if not is_short(reference):
        return None
    if sum(1 for line in answer.splitlines() if line.strip()) > 1:
        return "multi_line"
    size = len(normalize(reference, "punctuation"))
    if len(normalize(answer, "punctuation")) > max(
        LONG_ANSWER_FACTOR * size, size + LONG_ANSWER_SLACK
    ):
        return "too_long"
    return None


def scored(rows: Sequence[RowScore]) -> list[RowScore]:
    """The rows that have a verdict (``match`` not None)."""
    return [row for row in rows if row.match is not None]


def class_table(rows: Sequence[RowScore]) -> list[dict[str, Any]]:
    """Rows per error class (``correct`` for matches), most frequent first, with their share."""
    counts = Counter(row.error_class or "correct" for row in rows)
    return [
        {"error_class": name, "count": count, "share": rate(count, len(rows))}
        for name, count in counts.most_common()
    ]


def count_table(values: Iterable[str], key: str) -> list[dict[str, Any]]:
    """``[{key: value, "count": n}]`` for the non-empty values, most frequent first."""
    counts = Counter(value for value in values if value)
    return [{key: value, "count": count} for value, count in counts.most_common()]
