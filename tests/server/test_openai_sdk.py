"""The official ``openai`` SDK against the real app over real HTTP: answers, streams, errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from tests.server.live_app import MODEL, LiveApp, sdk
from tunestudio.server import ServerConfig

HELLO = [{"role": "user", "content": "안녕하세요, 결제 내역을 확인하고 싶어요."}]
GREEDY: dict[str, Any] = {"temperature": 0, "max_tokens": 8}


def test_chat_completion(shared_live: LiveApp) -> None:
    answer = sdk(shared_live).chat.completions.create(model=MODEL, messages=HELLO, **GREEDY)
    assert answer.object == "chat.completion"
    assert answer.id.startswith("chatcmpl-")
    assert answer.model == MODEL
    choice = answer.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert answer.usage is not None
    assert answer.usage.prompt_tokens > 10
    assert 1 <= answer.usage.completion_tokens <= 8
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens


def test_stream_concatenates_to_the_non_stream_answer(shared_live: LiveApp) -> None:
    client = sdk(shared_live)
    whole = client.chat.completions.create(model=MODEL, messages=HELLO, **GREEDY)
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=HELLO,
            stream=True,
            stream_options={"include_usage": True},
            **GREEDY,
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == [whole.choices[0].finish_reason]
    assert len({c.id for c in chunks}) == 1
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens  # type: ignore[union-attr]
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens  # type: ignore[union-attr]


def test_stream_without_include_usage_sends_no_usage(shared_live: LiveApp) -> None:
    chunks = list(
        sdk(shared_live).chat.completions.create(model=MODEL, messages=HELLO, stream=True, **GREEDY)
    )
    assert all(c.usage is None and c.choices for c in chunks)


def test_models_list_and_retrieve(shared_live: LiveApp) -> None:
    client = sdk(shared_live)
    assert [m.id for m in client.models.list()] == [MODEL]
    assert client.models.retrieve(MODEL).owned_by == "tunestudio"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_clova_openai_prefix_answers_the_same(shared_live: LiveApp) -> None:
    plain = sdk(shared_live).chat.completions.create(model=MODEL, messages=HELLO, **GREEDY)
    clova = sdk(shared_live, prefix="/v1/openai").chat.completions.create(
        model=MODEL, messages=HELLO, **GREEDY
    )
    assert clova.choices[0].message.content == plain.choices[0].message.content
    assert [m.id for m in sdk(shared_live, prefix="/v1/openai").models.list()] == [MODEL]


def test_unknown_fields_and_neutral_values_are_ignored(shared_live: LiveApp) -> None:
    client = sdk(shared_live)
    plain = client.chat.completions.create(model=MODEL, messages=HELLO, **GREEDY)
    extra = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "developer", "content": ""}, *HELLO][1:],
        user="someone",
        metadata={"run": "x"},
        n=1,
        presence_penalty=0,
        tool_choice="none",
        response_format={"type": "text"},
        extra_body={"some_vendor_field": {"a": 1}, "top_k": -1, "repetition_penalty": 1.0},
        **GREEDY,
    )
    assert extra.choices[0].message.content == plain.choices[0].message.content


def test_text_content_parts_are_joined(shared_live: LiveApp) -> None:
    client = sdk(shared_live)
    text = HELLO[0]["content"]
    plain = client.chat.completions.create(model=MODEL, messages=HELLO, **GREEDY)
    parts = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": [{"type": "text", "text": text}]}],
        **GREEDY,
    )
    assert parts.choices[0].message.content == plain.choices[0].message.content


def test_unknown_model_is_not_found(shared_live: LiveApp) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sdk(shared_live).chat.completions.create(model="gpt-nope", messages=HELLO)
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["code"] == "model_not_found"
    assert error["param"] == "model"
    assert "'gpt-nope'" in error["message"] and MODEL in error["message"]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"n": 2}, "n"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools"),
        ({"frequency_penalty": 0.5}, "frequency_penalty"),
        ({"logprobs": True}, "logprobs"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"temperature": 3}, "temperature"),
    ],
)
def test_unsupported_or_invalid_fields_are_400(
    shared_live: LiveApp, fields: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(shared_live).chat.completions.create(model=MODEL, messages=HELLO, **fields)
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"


def test_tool_and_image_messages_are_refused(shared_live: LiveApp) -> None:
    client = sdk(shared_live)
    with pytest.raises(openai.BadRequestError, match="tools are not supported"):
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "tool", "content": "x", "tool_call_id": "1"}]
        )
    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": [image]}])
    assert caught.value.body["param"] == "messages.0.content.0"  # type: ignore[index]


def test_context_overflow_is_400_in_vllm_words(shared_live: LiveApp) -> None:
    long = [{"role": "user", "content": "결제 내역 " * 400}]
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(shared_live).chat.completions.create(model=MODEL, messages=long, max_tokens=10)
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["code"] == "context_length_exceeded"
    assert re.match(
        r"This model's maximum context length is 512 tokens\. However, you "
        r"requested \d+ tokens \(\d+ in the messages, 10 in the completion\)",
        error["message"],
    )


def test_without_max_tokens_the_answer_fits_the_context(shared_live: LiveApp) -> None:
    # The default budget (512) would overflow this 512-token model; it is cut to what is left.
    prompt = [{"role": "user", "content": "결제 " * 225}]  # about 480 tokens
    answer = sdk(shared_live).chat.completions.create(model=MODEL, messages=prompt, temperature=0)
    assert answer.usage is not None
    assert answer.usage.prompt_tokens > 400
    assert answer.usage.total_tokens <= 512


def test_request_id_is_echoed_or_made(shared_live: LiveApp) -> None:
    raw = sdk(shared_live).chat.completions.with_raw_response.create(
        model=MODEL, messages=HELLO, extra_headers={"X-Request-Id": "trace-123"}, **GREEDY
    )
    assert raw.headers["x-request-id"] == "trace-123"
    response = httpx.get(
        f"{shared_live.url}/v1/models", headers={"X-NCP-CLOVASTUDIO-REQUEST-ID": "cl-9"}
    )
    assert response.headers["x-ncp-clovastudio-request-id"] == "cl-9"
    assert response.headers["x-request-id"] == "cl-9"
    made = httpx.get(f"{shared_live.url}/v1/models").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)


def test_body_over_the_limit_is_413(start: Callable[..., LiveApp], config: ServerConfig) -> None:
    live = start(config.model_copy(update={"max_body_bytes": 4096}))
    big = [{"role": "user", "content": "가" * 5000}]
    with pytest.raises(openai.APIStatusError) as caught:
        sdk(live).chat.completions.create(model=MODEL, messages=big)
    assert caught.value.status_code == 413
    assert caught.value.body["code"] == "request_too_large"  # type: ignore[index]

    def chunked() -> Any:  # no Content-Length: the limit is found while reading
        yield b'{"model": "fixture", "messages": [{"role": "user", "content": "'
        yield b"x" * 8000
        yield b'"}]}'

    response = httpx.post(
        f"{live.url}/v1/chat/completions",
        content=chunked(),
        headers={"Content-Type": "application/json", "X-Request-Id": "big-1"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert response.headers["x-request-id"] == "big-1"


def test_embeddings_are_not_invented(shared_live: LiveApp) -> None:
    client = sdk(shared_live)
    with pytest.raises(openai.NotFoundError, match="does not support embeddings"):
        client.embeddings.create(model=MODEL, input="안녕", encoding_format="float")
    with pytest.raises(openai.NotFoundError) as caught:
        client.embeddings.create(model="bge-m3", input="안녕", encoding_format="float")
    assert caught.value.body["code"] == "model_not_found"  # type: ignore[index]


def test_unknown_path_and_bad_json_use_the_envelope(shared_live: LiveApp) -> None:
    missing = httpx.post(f"{shared_live.url}/v1/completions", json={})
    assert missing.status_code == 404
    assert "POST /v1/completions" in missing.json()["error"]["message"]
    bad = httpx.post(
        f"{shared_live.url}/v1/chat/completions",
        content=b'{"model": ',
        headers={"Content-Type": "application/json"},
    )
    assert bad.status_code == 400
    assert "not valid JSON" in bad.json()["error"]["message"]
    assert httpx.get(f"{shared_live.url}/healthz").json() == {"status": "ok", "models": [MODEL]}
