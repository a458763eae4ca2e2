"""The CLOVA Studio dialect over raw HTTP: the envelope, v3 and v1 chat (JSON and SSE), path
prefixes, unknown fields, tuned tasks, the chat tools, and every error code it answers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.live_app import MODEL, LiveApp
from tests.server.test_served_models import finished_job
from tunestudio.config import Settings
from tunestudio.errors import ModelUnavailableError
from tunestudio.models.base import BaseBackend, Capabilities, StreamChunk
from tunestudio.server import ModelEntry, ServerConfig, build_app
from tunestudio.tuning.jobs import JobStatus
from tunestudio.types import ChatResult, GenParams, Message

HELLO = [{"role": "system", "content": "- 친절한 상담원이다."}, {"role": "user", "content": "안녕"}]
GREEDY = {"temperature": 0, "maxTokens": 8, "seed": 7}
V1_GREEDY = {"temperature": 0.01, "topK": 1, "maxTokens": 8, "seed": 7}


def served_config(llama_dir: Path, **options: Any) -> ServerConfig:
    """The test model under its own name and two CLOVA names (one load: the same spec)."""
    spec = f"hf:{llama_dir}"
    names = (MODEL, "HCX-005", "HCX-003")
    models = [ModelEntry(name=name, spec=spec) for name in names]
    return ServerConfig(models=models, worker=False, **options)


@pytest.fixture(scope="module")
def clova(llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """An open loopback server for the whole module, and a client for it."""
    settings = Settings(home=tmp_path_factory.mktemp("clova-home"))
    with (
        LiveApp(build_app(served_config(llama_dir), settings=settings)) as live,
        httpx.Client(base_url=live.url, timeout=60) as client,
    ):
        yield client


def events(response: httpx.Response) -> list[dict[str, Any]]:
    """The SSE events of a response, each as {id, event, data (parsed JSON)}."""
    out = []
    for block in response.text.strip().split("\n\n"):
        fields = dict(line.split(":", 1) for line in block.splitlines())
        out.append(
            {"id": fields["id"], "event": fields["event"], "data": json.loads(fields["data"])}
        )
    return out


def assert_error(response: httpx.Response, http: int, code: str, *words: str) -> None:
    assert response.status_code == http, response.text
    status = response.json()["status"]
    assert status["code"] == code
    assert "Traceback" not in status["message"]
    for word in words:
        assert word in status["message"]


def test_v3_answers_in_the_envelope_and_ignores_unknown_fields(clova: httpx.Client) -> None:
    body = {"messages": HELLO, **GREEDY, "stream": False, "includeAiFilters": True, "x": [1]}
    answer = clova.post("/v3/chat-completions/HCX-005", json=body)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    data = answer.json()
    assert data["status"] == {"code": "20000", "message": "OK"}
    result = data["result"]
    assert result["message"]["role"] == "assistant" and result["message"]["content"]
    assert result["finishReason"] in ("stop", "length") and result["seed"] == 7
    usage = result["usage"]
    assert 0 < usage["completionTokens"] <= 8 and usage["promptTokens"] > 0
    assert usage["totalTokens"] == usage["promptTokens"] + usage["completionTokens"]
    assert abs(result["created"] - time.time()) < 120  # Unix seconds

    parts = [HELLO[0], {"role": "user", "content": [{"type": "text", "text": "안녕"}]}]
    again = clova.post("/v3/chat-completions/HCX-005", json={"messages": parts, **GREEDY})
    assert again.json()["result"]["message"] == result["message"]


def test_seed_zero_or_absent_draws_one_and_reports_it(clova: httpx.Client) -> None:
    seeds = set()
    for seed in (0, None):
        body = {"messages": HELLO, "maxTokens": 2} | ({} if seed is None else {"seed": seed})
        result = clova.post("/v3/chat-completions/HCX-005", json=body).json()["result"]
        assert 1 <= result["seed"] <= 4_294_967_295
        seeds.add(result["seed"])
    assert len(seeds) == 2


def test_v3_stream_is_tokens_then_result_then_signal(clova: httpx.Client) -> None:
    url, body = "/v3/chat-completions/HCX-005", {"messages": HELLO, **GREEDY}
    whole = clova.post(url, json=body).json()["result"]
    streamed = clova.post(url, json=body, headers={"Accept": "text/event-stream"})
    assert streamed.headers["content-type"].startswith("text/event-stream")
    got = events(streamed)
    names = [e["event"] for e in got]
    assert names[-2:] == ["result", "signal"] and set(names[:-2]) == {"token"}
    assert got[-1]["data"] == {"data": "[DONE]"}
    assert len({e["id"] for e in got}) == len(got)  # every event has its own id
    tokens = [e["data"] for e in got[:-2]]
    assert all(t["finishReason"] is None and t["usage"] is None and t["seed"] == 7 for t in tokens)
    text = "".join(t["message"]["content"] for t in tokens)
    result = got[-2]["data"]
    assert text == result["message"]["content"] == whole["message"]["content"]
    assert result["usage"] == whole["usage"] and result["finishReason"] == whole["finishReason"]


def test_v1_schema_json_and_stream(clova: httpx.Client) -> None:
    url = "/v1/chat-completions/HCX-003"
    body = {"messages": HELLO, **V1_GREEDY, "repeatPenalty": 5.0, "stopBefore": []}
    result = clova.post(url, json=body | {"includeAiFilters": True}).json()["result"]
    assert set(result) == {"message", "stopReason", "inputLength", "outputLength", "seed"}
    assert result["stopReason"] in ("length", "stop_before") and 0 < result["outputLength"] <= 8
    streamed = events(clova.post(url, json=body, headers={"Accept": "text/event-stream"}))
    assert [e["event"] for e in streamed[-2:]] == ["result", "signal"]
    tokens = [e["data"] for e in streamed[:-2]]
    assert [t["index"] for t in tokens] == list(range(len(tokens)))
    assert "".join(t["message"]["content"] for t in tokens) == result["message"]["content"]
    assert streamed[-2]["data"] == result

    default = clova.post(url, json={"messages": HELLO, "temperature": 0.5}).json()["result"]
    assert default["outputLength"] <= 100  # v1's default maxTokens
    short = clova.post(url, json={"messages": HELLO, **V1_GREEDY, "maxTokens": 1}).json()
    assert short["result"]["stopReason"] == "length" and short["result"]["outputLength"] == 1


@pytest.mark.parametrize("prefix", ["/testapp", "/serviceapp"])
def test_legacy_path_prefixes_are_the_same_endpoints(clova: httpx.Client, prefix: str) -> None:
    body = {"messages": HELLO, **GREEDY}
    bare = clova.post("/v3/chat-completions/HCX-005", json=body).json()["result"]["message"]
    prefixed = clova.post(f"{prefix}/v3/chat-completions/HCX-005", json=body)
    assert prefixed.json()["result"]["message"] == bare
    v1 = clova.post(f"{prefix}/v1/chat-completions/HCX-003", json={"messages": HELLO})
    assert v1.json()["status"]["code"] == "20000"
    missing = clova.post(f"{prefix}/v3/chat-completions/HCX-404", json=body)
    assert_error(missing, 400, "40080", "HCX-404")


ERRORS = [
    ("/v3/chat-completions/HCX-005", {"topP": 1.5}, 400, "40001", "topP"),
    ("/v3/chat-completions/HCX-005", {"repetitionPenalty": 0}, 400, "40001", "repetitionPenalty"),
    ("/v3/chat-completions/HCX-005", {"seed": -1}, 400, "40001", "seed"),
    (
        "/v3/chat-completions/HCX-005",
        {"maxTokens": 5, "maxCompletionTokens": 5},
        400,
        "40001",
        "maxCompletionTokens",
    ),
    ("/v1/chat-completions/HCX-003", {"temperature": 0}, 400, "40001", "temperature"),
    ("/v1/chat-completions/HCX-003", {"maxTokens": 4097}, 400, "40001", "maxTokens"),
    ("/v1/chat-completions/HCX-003", {"repeatPenalty": 11}, 400, "40001", "repeatPenalty"),
    ("/v3/chat-completions/HCX-005", {"messages": []}, 400, "40001", "messages"),
    ("/v3/chat-completions/HCX-005", {"messages": HELLO[:1] * 2}, 400, "40001", "one system"),
    (
        "/v3/chat-completions/HCX-005",
        {"messages": [{"role": "user", "content": " "}]},
        400,
        "40004",
        "messages.0.content",
    ),
    ("/v3/chat-completions/HCX-005", {"maxTokens": 4096}, 400, "40003", "512"),
    ("/v3/chat-completions/HCX-005", {"tools": [{"type": "function"}]}, 400, "40002", "tools"),
    ("/v3/chat-completions/HCX-404", {}, 400, "40080", "HCX-404"),
    ("/v3/chat-completions/HCX-003", {}, 400, "40084", "/v1/chat-completions"),
    ("/v1/chat-completions/HCX-005", {}, 400, "40084", "HCX-005"),
    ("/v3/tasks/zzzzzzzz/chat-completions", {}, 404, "40400", "zzzzzzzz"),
    ("/v2/tasks/nosuchtask/chat-completions", {}, 404, "40400", "nosuchtask"),
    ("/v3/no-such-endpoint", {}, 404, "40400", "no-such-endpoint"),
]


@pytest.mark.parametrize(("path", "fields", "http", "code", "word"), ERRORS)
def test_errors_have_the_documented_status_and_code(
    clova: httpx.Client, path: str, fields: dict[str, Any], http: int, code: str, word: str
) -> None:
    body = {"messages": HELLO, "maxTokens": 2} | fields
    if path.startswith("/v1/chat") and "maxTokens" not in fields:
        body.pop("maxTokens")
    assert_error(clova.post(path, json=body), http, code, word)


def test_an_overlong_prompt_is_refused_before_a_stream_starts(clova: httpx.Client) -> None:
    body = {"messages": HELLO, "maxTokens": 4096}
    answer = clova.post(
        "/v3/chat-completions/HCX-005", json=body, headers={"Accept": "text/event-stream"}
    )
    assert_error(answer, 400, "40003", "context window")


def test_malformed_json_is_40001(clova: httpx.Client) -> None:
    answer = clova.post(
        "/v3/chat-completions/HCX-005",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert_error(answer, 400, "40001", "JSON")


def test_tasks_answer_only_when_their_job_succeeded(
    start: Callable[..., LiveApp], llama_dir: Path, tmp_path: Path
) -> None:
    done = finished_job(f"hf:{llama_dir}", tmp=tmp_path)
    running = finished_job(f"hf:{llama_dir}", JobStatus.RUNNING, tmp=tmp_path)
    live = start(served_config(llama_dir))
    with httpx.Client(base_url=live.url, timeout=60) as client:
        v3 = {"messages": HELLO, **GREEDY}
        by_task = client.post(f"/v3/tasks/{done}/chat-completions", json=v3).json()["result"]
        by_name = client.post("/v3/chat-completions/HCX-005", json=v3).json()["result"]
        assert by_task["message"] == by_name["message"]
        for version in ("v1", "v2"):
            url = f"/testapp/{version}/tasks/{done}/chat-completions"
            v1 = client.post(url, json={"messages": HELLO, **V1_GREEDY}).json()["result"]
            assert v1["stopReason"] in ("length", "stop_before")
        refused = client.post(f"/v2/tasks/{running}/chat-completions", json={"messages": HELLO})
        assert_error(refused, 404, "40400", f"{running} is RUNNING")


def test_chat_tokenize_counts_sum_to_the_prompt(clova: httpx.Client) -> None:
    chat = clova.post(
        "/v3/chat-completions/HCX-005", json={"messages": HELLO, "maxTokens": 1}
    ).json()["result"]
    v1 = clova.post("/v1/api-tools/chat-tokenize/HCX-003", json={"messages": HELLO}).json()
    counted = v1["result"]["messages"]
    assert [(m["role"], m["content"]) for m in counted] == [
        (m["role"], m["content"]) for m in HELLO
    ]
    assert sum(m["count"] for m in counted) == chat["usage"]["promptTokens"]
    v3 = clova.post(
        "/serviceapp/v3/api-tools/chat-tokenize/HCX-005/my-app-id", json={"messages": HELLO}
    )
    parts = [m["content"] for m in v3.json()["result"]["messages"]]
    assert [p[0]["count"] for p in parts] == [m["count"] for m in counted]
    assert parts[1] == [{"type": "text", "text": "안녕", "count": counted[1]["count"]}]


def test_sliding_window_keeps_system_and_drops_oldest_turns(clova: httpx.Client) -> None:
    turns = []
    for i in range(12):
        turns += [
            {"role": "user", "content": f"{i}번째 질문입니다. " * 6},
            {"role": "assistant", "content": f"{i}번째 답변입니다. " * 6},
        ]
    messages = [HELLO[0], *turns, {"role": "user", "content": "마지막 질문"}]
    url = "/v1/api-tools/sliding/chat-messages/HCX-003"
    small = clova.post(url, json={"maxTokens": 10, "messages": messages[:3]}).json()
    assert small["result"]["messages"] == messages[:3]  # fits: unchanged
    kept = clova.post(url + "/app-1", json={"maxTokens": 200, "messages": messages}).json()
    kept = kept["result"]["messages"]
    assert kept[0] == HELLO[0] and kept[-1] == messages[-1]
    assert 1 < len(kept) < len(messages) and kept[1]["role"] == "user"
    assert kept == [HELLO[0], *messages[len(messages) - len(kept) + 1 :]]
    prompt = clova.post("/v1/api-tools/chat-tokenize/HCX-003", json={"messages": kept}).json()[
        "result"
    ]["messages"]
    assert sum(m["count"] for m in prompt) + 200 <= 512  # the fixture model's window
    one_more = [HELLO[0], *messages[len(messages) - len(kept) - 1 :]]
    longer = clova.post("/v1/api-tools/chat-tokenize/HCX-003", json={"messages": one_more})
    assert sum(m["count"] for m in longer.json()["result"]["messages"]) + 200 > 512
    too_big = clova.post(url, json={"maxTokens": 4096, "messages": messages})
    assert_error(too_big, 400, "40003", "4096")


def test_body_too_large_is_41300(start: Callable[..., LiveApp], llama_dir: Path) -> None:
    live = start(served_config(llama_dir, max_body_bytes=2048))
    big = {"messages": [{"role": "user", "content": "가" * 2000}]}
    answer = httpx.post(f"{live.url}/v3/chat-completions/HCX-005", json=big, timeout=30)
    assert_error(answer, 413, "41300", "2048")


@dataclass
class Failing(BaseBackend):
    """Fails the way a broken model does: chat with a bug, stream after the first piece."""

    capabilities: Capabilities = field(
        default_factory=lambda: Capabilities(streaming=True, concurrent=True)
    )

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        raise RuntimeError("secret internals /home/user/model.py")

    def stream(
        self, messages: Sequence[Message], params: GenParams = GenParams()
    ) -> Iterator[StreamChunk]:
        yield StreamChunk("안")
        raise ModelUnavailableError("the upstream model went away", hint="try again")

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return 1


def test_internal_errors_leak_nothing_and_stream_errors_are_error_events(
    start: Callable[..., LiveApp], llama_dir: Path
) -> None:
    live = start(served_config(llama_dir), loader=lambda spec, **_: Failing(spec))
    with httpx.Client(base_url=live.url, timeout=30) as client:
        url, body = "/v3/chat-completions/HCX-005", {"messages": HELLO}
        broken = client.post(url, json=body)
        assert_error(broken, 500, "50000")
        assert "secret" not in broken.text and "RuntimeError" not in broken.text
        streamed = events(client.post(url, json=body, headers={"Accept": "text/event-stream"}))
        assert [e["event"] for e in streamed] == ["token", "error"]
        status = streamed[1]["data"]["status"]
        assert status["code"] == "50300" and "went away" in status["message"]
