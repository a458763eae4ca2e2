"""``tunestudio infer MODEL INPUT -o OUTPUT``: answer every row of a test set, resumably."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tunestudio.cli.app import app
from tunestudio.cli.common import console, err_console

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from tunestudio.inference import BatchInput, BatchProgress, BatchResult
    from tunestudio.models import Backend
    from tunestudio.types import GenParams

# "\\[" keeps rich from reading "[@<adapter>]" as markup.
MODEL_HELP = (
    "Model spec: tiny, hf:<hub id or path>\\[@<adapter>], clova:<model>, clova-task:<taskId> "
    "openai:<base_url>#<model> or pipeline:<pipeline.yaml>."
)
HELP = (
    "Answer every row of INPUT with MODEL and write the answers to OUTPUT.\n\n"
    "Each finished row is recorded in OUTPUT.journal.jsonl; if the run stops (Ctrl-C, a crash, "
    "kill -9), the same command continues where it stopped without calling a finished row "
    "again. Exit code 1 when some rows failed (see the `error` column)."
)


@app.command(help=HELP)
def infer(
    model: Annotated[str, typer.Argument(metavar="MODEL", help=MODEL_HELP)],
    input_path: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT",
            help="Test set (.csv/.xlsx/.jsonl with `system` and `user` columns) "
            "or a CLOVA dataset (System_Prompt, C_ID, T_ID, Text, Completion).",
        ),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="File for the answers; .xlsx, .csv, .jsonl or .json."),
    ],
    system: Annotated[
        str | None, typer.Option(help="System prompt for every row (replaces the input's).")
    ] = None,
    concurrency: Annotated[
        int, typer.Option(min=1, help="Calls in flight at once (HTTP backends).")
    ] = 8,
    batch_size: Annotated[
        int,
        typer.Option(
            min=1, help="Rows per generation call (local models); halved if memory runs out."
        ),
    ] = 64,
    max_tokens: Annotated[int, typer.Option(min=1, help="Longest answer, in tokens.")] = 256,
    temperature: Annotated[
        float, typer.Option(min=0.0, help="Sampling temperature; 0 answers greedily.")
    ] = 0.0,
    top_p: Annotated[float, typer.Option(min=0.0, max=1.0, help="Nucleus sampling.")] = 1.0,
    seed: Annotated[int | None, typer.Option(help="Seed for sampling.")] = None,
    retries: Annotated[
        int, typer.Option(min=0, help="Extra tries for a row the server failed (5xx, 429).")
    ] = 2,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Call again the rows the journal has as failed.")
    ] = False,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Discard the journal of an earlier run and start over.")
    ] = False,
) -> None:
    """Answer every row of INPUT with MODEL, journaled so that a rerun resumes."""
    from tunestudio.inference import journal_beside, read_batch_input
    from tunestudio.inference.tables import check_output_path
    from tunestudio.models import parse_spec
    from tunestudio.types import GenParams

    spec = parse_spec(model)  # a misspelt model fails before a big input is read
    out = check_output_path(output, input_path)
    batch = read_batch_input(input_path, system=system)
    for note in batch.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    params = GenParams(max_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed)
    journal = journal_beside(out)
    if not fresh:  # refuse another run's journal before spending minutes loading a model
        _check_journal(journal, batch, spec.raw, params, retry_failed)
    # Local models generate a whole batch per call; the hf loader caps it at max_batch_size.
    options = {"max_batch_size": batch_size} if spec.kind in ("tiny", "hf") else {}
    backend = _load(model, options)
    settings = {
        "params": params,
        "journal_path": journal,
        "model_id": spec.raw,
        "concurrency": concurrency,
        "batch_size": batch_size,
        "retries": retries,
        "retry_failed": retry_failed,
        "fresh": fresh,
    }
    from tunestudio.ops.ledger import labels

    run_label = f"infer:{out.name}"
    try:
        with labels(run=run_label):  # the cost ledger sums a pipeline's calls per run
            result = _run(backend, batch, settings)
    finally:
        backend.close()  # a pipeline also writes out its ledger records
    _write(batch, result, out)
    _summary(result, out)
    _ledger_summary(spec.kind, run_label)
    if result.failed:
        raise typer.Exit(1)


def _ledger_summary(kind: str, run_label: str) -> None:
    """What a pipeline's calls cost and saved in this run (other models are not metered)."""
    if kind != "pipeline":
        return
    from tunestudio.cli.stats import stats_table
    from tunestudio.ops.stats import summarize

    rows = summarize("model", run=run_label)
    if rows:
        console.print(stats_table(rows, "model"))


@contextmanager
def _rows_named(batch: BatchInput, journal: Path) -> Iterator[None]:
    """Name a row the journal disagrees with as the user finds it: ``test.csv row 12``."""
    from tunestudio.inference import JournalError

    try:
        yield
    except JournalError as exc:
        if exc.index is None:
            raise
        raise JournalError(
            f"this row is not the row the journal {journal.name} answered",
            where=batch.where(exc.index),
            hint=exc.hint,
        ) from None


def _check_journal(
    journal: Path, batch: BatchInput, model: str, params: GenParams, retry_failed: bool
) -> None:
    from tunestudio.inference import journaled_rows

    with _rows_named(batch, journal):
        done = journaled_rows(journal, batch.conversations, model_id=model, params=params)
    if not done:
        return
    failed = sum(not r.ok for r in done.values())
    again = "called again" if retry_failed else "kept; --retry-failed calls them again"
    failures = f", {failed} of them failed ({again})" if failed else ""
    console.print(
        f"resuming: the journal {journal} has {len(done)} of {len(batch)} rows{failures}",
        highlight=False,
    )


def _load(model: str, options: dict[str, Any]) -> Backend:
    from tunestudio.models import load_backend

    with err_console.status(f"loading {model}…"):
        return load_backend(model, **options)


def _run(backend: Backend, batch: BatchInput, settings: dict[str, Any]) -> BatchResult:
    from tunestudio.inference import run_batch

    mode = _mode(backend, settings["concurrency"], settings["batch_size"])
    console.print(
        f"{backend.name}: {len(batch)} rows from {batch.table.path.name}, {mode}",
        highlight=False,
    )
    journal: Path = settings["journal_path"]
    last: list[BatchProgress] = []
    try:
        with _rows_named(batch, journal), _progress_bar() as bar:
            progress = _reporter(bar, last)
            return run_batch(backend, batch.conversations, progress=progress, **settings)
    except (Exception, KeyboardInterrupt) as exc:
        if last:  # the run had started: say what is safe
            err_console.print(
                f"{last[-1].done} of {last[-1].total} rows are finished in the journal "
                f"{journal}; rerun the same command to continue.",
                highlight=False,
            )
        if isinstance(exc, KeyboardInterrupt):
            raise typer.Exit(130) from None
        raise


def _mode(backend: Backend, concurrency: int, batch_size: int) -> str:
    caps = backend.capabilities
    if caps.batching:
        return f"batches of up to {batch_size} rows"
    if caps.concurrent:
        return f"{concurrency} calls at a time"
    return "one row at a time"


def _progress_bar() -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TextColumn("[red]{task.fields[failed]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    )


def _reporter(bar: Progress, last: list[BatchProgress]) -> Callable[[BatchProgress], None]:
    task: list[TaskID] = []

    def report(state: BatchProgress) -> None:
        last[:] = [state]
        failed = f"{state.failed} failed" if state.failed else ""
        if not task:
            # Rows from the journal start the bar full that far, without counting as speed.
            task.append(
                bar.add_task(
                    "answering", total=state.total, completed=state.done, rate="", failed=failed
                )
            )
            return
        speed = next(t.speed for t in bar.tasks if t.id == task[0])
        rate = f"{speed:.1f} rows/s" if speed else ""
        bar.update(task[0], completed=state.done, rate=rate, failed=failed)

    return report


def _write(batch: BatchInput, result: BatchResult, out: Path) -> None:
    from tunestudio.inference import OUTPUT_COLUMNS, output_table, write_atomic

    replaced = [c for c in OUTPUT_COLUMNS if c in batch.table.columns]
    if replaced:
        console.print(
            f"[yellow]note:[/] the input's column(s) {', '.join(replaced)} are replaced "
            "by this run's values in the output",
            highlight=False,
        )
    columns, rows = output_table(batch, result.rows)
    write_atomic(out, columns, rows)


def _summary(result: BatchResult, out: Path) -> None:
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    failed = f", [red]failed {result.failed}[/]" if result.failed else ""
    grid.add_row("rows", f"{len(result.rows)} (ok {result.ok}{failed})")
    if result.resumed:
        grid.add_row("from journal", f"{result.resumed} (answered by an earlier run)")
    grid.add_row(
        "answered now",
        f"{result.called} in {result.wall_s:.1f} s, {result.rows_per_s:.2f} rows/s",
    )
    grid.add_row("tokens", f"in {result.input_tokens:,} · out {result.output_tokens:,}")
    grid.add_row("output", str(out))
    grid.add_row(
        "journal",
        f"{result.journal_path} (kept as the record; --fresh starts over)",
    )
    console.print(grid, highlight=False)
    if result.failed:
        console.print(
            f"[yellow]{result.failed} row(s) failed[/]: their `error` column says why; "
            "rerun with --retry-failed to call only those again.",
            highlight=False,
        )
