"""The rich progress display of ``tunestudio run``: a line per stage, a bar per batch run and
per tuning run (steps, loss, ETA from run_recipe's "step" events)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from tunestudio.cli.common import console
from tunestudio.experiments.observer import Observer
from tunestudio.inference import BatchProgress


class RichObserver(Observer):
    """Draws a run's progress: a line per stage, a bar per batch run and per tuning run."""

    def stage(self, message: str) -> None:
        console.print(f"[bold cyan]→[/] {message}", highlight=False)

    def note(self, message: str) -> None:
        console.print(f"  [dim]{message}[/]", highlight=False)

    @contextmanager
    def inference(self, key: str, total: int) -> Iterator[Callable[[BatchProgress], None]]:
        with _bar("{task.fields[status]}") as bar:
            task = bar.add_task(f"answering ({key})", total=total, status="")

            def report(state: BatchProgress) -> None:
                failed = f"[red]{state.failed} failed[/]" if state.failed else ""
                resumed = f"{state.resumed} from journal" if state.resumed else ""
                status = " · ".join(x for x in (resumed, failed) if x)
                bar.update(task, completed=state.done, total=state.total, status=status)

            yield report

    @contextmanager
    def tuning(self, key: str) -> Iterator[Callable[[str, dict[str, Any]], None]]:
        with _bar("loss {task.fields[loss]}") as bar:
            task = bar.add_task(f"tuning ({key})", total=None, loss="–")

            def on_event(kind: str, data: dict[str, Any]) -> None:
                if kind == "prepared":
                    bar.update(task, total=data["totalTrainSteps"])
                elif kind == "resumed":
                    bar.update(task, completed=data["step"])
                elif kind == "step":
                    bar.update(task, completed=data["currStep"], loss=f"{data['trainLoss']:.3f}")

            yield on_event


def _bar(extra: str) -> Progress:
    return Progress(
        TextColumn("  {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(extra),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    )
