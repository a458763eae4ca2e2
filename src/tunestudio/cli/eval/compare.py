"""``tunestudio eval compare BEFORE AFTER``: two runs of one test set, item by item."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from tunestudio.cli.eval.app import app
from tunestudio.cli.eval.score import (
    AnswerColumn,
    ExpectedColumn,
    JsonOption,
    LabelsOption,
    TargetOption,
    build_scorers,
    require_expected,
    score_all,
)
from tunestudio.errors import ConfigError, DataError

if TYPE_CHECKING:
    from tunestudio.evaluation.compare import PairedComparison
    from tunestudio.evaluation.predictions import Predictions
    from tunestudio.evaluation.scorers import ScoreReport

HELP = (
    "Compare two runs of the same test set (e.g. before and after tuning), item by item.\n\n"
    "Both files are scored with the same scorer; each item is fixed (wrong → right), regressed "
    "(right → wrong), still wrong or right in both. Prints both accuracies, the difference with "
    "a 95% paired-bootstrap interval and McNemar's exact p-value. The files must hold the same "
    "questions in the same order."
)
SCORED = ("exact", "classification", "grouping", "style")  # the scorers that give a match


@app.command(help=HELP)
def compare(
    before: Annotated[Path, typer.Argument(metavar="BEFORE", help="Answers of the first run.")],
    after: Annotated[Path, typer.Argument(metavar="AFTER", help="Answers of the second run.")],
    scorer: Annotated[
        str, typer.Option("--scorer", "-s", help=f"What counts as right: {', '.join(SCORED)}.")
    ] = "exact",
    labels: LabelsOption = None,
    target: TargetOption = None,
    answer_column: AnswerColumn = "content",
    expected_column: ExpectedColumn = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write every item with both answers and its flip."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    n_boot: Annotated[int, typer.Option(min=100, help="Bootstrap resamples.")] = 2000,
    as_json: JsonOption = False,
) -> None:
    """Score both runs, pair them item by item and print the comparison."""
    from tunestudio.cli.eval import score_show as show
    from tunestudio.evaluation.compare import paired
    from tunestudio.evaluation.predictions import read_predictions
    from tunestudio.inference.tables import check_output_path

    if scorer not in SCORED:
        raise ConfigError(
            f"the {scorer} scorer gives no right/wrong to compare",
            where="--scorer",
            hint=f"use one of: {', '.join(SCORED)}",
        )
    [chosen] = build_scorers([scorer], {"--labels": labels, "--target": target})
    if output:
        check_output_path(output, before)
        check_output_path(output, after)
    runs = [
        read_predictions(path, answer_column=answer_column, expected_column=expected_column)
        for path in (before, after)
    ]
    check_same_items(*runs)
    for run in runs:
        require_expected(run, [scorer])
    [a], [b] = (score_all(run, [chosen]) for run in runs)
    result = paired(a.matches, b.matches, n_boot=n_boot, seed=seed)
    if as_json:
        out = {"before": str(before), "after": str(after), "scorer": scorer, **result.to_dict()}
        sys.stdout.write(json.dumps(_finite(out), ensure_ascii=False, indent=2) + "\n")
    else:
        _show(result, runs, a, b)
    if output:
        written = _write(output, runs, a, b)
        if not as_json:
            show.note(f"wrote {len(runs[0])} rows with both answers and their flip to {written}")


def check_same_items(first: Predictions, second: Predictions) -> None:
    """Refuse two files that are not the same test set in the same order.

    Questions and expected answers must agree row by row; system prompts may differ, since
    comparing two prompts on one test set is one of the things this command is for.
    """
    if len(first) != len(second):
        raise DataError(
            f"the two files have {len(first)} and {len(second)} rows",
            where=f"{first.table.path.name} / {second.table.path.name}",
            hint="compare two runs of the same test set (the same INPUT given to tunestudio infer)",
        )
    fields = (("input", "질문이"), ("expected", "정답이"))
    for a, b in zip(first.items, second.items, strict=True):
        for attribute, word in fields:
            mine, theirs = getattr(a, attribute), getattr(b, attribute)
            if mine != theirs:
                raise DataError(
                    f"이 행의 {word} {first.table.where(a.index)} 와 다릅니다 "
                    f"({_short(theirs)!r} ≠ {_short(mine)!r})",
                    where=second.table.where(b.index),
                    hint="두 파일은 같은 테스트셋을 같은 순서로 답한 결과여야 합니다",
                )


def _short(text: str | None, size: int = 40) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= size else text[: size - 1] + "…"


def _show(
    result: PairedComparison, runs: list[Predictions], a: ScoreReport, b: ScoreReport
) -> None:
    from tunestudio.cli.common import console

    names = [run.table.path.name for run in runs]
    console.rule(f"[bold]{escape(names[0])}[/] → [bold]{escape(names[1])}[/] · {a.scorer}")
    flips = Table(title="items", title_justify="left", show_header=False)
    flips.add_column("flip")
    flips.add_column("items", justify="right")
    for label, count in [
        ("fixed (wrong → right)", result.fixed),
        ("regressed (right → wrong)", result.regressed),
        ("still wrong", result.still_wrong),
        ("right in both", result.both_right),
        ("left out (not scored)", result.skipped),
    ]:
        flips.add_row(label, str(count))
    console.print(flips)
    low, high = result.difference_ci
    lines = [
        f"accuracy     {_pct(result.accuracy_a)} → {_pct(result.accuracy_b)}  (n = {result.n})",
        f"difference   {_pct(result.difference, signed=True)}  "
        f"95% CI [{_pct(low, signed=True)}, {_pct(high, signed=True)}]  (paired bootstrap)",
        f"McNemar p    {result.mcnemar_p:.4g}  (exact, on {result.fixed + result.regressed} changed items)",
    ]
    for line in lines:
        console.print(line, highlight=False)
    console.print(_class_table(a, b, names))


def _class_table(a: ScoreReport, b: ScoreReport, names: list[str]) -> Table:
    from collections import Counter

    counts = [Counter(row.error_class or "correct" for row in r.rows) for r in (a, b)]
    table = Table(title="error classes", title_justify="left")
    table.add_column("error_class")
    for name in names:
        table.add_column(name, justify="right")
    for error_class in dict.fromkeys(["correct", *counts[0], *counts[1]]):
        table.add_row(error_class, str(counts[0][error_class]), str(counts[1][error_class]))
    return table


def _pct(value: float, *, signed: bool = False) -> str:
    if math.isnan(value):
        return "n/a"
    # A difference of two accuracies is in percentage points, not percent.
    return f"{value * 100:+.1f} pp" if signed else f"{value:.1%}"


def _finite(out: dict[str, Any]) -> dict[str, Any]:
    """NaN (nothing to compare) as JSON null."""

    def fix(value: Any) -> Any:
        if isinstance(value, float) and math.isnan(value):
            return None
        return [fix(v) for v in value] if isinstance(value, list) else value

    return {key: fix(value) for key, value in out.items()}


def _write(output: Path, runs: list[Predictions], a: ScoreReport, b: ScoreReport) -> Path:
    from tunestudio.evaluation.compare import flip
    from tunestudio.inference import write_atomic

    first, second = runs
    rows = []
    for item, other, row_a, row_b in zip(first.items, second.items, a.rows, b.rows, strict=True):
        rows.append(
            {
                "row": first.table.row_numbers[item.index],
                "input": item.input,
                "expected": item.expected,
                "before": item.answer if item.answer is not None else f"(error: {item.error})",
                "after": other.answer if other.answer is not None else f"(error: {other.error})",
                "before.match": row_a.match,
                "after.match": row_b.match,
                "before.error_class": row_a.error_class,
                "after.error_class": row_b.error_class,
                "flip": flip(row_a.match, row_b.match),
            }
        )
    return write_atomic(output, list(rows[0]) if rows else ["row"], rows)
