"""Which models are served and how: loaded once, tuning jobs by id, failures, concurrency,
streams cut short, and a failing backend answered without a traceback."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.server.live_app import MODEL, LiveApp, sdk
from tunestudio.models import Backend, load_backend
from tunestudio.models.base import BaseBackend, Capabilities, StreamChunk
from tunestudio.server import ModelEntry, ServerConfig
from tunestudio.server.registry import ModelRegistry
from tunestudio.tuning.jobs import JobStatus, JobStore
from tunestudio.tuning.spec import TuneSpec
from tunestudio.types import ChatResult, GenParams, Message

HELLO = [{"role": "user", "content": "사진이 업로드되지 않아요."}]
GREEDY: dict[str, Any] = {"temperature": 0, "max_tokens": 8}


class CountingLoader:
    """The real ``load_backend``, counting its calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, spec: str, **options: Any) -> Backend:
        with self._lock:
            self.calls.append(spec)
        time.sleep(0.05)  # widen the window in which concurrent first requests overlap
        return load_backend(spec, **options)


def finished_job(spec: str, status: JobStatus = JobStatus.SUCCEEDED, tmp: Path = Path()) -> str:
    """A job in the store that ended ``status`` with ``spec`` as its result's model."""
    store = JobStore()
    data = tmp / "train.csv"
    data.write_text("System_Prompt,C_ID,T_ID,Text,Completion\n", encoding="utf-8")
    job = store.create(TuneSpec(model="tiny", data=data))
    if status == JobStatus.WAIT:
        return job.id
    store.claim(job.id, "test-worker", stale_after=60)
    if status != JobStatus.RUNNING:
        store.finish(job.id, status, worker_id="test-worker", result={"modelSpec": spec})
    return job.id


def test_one_load_per_model_even_under_concurrent_first_requests(
    config: ServerConfig, llama_dir: Path
) -> None:
    loader = CountingLoader()
    twice = config.model_copy(
        update={"models": [*config.models, ModelEntry(name="alias", spec=f"hf:{llama_dir}")]}
    )
    registry = ModelRegistry(twice, JobStore(), loader=loader)
    with ThreadPoolExecutor(8) as pool:
        backends = list(pool.map(registry.resolve_model, [MODEL, "alias"] * 4))
    assert loader.calls == [f"hf:{llama_dir}"]
    assert all(b is backends[0] for b in backends)
    registry.close()
    with pytest.raises(Exception, match="closed"):
        backends[0].chat([Message("user", "x")], GenParams(max_tokens=1))


def test_a_succeeded_tuning_job_is_served_by_its_id(
    start: Callable[..., LiveApp], llama_dir: Path, tmp_path: Path
) -> None:
    job_id = finished_job(f"hf:{llama_dir}", tmp=tmp_path)
    running = finished_job(f"hf:{llama_dir}", JobStatus.RUNNING, tmp=tmp_path)
    live = start()
    client = sdk(live)
    models = {m.id: m.owned_by for m in client.models.list()}
    assert models == {MODEL: "tunestudio", job_id: "tunestudio-tuning"}
    by_job = client.chat.completions.create(model=job_id, messages=HELLO, **GREEDY)
    by_name = client.chat.completions.create(model=MODEL, messages=HELLO, **GREEDY)
    assert by_job.model == job_id
    assert by_job.choices[0].message.content == by_name.choices[0].message.content
    with pytest.raises(openai.BadRequestError, match=f"{running} is RUNNING") as caught:
        client.chat.completions.create(model=running, messages=HELLO)
    assert caught.value.body["code"] == "model_not_ready"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="zzzzzzzz", messages=HELLO)  # job-id shaped


def test_a_model_that_cannot_load_is_503_with_the_reason(
    start: Callable[..., LiveApp], tmp_path: Path
) -> None:
    broken = ServerConfig(
        models=[ModelEntry(name="broken", spec=f"hf:{tmp_path / 'missing'}")], worker=False
    )
    live = start(broken)
    with pytest.raises(openai.InternalServerError) as caught:
        sdk(live).chat.completions.create(model="broken", messages=HELLO)
    assert caught.value.status_code == 503
    error = caught.value.body
    assert isinstance(error, dict) and error["code"] == "model_unavailable"
    assert "'broken'" in error["message"] and "could not be loaded" in error["message"]


def test_concurrent_requests_to_a_local_model_all_get_their_own_answer(live: LiveApp) -> None:
    prompts = [f"질문 {i}: 환불은 언제 되나요?" for i in range(4)]
    client = sdk(live)

    def ask(text: str) -> str:
        answer = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": text}], **GREEDY
        )
        return answer.choices[0].message.content or ""

    alone = [ask(text) for text in prompts]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(ask, prompts))
    assert together == alone


class Tracked(BaseBackend):
    """A real backend, recording whether each stream was closed before it finished."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner.name, inner.capabilities)
        self.inner = inner
        self.cut_short = threading.Event()

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        return self.inner.chat(messages, params)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return self.inner.count_tokens(messages)

    def stream(
        self, messages: Sequence[Message], params: GenParams = GenParams()
    ) -> Iterator[StreamChunk]:
        finished = False
        try:
            for chunk in self.inner.stream(messages, params):
                finished = chunk.finish_reason is not None
                yield chunk
        finally:
            if not finished:
                self.cut_short.set()

    def close(self) -> None:
        self.inner.close()


def test_a_client_that_hangs_up_stops_the_generation(
    start: Callable[..., LiveApp], config: ServerConfig
) -> None:
    tracked: list[Tracked] = []

    def loader(spec: str, **options: Any) -> Backend:
        tracked.append(Tracked(load_backend(spec, **options)))
        return tracked[-1]

    live = start(config, loader=loader)
    body = {"model": MODEL, "messages": HELLO, "stream": True, "max_tokens": 400}
    with httpx.stream("POST", f"{live.url}/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        next(response.iter_lines())  # the role chunk: the answer has started
    assert tracked[0].cut_short.wait(20), "the stream was not closed after the client left"
    answer = sdk(live).chat.completions.create(model=MODEL, messages=HELLO, **GREEDY)
    assert answer.choices[0].message.content  # the model is free again


class Failing(BaseBackend):
    """A backend with a bug: chat raises; stream gives one piece, then raises."""

    def __init__(self, name: str) -> None:
        super().__init__(name, Capabilities(concurrent=True))

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        raise RuntimeError("secret internal detail /home/user/.cache")

    def stream(
        self, messages: Sequence[Message], params: GenParams = GenParams()
    ) -> Iterator[StreamChunk]:
        yield StreamChunk("부분 ")
        raise RuntimeError("secret internal detail")

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return 1


def test_a_failing_backend_is_500_without_a_traceback(
    start: Callable[..., LiveApp], config: ServerConfig
) -> None:
    live = start(config, loader=lambda spec, **_: Failing(spec))
    raw = httpx.post(
        f"{live.url}/v1/chat/completions",
        json={"model": MODEL, "messages": HELLO},
        headers={"X-Request-Id": "req-500"},
    )
    assert raw.status_code == 500
    error = raw.json()["error"]
    assert error["code"] == "internal_error"
    assert "req-500" in error["message"]
    assert "secret" not in raw.text and "Traceback" not in raw.text
    stream = sdk(live).chat.completions.create(model=MODEL, messages=HELLO, stream=True)
    with pytest.raises(openai.APIError, match="internal server error"):
        for _ in stream:
            pass
