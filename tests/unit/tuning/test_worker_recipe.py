"""The worker with the real recipe on a small random model: a job from queue to chat spec."""

from __future__ import annotations

from pathlib import Path

from tests.unit.tuning.conftest import write_clova
from tunestudio.tuning.jobs import JobStatus, JobStore
from tunestudio.tuning.spec import TuneSpec
from tunestudio.tuning.worker import Worker


def test_real_recipe_job_succeeds(random_model: Path, classification_csv: Path) -> None:
    store = JobStore()
    spec = TuneSpec(
        model=f"hf:{random_model}",
        data=classification_csv,
        epochs=1,
        batch_size=16,
        max_length=128,
        checkpoint_every=3,
    )
    job_id = store.create(spec).id
    job = Worker(heartbeat_every=0.5, stale_after=5).run_once()
    assert job is not None and job.id == job_id
    assert job.status == JobStatus.SUCCEEDED, {k: v for k, v in job.status_info.items() if v}
    info = job.status_info
    assert info["dataRows"] == 120 and info["currStep"] == info["totalTrainSteps"] > 0
    assert info["label"] and set(info["label"]) == {"결제", "배송", "계정"}
    assert job.result and Path(job.result["adapterPath"], "adapter_config.json").exists()
    assert store.checkpoints(job_id)


def test_invalid_dataset_fails_with_reason(random_model: Path, tmp_path: Path) -> None:
    bad = write_clova(tmp_path / "bad.csv", [("", 0, 0, "질문", ""), ("", 5, 0, "질문2", "답")])
    store = JobStore()
    job_id = store.create(TuneSpec(model=f"hf:{random_model}", data=bad)).id
    job = Worker(heartbeat_every=0.5, stale_after=5).run_once()
    assert job is not None and job.status == JobStatus.FAILED
    assert job.status_info["failureReason"] == "file.format"
    assert job.status_info["message"]
    assert store.get(job_id).status_info["endDatetime"]
