"""How ``eval score`` and ``eval compare`` print: metrics, per-label tables, the confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from tunestudio.cli.common import console

if TYPE_CHECKING:
    from tunestudio.evaluation.predictions import Predictions
    from tunestudio.evaluation.scorers import ScoreReport

# Short confusion-matrix headers for the failure columns (the legend is printed below it).
FAILURE_HEADERS = {
    "(out of label set)": "OOS",
    "(format invalid)": "FMT",
    "(generation failed)": "FAIL",
}
_PERCENT_WORDS = ("rate", "accuracy", "share", "f1", "precision", "recall")


def reports(table: Predictions, reports: Sequence[ScoreReport]) -> None:
    """Print every scorer's metrics and tables."""
    for report in reports:
        console.rule(f"[bold]{escape(report.scorer)}[/] · {escape(str(table.table.path))}")
        console.print(metrics_table(report.metrics))
        tables = dict(report.tables)
        labels = [row["label"] for row in tables.get("per_label", [])]
        if "per_label" in tables:
            console.print(rows_table("per label", tables.pop("per_label"), numbered=True))
        if "confusion" in tables:
            console.print(confusion_table(tables.pop("confusion"), labels))
        for name, rows in tables.items():
            if rows:
                console.print(rows_table(name.replace("_", " "), rows))


def note(text: str) -> None:
    console.print(escape(text), highlight=False)


def metrics_table(metrics: dict[str, float]) -> Table:
    """Metric names and values, rates as percentages."""
    table = Table(title="metrics", title_justify="left", show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(escape(name), cell(name, value))
    return table


def rows_table(title: str, rows: list[dict[str, Any]], *, numbered: bool = False) -> Table:
    """A list of row dicts as a table, columns in first-seen order."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    table = Table(title=escape(title), title_justify="left")
    if numbered:
        table.add_column("#", justify="right")
    for column in columns:
        table.add_column(escape(column), justify="left" if _is_text(rows, column) else "right")
    for number, row in enumerate(rows, start=1):
        cells = [cell(column, row.get(column)) for column in columns]
        table.add_row(*([str(number)] if numbered else []), *cells)
    return table


def confusion_table(rows: list[dict[str, Any]], labels: list[str]) -> Table:
    """Rows: expected label; columns: answered label; both by their # in the per-label table.

    Numbers instead of names keep fifteen Korean labels and three failure columns readable in
    a 100-column terminal.
    """
    table = Table(
        title="confusion (rows: expected #, columns: answered #)",
        title_justify="left",
        caption="# as in the per-label table; OOS = out of label set, FMT = format invalid, "
        "FAIL = generation failed",
        caption_justify="left",
    )
    columns = [key for key in rows[0] if key != "expected"] if rows else []
    table.add_column("#", justify="right")
    for column in columns:
        header = FAILURE_HEADERS.get(column) or str(labels.index(column) + 1)
        table.add_column(header, justify="right")
    for row in rows:
        number = labels.index(row["expected"]) + 1
        cells = [_count(row[column], on_diagonal=column == row["expected"]) for column in columns]
        table.add_row(str(number), *cells)
    return table


def cell(name: str, value: Any) -> str:
    """One value as printed: rates as percentages, whole numbers without decimals."""
    if value is None:
        return ""
    if isinstance(value, float):
        if any(word in name for word in _PERCENT_WORDS):
            return f"{value:.1%}"
        return f"{value:.0f}" if value.is_integer() else f"{value:.2f}"
    return escape(str(value))


def _count(value: int, *, on_diagonal: bool) -> str:
    if not value:
        return "[dim]·[/]"
    return f"[bold green]{value}[/]" if on_diagonal else f"[red]{value}[/]"


def _is_text(rows: list[dict[str, Any]], column: str) -> bool:
    return any(isinstance(row.get(column), str) for row in rows)
