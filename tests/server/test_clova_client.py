"""The project's own ``clova:`` backend against the server, as any CLOVA Studio client would
use it with only the host changed: v3, v1, streaming parity, tuned tasks, the chat tokenizer,
and every way to authenticate (Bearer key, legacy header pair, the access-token flow with its
refresh on 40103), plus the auth error codes over raw HTTP."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tests.server.live_app import MODEL, LiveApp
from tests.server.test_clova_dialect import assert_error, served_config
from tests.server.test_served_models import finished_job
from tunestudio.config import Settings
from tunestudio.errors import ModelAuthError, TuneStudioError
from tunestudio.models import load_backend
from tunestudio.models.base import Backend
from tunestudio.server import build_app
from tunestudio.server.keystore import KeyStore, NewKey, Scope
from tunestudio.store.db import get_engine
from tunestudio.store.schema import AccessTokenRow, utcnow
from tunestudio.tuning.jobs import JobStatus
from tunestudio.types import GenParams, Message

CONVERSATION = [Message("system", "- 친절한 상담원이다."), Message("user", "배송은 언제 되나요?")]
GREEDY = GenParams(max_tokens=8, temperature=0)


@pytest.fixture(scope="module")
def url(llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(home=tmp_path_factory.mktemp("clova-client-home"))
    with LiveApp(build_app(served_config(llama_dir), settings=settings)) as live:
        yield live.url


def clova(spec: str, base_url: str, **credentials: Any) -> Backend:
    """The clova backend pointed at the server; no retries, so errors surface at once."""
    credentials = credentials or {"api_key": "unused-on-an-open-server"}
    return load_backend(spec, base_url=base_url, max_retries=0, timeout=60, **credentials)


def streamed(backend: Backend, params: GenParams = GREEDY) -> tuple[str, Any]:
    chunks = list(backend.stream(CONVERSATION, params))
    return "".join(c.delta for c in chunks), chunks[-1]


def test_v3_round_trip_matches_the_openai_dialect_and_its_own_stream(url: str) -> None:
    backend = clova("clova:HCX-005", url)
    answer = backend.chat(CONVERSATION, GREEDY)
    assert answer.content and answer.model == "clova:HCX-005"
    assert 0 < answer.usage.output_tokens <= 8 and answer.finish_reason in ("stop", "length")
    text, last = streamed(backend)
    assert text == answer.content  # streaming parity at temperature 0
    assert last.usage == answer.usage and last.finish_reason == answer.finish_reason
    assert backend.count_tokens(CONVERSATION) == answer.usage.input_tokens

    openai = httpx.post(
        f"{url}/v1/chat/completions",
        json={
            "model": MODEL,
            "messages": [m.to_dict() for m in CONVERSATION],
            "max_tokens": 8,
            "temperature": 0,
        },
        timeout=60,
    ).json()
    assert openai["choices"][0]["message"]["content"] == answer.content  # same core, same answer
    backend.close()


def test_v1_round_trip_and_stream_parity(url: str) -> None:
    backend = clova("clova:HCX-003", url, api_key="x", app="testapp")
    answer = backend.chat(CONVERSATION, GREEDY)  # sent as temperature 0.01, topK 1: greedy
    assert answer.content and 0 < answer.usage.output_tokens <= 8
    text, last = streamed(backend)
    assert text == answer.content and last.usage == answer.usage
    cut = backend.chat(CONVERSATION, GenParams(max_tokens=1, temperature=0))
    assert cut.finish_reason == "length" and cut.usage.output_tokens == 1
    assert backend.count_tokens(CONVERSATION) == answer.usage.input_tokens
    backend.close()


def test_tuned_tasks_by_job_id(
    start: Callable[..., LiveApp], llama_dir: Path, tmp_path: Path
) -> None:
    done = finished_job(f"hf:{llama_dir}", tmp=tmp_path)
    running = finished_job(f"hf:{llama_dir}", JobStatus.RUNNING, tmp=tmp_path)
    live = start(served_config(llama_dir))
    base = clova("clova:HCX-005", live.url).chat(CONVERSATION, GREEDY)
    v3 = clova(f"clova-task:{done}", live.url, api_key="x", api_version="v3")
    assert v3.chat(CONVERSATION, GREEDY).content == base.content
    for version in ("v1", "v2"):
        task = clova(f"clova-task:{done}", live.url, api_key="x", api_version=version)
        text, last = streamed(task)
        assert text == task.chat(CONVERSATION, GREEDY).content and last.finish_reason
    with pytest.raises(TuneStudioError, match=f"{running} is RUNNING"):
        clova(f"clova-task:{running}", live.url).chat(CONVERSATION, GREEDY)


@pytest.fixture
def keyed(start: Callable[..., LiveApp], llama_dir: Path) -> tuple[LiveApp, NewKey]:
    """A server with one key (so every call needs credentials), and that key."""
    key = KeyStore().create("clova-client")
    return start(served_config(llama_dir)), key


def test_bearer_key_and_legacy_header_pair(keyed: tuple[LiveApp, NewKey]) -> None:
    live, key = keyed
    bearer = clova("clova:HCX-005", live.url, api_key=key.key)
    legacy = clova("clova:HCX-005", live.url, legacy_api_key=key.key, apigw_api_key="gw")
    assert bearer.chat(CONVERSATION, GREEDY).content == legacy.chat(CONVERSATION, GREEDY).content
    with pytest.raises(ModelAuthError):
        clova("clova:HCX-005", live.url, api_key="ts-wrong").chat(CONVERSATION, GREEDY)


def test_access_token_flow_refreshes_on_40103(keyed: tuple[LiveApp, NewKey]) -> None:
    live, key = keyed
    backend = clova(
        "clova:HCX-003",
        live.url,
        client_id=key.info.client_id,
        client_secret=key.client_secret,
        token_url=f"{live.url}/v1/auth/token",
    )
    first = backend.chat(CONVERSATION, GREEDY)
    engine = get_engine()
    with engine.begin() as conn:
        (issued,) = conn.execute(select(AccessTokenRow.token_hash)).scalars().all()
        conn.execute(update(AccessTokenRow).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert backend.chat(CONVERSATION, GREEDY).content == first.content  # refreshed, retried
    with engine.connect() as conn:
        hashes = conn.execute(select(AccessTokenRow.token_hash)).scalars().all()
    assert len(hashes) == 1 and hashes[0] != issued  # a new token replaced the expired one
    backend.close()


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def test_auth_errors_in_clova_codes(start: Callable[..., LiveApp], llama_dir: Path) -> None:
    store = KeyStore()
    key = store.create("main")
    tune_only = store.create("tuner", scopes=(Scope.TUNE,))
    limited = store.create("slow", rate_limit=1)
    live = start(served_config(llama_dir))
    chat_url = f"{live.url}/v3/chat-completions/HCX-005"
    body = {"messages": [m.to_dict() for m in CONVERSATION], "maxTokens": 1}

    def post(headers: dict[str, str]) -> httpx.Response:
        return httpx.post(chat_url, json=body, headers=headers, timeout=60)

    assert_error(post({}), 401, "40100")
    assert_error(post({"Authorization": "Bearer ts-nope"}), 401, "40104")
    assert post({"X-NCP-CLOVASTUDIO-API-KEY": key.key}).json()["status"]["code"] == "20000"
    assert_error(post({"Authorization": f"Bearer {tune_only.key}"}), 403, "40300", "chat")
    assert post({"Authorization": f"Bearer {limited.key}"}).status_code == 200
    throttled = post({"Authorization": f"Bearer {limited.key}"})
    assert_error(throttled, 429, "42901")
    assert int(throttled.headers["Retry-After"]) >= 1

    expired, _ = store.issue_token(key.info.id, -1)
    assert_error(post({"Authorization": f"Bearer {expired}"}), 401, "40103", "expired")

    token_url = f"{live.url}/v1/auth/token?existingToken=true"
    issued = httpx.get(token_url, headers=basic(key.info.client_id, key.client_secret))
    result = issued.json()["result"]
    assert issued.json()["status"]["code"] == "20000" and result["tokenType"] == "Bearer"
    assert 3500 <= result["expiresIn"] <= 3600 and result["expiresAt"]
    assert post({"Authorization": f"Bearer {result['accessToken']}"}).status_code == 200
    assert_error(httpx.get(token_url), 401, "40100", "Basic")
    wrong = httpx.get(token_url, headers=basic(key.info.client_id, "wrong"))
    assert_error(wrong, 401, "40104", "client")
