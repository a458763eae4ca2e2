"""Learning-curve statistics: accuracy per training size with a 95% interval, and error
probability broken down by the test set's metadata (number of countries, of continents…).

The interval is a crossed (two-way) bootstrap over seeds *and* test rows: each replicate
draws the seeds with replacement and the rows with replacement and averages the chosen cells
of the seeds × rows match matrix. Resampling rows accounts for the finite test set, resampling
seeds for the run-to-run spread of tuning; a pooled Wilson interval would treat the same test
row under two seeds as two independent trials and come out too narrow.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from tunestudio.errors import ConfigError
from tunestudio.experiments.results import CurvePoint, Evaluation, GroupPoint

BOOTSTRAP = 2000


def curve_point(
    model: str, size: int, runs: Sequence[Sequence[int | None]], *, n_boot: int = BOOTSTRAP
) -> CurvePoint:
    """Mean accuracy of ``runs`` (one match list per seed, same rows) and its 95% interval."""
    matrix = np.array([[np.nan if m is None else m for m in run] for run in runs], dtype=float)
    scored = int(np.sum(~np.isnan(matrix)))
    if scored == 0:
        return CurvePoint(model, size, len(runs), 0, math.nan, math.nan, math.nan)
    accuracy = float(np.nanmean(matrix))
    low, high = _crossed_bootstrap(matrix, n_boot)
    return CurvePoint(model, size, len(runs), scored, accuracy, low, high)


def _crossed_bootstrap(matrix: np.ndarray, n_boot: int) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    seeds, rows = matrix.shape
    means = np.empty(n_boot)
    for b in range(n_boot):
        pick_seeds = rng.integers(0, seeds, seeds)
        pick_rows = rng.integers(0, rows, rows)
        cells = matrix[np.ix_(pick_seeds, pick_rows)]
        means[b] = np.nanmean(cells) if np.any(~np.isnan(cells)) else np.nan
    low, high = np.nanpercentile(means, [2.5, 97.5])
    return float(low), float(high)


def group_points(
    column: str,
    meta: Sequence[dict[str, Any]],
    runs: Sequence[Sequence[int | None]],
    *,
    variant: str,
    size: int | None = None,
) -> list[GroupPoint]:
    """Error probability (1 − match) per value of ``column``, pooled over ``runs``."""
    values = [_value(row, column) for row in meta]
    errors: dict[str, list[int]] = defaultdict(list)
    for run in runs:
        for value, match in zip(values, run, strict=True):
            if match is not None:
                errors[value].append(1 - match)
    return [
        GroupPoint(column, value, variant, size, len(errors[value]), float(np.mean(errors[value])))
        for value in sort_values(errors)
    ]


def check_columns(columns: Sequence[str], meta: Sequence[dict[str, Any]], where: str) -> None:
    """Refuse a ``group_by`` column the test set does not have, naming the ones it has."""
    have = sorted({key for row in meta for key in row})
    missing = [c for c in columns if c not in have]
    if missing:
        raise ConfigError(
            f"the test set has no column {', '.join(missing)} to group by",
            where=where,
            hint=f"columns besides the question and answer: {', '.join(have) or '(none)'}",
        )


def sort_values(values: Sequence[str] | dict[str, Any]) -> list[str]:
    """Numbers in numeric order (2, 3, 10), anything else alphabetically."""
    keys = list(values)
    try:
        return sorted(keys, key=float)
    except ValueError:
        return sorted(keys)


def _value(row: dict[str, Any], column: str) -> str:
    value = row.get(column)
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 3.0 from a spreadsheet is the group "3"
    return "" if value is None else str(value)


def metrics_by_size(evaluations: Sequence[Evaluation]) -> list[dict[str, Any]]:
    """The primary scorer's metrics per (model, training size), averaged over the seeds.

    Untuned models come first with size 0. Per-row rates that a per-example error hides (the
    share of countries missing, extra or duplicated…) show here how tuning moves them.
    """
    groups: dict[tuple[str, int], list[dict[str, float]]] = defaultdict(list)
    for ev in evaluations:
        size = ev.variant.size if ev.variant.tuned and ev.variant.size is not None else 0
        groups[ev.variant.model, size].append(ev.primary.metrics)
    rows = []
    for (model, size), found in sorted(groups.items(), key=lambda item: item[0][1]):
        names = list(dict.fromkeys(name for metrics in found for name in metrics))
        means = {n: float(np.mean([m[n] for m in found if n in m])) for n in names}
        rows.append({"model": model, "size": size, "seeds": len(found), **means})
    return rows
