"""CLOVA Studio's tuning API over HTTP against the live app and its in-process worker: a
multipart upload trains a random Llama served as HCX-003 (WAIT → RUNNING → SUCCEEDED), the
task then answers chat by its id; list paging, delete/cancel, and every refusal."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import REPO
from tests.server.live_app import LiveApp
from tests.server.test_clova_dialect import assert_error
from tunestudio.config import Settings
from tunestudio.data.table import read_table, write_table
from tunestudio.models import load_backend
from tunestudio.server import ModelEntry, ServerConfig
from tunestudio.server.keystore import KeyStore, Scope
from tunestudio.tuning.jobs import JobStatus, JobStore
from tunestudio.tuning.worker import Worker
from tunestudio.types import GenParams, Message

COLUMNS = ["System_Prompt", "C_ID", "T_ID", "Text", "Completion"]
SYSTEM = "- 고객 문의를 읽고 카테고리명만 출력한다."
CLOVA_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0900$")
FAST = {"trainEpochs": "1", "learningRate": "1.0E-3", "maxLength": "320", "batchSize": "16"}
QUESTION = [Message("system", SYSTEM), Message("user", "마이박스 공유를 끊고 싶어요")]


def dataset(path: Path, rows: int = 100) -> Path:
    """A CLOVA-format dataset: the first ``rows`` inquiries of the example, short prompt."""
    table = read_table(REPO / "examples/inquiry/train.csv")
    values = [
        (SYSTEM, i, 0, row["Text"], row["Completion"]) for i, row in enumerate(table.rows[:rows])
    ]
    write_table(path, COLUMNS, [dict(zip(COLUMNS, row, strict=True)) for row in values])
    return path


def upload(live: LiveApp, data: Path, headers: dict[str, str] | None = None, **fields: str) -> Any:
    """POST /tuning/v2/tasks as multipart/form-data, as CLOVA's curl example does."""
    form = {"model": "HCX-003", "taskType": "CLASSIFICATION", **FAST, **fields}
    files = {"trainingDataset": (data.name, data.read_bytes(), "text/csv")}
    return httpx.post(
        f"{live.url}/tuning/v2/tasks", data=form, files=files, headers=headers, timeout=60
    )


def served(llama_dir: Path, worker: bool) -> ServerConfig:
    return ServerConfig(models=[ModelEntry(name="HCX-003", spec=f"hf:{llama_dir}")], worker=worker)


def test_lifecycle_upload_train_chat_delete(
    start: Callable[..., LiveApp], llama_dir: Path, tmp_path: Path
) -> None:
    worker = Worker(store=JobStore(), heartbeat_every=0.5, poll_every=0.1)
    live = start(served(llama_dir, worker=True), worker=worker)
    created = upload(live, dataset(tmp_path / "train.csv"), name="문의-분류")
    assert created.status_code == 200, created.text
    assert created.json()["status"] == {"code": "20000", "message": "OK"}
    task = created.json()["result"]
    assert task["status"] == "WAIT" and task["name"] == "문의-분류"
    assert (task["model"], task["method"], task["taskType"]) == (
        "HCX-003",
        "LoRA",
        "CLASSIFICATION",
    )
    assert (task["trainEpochs"], task["learningRate"]) == (1, 1e-3)
    assert task["createdClientType"] == "API" and CLOVA_DATE.match(task["createdDate"])
    assert list(task["statusInfo"])[:3] == ["label", "dataRows", "numOfTokens"]
    home = Settings.from_env().home_dir
    assert list((home / "uploads").glob("*/train.csv"))  # kept where the job reads it

    seen, done = poll(live, task["id"])
    assert done["status"] == "SUCCEEDED", str(done["statusInfo"])
    assert "RUNNING" in seen and seen[-1] == "SUCCEEDED", seen  # WAIT was above
    info = done["statusInfo"]
    assert info["dataRows"] == 100 and info["trainLoss"] is not None
    assert info["currStep"] == info["totalTrainSteps"] > 0 and CLOVA_DATE.match(info["endDatetime"])

    answer = httpx.post(
        f"{live.url}/v3/tasks/{task['id']}/chat-completions",
        json={
            "messages": [m.to_dict() for m in QUESTION],
            "maxTokens": 6,
            "temperature": 0,
            "repetitionPenalty": 1.0,
        },
        timeout=60,
    ).json()
    assert answer["status"]["code"] == "20000" and answer["result"]["message"]["content"]
    backend = load_backend(
        f"clova-task:{task['id']}", base_url=live.url, api_key="x", api_version="v3", max_retries=0
    )
    same = backend.chat(QUESTION, GenParams(max_tokens=6, temperature=0))
    assert same.content == answer["result"]["message"]["content"]
    backend.close()

    gone = httpx.delete(f"{live.url}/v2/tasks/{task['id']}")  # the older host's path
    assert gone.json() == {"status": {"code": "20000", "message": "OK"}}
    assert_error(httpx.get(f"{live.url}/tuning/v2/tasks/{task['id']}"), 404, "40400", task["id"])
    assert (
        not list((home / "uploads").glob("*/train.csv"))
        and not (home / "jobs" / task["id"]).exists()
    )


def poll(live: LiveApp, task_id: str) -> tuple[list[str], dict[str, Any]]:
    """GET the task until it ends; every status seen, in order, and the last task object."""
    seen: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        task = httpx.get(f"{live.url}/tuning/v2/tasks/{task_id}").json()["result"]
        if not seen or seen[-1] != task["status"]:
            seen.append(task["status"])
        if task["status"] in ("SUCCEEDED", "FAILED"):
            return seen, task
        time.sleep(0.05)
    raise AssertionError(f"the task did not finish: {seen}")


def test_list_pages_and_delete_cancels_then_removes(
    start: Callable[..., LiveApp], llama_dir: Path, tmp_path: Path
) -> None:
    live = start(served(llama_dir, worker=False))
    data = dataset(tmp_path / "train.csv")
    ids = [upload(live, data, name=f"t{i}").json()["result"]["id"] for i in range(3)]
    first = httpx.get(f"{live.url}/tuning/v2/tasks", params={"page": 0, "size": 2}).json()
    page = first["result"]
    assert (page["totalPages"], page["totalElements"], page["size"], page["number"]) == (2, 3, 2, 0)
    second = httpx.get(f"{live.url}/v2/tasks?page=1&size=2").json()["result"]
    listed = [t["id"] for t in page["content"] + second["content"]]
    assert sorted(listed) == sorted(ids) and len(second["content"]) == 1
    assert httpx.get(f"{live.url}/tuning/v2/tasks").json()["result"]["size"] == 20  # default
    assert_error(httpx.get(f"{live.url}/tuning/v2/tasks?size=101"), 400, "40001", "size")

    waiting, running, kept = ids
    assert httpx.delete(f"{live.url}/tuning/v2/tasks/{waiting}").json()["status"]["code"] == "20000"
    assert_error(httpx.get(f"{live.url}/tuning/v2/tasks/{waiting}"), 404, "40400")

    store = JobStore()
    assert store.claim(running, "test-worker", stale_after=60)  # a live worker trains it
    httpx.delete(f"{live.url}/tuning/v2/tasks/{running}").raise_for_status()
    task = httpx.get(f"{live.url}/tuning/v2/tasks/{running}").json()["result"]
    assert task["status"] == "RUNNING" and "cancel requested" in task["statusInfo"]["message"]
    store.finish(running, JobStatus.CANCELED, worker_id="test-worker")  # as the worker does
    task = httpx.get(f"{live.url}/tuning/v2/tasks/{running}").json()["result"]
    assert (task["status"], task["statusInfo"]["failureReason"]) == ("FAILED", "canceled")
    httpx.delete(f"{live.url}/tuning/v2/tasks/{running}").raise_for_status()
    remaining = httpx.get(f"{live.url}/tuning/v2/tasks").json()["result"]
    assert [t["id"] for t in remaining["content"]] == [kept]


def test_refusals_name_the_row_the_field_or_the_fix(
    start: Callable[..., LiveApp], llama_dir: Path, tmp_path: Path
) -> None:
    live = start(served(llama_dir, worker=False))
    bad = dataset(tmp_path / "bad.csv")
    table = read_table(bad)
    table.rows[4]["Completion"] = ""  # the 5th example has no Completion: row 6 as a person sees it
    write_table(bad, table.columns, table.rows)
    refused = upload(live, bad)
    assert_error(refused, 400, "40001", "bad.csv, row 6, column Completion", "비어")
    assert not list((Settings.from_env().home_dir / "uploads").iterdir())  # nothing kept
    assert httpx.get(f"{live.url}/tuning/v2/tasks").json()["result"]["totalElements"] == 0

    good = dataset(tmp_path / "good.csv")
    assert_error(upload(live, good, model="HCX-005"), 400, "40001", "HCX-005", "HCX-003")
    assert_error(upload(live, good, trainEpochs="0"), 400, "40001", "trainEpochs")
    assert_error(upload(live, good, tuningType="FULL"), 400, "40001", "tuningType")
    json_body = {"model": "HCX-003", "trainingDatasetBucket": "b", "trainingDatasetFilePath": "x"}
    from_bucket = httpx.post(f"{live.url}/tuning/v2/tasks", json=json_body)
    assert_error(from_bucket, 400, "40001", "no file 'x' in bucket 'b'", "buckets/<bucket>/<path>")
    escaping = json_body | {"trainingDatasetFilePath": "../../tunestudio.db"}
    from_bucket = httpx.post(f"{live.url}/tuning/v2/tasks", json=escaping)
    assert_error(from_bucket, 400, "40001", "leaves its bucket")
    only_path = {"model": "HCX-003", "trainingDatasetFilePath": "x"}
    from_bucket = httpx.post(f"{live.url}/tuning/v2/tasks", json=only_path)
    assert_error(from_bucket, 400, "40001", "trainingDatasetBucket is missing")
    no_file = httpx.post(f"{live.url}/tuning/v2/tasks", data={"model": "HCX-003"})
    assert_error(no_file, 400, "40001", "trainingDataset")
    assert_error(httpx.get(f"{live.url}/tuning/v2/tasks/zzzzzzzz"), 404, "40400", "zzzzzzzz")
    assert_error(httpx.delete(f"{live.url}/tuning/v2/tasks/zzzzzzzz"), 404, "40400")


def test_tuning_needs_the_tune_scope(
    start: Callable[..., LiveApp], llama_dir: Path, tmp_path: Path
) -> None:
    live = start(served(llama_dir, worker=False))
    chat_only = {"Authorization": f"Bearer {KeyStore().create('c', [Scope.CHAT]).key}"}
    tuner = {"Authorization": f"Bearer {KeyStore().create('t', [Scope.TUNE]).key}"}
    data = dataset(tmp_path / "train.csv")
    assert_error(upload(live, data, headers=chat_only), 403, "40300", "tune")
    assert_error(httpx.get(f"{live.url}/v2/tasks", headers=chat_only), 403, "40300")
    assert_error(httpx.get(f"{live.url}/tuning/v2/tasks"), 401, "40100")
    assert upload(live, data, headers=tuner).json()["result"]["status"] == "WAIT"
