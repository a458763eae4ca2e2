"""Judge results as tables to save beside the predictions, and as charts.

A judged table is the predictions table with the judge's columns added; a pairs table has one
row per item with both answers, both verdicts and the final outcome. Charts slice the scores by
metadata columns when asked (:mod:`tunestudio.evaluation.slices`), and otherwise show the
distribution of scores or outcomes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tunestudio.evaluation.judge_report import (
    CANDIDATE_FAILED,
    JUDGE_FAILED,
    PAIR_OUTCOMES,
    PairwiseReport,
    SingleJudgeReport,
)
from tunestudio.evaluation.predictions import Predictions
from tunestudio.evaluation.slices import heatmap, slice_table
from tunestudio.inference.tables import OUTPUT_COLUMNS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Columns = list[str]
Rows = list[dict[str, Any]]


def judged_table(predictions: Predictions, report: SingleJudgeReport) -> tuple[Columns, Rows]:
    """Every column of the predictions, then ``judge_score``, ``judge_reason``, …"""
    added = report.columns()
    columns = [c for c in predictions.table.columns if c not in added] + list(added)
    rows = []
    for index, row in enumerate(predictions.table.rows):
        rows.append({**row, **{name: values[index] for name, values in added.items()}})
    return columns, rows


def pairs_table(a: Predictions, b: Predictions, report: PairwiseReport) -> tuple[Columns, Rows]:
    """A's input columns, each side's answer (and error, when one failed), then the verdicts."""
    skip = {*OUTPUT_COLUMNS, a.answer_column}
    base = [c for c in a.table.columns if c not in skip]
    sides = list(zip(report.names, (a, b), strict=True))
    answers = [f"answer_{name}" for name, _ in sides]
    errors = [f"error_{name}" for name, p in sides if any(item.failed for item in p.items)]
    verdicts = report.columns()
    columns = base + answers + errors + list(verdicts)
    rows = []
    for index, row in enumerate(a.table.rows):
        out = {column: row.get(column) for column in base}
        for name, side in sides:
            item = side.items[index]
            out[f"answer_{name}"] = item.answer if item.answer is not None else ""
            if f"error_{name}" in errors:
                out[f"error_{name}"] = item.error
        out |= {name: values[index] for name, values in verdicts.items()}
        rows.append(out)
    return columns, rows


def single_chart(
    report: SingleJudgeReport,
    meta: Sequence[dict[str, Any]],
    by: Sequence[str],
    scale: tuple[int, int],
) -> Figure:
    """Mean score per slice (heatmap or bars), or the score distribution without ``by``."""
    from tunestudio import charts

    title = f"심사 점수 — {charts.short_label(report.judge, 48)} · {report.rubric}"
    if by:
        table = slice_table(report.scores, meta, by)
        return heatmap(
            table, by, title=title, value_label="평균 점수", vmin=scale[0], vmax=scale[1]
        )
    fig = charts.figure(8, 4.5)
    scores = [s for s in report.scores if s is not None]
    failed = report.metrics.get("judge_failed", 0) + report.metrics.get("candidate_failed", 0)
    xlabel = f"점수 ({scale[0]}–{scale[1]}); 점수 없는 행 {int(failed)}개는 빠짐"
    charts.histogram(fig.add_subplot(), scores, title=title, xlabel=xlabel, ylabel="행 수")
    return fig


def pair_chart(report: PairwiseReport, meta: Sequence[dict[str, Any]], by: Sequence[str]) -> Figure:
    """B's win rate per slice, or the count of every outcome without ``by``."""
    from tunestudio import charts

    a, b = report.names
    if by:
        table = slice_table(report.b_scores, meta, by)
        judge = charts.short_label(report.judge, 40)
        title = f"{b} 승률 ({a} 대비, 무승부·불일치 = 0.5) — 심사 {judge}"
        return heatmap(table, by, title=title, value_label=f"{b} 승률", vmin=0.0, vmax=1.0)
    count = Counter(row.final for row in report.rows)
    labels = {"a": f"{a} 승", "b": f"{b} 승", "tie": "무승부", "inconsistent": "순서 바꾸면 불일치"}
    labels |= {JUDGE_FAILED: "심사 실패", CANDIDATE_FAILED: "답변 실패"}
    fig = charts.figure(8, 4.0)
    charts.barh(
        fig.add_subplot(),
        [labels[o] for o in PAIR_OUTCOMES],
        [count[o] for o in PAIR_OUTCOMES],
        title=f"{a} vs {b} — 심사 {charts.short_label(report.judge, 40)} · {report.rubric}",
        xlabel="쌍 수",
    )
    return fig
