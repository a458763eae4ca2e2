"""The job state machine, claiming and events, on the default SQLite store."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tunestudio.tuning.jobs import JobNotFoundError, JobStateError, JobStatus, JobStore
from tunestudio.tuning.spec import TuneSpec


@pytest.fixture
def store() -> JobStore:
    return JobStore()


def _spec(tmp_path: Path) -> TuneSpec:
    data = tmp_path / "train.csv"
    data.write_text("System_Prompt,C_ID,T_ID,Text,Completion\n", encoding="utf-8")
    return TuneSpec(model="tiny", data=data, epochs=3)


def test_create_gives_a_clova_like_id_and_waits(store: JobStore, tmp_path: Path) -> None:
    job = store.create(_spec(tmp_path))
    assert len(job.id) == 8 and job.id.isalnum() and job.id == job.id.lower()
    assert job.status == JobStatus.WAIT and job.name == "train"
    assert job.out_dir.name == job.id and job.spec.data.is_absolute()
    assert job.status_info["currStep"] is None and "failureReason" in job.status_info
    assert [e.kind for e in store.events(job.id)] == ["created"]


def test_full_life_and_illegal_moves(store: JobStore, tmp_path: Path) -> None:
    job = store.create(_spec(tmp_path))
    with pytest.raises(JobStateError, match="WAIT; it cannot become SUCCEEDED"):
        store.finish(job.id, JobStatus.SUCCEEDED, worker_id="w1")
    assert store.claim(job.id, "w1", stale_after=60)
    assert not store.claim(job.id, "w2", stale_after=60)  # alive elsewhere: not claimable
    with pytest.raises(JobStateError, match="run by worker w1, not w2"):
        store.finish(job.id, JobStatus.FAILED, worker_id="w2")
    done = store.finish(job.id, JobStatus.SUCCEEDED, worker_id="w1", result={"modelSpec": "x"})
    assert done.status == JobStatus.SUCCEEDED and done.status_info["endDatetime"]
    with pytest.raises(JobStateError):
        store.finish(job.id, JobStatus.FAILED, worker_id="w1")
    assert not store.claim(job.id, "w3", stale_after=0)  # finished jobs never run again
    kinds = [e.kind for e in store.events(job.id)]
    assert kinds == ["created", "claimed", "succeeded"]


def test_stale_running_job_is_reclaimed(store: JobStore, tmp_path: Path) -> None:
    job = store.create(_spec(tmp_path))
    assert store.claim(job.id, "dead", stale_after=60)
    assert store.claim_next("alive", stale_after=60) is None
    again = store.claim_next("alive", stale_after=0)
    assert again is not None and again.worker_id == "alive" and again.attempts == 2
    assert not store.heartbeat(job.id, "dead")  # the old worker learns it lost the job
    assert store.heartbeat(job.id, "alive")
    assert store.events(job.id)[-1].kind == "reclaimed"


def test_cancel_waiting_and_running(store: JobStore, tmp_path: Path) -> None:
    waiting = store.create(_spec(tmp_path))
    assert store.request_cancel(waiting.id).status == JobStatus.CANCELED
    with pytest.raises(JobStateError, match="already ended"):
        store.request_cancel(waiting.id)
    running = store.create(_spec(tmp_path))
    store.claim(running.id, "w1", stale_after=60)
    asked = store.request_cancel(running.id)
    assert asked.status == JobStatus.RUNNING and asked.cancel_requested


def test_unknown_job(store: JobStore) -> None:
    with pytest.raises(JobNotFoundError, match="no tuning job with id 'zzzzzzzz'"):
        store.get("zzzzzzzz")


def test_record_merges_status_info_and_checkpoints(store: JobStore, tmp_path: Path) -> None:
    job = store.create(_spec(tmp_path))
    store.record(job.id, "step", {"currStep": 1}, {"currStep": 1, "trainLoss": 2.5})
    store.record(job.id, "checkpoint", {"step": 1, "path": "/x/step-1"}, {})
    got = store.get(job.id)
    assert got.status_info["currStep"] == 1 and got.status_info["trainLoss"] == 2.5
    assert store.checkpoints(job.id) == [(1, "/x/step-1")]


def test_racing_claims_have_one_winner(store: JobStore, tmp_path: Path) -> None:
    jobs = [store.create(_spec(tmp_path)) for _ in range(5)]
    wins: list[tuple[str, str]] = []
    barrier = threading.Barrier(8)

    def contend(worker: str) -> None:
        barrier.wait()
        for job in jobs:
            if store.claim(job.id, worker, stale_after=60):
                wins.append((job.id, worker))

    threads = [threading.Thread(target=contend, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(j for j, _ in wins) == sorted(j.id for j in jobs)  # each exactly once
