"""Batch runs: answer many conversations with one backend, journaled and resumable.

How the rows are driven follows the backend's capabilities:

- ``batching`` (a local model): ``chat_batch`` over batches of similar length, longest first,
  so little compute goes to padding and running out of memory shows up at once. A batch that
  does not fit in memory is halved, and later batches keep the smaller size; a batch that
  fails otherwise is split in halves until the failing row is alone, so one bad row costs its
  neighbours nothing.
- ``concurrent`` (an HTTP API): a pool of threads, one call per row.
- otherwise one row after another.

Every finished row goes to the journal before it counts as done, so a killed run loses at most
the rows that were in flight, and the next run with the same journal calls only the rest.
"""

from __future__ import annotations

import contextlib
import contextvars
import random
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from tunestudio.errors import (
    ConfigError,
    ModelAuthError,
    ModelError,
    ModelRateLimitError,
    ModelUnavailableError,
    TuneStudioError,
)
from tunestudio.inference.journal import Journal, RowResult, row_key
from tunestudio.models.base import Backend
from tunestudio.types import ChatResult, GenParams, Message

MAX_RETRY_DELAY_S = 30.0


class BatchAbortedError(ModelError):
    """Too many rows in a row failed: the model or server is broken, not the rows."""


@dataclass(frozen=True)
class BatchProgress:
    """Where a run is; ``row`` is the row that just finished (None for the first report)."""

    done: int
    total: int
    failed: int
    resumed: int
    row: RowResult | None = None


ProgressCallback = Callable[[BatchProgress], None]


@dataclass
class BatchResult:
    """Every row's result in input order, and what this run itself did."""

    rows: list[RowResult]
    resumed: int  # rows taken from the journal without calling the model
    wall_s: float  # time this run spent calling the model
    journal_path: Path | None = None

    @property
    def called(self) -> int:
        return len(self.rows) - self.resumed

    @property
    def ok(self) -> int:
        return sum(r.ok for r in self.rows)

    @property
    def failed(self) -> int:
        return len(self.rows) - self.ok

    @property
    def input_tokens(self) -> int:
        return sum(r.input_tokens for r in self.rows)

    @property
    def output_tokens(self) -> int:
        return sum(r.output_tokens for r in self.rows)

    @property
    def rows_per_s(self) -> float:
        """Rows this run answered per second of wall time (resumed rows do not count)."""
        return self.called / self.wall_s if self.wall_s > 0 else 0.0


def run_batch(
    backend: Backend,
    rows: Sequence[Sequence[Message]],
    *,
    params: GenParams = GenParams(),
    journal_path: Path | str | None = None,
    concurrency: int = 8,
    batch_size: int = 64,
    retries: int = 2,
    backoff_s: float = 1.0,
    retry_failed: bool = False,
    fresh: bool = False,
    max_consecutive_failures: int | None = 20,
    progress: ProgressCallback | None = None,
    model_id: str | None = None,
) -> BatchResult:
    """Answer every conversation in ``rows`` and return the results in the same order.

    With ``journal_path`` each finished row is appended there first, and rows the journal
    already holds are not called again (failed ones are, with ``retry_failed``). A journal of
    another model, other ``params`` or changed rows raises
    :class:`~tunestudio.inference.journal.JournalError`; ``fresh`` discards it instead.
    Rows failing with a retryable error (server unavailable, rate limit) are tried ``retries``
    more times; a row that still fails is kept with its ``error``. A rejected key
    (:class:`ModelAuthError`) stops the run, and so do ``max_consecutive_failures`` failures in
    a row (:class:`BatchAbortedError`); finished rows stay in the journal either way.
    ``model_id`` names the model in the journal (default: ``backend.name``).
    """
    _check_settings(concurrency, batch_size, retries)
    keys = [row_key(messages) for messages in rows]
    journal = None
    if journal_path is not None:
        model = model_id or backend.name
        journal = Journal.open(journal_path, model=model, params=params, fresh=fresh)
    with journal or contextlib.nullcontext():
        known: dict[int, RowResult] = {}
        if journal is not None:
            journal.check_inputs(keys)
            known = dict(journal.results)
        todo = [i for i in range(len(rows)) if _needs_call(known.get(i), retry_failed)]
        pending = set(todo)
        tracker = _Tracker(len(rows), {i: r for i, r in known.items() if i not in pending})
        tracker.start(progress, max_consecutive_failures)
        caller = _Caller(backend, params, retries, backoff_s)
        started = time.perf_counter()
        with contextlib.closing(_drive(caller, rows, todo, concurrency, batch_size)) as answers:
            for results in answers:
                if journal is not None:
                    journal.append(results, keys)
                tracker.add(results, backend.name)
        wall = time.perf_counter() - started
    ordered = [tracker.results[i] for i in range(len(rows))]
    path = Path(journal_path) if journal_path is not None else None
    return BatchResult(ordered, tracker.resumed, wall, path)


def journaled_rows(
    journal_path: Path | str,
    rows: Sequence[Sequence[Message]],
    *,
    model_id: str,
    params: GenParams,
) -> dict[int, RowResult]:
    """The rows the journal already holds for this model and ``params``, by input index.

    Raises :class:`~tunestudio.inference.journal.JournalError` as :func:`run_batch` would, so a
    caller can refuse a mismatched journal before spending minutes loading a model.
    """
    if not Path(journal_path).exists():
        return {}
    with Journal.open(journal_path, model=model_id, params=params) as journal:
        journal.check_inputs([row_key(messages) for messages in rows])
        return dict(journal.results)


def _check_settings(concurrency: int, batch_size: int, retries: int) -> None:
    for name, value, least in (
        ("concurrency", concurrency, 1),
        ("batch_size", batch_size, 1),
        ("retries", retries, 0),
    ):
        if value < least:
            raise ConfigError(
                f"{name} must be at least {least}, not {value}", where=name.replace("_", "-")
            )


def _needs_call(known: RowResult | None, retry_failed: bool) -> bool:
    return known is None or (retry_failed and not known.ok)


def _drive(
    caller: _Caller,
    rows: Sequence[Sequence[Message]],
    todo: list[int],
    concurrency: int,
    batch_size: int,
) -> Generator[list[RowResult], None, None]:
    """Yield finished rows, a batch or a single row at a time, driving the backend its way."""
    caps = caller.backend.capabilities
    if caps.batching and batch_size > 1:
        yield from _batched(caller, rows, todo, batch_size)
    elif caps.concurrent and concurrency > 1 and len(todo) > 1:
        yield from _threaded(caller, rows, todo, concurrency)
    else:
        for i in todo:
            yield [caller.one(i, rows[i])]


def _batched(
    caller: _Caller, rows: Sequence[Sequence[Message]], todo: list[int], batch_size: int
) -> Iterator[list[RowResult]]:
    # Longest first: similar lengths share a batch (less padding) and memory runs out early.
    order = sorted(todo, key=lambda i: -sum(len(m.content) for m in rows[i]))
    start, size = 0, batch_size
    while start < len(order):
        chunk = order[start : start + size]
        try:
            results = caller.many(chunk, rows)
        except _OutOfMemory:
            size = max(1, len(chunk) // 2)  # the device cannot hold this many rows: stay smaller
            continue
        start += len(chunk)
        yield results


def _threaded(
    caller: _Caller, rows: Sequence[Sequence[Message]], todo: list[int], concurrency: int
) -> Iterator[list[RowResult]]:
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="tunestudio-batch")
    try:
        # each call runs in a copy of this context, so labels set by the caller (the run or API
        # key the ledger records calls for) reach the threads
        futures = [
            pool.submit(contextvars.copy_context().run, caller.one, i, rows[i]) for i in todo
        ]
        for future in as_completed(futures):
            yield [future.result()]
    finally:
        # On an abort or Ctrl-C, queued rows are dropped; calls in flight finish on their own.
        pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class _Caller:
    """Calls the backend for one row or a batch, with retries, and times the calls."""

    backend: Backend
    params: GenParams
    retries: int
    backoff_s: float

    def one(self, index: int, messages: Sequence[Message]) -> RowResult:
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                answer = self.backend.chat(messages, self.params)
            except ModelAuthError:
                raise  # every other row would fail the same way
            except (ModelUnavailableError, ModelRateLimitError) as exc:
                if attempt > self.retries:
                    return _failed(index, exc, started, attempt)
                time.sleep(self._delay(exc, attempt))
            except Exception as exc:  # one bad row must not stop a run of thousands
                return _failed(index, exc, started, attempt)
            else:
                return _answered(index, answer, started, attempt)

    def many(self, indices: list[int], rows: Sequence[Sequence[Message]]) -> list[RowResult]:
        if len(indices) == 1:
            return [self.one(indices[0], rows[indices[0]])]
        started = time.perf_counter()
        try:
            answers = self.backend.chat_batch([rows[i] for i in indices], self.params)
            if len(answers) != len(indices):
                raise ModelError(f"chat_batch gave {len(answers)} answers for {len(indices)}")
        except ModelAuthError:
            raise
        except Exception as exc:
            if _out_of_memory(exc):
                raise _OutOfMemory from exc
            # One row the model rejects fails its batch: halve until the culprit is alone.
            mid = len(indices) // 2
            return self.many(indices[:mid], rows) + self.many(indices[mid:], rows)
        return [_answered(i, a, started, 1) for i, a in zip(indices, answers, strict=True)]

    def _delay(self, exc: Exception, attempt: int) -> float:
        if isinstance(exc, ModelRateLimitError) and exc.retry_after is not None:
            return min(exc.retry_after, MAX_RETRY_DELAY_S)
        # Exponential backoff with jitter, so many threads do not retry in lockstep.
        delay = self.backoff_s * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
        return float(min(delay, MAX_RETRY_DELAY_S))


class _OutOfMemory(Exception):
    """A batch did not fit in the device's memory."""


def _out_of_memory(exc: BaseException) -> bool:
    # torch.OutOfMemoryError (CUDA), "MPS backend out of memory" (RuntimeError), MemoryError.
    return (
        isinstance(exc, MemoryError)
        or "OutOfMemory" in type(exc).__name__
        or ("out of memory" in str(exc).lower())
    )


def _answered(index: int, answer: ChatResult, started: float, attempts: int) -> RowResult:
    return RowResult(
        index=index,
        content=answer.content,
        latency_ms=(time.perf_counter() - started) * 1000,
        input_tokens=answer.usage.input_tokens,
        output_tokens=answer.usage.output_tokens,
        finish_reason=answer.finish_reason,
        attempts=attempts,
    )


def _failed(index: int, exc: Exception, started: float, attempts: int) -> RowResult:
    return RowResult(
        index=index,
        latency_ms=(time.perf_counter() - started) * 1000,
        error=describe_error(exc),
        finish_reason="error",
        attempts=attempts,
    )


def describe_error(exc: BaseException) -> str:
    """One line for the output's ``error`` column: the kind of error, what, and the fix."""
    if isinstance(exc, TuneStudioError):
        text = f"{type(exc).__name__}: {exc.message}"
        return f"{text} (hint: {exc.hint})" if exc.hint else text
    return f"{type(exc).__name__}: {exc}"


class _Tracker:
    """Collects results, counts failures and reports progress."""

    def __init__(self, total: int, resumed: dict[int, RowResult]):
        self.total = total
        self.results = dict(resumed)
        self.resumed = len(resumed)
        self.failed = sum(not r.ok for r in resumed.values())
        self.streak = 0
        self.limit: int | None = None
        self.progress: ProgressCallback | None = None

    def start(self, progress: ProgressCallback | None, limit: int | None) -> None:
        self.progress, self.limit = progress, limit
        self._report(None)

    def add(self, results: list[RowResult], model: str) -> None:
        for result in results:
            self.results[result.index] = result
            self.failed += not result.ok
            self.streak = 0 if result.ok else self.streak + 1
            self._report(result)
        if self.limit and self.streak >= self.limit:
            raise BatchAbortedError(
                f"the last {self.streak} rows all failed; stopped so that a broken model or "
                f"server does not fail the whole input. Last error: {results[-1].error}",
                where=model,
                hint="fix the cause and rerun the same command: finished rows are kept in the "
                "journal, and --retry-failed calls the failed ones again",
            )

    def _report(self, row: RowResult | None) -> None:
        if self.progress is not None:
            done = len(self.results)
            self.progress(BatchProgress(done, self.total, self.failed, self.resumed, row))
