"""The project's own ``openai:`` backend against the server: what a tunestudio user gets when
one machine serves a model and another runs ``tunestudio infer openai:…`` against it.

(A "served" case for the contract battery in tests/contract could reuse this set-up.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.server.live_app import MODEL, LiveApp
from tunestudio.errors import ContextLengthError, ModelAuthError, ModelRequestError
from tunestudio.models import Backend, load_backend
from tunestudio.server.keystore import KeyStore
from tunestudio.types import GenParams, Message

QUESTION = [Message("system", "문의를 분류하세요."), Message("user", "택배가 안 와요")]
GREEDY = GenParams(max_tokens=10, temperature=0.0)


@pytest.fixture
def remote(shared_live: LiveApp) -> Iterator[Backend]:
    backend = load_backend(f"openai:{shared_live.url}/v1#{MODEL}", api_key="unused")
    yield backend
    backend.close()


def test_answers_match_the_model_in_process(remote: Backend, llama_dir: Path) -> None:
    local = load_backend(f"hf:{llama_dir}")
    try:
        expected = local.chat(QUESTION, GREEDY)
    finally:
        local.close()
    served = remote.chat(QUESTION, GREEDY)
    assert served.content == expected.content
    assert served.finish_reason == expected.finish_reason
    assert served.usage == expected.usage
    chunks = list(remote.stream(QUESTION, GREEDY))
    assert "".join(c.delta for c in chunks) == expected.content
    assert chunks[-1].usage == expected.usage
    assert [r.content for r in remote.chat_batch([QUESTION, QUESTION], GREEDY)] == [
        expected.content
    ] * 2


def test_errors_arrive_typed(remote: Backend, shared_live: LiveApp) -> None:
    with pytest.raises(ContextLengthError):
        remote.chat([Message("user", "결제 내역 " * 400)], GREEDY)
    missing = load_backend(f"openai:{shared_live.url}/v1#no-such-model", max_retries=0)
    with pytest.raises(ModelRequestError, match="does not exist"):
        missing.chat(QUESTION, GREEDY)
    missing.close()


def test_a_keyed_server_refuses_a_wrong_key(start: Callable[..., LiveApp]) -> None:
    live = start()
    keys: KeyStore = live.app.state.server.keys
    created = keys.create("remote-test")
    wrong = load_backend(f"openai:{live.url}/v1#{MODEL}", api_key="ts-wrong", max_retries=0)
    with pytest.raises(ModelAuthError):
        wrong.chat(QUESTION, GREEDY)
    wrong.close()
    right = load_backend(f"openai:{live.url}/v1#{MODEL}", api_key=created.key)
    assert right.chat(QUESTION, GREEDY).content
    right.close()
