"""The store on a real PostgreSQL server that the test starts itself (skipped if absent)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tunestudio.store.db import dispose_engines, get_engine
from tunestudio.tuning.jobs import JobStatus, JobStore
from tunestudio.tuning.spec import TuneSpec

BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: run it as the distribution's postgres user.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    if not BIN or not Path(BIN[-1], "initdb").exists():
        pytest.skip("PostgreSQL binaries not found (apt-get install -y postgresql)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL")
    pytest.importorskip("psycopg", reason="pip install 'psycopg[binary]'")
    # Not under pytest's tmp dir: that is private to root, and postgres must reach its cluster.
    bindir, base = Path(BIN[-1]), Path(tempfile.mkdtemp(prefix="tunestudio-pg-"))
    base.chmod(0o777)
    data, port = base / "data", _free_port()
    subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "ts", "--auth=trust"]),
        check=True,
        capture_output=True,
    )
    ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w"]
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1"
    subprocess.run(_as_postgres([*ctl, "-o", opts, "start"]), check=True, capture_output=True)
    try:
        yield f"postgresql://ts@127.0.0.1:{port}/postgres"
    finally:
        dispose_engines()
        subprocess.run(_as_postgres([*ctl, "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_jobs_on_postgres(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNESTUDIO_DB_URL", pg_url)
    store = JobStore()
    assert store.engine.dialect.name == "postgresql" and store.engine is get_engine()
    data = tmp_path / "train.csv"
    data.write_text("x\n")
    jobs = [store.create(TuneSpec(model="tiny", data=data)) for _ in range(4)]
    wins: list[str] = []
    barrier = threading.Barrier(6)

    def contend(worker: str) -> None:
        barrier.wait()
        for job in jobs:
            if store.claim(job.id, worker, stale_after=60):
                wins.append(job.id)

    threads = [threading.Thread(target=contend, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == sorted(j.id for j in jobs)
    job = store.get(jobs[0].id)
    assert job.heartbeat_at is not None and job.heartbeat_at.tzinfo is not None
    assert store.claim_next("late", stale_after=0) is not None  # stale comparison works
    store.record(job.id, "step", {"currStep": 1}, {"currStep": 1, "trainLoss": 1.5})
    owner = store.get(job.id).worker_id
    done = store.finish(job.id, JobStatus.FAILED, worker_id=owner, info={"message": "오류"})
    assert done.status_info["message"] == "오류" and done.status_info["trainLoss"] == 1.5
