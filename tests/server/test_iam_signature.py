"""CLOVA's own tuning client, signing the older NCP IAM way, against the live server.

``CreateTaskExecutor`` is the cookbook's code (seeds/001, "학습 생성 코드 보기") with only the
OCR damage repaired (``mport`` → ``import``, ``ef make signature`` → ``def _make_signature``)
and ruff's quoting; the signing is untouched. The one change a user makes is the host.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sqlite3
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet

from tests.cli_runner import run_cli
from tests.server.live_app import LiveApp
from tests.server.test_clova_tuning import FAST, dataset, served
from tunestudio.config import Settings

TASKS = "/tuning/v2/tasks"


# --- the cookbook's client, as published -------------------------------------------------
class CreateTaskExecutor:
    def __init__(self, host, uri, method, iam_access_key, secret_key, request_id):
        self._host = host
        self._uri = uri
        self._method = method
        self._api_gw_time = str(int(time.time() * 1000))
        self._iam_access_key = iam_access_key
        self._secret_key = secret_key
        self._request_id = request_id

    def _make_signature(self):
        secret_key = bytes(self._secret_key, "UTF-8")
        message = (
            self._method + " " + self._uri + "\n" + self._api_gw_time + "\n" + self._iam_access_key
        )
        message = bytes(message, "UTF-8")
        signing_key = base64.b64encode(
            hmac.new(secret_key, message, digestmod=hashlib.sha256).digest()
        )
        return signing_key

    def _send_request(self, create_request):
        headers = {
            "X-NCP-APIGW-TIMESTAMP": self._api_gw_time,
            "X-NCP-IAM-ACCESS-KEY": self._iam_access_key,
            "X-NCP-APIGW-SIGNATURE-V2": self._make_signature(),
            "X-NCP-CLOVASTUDIO-REQUEST-ID": self._request_id,
        }
        result = requests.post(self._host + self._uri, json=create_request, headers=headers).json()
        return result

    def execute(self, create_request):
        res = self._send_request(create_request)
        return res


# --- the same signing for the other calls (GET, multipart) --------------------------------
class SignedCall(CreateTaskExecutor):
    """The cookbook's signing, any method; ``send_uri`` lets a test send another URI than
    the one it signed."""

    def __init__(self, host: str, uri: str, method: str, pair: dict[str, str], **kw: Any):
        super().__init__(host, uri, method, pair["iamAccessKey"], pair["iamSecretKey"], "t-1")
        self.send_uri = kw.pop("send_uri", uri)
        self.options = kw  # files=, data= for requests

    def _send_request(self, create_request: Any) -> Any:
        headers = {
            "X-NCP-APIGW-TIMESTAMP": self._api_gw_time,
            "X-NCP-IAM-ACCESS-KEY": self._iam_access_key,
            "X-NCP-APIGW-SIGNATURE-V2": self._make_signature(),
            "X-NCP-CLOVASTUDIO-REQUEST-ID": self._request_id,
        }
        url = self._host + self.send_uri
        return requests.request(self._method, url, headers=headers, timeout=60, **self.options)


def iam_key(*args: str) -> dict[str, str]:
    result = run_cli("keys", "create", "--iam", "--json", "--scope", "tune", *args)
    assert result.exit_code == 0, result.stderr
    created: dict[str, str] = json.loads(result.stdout)
    return created


def status(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()["status"]
    return response.status_code, body["code"], body["message"]


def upload_form(data: Path) -> dict[str, Any]:
    form = {"model": "HCX-003", "taskType": "CLASSIFICATION", "name": "서명-업로드", **FAST}
    files = {"trainingDataset": (data.name, data.read_bytes(), "text/csv")}
    return {"data": form, "files": files}


def test_cookbook_client_creates_lists_and_gets_tasks(
    start: Callable[..., LiveApp], llama_dir: Path, tmp_path: Path
) -> None:
    live = start(served(llama_dir, worker=False))
    pair = iam_key("--name", "cookbook")
    assert pair["iamAccessKey"].startswith("TS") and len(pair["iamAccessKey"]) == 20

    # the cookbook's JSON call, unchanged but for the host, with the dataset in a local bucket
    # (the server's stand-in for Object Storage: $TUNESTUDIO_HOME/buckets/<bucket>/<path>)
    bucket = Settings.from_env().home_dir / "buckets" / "my-bucket"
    bucket.mkdir(parents=True)
    dataset(bucket / "train.csv")
    create_task_executor = CreateTaskExecutor(
        host=live.url,
        uri=TASKS,
        method="POST",
        iam_access_key=pair["iamAccessKey"],
        secret_key=pair["iamSecretKey"],
        request_id="cookbook-1",
    )
    request_data = {
        "name": "문의데이터_relabel_test4",
        "model": "HCX-003",
        "tuningType": "PEFT",
        "taskType": "CLASSIFICATION",
        "trainEpochs": "8",
        "learningRate": "1e-5f",  # as the cookbook writes it
        "trainingDatasetBucket": "my-bucket",
        "trainingDatasetFilePath": "train.csv",
    }
    response = create_task_executor.execute(request_data)
    assert response["status"]["code"] == "20000", response
    from_bucket = response["result"]
    assert from_bucket["status"] == "WAIT" and from_bucket["learningRate"] == 1e-5

    # the dataset uploaded as the multipart part the current docs use
    created = SignedCall(
        live.url, TASKS, "POST", pair, **upload_form(dataset(tmp_path / "train.csv"))
    ).execute(None)
    assert created.status_code == 200, created.text
    task = created.json()["result"]
    assert task["status"] == "WAIT" and task["name"] == "서명-업로드"

    # the query is part of what is signed
    listed = SignedCall(live.url, f"{TASKS}?page=0&size=20", "GET", pair).execute(None)
    assert listed.status_code == 200, listed.text
    page = listed.json()["result"]
    assert page["totalElements"] == 2 and page["content"][0]["id"] == task["id"]
    one = SignedCall(live.url, f"/v2/tasks/{task['id']}", "GET", pair).execute(None)
    assert one.status_code == 200 and one.json()["result"]["id"] == task["id"]


def test_bad_signatures_are_refused(start: Callable[..., LiveApp], llama_dir: Path) -> None:
    live = start(served(llama_dir, worker=False))
    pair = iam_key("--name", "failures")
    other = iam_key("--name", "other")

    wrong_secret = SignedCall(live.url, TASKS, "GET", pair | {"iamSecretKey": "x" * 40})
    http, code, message = status(wrong_secret.execute(None))
    assert (http, code) == (401, "40101") and "does not match" in message
    assert f"GET {TASKS}" in message  # the hint shows what the server signed

    swapped = SignedCall(live.url, TASKS, "GET", pair | {"iamSecretKey": other["iamSecretKey"]})
    assert status(swapped.execute(None))[:2] == (401, "40101")

    tampered = SignedCall(
        live.url, f"{TASKS}?page=0&size=20", "GET", pair, send_uri=f"{TASKS}?page=0&size=100"
    )
    assert status(tampered.execute(None))[:2] == (401, "40101")

    stale = SignedCall(live.url, TASKS, "GET", pair)
    stale._api_gw_time = str(int((time.time() - 600) * 1000))
    http, code, message = status(stale.execute(None))
    assert http == 401 and "5 minutes" in message and "s before the server's time" in message

    unknown = SignedCall(live.url, TASKS, "GET", pair | {"iamAccessKey": "TS" + "0" * 18})
    http, code, message = status(unknown.execute(None))
    assert (http, code) == (401, "40104") and "IAM access key is not valid" in message

    assert SignedCall(live.url, TASKS, "GET", pair).execute(None).status_code == 200
    revoked = run_cli("keys", "revoke", pair["id"])
    assert f"and its IAM access key {pair['iamAccessKey']}" in revoked.stdout
    http, code, message = status(SignedCall(live.url, TASKS, "GET", pair).execute(None))
    assert (http, code) == (401, "40104") and "revoked" in message
    assert SignedCall(live.url, TASKS, "GET", other).execute(None).status_code == 200


def test_partial_headers_and_scope(start: Callable[..., LiveApp], llama_dir: Path) -> None:
    live = start(served(llama_dir, worker=False))
    pair = iam_key("--name", "tune-only")
    no_signature = requests.get(
        live.url + TASKS,
        headers={"X-NCP-IAM-ACCESS-KEY": pair["iamAccessKey"], "X-NCP-APIGW-TIMESTAMP": "1"},
        timeout=30,
    )
    http, code, message = status(no_signature)
    assert (http, code) == (401, "40101") and "without X-NCP-APIGW-SIGNATURE-V2" in message
    # a good signature does not lift the key's scopes: this key may tune, not chat
    chat = SignedCall(
        live.url, "/v3/chat-completions/HCX-003", "POST", pair, json={"messages": []}
    ).execute(None)
    assert status(chat)[:2] == (403, "40300")


def test_cli_shows_the_pair_and_keeps_the_secret_encrypted() -> None:
    pair = iam_key("--name", "audit")
    listed = json.loads(run_cli("keys", "list", "--json").stdout)
    assert listed[0]["iamAccessKey"] == pair["iamAccessKey"]
    assert "iamSecretKey" not in listed[0]
    text = run_cli("keys", "list").stdout
    assert pair["iamAccessKey"] in text and pair["iamSecretKey"] not in text
    plain = run_cli("keys", "create", "--json")
    assert json.loads(plain.stdout)["iamAccessKey"] is None

    home = Settings.from_env().home_dir
    master = home / "secrets" / "master.key"
    assert stat.S_IMODE(master.stat().st_mode) == 0o600
    assert stat.S_IMODE(master.parent.stat().st_mode) == 0o700
    with sqlite3.connect(home / "tunestudio.db") as conn:
        dump = "\n".join(conn.iterdump())
    assert pair["iamAccessKey"] in dump and pair["iamSecretKey"] not in dump

    shown = run_cli("keys", "create", "--iam", "--name", "shown")
    assert shown.exit_code == 0
    assert "access key     TS" in shown.stdout and "secret key" in shown.stdout
    assert "the secret key encrypted" in shown.stdout


def test_another_master_key_is_the_operators_error_not_the_callers(
    start: Callable[..., LiveApp], llama_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = iam_key("--name", "moved")  # encrypted under secrets/master.key
    monkeypatch.setenv("TUNESTUDIO_MASTER_KEY", Fernet.generate_key().decode())
    live = start(served(llama_dir, worker=False))
    http, code, message = status(SignedCall(live.url, TASKS, "GET", pair).execute(None))
    assert (http, code) == (500, "50000")
    assert f"the secret key of {pair['iamAccessKey']} cannot be decrypted" in message
    assert pair["iamSecretKey"] not in message
