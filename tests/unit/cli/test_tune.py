"""``tunestudio tune …`` as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from tests.conftest import REPO
from tests.unit.tuning.conftest import classification_rows, write_clova
from tunestudio.tuning.jobs import JobStore


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A small valid dataset: `tune create` validates the data before it queues a job."""
    return write_clova(tmp_path / "train.csv", classification_rows(30))


def _create(data: Path, *extra: str) -> str:
    result = run_cli("tune", "create", "--model", "tiny", "--data", data, "--json", *extra)
    assert result.exit_code == 0, result.stderr
    return str(json.loads(result.stdout)["id"])


def test_create_list_status_logs_cancel(data: Path) -> None:
    result = run_cli("tune", "create", "--model", "tiny", "--data", data, "--epochs", "2")
    assert result.exit_code == 0 and "created job" in result.stdout
    job_id = result.stdout.split()[2]
    listed = run_cli("tune", "list")
    assert job_id in listed.stdout and "WAIT" in listed.stdout and "tiny" in listed.stdout
    shown = json.loads(run_cli("tune", "status", job_id, "--json").stdout)
    assert shown["status"] == "WAIT" and shown["trainEpochs"] == 2
    assert set(shown["statusInfo"]) >= {"dataRows", "currStep", "estimatedTime", "lossDiff"}
    assert "created" in run_cli("tune", "logs", job_id).stdout
    assert "canceled" in run_cli("tune", "cancel", job_id).stdout
    assert "CANCELED" in run_cli("tune", "status", job_id).stdout


def test_worker_runs_job_and_status_prints_chat_spec(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setenv("STANDIN_STEP_SECONDS", "0.01")
    job_id = _create(data, "--epochs", "3")
    recipe = "tests.unit.tuning.standin_recipe:run_recipe"
    ran = run_cli("tune", "worker", "--once", "--recipe", recipe, "--heartbeat", "0.2")
    assert f"job {job_id}: SUCCEEDED" in ran.stdout, ran.stdout + ran.stderr
    status = run_cli("tune", "status", job_id).stdout
    assert "currStep: 3" in status and "totalTrainSteps: 3" in status
    assert f"tunestudio chat hf:{JobStore().get(job_id).out_dir}/adapter" in status
    logs = [
        json.loads(line) for line in run_cli("tune", "logs", job_id, "--json").stdout.splitlines()
    ]
    assert [e["kind"] for e in logs].count("step") == 3 and logs[-1]["kind"] == "succeeded"


def test_errors_are_messages(data: Path, tmp_path: Path) -> None:
    for args in (("status", "nope1234"), ("logs", "nope1234"), ("cancel", "nope1234")):
        result = run_cli("tune", *args)
        assert result.exit_code == 2 and "no tuning job with id 'nope1234'" in result.stderr
    missing = run_cli("tune", "create", "--model", "tiny", "--data", tmp_path / "no.csv")
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    bad = run_cli("tune", "create", "--model", "tiny", "--data", data, "--lr", "5")
    assert (
        bad.exit_code == 2
        and "--lr: Input should be less than or equal to 1 (got 5.0)" in bad.stderr
    )
    job_id = _create(data)
    run_cli("tune", "cancel", job_id)
    again = run_cli("tune", "cancel", job_id)
    assert again.exit_code == 2 and "already ended" in again.stderr
