"""The classify-compare part of a report: the accuracy table (method × training size) and the
accuracy-by-size chart, one line per method.

The curve points come from :mod:`tunestudio.experiments.classify`: size 0 marks an untuned
model, which the chart draws as a dashed level line and the table puts under "untuned".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tunestudio.evaluation.report import Block, ChartBlock, Section, TableBlock, TextBlock
from tunestudio.experiments.classify_recipe import ClassifySettings
from tunestudio.experiments.results import CurvePoint, RunResult

UNTUNED = "untuned"
NOTE = (
    "Accuracy = share of test rows the first scorer marks as a match, mean over seeds × test "
    "rows; in brackets the 95% interval of a crossed bootstrap over seeds and rows. kNN: the "
    "test question's k most similar training texts (cosine) vote, the nearest breaking a tie. "
    "Every size's sample is nested in the next and stratified as the recipe says."
)


def accuracy_table(
    points: Sequence[CurvePoint], *, wrap: bool = False
) -> tuple[list[str], list[list[str]]]:
    """Columns ``method, untuned, <size>…`` and one row per method: ``74.0% (69.0–79.0)``.

    With ``wrap`` the interval goes on a second line (for a terminal's narrow columns).
    """
    sizes = sorted({p.size for p in points if p.size})
    has_untuned = any(p.size == 0 for p in points)
    columns = ["method", *([UNTUNED] if has_untuned else []), *map(str, sizes)]
    cells: dict[str, dict[int, CurvePoint]] = {}
    for p in points:
        cells.setdefault(p.model, {})[p.size] = p
    rows = []
    for method, by_size in cells.items():
        wanted = ([0] if has_untuned else []) + sizes
        rows.append([method, *(_cell(by_size.get(size), wrap) for size in wanted)])
    return columns, rows


def _cell(point: CurvePoint | None, wrap: bool) -> str:
    if point is None:
        return ""
    if math.isnan(point.accuracy):
        return "–"
    if point.low == point.high:  # one row or a constant column: no interval to show
        return f"{100 * point.accuracy:.1f}%"
    if wrap:  # a terminal's narrow column: the interval in whole points, on its own line
        return f"{100 * point.accuracy:.1f}%\n{100 * point.low:.0f}–{100 * point.high:.0f}"
    return f"{100 * point.accuracy:.1f}% ({100 * point.low:.1f}–{100 * point.high:.1f})"


def classify_chart(points: Sequence[CurvePoint], scorer: str, path: Path) -> Path:
    """Accuracy vs training rows (log scale), a line and 95% band per method; untuned models
    as dashed level lines."""
    from tunestudio.charts import PALETTE, figure, save_png

    fig = figure(9.0, 5.2)
    ax = fig.add_subplot()
    methods = list(dict.fromkeys(p.model for p in points))
    styles = ("-", "--", ":", "-.")
    for index, method in enumerate(methods):
        color = PALETTE[index % len(PALETTE)]
        mine = sorted((p for p in points if p.model == method), key=lambda p: p.size)
        if all(p.size == 0 for p in mine):
            acc = 100 * _zero_if_nan(mine[0].accuracy)
            ax.axhline(acc, color=color, linestyle="--", linewidth=1.2, label=f"{method}, untuned")
            continue
        sizes = [p.size for p in mine if p.size]
        shown = [p for p in mine if p.size]
        band = ([100 * p.low for p in shown], [100 * p.high for p in shown])
        ax.fill_between(sizes, *band, color=color, alpha=0.15, linewidth=0)
        if len(shown) == 1:  # a band needs two sizes; one point gets its interval as a bar
            ax.vlines(sizes, *band, color=color, linewidth=2, alpha=0.5)
        ax.plot(
            sizes,
            [100 * _zero_if_nan(p.accuracy) for p in shown],
            marker="o",
            linestyle=styles[(index // len(PALETTE)) % len(styles)],
            color=color,
            label=method,
        )
    _axes(ax, points, scorer)
    return save_png(fig, path)


def _axes(ax: Any, points: Sequence[CurvePoint], scorer: str) -> None:
    ticks = sorted({p.size for p in points if p.size})
    ax.set_xscale("log")
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_ylim(-2, 105)
    ax.set_xlabel("training rows (log scale)")
    ax.set_ylabel(f"accuracy (%, {scorer})")
    ax.set_title("Accuracy by training size: kNN over embeddings vs generative", loc="left")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8.5)


def _zero_if_nan(value: float) -> float:
    return 0.0 if math.isnan(value) else value


def classify_charts(result: RunResult) -> dict[str, Path]:
    """The classify-compare chart of ``result`` as ``{"classify": png path}``."""
    if not result.curve:
        return {}
    path = result.run_dir / "charts" / "classify.png"
    return {"classify": classify_chart(result.curve, result.recipe.scorers[0].name, path)}


def classify_section(result: RunResult, charts: dict[str, Any]) -> Section:
    """The report section: what was compared, the chart, the accuracy table."""
    recipe = result.recipe
    settings = recipe.classify or ClassifySettings()
    embedders = ", ".join(e.label for e in settings.embedders)
    text = (
        f"kNN over embeddings ({embedders}) of training samples of "
        f"{', '.join(map(str, recipe.sizes or []))} rows × seeds "
        f"{', '.join(map(str, recipe.seeds))}, against the generative models "
        f"({', '.join(m.name for m in recipe.models)})"
        + (" with and without the system prompt" if settings.without_system else "")
        + (", tuned on the same samples." if recipe.tuned_models() else ", untuned.")
    )
    columns, rows = accuracy_table(result.curve)
    blocks: list[Block] = [TextBlock(text)]
    if "classify" in charts:
        blocks.append(ChartBlock("", charts["classify"]))
    blocks.append(TableBlock("accuracy by training rows", columns, rows, note=NOTE))
    return Section("Search vs chat completion", blocks)
