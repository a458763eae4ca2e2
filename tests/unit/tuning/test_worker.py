"""The worker end to end with a stand-in recipe in real child processes (no mocks).

kill -9 of a worker mid-job, resumption from the checkpoint by the next worker, two workers
at once, cancel, and failures.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO
from tunestudio.tuning.jobs import JobStatus, JobStore
from tunestudio.tuning.spec import TuneSpec
from tunestudio.tuning.worker import Worker

STANDIN = "tests.unit.tuning.standin_recipe:run_recipe"


@pytest.fixture(autouse=True)
def _child_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # so the child can import the stand-in
    monkeypatch.setenv("STANDIN_STEP_SECONDS", "0.1")


def _job(tmp_path: Path, *, steps: int = 12, name: str | None = None) -> str:
    data = tmp_path / "train.csv"
    data.write_text("System_Prompt,C_ID,T_ID,Text,Completion\n", encoding="utf-8")
    spec = TuneSpec(model="tiny", data=data, epochs=steps, checkpoint_every=2, name=name)
    return JobStore().create(spec).id


def _worker_process(*args: str) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "tunestudio.cli.main",
        "tune",
        "worker",
        "--once",
        "--recipe",
        STANDIN,
        "--heartbeat",
        "0.2",
        "--stale-after",
        "1",
        *args,
    ]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has ended all the same.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


def _step_intervals(out_dir: Path) -> list[tuple[int, int, float, float]]:
    starts: dict[tuple[int, int], float] = {}
    spans = []
    for line in (out_dir / "steps.log").read_text().splitlines():
        kind, pid, step, when = line.split()
        key = (int(pid), int(step))
        if kind == "start":
            starts[key] = float(when)
        else:
            spans.append((key[0], key[1], starts[key], float(when)))
    return spans


def test_kill_9_worker_then_resume(tmp_path: Path) -> None:
    store = JobStore()
    job_id = _job(tmp_path)
    first = _worker_process()
    _until(lambda: bool(store.checkpoints(job_id)))
    child_pid = next(e.data["pid"] for e in store.events(job_id) if e.kind == "started")
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    _until(lambda: not _alive(child_pid), timeout=10)  # no orphaned training
    assert store.get(job_id).status == JobStatus.RUNNING  # abandoned, not failed
    # A `--once` worker started before the dead worker's heartbeat is stale (1 s) would
    # rightly find nothing to claim and exit; give the heartbeat time to go stale.
    time.sleep(1.5)

    second = _worker_process()
    out, _ = second.communicate(timeout=60)
    assert second.returncode == 0, out.decode()
    job = store.get(job_id)
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2
    kinds = [e.kind for e in store.events(job_id)]
    assert "reclaimed" in kinds and "resumed" in kinds
    resumed_at = next(e.data["step"] for e in store.events(job_id) if e.kind == "resumed")
    assert resumed_at >= 2 and job.status_info["currStep"] == 12
    spans = _step_intervals(job.out_dir)
    assert {pid for pid, *_ in spans} >= {child_pid}
    for pid_a, _, start_a, end_a in spans:  # never two processes training at once
        for pid_b, _, start_b, end_b in spans:
            if pid_a != pid_b:
                assert end_a <= start_b or end_b <= start_a
    assert job.result and job.result["modelSpec"].endswith("/adapter")


def test_two_workers_never_run_one_job_twice(tmp_path: Path) -> None:
    store = JobStore()
    ids = [_job(tmp_path, steps=4) for _ in range(2)]
    workers = [_worker_process() for _ in range(3)]
    outputs = [w.communicate(timeout=60)[0].decode() for w in workers]
    for job_id in ids:
        job = store.get(job_id)
        assert job.status == JobStatus.SUCCEEDED and job.attempts == 1
        assert len({pid for pid, *_ in _step_intervals(job.out_dir)}) == 1
    assert sum("no job waiting" in out for out in outputs) == 1


def test_cancel_running_job(tmp_path: Path) -> None:
    store = JobStore()
    job_id = _job(tmp_path, steps=200)
    worker = _worker_process()
    _until(lambda: store.get(job_id).status_info["currStep"] is not None)
    store.request_cancel(job_id)
    worker.communicate(timeout=30)
    job = store.get(job_id)
    assert job.status == JobStatus.CANCELED and job.status_info["currStep"] < 200
    assert store.checkpoints(job_id)[-1][0] == job.status_info["currStep"]


def test_failing_recipe_is_failed_with_reason(tmp_path: Path) -> None:
    store = JobStore()
    bad = _job(tmp_path, name="bad-lr")
    crash = _job(tmp_path, name="crash")
    worker = Worker(heartbeat_every=0.2, stale_after=1, recipe=STANDIN)
    first, second = worker.run_once(), worker.run_once()
    assert first is not None and second is not None
    info = store.get(bad).status_info
    assert store.get(bad).status == JobStatus.FAILED
    assert info["failureReason"] == "config.invalid"
    assert info["message"] == "learning_rate: learning_rate 0.5 is far too high"
    info = store.get(crash).status_info
    assert info["failureReason"] == "train.unknown" and "CUDA error" in info["message"]
    assert worker.run_once() is None


def test_child_that_dies_leaves_a_failed_job(tmp_path: Path) -> None:
    store = JobStore()
    job_id = _job(tmp_path, steps=200)
    worker = Worker(heartbeat_every=0.2, stale_after=1, recipe=STANDIN)

    def kill_child(job: object) -> None:
        started = [e for e in store.events(job_id) if e.kind == "started"]
        if started and store.get(job_id).status_info["currStep"]:
            os.kill(started[0].data["pid"], signal.SIGKILL)

    job = worker.run_job(job_id, on_tick=kill_child)
    assert job.status == JobStatus.FAILED
    assert job.status_info["failureReason"] == "train.crashed"
    assert "killed by SIGKILL" in job.status_info["message"]
