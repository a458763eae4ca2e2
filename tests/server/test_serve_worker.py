"""The server runs queued tuning jobs in-process, then serves the finished job by its id."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import openai
import pytest

from tests.conftest import REPO
from tests.server.live_app import LiveApp, sdk
from tunestudio.server import ServerConfig
from tunestudio.tuning.jobs import JobStatus, JobStore
from tunestudio.tuning.spec import TuneSpec
from tunestudio.tuning.worker import Worker

STANDIN = "tests.unit.tuning.standin_recipe:run_recipe"


def test_queued_job_runs_in_the_server_and_is_listed(
    start: Callable[..., LiveApp],
    config: ServerConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the job's child imports the stand-in recipe
    monkeypatch.setenv("STANDIN_STEP_SECONDS", "0.01")
    data = tmp_path / "train.csv"
    data.write_text("System_Prompt,C_ID,T_ID,Text,Completion\n", encoding="utf-8")
    store = JobStore()
    job = store.create(TuneSpec(model="tiny", data=data, epochs=2))
    worker = Worker(store=store, recipe=STANDIN, heartbeat_every=0.5, poll_every=0.2)
    live = start(config.model_copy(update={"worker": True}), worker=worker)

    deadline = time.monotonic() + 60
    while not store.get(job.id).status.finished and time.monotonic() < deadline:
        time.sleep(0.2)
    assert store.get(job.id).status == JobStatus.SUCCEEDED

    client = sdk(live)
    assert job.id in [m.id for m in client.models.list()]
    # The stand-in "trains" no weights: its adapter folder is empty, so loading it fails.
    with pytest.raises(openai.InternalServerError, match="could not be loaded"):
        client.chat.completions.create(model=job.id, messages=[{"role": "user", "content": "x"}])

    background = live.app.state.server.worker
    assert background is not None and background.alive
    live.__exit__()
    assert not background.alive
