"""Assemble a run's report: charts as PNG files, ``report.html`` and ``predictions.xlsx``.

What goes in is decided here (the writers in :mod:`tunestudio.evaluation.report` and
:mod:`tunestudio.evaluation.report_xlsx` are generic). Sections: summary, paired comparison,
learning curve, breakdowns by metadata, each scorer's metrics and tables, tuning, the LLM
judge, run details (models, datasets with sha256, wall times, version) and the recipe itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import yaml

from tunestudio.evaluation.report import (
    Block,
    ChartBlock,
    Report,
    Section,
    TableBlock,
    TextBlock,
    write_html,
)
from tunestudio.experiments.curve import metrics_by_size
from tunestudio.experiments.results import Evaluation, RunResult
from tunestudio.experiments.workbook import write_predictions

SUMMARY_COLUMNS = ["model", "accuracy", "correct", "format invalid", "generation failed", "n"]
PAIR_NOTE = (
    "fixed: wrong before, right after; regressed: right before, wrong after. The interval is a "
    "paired bootstrap of the accuracy difference; McNemar's exact test uses the discordant rows."
)
CURVE_NOTE = (
    "Mean over seeds × test rows. The 95% interval is a crossed bootstrap that resamples both "
    "the seeds and the test rows (2,000 replicates)."
)


def write_report(result: RunResult, version: str) -> None:
    """Draw the charts, write ``report.html`` and ``predictions.xlsx`` into the run folder."""
    charts = draw_charts(result)
    result.files.update(charts)
    report = Report(
        title=result.recipe.title,
        subtitle=f"{result.recipe.kind} · {result.run_dir}",
        sections=_sections(result, charts),
        footer=f"tunestudio {version}",
    )
    result.files["report"] = write_html(report, result.run_dir / "report.html")
    result.files["predictions"] = write_predictions(result, result.run_dir / "predictions.xlsx")


def draw_charts(result: RunResult) -> dict[str, Any]:
    """Every chart the run calls for, as ``{name: png path}``."""
    from tunestudio.experiments import charts

    folder = result.run_dir / "charts"
    out: dict[str, Any] = {}
    scorer = result.recipe.scorers[0].name
    if result.recipe.kind == "classify-compare":
        from tunestudio.experiments.classify_report import classify_charts

        out.update(classify_charts(result))
    elif result.recipe.kind != "learning-curve":
        out["accuracy"] = charts.accuracy_chart(result.evaluations, scorer, folder / "accuracy.png")
    if result.curve and result.recipe.kind == "learning-curve":
        baselines = {e.variant.key: _accuracy(e) for e in result.evaluations if not e.variant.tuned}
        out["curve"] = charts.curve_chart(result.curve, baselines, folder / "learning_curve.png")
        by_size = metrics_by_size(result.evaluations)
        if charts.rate_names(by_size):
            out["rates"] = charts.rates_chart(by_size, scorer, folder / "rates_by_size.png")
    for column in result.recipe.group_by:
        if any(g.column == column for g in result.groups):
            out[f"by {column}"] = charts.groups_chart(
                result.groups, column, folder / f"by_{_safe(column)}.png"
            )
    if any(t.result.loss_history for t in result.tunings):
        out["loss"] = charts.loss_chart(result.tunings, folder / "loss.png")
    return out


def _sections(result: RunResult, charts: dict[str, Any]) -> list[Section]:
    sections = [_summary(result, charts)]
    if result.pairs:
        sections.append(_paired(result))
    if result.recipe.kind == "classify-compare":
        from tunestudio.experiments.classify_report import classify_section

        sections.append(classify_section(result, charts))
    elif result.curve:
        sections.append(_curve(result, charts))
    for column in result.recipe.group_by:
        if f"by {column}" in charts:
            sections.append(_groups(result, column, charts[f"by {column}"]))
    sections += _scorer_sections(result)
    if result.tunings:
        sections.append(_tuning(result, charts))
    if result.judge:
        sections.append(_judge(result))
    if result.costs:
        sections.append(_costs(result))
    sections += [_details(result), _recipe(result)]
    return sections


def _summary(result: RunResult, charts: dict[str, Any]) -> Section:
    recipe, first = result.recipe, result.evaluations[0].summary()
    text = (
        f"{len(result.evaluations)} model variant(s) answered the {first['n']} rows of "
        f"{result.data[0].path.name}; accuracy is the share of rows the "
        f"{recipe.scorers[0].name} scorer marks as a match."
    )
    rows = []
    for ev in result.evaluations:
        s = ev.summary()
        rows.append(
            [
                s["model"],
                _percent(s["accuracy"]),
                f"{s['correct']}/{s['scored']}",
                s["format_invalid"],
                s["generation_failed"],
                s["n"],
            ]
        )
    blocks: list[Block] = [TextBlock(text), TableBlock("", SUMMARY_COLUMNS, rows)]
    if "accuracy" in charts:
        blocks.append(ChartBlock("Accuracy per model", charts["accuracy"]))
    return Section("Summary", blocks)


def _paired(result: RunResult) -> Section:
    columns = [
        "before",
        "after",
        "n",
        "accuracy before",
        "accuracy after",
        "difference",
        "95% CI",
        "fixed",
        "regressed",
        "still wrong",
        "both right",
        "McNemar p",
    ]
    rows = []
    for pair in result.pairs:
        c = pair.comparison
        low, high = c.difference_ci
        rows.append(
            [
                pair.a,
                pair.b,
                c.n,
                _percent(c.accuracy_a),
                _percent(c.accuracy_b),
                _points(c.difference),
                f"{_points(low)} … {_points(high)}",
                c.fixed,
                c.regressed,
                c.still_wrong,
                c.both_right,
                _p(c.mcnemar_p),
            ]
        )
    return Section("Paired comparison", [TableBlock("", columns, rows, note=PAIR_NOTE)])


def _curve(result: RunResult, charts: dict[str, Any]) -> Section:
    columns = [
        "model",
        "training rows",
        "seeds",
        "rows scored",
        "accuracy",
        "95% CI",
        "error probability",
    ]
    rows: list[list[Any]] = []
    for ev in result.evaluations:
        if not ev.variant.tuned:
            s = ev.summary()
            rows.append(
                [
                    ev.variant.key,
                    "0 (untuned)",
                    1,
                    s["scored"],
                    _percent(s["accuracy"]),
                    "",
                    _percent(1 - s["accuracy"]),
                ]
            )
    for p in result.curve:
        rows.append(
            [
                p.model,
                p.size,
                p.seeds,
                p.n,
                _percent(p.accuracy),
                f"{_percent(p.low)} … {_percent(p.high)}",
                _percent(p.error),
            ]
        )
    blocks: list[Block] = [
        ChartBlock("", charts["curve"]),
        TableBlock("", columns, rows, note=CURVE_NOTE),
    ]
    by_size = metrics_by_size(result.evaluations)
    names = list(dict.fromkeys(k for r in by_size for k in r))
    blocks.append(
        TableBlock(
            f"{result.recipe.scorers[0].name} metrics by training size (mean over seeds)",
            names,
            _whole_counts([[r.get(n) for n in names] for r in by_size]),
        )
    )
    if "rates" in charts:
        blocks.append(ChartBlock("", charts["rates"]))
    return Section("Learning curve", blocks)


def _groups(result: RunResult, column: str, chart: Any) -> Section:
    points = [g for g in result.groups if g.column == column]
    variants = list(dict.fromkeys(g.variant for g in points))
    values = list(dict.fromkeys(g.value for g in points))
    cells = {(g.variant, g.value): g for g in points}
    rows = []
    for value in values:
        row: list[Any] = [value]
        for variant in variants:
            g = cells.get((variant, value))
            row.append(f"{_percent(g.error)} (n={g.n})" if g else "")
        rows.append(row)
    note = (
        "Error probability = share of rows (pooled over seeds) that are not a match. "
        "In a learning curve, '<model> n=<size>' pools that size's seeds."
    )
    return Section(
        f"Error probability by {column}",
        [ChartBlock("", chart), TableBlock("", [column, *variants], rows, note=note)],
    )


def _scorer_sections(result: RunResult) -> list[Section]:
    featured = _featured(result)
    sections = []
    for index, entry in enumerate(result.recipe.scorers):
        blocks: list[Block] = [_metrics_table(result.evaluations, index)]
        names = list(dict.fromkeys(n for ev in featured for n in ev.scores[index].tables))
        for name in names:
            shown = [result.best()] if name == "confusion" else featured
            for ev in shown:
                table = ev.scores[index].tables.get(name)
                if table:
                    blocks.append(_rows_table(f"{name} — {ev.variant.key}", table))
        sections.append(Section(f"Scorer: {entry.name}", blocks))
    return sections


def _metrics_table(evaluations: Sequence[Evaluation], index: int) -> TableBlock:
    names = list(dict.fromkeys(m for ev in evaluations for m in ev.scores[index].metrics))
    rows = [
        [ev.variant.key, *(ev.scores[index].metrics.get(m) for m in names)] for ev in evaluations
    ]
    return TableBlock("metrics", ["model", *names], _whole_counts(rows))


def _whole_counts(rows: list[list[Any]]) -> list[list[Any]]:
    """Columns whose floats are all whole numbers (counts) shown as integers, not 60.000."""
    whole = [
        all(isinstance(v, float) and v.is_integer() for v in column)
        for column in zip(*rows, strict=True)
    ]
    return [[int(v) if w else v for v, w in zip(row, whole, strict=True)] for row in rows]


def _rows_table(title: str, table: list[dict[str, Any]]) -> TableBlock:
    columns = list(dict.fromkeys(k for row in table for k in row))
    return TableBlock(title, columns, [[row.get(c) for c in columns] for row in table])


def _tuning(result: RunResult, charts: dict[str, Any]) -> Section:
    first = result.tunings[0].spec.model_dump(mode="json", exclude={"model", "data", "name"})
    note = "Each learning-curve run uses its seed as the tuning seed." if result.curve else ""
    settings = TableBlock(
        "settings", ["setting", "value"], [[k, _plain(v)] for k, v in first.items()], note=note
    )
    columns = [
        "tuned model",
        "base",
        "training rows",
        "steps",
        "final loss",
        "wall s",
        "done by",
        "saved to",
    ]
    rows = [
        [
            t.variant.key,
            t.spec.model,
            t.data.rows,
            t.result.steps,
            t.result.final_loss,
            t.wall_s,
            "an earlier run" if t.reused else "this run",
            str(t.result.adapter_path),
        ]
        for t in result.tunings
    ]
    blocks: list[Block] = [settings, TableBlock("runs", columns, rows, digits=1)]
    if "loss" in charts:
        blocks.append(ChartBlock("loss", charts["loss"]))
    return Section("Tuning", blocks)


def _judge(result: RunResult) -> Section:
    blocks: list[Block] = [_rows_table("", result.judge)]
    return Section("LLM judge", blocks)


def _costs(result: RunResult) -> Section:
    """The cost ledger's sums for this run's calls through `pipeline:` models."""
    columns = [
        "model",
        "answers",
        "model calls",
        "exact hits",
        "semantic hits",
        "rejected",
        "errors",
        "tokens in",
        "tokens out",
        "cost",
        "cost saved",
        "p50 ms",
        "p95 ms",
    ]
    keys = [
        "group",
        "requests",
        "calls",
        "exact_hits",
        "semantic_hits",
        "rejected",
        "errors",
        "input_tokens",
        "output_tokens",
        "cost",
        "saved_cost",
        "latency_p50_ms",
        "latency_p95_ms",
    ]
    rows = [[row[k] for k in keys] for row in result.costs]
    text = (
        "Every call made through a pipeline in this run, from the cost ledger "
        "(`tunestudio stats --run " + _ledger_run(result) + "`). Cost is by the pipeline's "
        "prices; a cache hit costs nothing and saves what the call it replaces cost; a cascade "
        "pays for the answers its gates rejected."
    )
    return Section("Cost and caching", [TextBlock(text), TableBlock("", columns, rows, digits=4)])


def _ledger_run(result: RunResult) -> str:
    return f"run:{result.run_dir.name}"


def _details(result: RunResult) -> Section:
    models = TableBlock(
        "models",
        ["name", "spec", "system prompt"],
        [[m.name, m.spec, m.system or "(the test set's)"] for m in result.recipe.models],
    )
    data = TableBlock(
        "datasets",
        ["role", "file", "rows", "sha256", "source"],
        [[d.role, str(d.path), d.rows, d.sha256, d.source] for d in result.data],
    )
    variants = TableBlock(
        "variants",
        ["variant", "spec", "answered now", "from journal", "wall s"],
        [
            [e.variant.key, e.variant.spec, e.answered_now, e.from_journal, e.wall_s]
            for e in result.evaluations
        ],
        digits=1,
    )
    times = TableBlock(
        "wall time", ["stage", "seconds"], [[k, v] for k, v in result.timings.items()], digits=1
    )
    return Section("Run details", [models, data, variants, times])


def _recipe(result: RunResult) -> Section:
    text = yaml.safe_dump(
        result.recipe.model_dump(mode="json", exclude_none=True),
        allow_unicode=True,
        sort_keys=False,
    )
    return Section("Recipe", [TextBlock(text, code=True)])


def _featured(result: RunResult) -> list[Evaluation]:
    """The evaluations whose per-scorer tables are shown: all, or baselines + best in a curve."""
    if result.recipe.kind not in ("learning-curve", "classify-compare"):
        return result.evaluations
    best = result.best()
    return [e for e in result.evaluations if not e.variant.tuned or e is best]


def _accuracy(ev: Evaluation) -> float:
    return float(ev.summary()["accuracy"])


def _percent(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{100 * value:.1f}%"


def _points(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:+.1f} pts"


def _p(value: float) -> str:
    return "–" if math.isnan(value) else (f"{value:.2g}" if value < 0.001 else f"{value:.3f}")


def _plain(value: Any) -> Any:
    return ", ".join(map(str, value)) if isinstance(value, list) else value


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)
