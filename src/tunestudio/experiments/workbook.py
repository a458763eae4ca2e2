"""``predictions.xlsx``: every test row with each model's answer, match and error class side by
side (one column group per model), a summary sheet, and the paired comparisons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tunestudio.evaluation.report_xlsx import Column, Sheet, write_workbook
from tunestudio.experiments.results import Evaluation, RunResult

# Columns ``tunestudio infer`` adds beside the answer; they are run details, not test metadata.
RUN_COLUMNS = ("role", "latency_ms", "input_tokens", "output_tokens")


def write_predictions(result: RunResult, path: Path) -> Path:
    """Write the predictions and summary sheets of ``result`` to ``path``."""
    sheets = [predictions_sheet(result), summary_sheet(result)]
    if result.pairs:
        sheets.append(paired_sheet(result))
    return write_workbook(path, sheets)


def predictions_sheet(result: RunResult) -> Sheet:
    """One row per test row: row, input, expected, metadata, then a group per variant."""
    from tunestudio.data.table import read_table

    first = result.evaluations[0].predictions
    numbers = read_table(result.data[0].path).row_numbers
    meta_keys = [k for k in first.items[0].meta if k not in RUN_COLUMNS] if first.items else []
    columns = [
        Column("row", kind="number"),
        Column("input", kind="long"),
        Column("expected", kind="long"),
    ]
    columns += [Column(k) for k in meta_keys]
    for ev in result.evaluations:
        columns += _variant_columns(ev)
    rows: list[list[Any]] = []
    for index, item in enumerate(first.items):
        row: list[Any] = [_row_number(numbers, index), item.input, item.expected]
        row += [item.meta.get(k) for k in meta_keys]
        for ev in result.evaluations:
            row += _variant_cells(ev, index)
        rows.append(row)
    return Sheet("predictions", columns, rows)


def summary_sheet(result: RunResult) -> Sheet:
    """One row per variant: accuracy and the counts behind it."""
    columns = [
        Column("model"),
        Column("spec", kind="long"),
        Column("accuracy", kind="percent"),
        Column("correct", kind="number"),
        Column("scored", kind="number"),
        Column("format invalid", kind="number"),
        Column("generation failed", kind="number"),
        Column("n", kind="number"),
    ]
    rows = []
    for ev in result.evaluations:
        s = ev.summary()
        rows.append(
            [
                s["model"],
                ev.variant.spec,
                s["accuracy"],
                s["correct"],
                s["scored"],
                s["format_invalid"],
                s["generation_failed"],
                s["n"],
            ]
        )
    return Sheet("summary", columns, rows)


def paired_sheet(result: RunResult) -> Sheet:
    """One row per paired comparison (before → after)."""
    columns = [
        Column("before"),
        Column("after"),
        Column("n", kind="number"),
        Column("accuracy before", kind="percent"),
        Column("accuracy after", kind="percent"),
        Column("difference", kind="percent"),
        Column("95% CI low", kind="percent"),
        Column("95% CI high", kind="percent"),
        Column("fixed", kind="number"),
        Column("regressed", kind="number"),
        Column("still wrong", kind="number"),
        Column("both right", kind="number"),
        Column("McNemar p", kind="number"),
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
                c.accuracy_a,
                c.accuracy_b,
                c.difference,
                low,
                high,
                c.fixed,
                c.regressed,
                c.still_wrong,
                c.both_right,
                c.mcnemar_p,
            ]
        )
    return Sheet("paired", columns, rows)


def _variant_columns(ev: Evaluation) -> list[Column]:
    key = ev.variant.key
    columns = [
        Column("answer", key, "long"),
        Column("match", key, "match"),
        Column("error class", key),
    ]
    return columns + [Column(f"{ev.primary.scorer}.{d}", key) for d in _detail_keys(ev)]


def _variant_cells(ev: Evaluation, index: int) -> list[Any]:
    item = ev.predictions.items[index]
    score = ev.primary.rows[index]
    answer = item.answer if item.answer is not None else f"(failed: {item.error})"
    cells: list[Any] = [answer, score.match, score.error_class]
    return cells + [_plain(score.details.get(d)) for d in _detail_keys(ev)]


def _detail_keys(ev: Evaluation) -> list[str]:
    keys: dict[str, None] = {}
    for row in ev.primary.rows:
        keys.update(dict.fromkeys(row.details))
    return list(keys)


def _plain(value: Any) -> Any:
    """A cell value Excel can hold: lists and dicts as readable text."""
    if isinstance(value, (list, tuple, set)):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return value


def _row_number(numbers: list[int], index: int) -> int:
    return numbers[index] if index < len(numbers) else index + 2
