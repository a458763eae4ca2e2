"""What ``eval judge`` and ``eval pair`` show and save: summaries, slices, tables, charts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunestudio.cli.common import console

if TYPE_CHECKING:
    from tunestudio.evaluation.judge_report import PairwiseReport, SingleJudgeReport
    from tunestudio.evaluation.predictions import Predictions
    from tunestudio.inference import BatchProgress


@contextmanager
def progress_bar() -> Iterator[Callable[[BatchProgress], None]]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]judging"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[failed]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("judging", total=None, failed="")

        def report(state: BatchProgress) -> None:
            failed = f"{state.failed} call(s) failed" if state.failed else ""
            bar.update(task, total=state.total, completed=state.done, failed=failed)

        yield report


def write_judged(preds: Predictions, report: SingleJudgeReport, out: Path) -> None:
    from tunestudio.evaluation.judge_tables import judged_table
    from tunestudio.inference import write_atomic

    columns, rows = judged_table(preds, report)
    write_atomic(out, columns, rows)


def write_pairs(a: Predictions, b: Predictions, report: PairwiseReport, out: Path) -> None:
    from tunestudio.evaluation.judge_tables import pairs_table
    from tunestudio.inference import write_atomic

    columns, rows = pairs_table(a, b, report)
    write_atomic(out, columns, rows)


def print_single(
    report: SingleJudgeReport, journal: Path, out: Path | None, unknown: list[str]
) -> None:
    m = report.metrics
    rows = int(m["rows"])
    mean = f"{m['mean_score']:.2f}" if "mean_score" in m else "— (nothing scored)"
    if "score_sd" in m:
        mean += f" (sd {m['score_sd']:.2f})"
    lines = [
        ("judge", f"{report.judge} · rubric {report.rubric}"),
        (
            "rows",
            f"{rows}: scored {int(m['scored'])}, judge failed {int(m['judge_failed'])}, "
            f"candidate failed {int(m['candidate_failed'])}",
        ),
        ("mean score", mean),
        ("judge calls", _calls(report.batch, m)),
    ]
    if "repeat_variance" in m:
        lines.append(
            (
                "repeats",
                f"{report.repeats} per row: within-row sd {m['repeat_sd']:.2f}, all repeats agree "
                f"on {m['repeat_agreement']:.0%} of rows",
            )
        )
    _grid(lines, journal, out)
    _warnings(report.warnings, unknown)
    if m["judge_failed"]:
        console.print(
            f"[yellow]{int(m['judge_failed'])} row(s) have no score[/]: the judge's reply could "
            "not be read or its call failed (see judge_error); they are left out of the mean, "
            "not counted as low scores.",
            highlight=False,
        )


def print_pairs(
    report: PairwiseReport, journal: Path, out: Path | None, unknown: list[str]
) -> None:
    m = report.metrics
    a, b = report.names
    judged = int(m["judged"])

    def share(key: str, rate: str) -> str:
        return f"{int(m[key])}" + (f" ({m[rate]:.1%})" if rate in m else "")

    consistency = (
        f"{m['swap_consistency']:.1%} of {judged} pairs judged in both orders"
        if "swap_consistency" in m
        else "— (no pair was judged in both orders)"
    )
    lines = [
        ("judge", f"{report.judge} · rubric {report.rubric}"),
        (
            "pairs",
            f"{int(m['pairs'])}: judged in both orders {judged}, judge failed "
            f"{int(m['judge_failed'])}, candidate failed {int(m['candidate_failed'])}",
        ),
        (f"{a} wins", share("a_wins", "a_win_rate")),
        (f"{b} wins", share("b_wins", "b_win_rate")),
        ("ties", share("ties", "tie_rate")),
        ("inconsistent", share("inconsistent", "inconsistent_rate")),
        ("swap consistency", consistency),
        ("judge calls", _calls(report.batch, m)),
    ]
    _grid(lines, journal, out)
    _warnings(report.warnings, unknown)
    if m["judge_failed"]:
        console.print(
            f"[yellow]{int(m['judge_failed'])} pair(s) could not be judged[/]: a verdict could "
            "not be read or a call failed (see judge_error); they count for neither side.",
            highlight=False,
        )


def _calls(batch: Any, m: dict[str, float]) -> str:
    text = f"{int(m['judge_calls'])}, failed or unreadable {m['judge_failure_rate']:.1%}"
    if batch.resumed:
        text += f"; {batch.resumed} from the journal"
    return text + f"; {batch.called} called in {batch.wall_s:.1f} s"


def _grid(lines: list[tuple[str, str]], journal: Path, out: Path | None) -> None:
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for label, value in lines:
        grid.add_row(label, value)
    if out is not None:
        grid.add_row("output", str(out))
    grid.add_row("journal", f"{journal} (--fresh starts over)")
    console.print(grid, highlight=False)


def _warnings(warnings: list[str], unknown: list[str]) -> None:
    """The report's warnings, and which predictions files the self-preference check missed."""
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if unknown:
        files = " and ".join(unknown)
        console.print(
            f"[dim]note: no journal beside {files} says which model wrote it, so whether the "
            "judge is of that model's family (self-preference) was not checked[/]",
            highlight=False,
        )


def print_slices(
    values: list[float | None], preds: Predictions, columns: list[str], label: str
) -> None:
    from rich import box
    from rich.table import Table

    from tunestudio.evaluation.slices import slice_table

    title = f"{label} by {' × '.join(columns)}"
    table = Table(title=title, title_justify="left", box=box.SIMPLE)
    for column in columns:
        table.add_column(column)
    for name in (label, "n", "missing"):
        table.add_column(name, justify="right")
    for row in slice_table(values, preds.table.rows, columns):
        mean = "—" if row["mean"] is None else f"{row['mean']:.2f}"
        table.add_row(*[str(row[c]) for c in columns], mean, str(row["n"]), str(row["missing"]))
    console.print(table, highlight=False)


def chart_single(
    report: SingleJudgeReport,
    preds: Predictions,
    columns: list[str],
    path: Path,
    scale: tuple[int, int],
) -> None:
    from tunestudio.charts import save_png
    from tunestudio.evaluation.judge_tables import single_chart

    save_png(single_chart(report, preds.table.rows, columns, scale), path)
    console.print(f"chart: {path}", highlight=False)


def chart_pairs(report: PairwiseReport, preds: Predictions, columns: list[str], path: Path) -> None:
    from tunestudio.charts import save_png
    from tunestudio.evaluation.judge_tables import pair_chart

    save_png(pair_chart(report, preds.table.rows, columns), path)
    console.print(f"chart: {path}", highlight=False)
