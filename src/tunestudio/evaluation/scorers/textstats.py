"""Length and shape of answers (the seed's summary comparison): no match, only measures.

Per answer: ``characters`` (without the surrounding whitespace), ``tokens`` (kiwi morphemes, or
a tokenizer's tokens with the ``tokenizer`` option), ``sentences`` (kiwi, line by line),
``lines`` (non-empty) and ``bullets`` (lines starting with ``-``, ``•``, ``*``, ``·`` or
``1.``/``1)``). Rows whose generation failed are left out of the statistics.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from typing import Any

from tunestudio.evaluation.predictions import Prediction
from tunestudio.evaluation.scorers.base import GENERATION_FAILED, RowScore, ScoreReport
from tunestudio.evaluation.scorers.common import rate
from tunestudio.evaluation.scorers.measures import split_sentences, token_counter

MEASURES = ("characters", "tokens", "sentences", "lines", "bullets")
_BULLET = re.compile(r"^\s*(?:[-•*·▪◦‣]|\d+[.)])\s+\S")


def bullet_count(text: str) -> int:
    """Lines that are list items: ``- a``, ``• a``, ``* a``, ``· a``, ``1. a``, ``1) a``."""
    return sum(1 for line in text.splitlines() if _BULLET.match(line))


class TextStats:
    """Characters, tokens, sentences, lines and bullets of every answer."""

    name = "textstats"

    def __init__(self, tokenizer: str | None = None) -> None:
        self.tokenizer = tokenizer

    def score(self, items: Sequence[Prediction]) -> ScoreReport:
        """Measure every answer; ``match`` is None for every row (there is nothing to match)."""
        answers = [item.answer or "" for item in items]
        counter = token_counter(self.tokenizer)
        tokens = counter.count(answers)
        sentences = [len(found) for found in split_sentences(answers)]
        rows = []
        for item, answer, n_tokens, n_sentences in zip(
            items, answers, tokens, sentences, strict=True
        ):
            if item.answer is None:
                rows.append(RowScore(None, GENERATION_FAILED))
                continue
            rows.append(RowScore(None, details=measure(answer, n_tokens, n_sentences)))
        measured = [row.details for row in rows if row.error_class != GENERATION_FAILED]
        tables = {"distribution": distribution(measured, counter.unit)}
        return ScoreReport(self.name, rows, _metrics(measured, len(rows)), tables)


def measure(answer: str, tokens: int, sentences: int) -> dict[str, int]:
    """The measures of one answer, given its token and sentence counts."""
    return {
        "characters": len(answer.strip()),
        "tokens": tokens,
        "sentences": sentences,
        "lines": sum(1 for line in answer.splitlines() if line.strip()),
        "bullets": bullet_count(answer),
    }


def distribution(measured: Sequence[dict[str, Any]], token_unit: str) -> list[dict[str, Any]]:
    """Mean, min, quartiles and max of every measure, with the unit tokens were counted in."""
    import numpy as np

    out = []
    for name in MEASURES:
        values = [row[name] for row in measured]
        if not values:
            continue
        p25, p50, p75 = np.percentile(values, [25, 50, 75])
        out.append(
            {
                "measure": name,
                "unit": token_unit if name == "tokens" else name,
                "mean": statistics.fmean(values),
                "min": min(values),
                "p25": float(p25),
                "median": float(p50),
                "p75": float(p75),
                "max": max(values),
            }
        )
    return out


def _metrics(measured: Sequence[dict[str, Any]], total: int) -> dict[str, float]:
    metrics = {
        "n": float(len(measured)),
        "generation_failed_rate": rate(total - len(measured), total),
    }
    for name in MEASURES:
        values = [row[name] for row in measured]
        metrics[f"mean_{name}"] = statistics.fmean(values) if values else 0.0
        metrics[f"median_{name}"] = float(statistics.median(values)) if values else 0.0
    metrics["share_with_bullets"] = rate(sum(row["bullets"] > 0 for row in measured), len(measured))
    return metrics
