"""The process that runs one job's recipe: ``python -m tunestudio.tuning.child JOB_ID …``.

The worker starts one child per job so a crash, a leak or an out-of-memory kill in training
cannot take the worker down. The child writes its own events and final state into the store.
It never outlives its worker: the kernel sends it SIGTERM when the worker dies (Linux
PR_SET_PDEATHSIG), and it also watches its parent pid. Either way the recipe is asked to stop,
saves a checkpoint and the job stays RUNNING until its heartbeat goes stale and another worker
claims it and resumes from that checkpoint.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from tunestudio.errors import ConfigError, DataError, DataFormatError, TuneStudioError
from tunestudio.tuning.jobs import JobStateError, JobStatus, JobStore

DEFAULT_RECIPE = "tunestudio.tuning.recipe:run_recipe"
PR_SET_PDEATHSIG = 1
EXIT_OK, EXIT_NOT_OURS, EXIT_ORPHANED = 0, 3, 4

Recipe = Callable[..., Any]


def load_recipe(path: str) -> Recipe:
    """Import ``module:function`` (the recipe, or a stand-in in tests)."""
    module_name, _, attr = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr or "run_recipe")
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load the recipe {path!r}: {exc}") from exc


def describe_failure(exc: BaseException) -> dict[str, Any]:
    """statusInfo fields for a failed job: CLOVA-style failureReason code, readable message."""
    if isinstance(exc, FileNotFoundError):
        code = "file.noexist"
    elif isinstance(exc, DataFormatError | DataError):
        code = "file.format"
    elif isinstance(exc, ConfigError):
        code = "config.invalid"
    elif isinstance(exc, MemoryError) or "OutOfMemory" in type(exc).__name__:
        code = "train.oom"
    elif isinstance(exc, TuneStudioError):
        code = "train.error"
    else:
        code = "train.unknown"
    if isinstance(exc, TuneStudioError):
        message = f"{exc.where}: {exc.message}" if exc.where else exc.message
        hint = exc.hint
    else:
        message, hint = f"{type(exc).__name__}: {exc}", None
    if code == "train.oom" and hint is None:
        hint = "lower batch_size or max_length (or raise grad_accum to keep the same batch)"
    return {"failureReason": code, "message": message, "hint": hint}


class Progress:
    """Turns recipe events into store events and statusInfo (ETA, loss difference)."""

    def __init__(self, store: JobStore, job_id: str, last_loss: float | None) -> None:
        self.store, self.job_id = store, job_id
        self.last_loss = last_loss
        self.total_steps: int | None = None
        self.start_step, self.start_time = 0, time.monotonic()

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        self.store.record(self.job_id, kind, _jsonable(data), self._info(kind, data))

    def _info(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        if kind == "prepared":
            self.total_steps = data.get("totalTrainSteps")
            self.start_time = time.monotonic()
            keys = ("dataRows", "numOfTokens", "totalTrainSteps", "totalTrainEpochs")
            return {k: data.get(k) for k in keys} | {"label": data.get("labels")}
        if kind == "resumed":
            self.start_step, self.start_time = int(data.get("step", 0)), time.monotonic()
            return {"currStep": self.start_step}
        if kind == "step":
            return self._step_info(data)
        if kind == "done":
            return {"sendWeightSuccess": True, "estimatedTime": 0}
        return {}

    def _step_info(self, data: dict[str, Any]) -> dict[str, Any]:
        step, loss = int(data.get("currStep", 0)), data.get("trainLoss")
        info: dict[str, Any] = {"currStep": step, "currEpoch": data.get("currEpoch")}
        if loss is not None:
            info["trainLoss"] = loss
            if self.last_loss is not None:
                info["lossDiff"] = loss - self.last_loss
            self.last_loss = loss
        done = step - self.start_step
        if self.total_steps and done > 0:
            per_step = (time.monotonic() - self.start_time) / done
            info["estimatedTime"] = round(per_step * max(self.total_steps - step, 0))
        return info


class StopWatch:
    """``should_stop`` for the recipe: parent gone, cancel requested, or job taken over."""

    def __init__(self, store: JobStore, job_id: str, worker_id: str, parent_pid: int) -> None:
        self.store, self.job_id, self.worker_id = store, job_id, worker_id
        self.parent_pid = parent_pid
        self.reason: str | None = None
        self._next_check = 0.0

    def __call__(self) -> bool:
        if self.reason is None and os.getppid() != self.parent_pid:
            self.reason = "orphaned"
        if self.reason is None and time.monotonic() >= self._next_check:
            # The store is asked at most twice a second: cheap even for fast steps.
            self._next_check = time.monotonic() + 0.5
            job = self.store.get(self.job_id)
            if job.status != JobStatus.RUNNING or job.worker_id != self.worker_id:
                self.reason = "lost"
            elif job.cancel_requested:
                self.reason = "canceled"
        return self.reason is not None

    def on_sigterm(self, _signum: int, _frame: FrameType | None) -> None:
        self.reason = self.reason or "orphaned"


def run_child(job_id: str, worker_id: str, parent_pid: int, recipe_path: str) -> int:
    """Run the recipe for a job the worker has claimed; returns the process exit code."""
    store = JobStore()
    job = store.get(job_id)
    if job.status != JobStatus.RUNNING or job.worker_id != worker_id:
        return EXIT_NOT_OURS
    watch = StopWatch(store, job_id, worker_id, parent_pid)
    signal.signal(signal.SIGTERM, watch.on_sigterm)
    progress = Progress(store, job_id, job.status_info.get("trainLoss"))
    store.add_event(job_id, "started", {"pid": os.getpid(), "workerId": worker_id})
    try:
        recipe = load_recipe(recipe_path)
        job.out_dir.mkdir(parents=True, exist_ok=True)
        result = recipe(job.spec, job.out_dir, on_event=progress, should_stop=watch)
    except BaseException as exc:  # every way out (even KeyboardInterrupt) is recorded
        return _ended_badly(store, job_id, worker_id, watch.reason, exc)
    _finish(store, job_id, worker_id, JobStatus.SUCCEEDED, {}, result_dict(result))
    return EXIT_OK


def result_dict(result: Any) -> dict[str, Any]:
    """The recipe's result as JSON (camelCase like the rest of the job object)."""
    names = {
        "model_spec": "modelSpec",
        "adapter_path": "adapterPath",
        "merged_path": "mergedPath",
        "dataset_sha256": "datasetSha256",
        "labels": "labels",
    }
    return _jsonable({camel: getattr(result, name, None) for name, camel in names.items()})


def _ended_badly(
    store: JobStore, job_id: str, worker_id: str, reason: str | None, exc: BaseException
) -> int:
    if reason == "canceled":
        _finish(store, job_id, worker_id, JobStatus.CANCELED, {"message": "canceled by user"})
        return EXIT_OK
    if reason in ("orphaned", "lost"):
        # Leave the job RUNNING: its heartbeat goes stale and a worker resumes it.
        store.add_event(job_id, "interrupted", {"reason": reason})
        return EXIT_ORPHANED
    _finish(store, job_id, worker_id, JobStatus.FAILED, describe_failure(exc))
    return EXIT_OK


def _finish(
    store: JobStore,
    job_id: str,
    worker_id: str,
    status: JobStatus,
    info: dict[str, Any],
    result: dict[str, Any] | None = None,
) -> None:
    info = info | ({"estimatedTime": 0} if status == JobStatus.SUCCEEDED else {})
    try:
        store.finish(job_id, status, worker_id=worker_id, info=info, result=result)
    except JobStateError as exc:  # another worker owns it now; its run decides the outcome
        store.add_event(job_id, "interrupted", {"reason": exc.message})


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    return str(value)


def _die_with_parent(parent_pid: int) -> bool:
    """Ask Linux to SIGTERM us when the worker dies; False if it is already gone."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    return os.getppid() == parent_pid  # checked after prctl so no death slips between


def main(argv: list[str] | None = None) -> int:
    """Entry point of the child process."""
    parser = argparse.ArgumentParser(prog="python -m tunestudio.tuning.child")
    parser.add_argument("job_id")
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--recipe", default=DEFAULT_RECIPE)
    args = parser.parse_args(argv)
    if not _die_with_parent(args.parent_pid):
        return EXIT_ORPHANED
    return run_child(args.job_id, args.worker_id, args.parent_pid, args.recipe)


if __name__ == "__main__":
    sys.exit(main())
