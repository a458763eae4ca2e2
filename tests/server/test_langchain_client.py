"""LangChain's ``ChatOpenAI`` against the real server, unchanged but for ``base_url``.

It is how many LangChain apps talk to any OpenAI-compatible host: ``invoke`` (non-stream),
``stream`` (SSE chunks), ``batch`` (concurrent calls) and usage metadata, with an API key.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI

from tests.cli_runner import run_cli
from tests.server.live_app import MODEL, LiveApp, sdk

QUESTION = [
    SystemMessage("고객 문의를 분류하는 상담원입니다."),
    HumanMessage("결제 내역을 확인하고 싶어요."),
]


def _key() -> str:
    created = run_cli("keys", "create", "--name", "langchain", "--json")
    assert created.exit_code == 0, created.stderr
    return str(json.loads(created.stdout)["apiKey"])


def _chat(live: LiveApp, api_key: str, **options: object) -> ChatOpenAI:
    return ChatOpenAI(
        model=MODEL,
        base_url=live.url + "/v1",
        api_key=api_key,  # type: ignore[arg-type]
        temperature=0,
        max_tokens=8,  # type: ignore[call-arg]
        max_retries=0,
        **options,  # type: ignore[arg-type]
    )


def test_invoke_stream_and_batch_match_the_openai_sdk(start: Callable[..., LiveApp]) -> None:
    live = start()
    key = _key()
    chat = _chat(live, key)
    answer = chat.invoke(QUESTION)
    assert isinstance(answer, AIMessage)
    expected = sdk(live, api_key=key).chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "고객 문의를 분류하는 상담원입니다."},
            {"role": "user", "content": "결제 내역을 확인하고 싶어요."},
        ],
        temperature=0,
        max_tokens=8,
    )
    assert answer.content == expected.choices[0].message.content
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["input_tokens"] == expected.usage.prompt_tokens  # type: ignore[union-attr]
    assert answer.response_metadata["finish_reason"] in ("stop", "length")

    streamed = "".join(str(chunk.content) for chunk in chat.stream(QUESTION))
    assert streamed == answer.content

    batch = chat.batch([QUESTION, [HumanMessage("배송 조회는 어디서 하나요?")]])
    assert batch[0].content == answer.content
    assert all(isinstance(m, AIMessage) and m.content for m in batch)


def test_a_wrong_key_is_refused_with_the_openai_error(start: Callable[..., LiveApp]) -> None:
    import openai

    live = start()
    _key()  # with a key configured the server no longer accepts anything
    with pytest.raises(openai.AuthenticationError) as caught:
        _chat(live, "sk-wrong").invoke(QUESTION)
    assert caught.value.status_code == 401
