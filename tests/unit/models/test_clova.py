"""``clova:`` and ``clova-task:`` against the local CLOVA Studio server (real HTTP, hf model)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.http_servers import ClovaServer, Fault, LiveServer
from tunestudio.errors import (
    ConfigError,
    ContextLengthError,
    ModelAuthError,
    ModelRateLimitError,
    ModelRequestError,
    ModelUnavailableError,
)
from tunestudio.models import Backend, load_backend
from tunestudio.models.clova import ClovaBackend
from tunestudio.models.clova_errors import error_for_code
from tunestudio.models.http import RetryPolicy
from tunestudio.types import GenParams, Message

KEY = "nv-unit-test-key-0123456789abcdef"
TASK = "t4sk0001"
ASK = [Message("system", "친절한 상담원"), Message("user", "환불은 언제 되나요?")]
SHORT = GenParams(max_tokens=8)


@pytest.fixture(scope="module")
def live(random_llama: Path) -> Iterator[tuple[ClovaServer, str]]:
    hf = load_backend(f"hf:{random_llama}")
    server = ClovaServer(hf, bearer_keys=(KEY,), tasks=(TASK,))
    with LiveServer(server.app) as running:
        yield server, running.url


@pytest.fixture
def server(live: tuple[ClovaServer, str]) -> ClovaServer:
    live[0].faults.clear()
    live[0].seen.clear()
    return live[0]


@pytest.fixture
def url(live: tuple[ClovaServer, str]) -> str:
    return live[1]


def clova(spec: str, url: str, sleeps: list[float] | None = None, **options: Any) -> ClovaBackend:
    record = sleeps.append if sleeps is not None else (lambda _: None)
    policy = RetryPolicy(max_retries=2, sleep=record, jitter=lambda cap: cap)
    backend = load_backend(spec, base_url=url, api_key=KEY, retry=policy, **options)
    assert isinstance(backend, ClovaBackend)
    return backend


# --- which endpoint ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "path"),
    [
        ("HCX-003", "/v1/chat-completions/HCX-003"),
        ("HCX-DASH-001", "/v1/chat-completions/HCX-DASH-001"),
        ("HCX-005", "/v3/chat-completions/HCX-005"),
        ("HCX-DASH-002", "/v3/chat-completions/HCX-DASH-002"),
    ],
)
def test_each_model_goes_to_its_api_version(
    model: str, path: str, server: ClovaServer, url: str
) -> None:
    result = clova(f"clova:{model}", url).chat(ASK, SHORT)
    assert server.seen.last.path == path
    assert result.content and result.model == f"clova:{model}"


def test_an_unknown_newer_model_goes_to_v3_and_the_error_lists_the_models(
    server: ClovaServer, url: str
) -> None:
    with pytest.raises(ModelRequestError, match="40080") as caught:
        clova("clova:HCX-999", url).chat(ASK, SHORT)
    assert server.seen.last.path == "/v3/chat-completions/HCX-999"
    assert "HCX-005" in (caught.value.hint or "")
    assert caught.value.where == "clova:HCX-999"


def test_api_version_override_and_the_40084_hint(server: ClovaServer, url: str) -> None:
    with pytest.raises(ModelRequestError, match="40084") as caught:
        clova("clova:HCX-003", url, api_version="v3").chat(ASK, SHORT)
    assert server.seen.last.path == "/v3/chat-completions/HCX-003"
    assert "api_version" in (caught.value.hint or "")


def test_the_legacy_app_prefix(server: ClovaServer, url: str) -> None:
    clova("clova:HCX-005", url, app="testapp").chat(ASK, SHORT)
    assert server.seen.last.path == "/testapp/v3/chat-completions/HCX-005"


def test_a_tuned_task_uses_v2_tasks_and_the_v1_body(server: ClovaServer, url: str) -> None:
    result = clova(f"clova-task:{TASK}", url).chat(ASK, GenParams(max_tokens=8, stop=("요",)))
    seen = server.seen.last
    assert seen.path == f"/v2/tasks/{TASK}/chat-completions"
    assert seen.body["stopBefore"] == ["요"] and "stop" not in seen.body
    assert result.model == f"clova-task:{TASK}"


def test_a_v3_task_uses_the_v3_body(server: ClovaServer, url: str) -> None:
    clova(f"clova-task:{TASK}", url, api_version="v3").chat(ASK, SHORT)
    assert server.seen.last.path == f"/v3/tasks/{TASK}/chat-completions"
    assert "repetitionPenalty" in server.seen.last.body


def test_an_unknown_task_says_where_task_ids_are(url: str) -> None:
    with pytest.raises(ModelRequestError, match="40400") as caught:
        clova("clova-task:nosuch", url).chat(ASK, SHORT)
    assert "task id" in (caught.value.hint or "")


def test_bad_options_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="v2 exists only for tuned tasks"):
        clova("clova:HCX-005", url, api_version="v2")
    with pytest.raises(ConfigError, match="temprature") as caught:
        clova("clova:HCX-005", url, temprature=0.5)
    assert "options of clova:HCX-005" in str(caught.value)
    assert clova("clova:HCX-005", url, device=None).chat(ASK, SHORT).content  # None: not given


def test_the_base_url_comes_from_the_option_the_environment_or_the_default(
    monkeypatch: pytest.MonkeyPatch, server: ClovaServer, url: str
) -> None:
    def loaded(**options: Any) -> ClovaBackend:
        backend = load_backend("clova:HCX-005", api_key=KEY, **options)
        assert isinstance(backend, ClovaBackend)
        return backend

    monkeypatch.delenv("CLOVASTUDIO_BASE_URL", raising=False)
    assert loaded().base_url == "https://clovastudio.stream.ntruss.com"
    monkeypatch.setenv("CLOVASTUDIO_BASE_URL", url + "/")
    assert loaded().base_url == url
    assert loaded().chat(ASK, SHORT).content and server.seen.requests
    assert loaded(base_url="http://example.invalid").base_url == "http://example.invalid"


def test_capabilities() -> None:
    backend = load_backend("clova:HCX-005", api_key=KEY)
    caps = backend.capabilities
    assert (caps.streaming, caps.concurrent, caps.exact_token_count) == (True, True, True)
    assert caps.context_length == 128_000
    assert load_backend("clova:HCX-003", api_key=KEY).capabilities.context_length == 8192
    assert load_backend("clova-task:abc", api_key=KEY).capabilities.context_length is None
    assert isinstance(backend, Backend)


# --- request ids ------------------------------------------------------------------------------


def test_every_call_gets_a_fresh_request_id_kept_across_its_retries(
    server: ClovaServer, url: str
) -> None:
    server.faults.add(status=429, code="42901", retry_after="3")
    sleeps: list[float] = []
    backend = clova("clova:HCX-005", url, sleeps)
    backend.chat(ASK, SHORT)
    backend.chat(ASK, SHORT)
    ids = [seen.headers["x-ncp-clovastudio-request-id"] for seen in server.seen.requests]
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in ids)
    assert ids[0] == ids[1] != ids[2]  # the retry reuses its call's id
    assert sleeps == [3.0]


def test_a_fixed_request_id(server: ClovaServer, url: str) -> None:
    clova("clova:HCX-005", url, request_id="my-trace-1").chat(ASK, SHORT)
    assert server.seen.last.headers["x-ncp-clovastudio-request-id"] == "my-trace-1"


# --- errors -----------------------------------------------------------------------------------


def test_a_prompt_too_long_is_a_context_length_error(url: str) -> None:
    long = [Message("user", "환불은 언제 되나요? " * 200)]
    with pytest.raises(ContextLengthError, match="40003") as caught:
        clova("clova:HCX-005", url).chat(long, SHORT)
    assert "max_tokens" in (caught.value.hint or "")


def test_rate_limits_are_retried_then_reported_with_the_quota_hint(
    server: ClovaServer, url: str
) -> None:
    server.faults.add(status=429, code="42901", retry_after="2", times=3)
    sleeps: list[float] = []
    with pytest.raises(ModelRateLimitError) as caught:
        clova("clova:HCX-005", url, sleeps).chat(ASK, SHORT)
    assert sleeps == [2.0, 2.0]
    assert caught.value.retry_after == 2.0
    assert "42901" in caught.value.message
    assert "per minute" in (caught.value.hint or "")


def test_server_errors_are_retried_then_succeed(server: ClovaServer, url: str) -> None:
    server.faults.add(status=500, code="50000")
    server.faults.add(status=503)
    sleeps: list[float] = []
    assert clova("clova:HCX-003", url, sleeps).chat(ASK, SHORT).content
    assert sleeps == [0.5, 1.0]


def test_an_error_code_inside_an_http_200_envelope_is_raised(server: ClovaServer, url: str) -> None:
    server.faults.add(status=200, code="50000", times=3)
    with pytest.raises(ModelUnavailableError, match="50000"):
        clova("clova:HCX-005", url, []).chat(ASK, SHORT)
    assert len(server.seen.requests) == 3  # retried like a 500


def test_an_error_event_mid_stream_raises_after_the_first_piece(
    server: ClovaServer, url: str
) -> None:
    server.faults.add(Fault(in_stream=True, code="50000"))
    received = []
    with pytest.raises(ModelUnavailableError, match="50000"):
        for chunk in clova("clova:HCX-005", url).stream(ASK, GenParams(max_tokens=12)):
            received.append(chunk)
    assert received and received[0].delta


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("40001", ModelRequestError),
        ("40003", ContextLengthError),
        ("40083", ModelUnavailableError),
        ("40100", ModelAuthError),
        ("40104", ModelAuthError),
        ("40301", ModelAuthError),
        ("42900", ModelRateLimitError),
        ("42903", ModelRateLimitError),
        ("50000", ModelUnavailableError),
        ("50400", ModelUnavailableError),
        ("41500", ModelRequestError),
    ],
)
def test_status_codes_map_to_typed_errors_with_hints(code: str, kind: type) -> None:
    error = error_for_code(code, "msg", http_status=400, where="clova:X", auth="a Bearer key")
    assert type(error) is kind
    assert error.hint and code in error.message


def test_the_key_hint_names_the_variable_and_the_nv_prefix() -> None:
    error = error_for_code("40100", "Unauthorized", http_status=401, where="w", auth="a key")
    assert "CLOVASTUDIO_API_KEY" in (error.hint or "") and "nv-" in (error.hint or "")


# --- parameters as CLOVA sees them ------------------------------------------------------------


def test_v1_greedy_is_sent_as_the_smallest_temperature_with_top_k_1(
    server: ClovaServer, url: str
) -> None:
    clova("clova:HCX-003", url).chat(ASK, GenParams(max_tokens=8, stop=("다",), seed=7))
    body = server.seen.last.body
    assert (body["temperature"], body["topK"], body["maxTokens"]) == (0.01, 1, 8)
    assert body["stopBefore"] == ["다"] and body["seed"] == 7
    assert "repeatPenalty" not in body  # 1.0 is "off"; CLOVA's own default applies


def test_v3_sends_temperature_zero_and_the_penalty(server: ClovaServer, url: str) -> None:
    params = GenParams(max_tokens=8, top_p=0.9, top_k=5, repetition_penalty=1.05, stop=("다",))
    clova("clova:HCX-005", url).chat(ASK, params)
    body = server.seen.last.body
    assert body["messages"] == [m.to_dict() for m in ASK]
    assert (body["temperature"], body["topP"], body["topK"]) == (0.0, 0.9, 5)
    assert (body["repetitionPenalty"], body["stop"], body["maxTokens"]) == (1.05, ["다"], 8)
    assert "seed" not in body


def test_hcx_007_takes_max_completion_tokens_and_no_stop_while_thinking(
    server: ClovaServer, url: str
) -> None:
    clova("clova:HCX-007", url).chat(ASK, SHORT)
    assert server.seen.last.body["maxCompletionTokens"] == 8
    assert "maxTokens" not in server.seen.last.body
    with pytest.raises(ModelRequestError, match="stop strings") as caught:
        clova("clova:HCX-007", url).chat(ASK, GenParams(stop=("x",)))
    assert "thinking_effort" in (caught.value.hint or "")
    clova("clova:HCX-007", url, thinking_effort="none").chat(ASK, GenParams(8, stop=("x",)))
    assert server.seen.last.body["thinking"] == {"effort": "none"}


@pytest.mark.parametrize(
    ("spec", "params", "text"),
    [
        ("clova:HCX-003", GenParams(temperature=1.5), "0 < temperature ≤ 1"),
        ("clova:HCX-005", GenParams(temperature=-0.1), "0 ≤ temperature ≤ 1"),
        ("clova:HCX-005", GenParams(top_p=0.0), "0 < topP ≤ 1"),
        ("clova:HCX-005", GenParams(top_k=200), "0 ≤ topK ≤ 128"),
        ("clova:HCX-003", GenParams(max_tokens=5000), "0 < maxTokens ≤ 4096"),
        ("clova:HCX-003", GenParams(repetition_penalty=11), "0 < repeatPenalty ≤ 10"),
        ("clova:HCX-005", GenParams(repetition_penalty=2.5), "0 < repetitionPenalty ≤ 2"),
        ("clova:HCX-005", GenParams(seed=0), "1 ≤ seed ≤ 4.29497e+09"),
    ],
)
def test_out_of_range_parameters_are_refused_before_sending(
    spec: str, params: GenParams, text: str, server: ClovaServer, url: str
) -> None:
    with pytest.raises(ModelRequestError) as caught:
        clova(spec, url).chat(ASK, params)
    assert text in caught.value.message
    assert caught.value.hint and caught.value.where == spec
    assert server.seen.requests == []


def test_v1_refuses_tool_messages(url: str) -> None:
    with pytest.raises(ModelRequestError, match="'tool'"):
        clova("clova:HCX-003", url).chat([Message("tool", "{}")], SHORT)


# --- tokens -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "options", "path"),
    [
        ("clova:HCX-003", {}, "/v1/api-tools/chat-tokenize/HCX-003"),
        ("clova:HCX-005", {}, "/v3/api-tools/chat-tokenize/HCX-005"),
        (f"clova-task:{TASK}", {}, "/v1/api-tools/chat-tokenize/HCX-003"),
        (
            f"clova-task:{TASK}",
            {"tokenizer_model": "HCX-DASH-001"},
            "/v1/api-tools/chat-tokenize/HCX-DASH-001",
        ),
        (f"clova-task:{TASK}", {"api_version": "v3"}, "/v3/api-tools/chat-tokenize/HCX-005"),
    ],
)
def test_count_tokens_asks_the_chat_tokenizer(
    spec: str, options: dict[str, Any], path: str, server: ClovaServer, url: str
) -> None:
    count = clova(spec, url, **options).count_tokens(ASK)
    assert server.seen.last.path == path
    assert count == server.backend.count_tokens(ASK)


# --- many threads -----------------------------------------------------------------------------


def test_one_backend_serves_many_threads(url: str) -> None:
    backend = clova("clova:HCX-005", url)
    expected = backend.chat(ASK, SHORT)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: backend.chat(ASK, SHORT), range(16)))
    assert results == [expected] * 16
    backend.close()
    backend.close()
