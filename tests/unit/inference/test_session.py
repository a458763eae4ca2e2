"""ChatSession: history, streaming, per-turn costs, parameters."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from tests.unit.inference.scripted import ScriptedBackend, answer_for
from tunestudio.errors import ConfigError
from tunestudio.inference import ChatSession
from tunestudio.models import StreamChunk
from tunestudio.types import GenParams, Message, Usage


class PiecewiseBackend(ScriptedBackend):
    """Streams its answer two characters at a time and reports usage only at the end."""

    def stream(
        self, messages: Sequence[Message], params: GenParams = GenParams()
    ) -> Iterator[StreamChunk]:
        self.calls.append(messages[-1].content)
        text = answer_for(messages[-1].content)
        for start in range(0, len(text), 2):
            yield StreamChunk(text[start : start + 2])
        yield StreamChunk("", "stop", Usage(self.count_tokens(messages), len(text)))


class NoUsageBackend(PiecewiseBackend):
    def stream(
        self, messages: Sequence[Message], params: GenParams = GenParams()
    ) -> Iterator[StreamChunk]:
        for chunk in super().stream(messages, params):
            yield StreamChunk(chunk.delta, chunk.finish_reason, None)


def test_turns_stream_and_join_the_history() -> None:
    session = ChatSession(PiecewiseBackend(), system="짧게")
    pieces = list(session.ask("안녕"))
    assert len(pieces) > 1 and "".join(pieces) == answer_for("안녕")
    first = session.last
    assert first is not None and first.input_tokens == len("짧게") + len("안녕")
    assert first.output_tokens == len(answer_for("안녕"))
    assert first.first_token_s is not None and first.latency_s >= first.first_token_s
    "".join(session.ask("또"))
    assert session.messages() == [
        Message("system", "짧게"),
        Message("user", "안녕"),
        Message("assistant", answer_for("안녕")),
        Message("user", "또"),
        Message("assistant", answer_for("또")),
    ]
    assert session.last is not None and session.last.input_tokens > first.input_tokens


def test_reset_forgets_the_history_but_keeps_system_and_params() -> None:
    session = ChatSession(PiecewiseBackend(), system="짧게", params=GenParams(temperature=0.3))
    costs = []
    for _ in range(2):
        "".join(session.ask("안녕"))
        costs.append(session.last.input_tokens if session.last else None)
    session.reset()
    assert session.history == [] and session.last is None
    "".join(session.ask("안녕"))
    assert session.last is not None
    assert costs[1] > costs[0] == session.last.input_tokens  # history gone, prompt as at first
    assert session.system == "짧게" and session.params.temperature == 0.3


def test_an_abandoned_answer_is_not_kept() -> None:
    session = ChatSession(PiecewiseBackend())
    stream = session.ask("길게 말해줘")
    next(stream)
    stream.close()
    assert session.history == [] and session.last is None


def test_without_usage_the_input_is_counted_and_the_output_unknown() -> None:
    session = ChatSession(NoUsageBackend())
    "".join(session.ask("안녕"))
    assert session.last is not None
    assert (session.last.input_tokens, session.last.output_tokens) == (2, None)


@pytest.mark.parametrize(
    ("name", "value", "key", "expected"),
    [
        ("temperature", "0.7", "temperature", 0.7),
        ("top-p", "0.8", "top_p", 0.8),
        ("topP", "0.5", "top_p", 0.5),
        ("maxTokens", "64", "max_tokens", 64),
        ("repeatPenalty", "1.2", "repetition_penalty", 1.2),
        ("seed", "42", "seed", 42),
        ("seed", "none", "seed", None),
        ("stop", "끝,###", "stop", ("끝", "###")),
    ],
)
def test_set_param_parses_names_and_values(
    name: str, value: str, key: str, expected: object
) -> None:
    session = ChatSession(PiecewiseBackend())
    assert session.set_param(name, value) == (key, expected)
    assert getattr(session.params, key) == expected


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("temperature", "hot", "temperature: 'hot' is not a number ≥ 0"),
        ("top_p", "1.5", "top_p: '1.5' is not a number in (0, 1]"),
        ("max_tokens", "0", "max_tokens: '0' is not a whole number ≥ 1"),
        ("warmth", "1", "unknown parameter 'warmth'"),
    ],
)
def test_set_param_refuses_bad_names_and_values(name: str, value: str, message: str) -> None:
    session = ChatSession(PiecewiseBackend())
    with pytest.raises(ConfigError) as info:
        session.set_param(name, value)
    assert info.value.message == message
    assert session.params == GenParams()
