"""The worker: claims queued (or abandoned) jobs and runs each in a child process.

While the child trains, the worker heartbeats the job every ``heartbeat_every`` seconds. A job
whose heartbeat is older than ``stale_after`` seconds belongs to a dead worker, and any worker
may claim it again; the recipe then resumes from the job's last checkpoint (same out_dir).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from tunestudio.errors import ConfigError
from tunestudio.tuning.child import DEFAULT_RECIPE
from tunestudio.tuning.jobs import Job, JobStateError, JobStatus, JobStore

Tick = Callable[[Job], None]


def new_worker_id() -> str:
    """host:pid:random — unique across machines and restarts, readable in the logs."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Worker:
    """Runs jobs from the store, one at a time, each in its own child process.

    ``recipe`` is the import path (``module:function``) the child runs; tests pass a stand-in.
    """

    store: JobStore = field(default_factory=JobStore)
    worker_id: str = field(default_factory=new_worker_id)
    heartbeat_every: float = 5.0
    stale_after: float = 60.0
    poll_every: float = 2.0
    recipe: str = DEFAULT_RECIPE

    def __post_init__(self) -> None:
        if self.stale_after < 2 * self.heartbeat_every:
            raise ConfigError(
                f"stale_after ({self.stale_after}s) must be at least twice heartbeat_every "
                f"({self.heartbeat_every}s)",
                hint="otherwise a live worker's job could be claimed by another worker",
            )

    def run_once(self, on_tick: Tick | None = None) -> Job | None:
        """Claim and run the next job; None when nothing is waiting."""
        job = self.store.claim_next(self.worker_id, stale_after=self.stale_after)
        return None if job is None else self.run_claimed(job, on_tick)

    def run_job(self, job_id: str, on_tick: Tick | None = None) -> Job:
        """Claim one particular job (``tune create --wait``) and run it."""
        if not self.store.claim(job_id, self.worker_id, stale_after=self.stale_after):
            job = self.store.get(job_id)
            raise JobStateError(
                f"job {job_id} is {job.status} and its worker is alive; it cannot start here",
                hint=f"follow it with `tunestudio tune logs {job_id} --follow`",
            )
        return self.run_claimed(self.store.get(job_id), on_tick)

    def run_forever(self, should_exit: Callable[[], bool] = lambda: False) -> None:
        """Run jobs until ``should_exit()``; waits ``poll_every`` seconds when idle."""
        while not should_exit():
            if self.run_once() is None:
                time.sleep(self.poll_every)

    def run_claimed(self, job: Job, on_tick: Tick | None = None) -> Job:
        """Run a job this worker has claimed, heartbeating until its child exits."""
        job.out_dir.mkdir(parents=True, exist_ok=True)
        with open(job.out_dir / "child.log", "ab") as log:
            child = subprocess.Popen(
                self._child_command(job.id),
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: Ctrl-C in the terminal reaches the worker, not the training;
                # the child then sees its worker gone and checkpoints.
                start_new_session=True,
            )
            try:
                code = self._supervise(job.id, child, on_tick)
            finally:
                _stop(child)
        return self._settle(job.id, code)

    def _child_command(self, job_id: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "tunestudio.tuning.child",
            job_id,
            "--worker-id",
            self.worker_id,
            "--parent-pid",
            str(os.getpid()),
            "--recipe",
            self.recipe,
        ]

    def _supervise(self, job_id: str, child: subprocess.Popen[bytes], on_tick: Tick | None) -> int:
        next_beat = time.monotonic() + self.heartbeat_every
        while (code := child.poll()) is None:
            time.sleep(min(0.2, self.heartbeat_every))
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + self.heartbeat_every
                if not self.store.heartbeat(job_id, self.worker_id):
                    # Someone else owns the job now (we were too slow); the child sees that
                    # too and stops, but make sure it does.
                    _stop(child)
            if on_tick is not None:
                on_tick(self.store.get(job_id))
        return code

    def _settle(self, job_id: str, code: int) -> Job:
        """A child that died without recording an outcome leaves a FAILED job behind."""
        job = self.store.get(job_id)
        if job.status == JobStatus.RUNNING and job.worker_id == self.worker_id:
            info = {
                "failureReason": "train.crashed",
                "message": f"the training process ended unexpectedly ({_describe_exit(code)})",
                "hint": f"see {job.out_dir / 'child.log'}; a kill by SIGKILL is often the "
                "out-of-memory killer: lower batch_size or max_length",
            }
            try:
                job = self.store.finish(
                    job_id, JobStatus.FAILED, worker_id=self.worker_id, info=info
                )
            except JobStateError:
                job = self.store.get(job_id)
        return job


def _describe_exit(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _stop(child: subprocess.Popen[bytes], grace: float = 30.0) -> None:
    """SIGTERM (the child checkpoints and exits), then SIGKILL if it does not."""
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
