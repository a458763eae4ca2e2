"""``openai:`` against the local OpenAI-compatible server (real HTTP, hf model behind it)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.http_servers import Fault, LiveServer, OpenAIServer
from tunestudio.errors import (
    ContextLengthError,
    ModelAuthError,
    ModelError,
    ModelRequestError,
    ModelUnavailableError,
)
from tunestudio.models import load_backend
from tunestudio.models.http import RetryPolicy
from tunestudio.models.openai_compat import OpenAIBackend, estimate_tokens
from tunestudio.types import GenParams, Message, Usage

KEY = "sk-openai-unit-secret-0123456789"
ASK = [Message("system", "친절한 상담원"), Message("user", "환불은 언제 되나요?")]
SHORT = GenParams(max_tokens=8)


@pytest.fixture(scope="module")
def live(random_llama: Path) -> Iterator[tuple[OpenAIServer, str]]:
    server = OpenAIServer(load_backend(f"hf:{random_llama}"), model="fixture", api_key=KEY)
    with LiveServer(server.app) as running:
        yield server, running.url


@pytest.fixture(autouse=True)
def _no_real_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("TUNESTUDIO_KEYS_FILE", raising=False)


@pytest.fixture
def server(live: tuple[OpenAIServer, str]) -> OpenAIServer:
    live[0].faults.clear()
    live[0].seen.clear()
    return live[0]


@pytest.fixture
def url(live: tuple[OpenAIServer, str]) -> str:
    return live[1] + "/v1"


def openai(url: str, sleeps: list[float] | None = None, **options: Any) -> OpenAIBackend:
    record = sleeps.append if sleeps is not None else (lambda _: None)
    options.setdefault("api_key", KEY)
    policy = RetryPolicy(max_retries=2, sleep=record, jitter=lambda cap: cap)
    backend = load_backend(
        f"openai:{url}#{options.pop('model', 'fixture')}", retry=policy, **options
    )
    assert isinstance(backend, OpenAIBackend)
    return backend


# --- the request body ---------------------------------------------------------------------------


def test_standard_fields_only_by_default(server: OpenAIServer, url: str) -> None:
    result = openai(url).chat(ASK, SHORT)
    assert server.seen.last.body == {
        "model": "fixture",
        "messages": [m.to_dict() for m in ASK],
        "temperature": 0.0,
        "top_p": 1.0,
        "max_tokens": 8,
    }
    assert server.seen.last.headers["authorization"] == f"Bearer {KEY}"
    assert result.content and result.finish_reason in {"stop", "length"}
    assert result.usage == Usage(server.backend.count_tokens(ASK), result.usage.output_tokens)


def test_vllm_extras_stop_and_seed_when_set(server: OpenAIServer, url: str) -> None:
    params = GenParams(max_tokens=8, top_k=20, repetition_penalty=1.1, stop=("요",), seed=3)
    openai(url, max_tokens_field="max_completion_tokens", extra_body={"user": "t"}).chat(
        ASK, params
    )
    body = server.seen.last.body
    assert (body["top_k"], body["repetition_penalty"], body["stop"], body["seed"]) == (
        20,
        1.1,
        ["요"],
        3,
    )
    assert body["max_completion_tokens"] == 8 and "max_tokens" not in body
    assert body["user"] == "t"


def test_streams_ask_for_usage_except_on_clova_hosts(url: str) -> None:
    assert openai(url).request_body(ASK, SHORT, stream=True)["stream_options"] == {
        "include_usage": True
    }
    clova = load_backend("openai:https://clovastudio.stream.ntruss.com/v1/openai#HCX-005")
    assert isinstance(clova, OpenAIBackend)
    body = clova.request_body(ASK, SHORT, stream=True)
    assert body["stream"] is True and "stream_options" not in body


def test_a_stream_without_usage_gets_estimated_counts(server: OpenAIServer, url: str) -> None:
    backend = openai(url, stream_usage=False)
    chunks = list(backend.stream(ASK, SHORT))
    assert "stream_options" not in server.seen.last.body
    text = "".join(c.delta for c in chunks)
    assert chunks[-1].usage == Usage(backend.count_tokens(ASK), estimate_tokens(text))
    assert text == backend.chat(ASK, SHORT).content


# --- keys and errors ------------------------------------------------------------------------------


def test_the_key_can_come_from_openai_api_key(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    backend = load_backend(f"openai:{url}#fixture")
    assert backend.chat(ASK, SHORT).content


@pytest.mark.parametrize("key", [None, "sk-wrong"])
def test_a_missing_or_wrong_key_is_an_auth_error(
    key: str | None, server: OpenAIServer, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    backend = load_backend(f"openai:{url}#fixture", **({"api_key": key} if key else {}))
    with pytest.raises(ModelAuthError, match="401") as caught:
        backend.chat(ASK, SHORT)
    assert "OPENAI_API_KEY" in (caught.value.hint or "")
    assert ("authorization" in server.seen.last.headers) == (key is not None)
    for text in (str(caught.value), caplog.text, repr(backend)):
        assert KEY not in text and "sk-wrong" not in text


def test_an_unknown_model_or_a_wrong_base_url_says_what_to_check(url: str) -> None:
    with pytest.raises(ModelRequestError, match="does not exist") as caught:
        openai(url, model="qwen").chat(ASK, SHORT)
    assert "/models" in (caught.value.hint or "")
    with pytest.raises(ModelRequestError, match="404") as caught:
        openai(url.removesuffix("/v1")).chat(ASK, SHORT)
    assert "/v1" in (caught.value.hint or "")


def test_a_prompt_too_long_is_a_context_length_error(url: str) -> None:
    with pytest.raises(ContextLengthError, match="maximum context length"):
        openai(url).chat([Message("user", "환불은 언제 되나요? " * 200)], SHORT)


def test_429_and_503_are_retried(server: OpenAIServer, url: str) -> None:
    server.faults.add(status=429, retry_after="4")
    server.faults.add(status=503)
    sleeps: list[float] = []
    assert openai(url, sleeps).chat(ASK, SHORT).content
    assert sleeps == [4.0, 1.0]


def test_retries_exhausted_is_unavailable_with_a_hint(server: OpenAIServer, url: str) -> None:
    server.faults.add(status=502, times=3)
    with pytest.raises(ModelUnavailableError, match="gave up after 3 attempts") as caught:
        openai(url, []).chat(ASK, SHORT)
    assert caught.value.hint


def test_an_error_chunk_mid_stream_raises(server: OpenAIServer, url: str) -> None:
    server.faults.add(Fault(status=500, message="generation failed", in_stream=True))
    received = []
    with pytest.raises(ModelError, match="generation failed"):
        for chunk in openai(url).stream(ASK, GenParams(max_tokens=12)):
            received.append(chunk)
    assert received and received[0].delta


# --- tokens, capabilities, threads ------------------------------------------------------------


def test_token_estimate() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcdefgh") == 2
    assert estimate_tokens("abcdefghi") == 3
    assert estimate_tokens("환불은 언제") == 5 + 1  # five syllables, one space
    backend = load_backend("openai:http://localhost:1/v1#m")
    # "친절한 상담원": 6 syllables + 1 ASCII; "환불은 언제 되나요?": 8 syllables + 3 ASCII
    assert backend.count_tokens(ASK) == (6 + 1) + (8 + 1) + 3 * 2 + 3


def test_capabilities(url: str) -> None:
    caps = openai(url, context_length=4096).capabilities
    assert (caps.streaming, caps.concurrent, caps.exact_token_count) == (True, True, False)
    assert caps.context_length == 4096


def test_one_backend_serves_many_threads(url: str) -> None:
    backend = openai(url)
    expected = backend.chat(ASK, SHORT)
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(lambda _: backend.chat(ASK, SHORT), range(16))) == [expected] * 16
    backend.close()
    backend.close()
