"""A playground conversation: a system prompt, parameters and the history, turn by turn.

The playground (``tunestudio chat``) and, later, the web page drive a :class:`ChatSession`;
it streams each answer and records what the turn cost (tokens, latency).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tunestudio.errors import ConfigError
from tunestudio.models.base import Backend
from tunestudio.types import GenParams, Message, Turn, Usage


@dataclass(frozen=True)
class TurnStats:
    """What one answer cost. Token counts are None when the backend cannot tell."""

    input_tokens: int | None
    output_tokens: int | None
    latency_s: float
    first_token_s: float | None
    finish_reason: str


def _number(kind: type, check: Callable[[Any], bool], rule: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise ValueError(f"{text!r} is not {rule}") from None
        if not check(value):
            raise ValueError(f"{text!r} is not {rule}")
        return value

    return parse


def _seed(text: str) -> int | None:
    if text.lower() in ("none", "off", "random"):
        return None
    return int(_number(int, lambda v: v >= 0, "a whole number ≥ 0 (or none)")(text))


def _stop(text: str) -> tuple[str, ...]:
    if text.lower() in ("none", "off"):
        return ()
    return tuple(s for s in text.split(",") if s)


# parameter -> parser of the text after `/set NAME`
PARSERS: dict[str, Callable[[str], Any]] = {
    "temperature": _number(float, lambda v: v >= 0, "a number ≥ 0"),
    "top_p": _number(float, lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "top_k": _number(int, lambda v: v >= 0, "a whole number ≥ 0 (0 = off)"),
    "max_tokens": _number(int, lambda v: v >= 1, "a whole number ≥ 1"),
    "repetition_penalty": _number(float, lambda v: v > 0, "a number > 0"),
    "seed": _seed,
    "stop": _stop,
}


def param_name(name: str) -> str:
    """``top-p``, ``topP``, ``maxTokens`` and ``repeatPenalty`` name the same parameters."""
    key = name.strip().replace("-", "_").lower()
    aliases = {"topp": "top_p", "topk": "top_k", "maxtokens": "max_tokens", "temp": "temperature"}
    aliases |= {"repeatpenalty": "repetition_penalty", "repeat_penalty": "repetition_penalty"}
    key = aliases.get(key, key)
    if key not in PARSERS:
        raise ConfigError(
            f"unknown parameter {name!r}",
            hint="set one of: " + ", ".join(PARSERS),
        )
    return key


class ChatSession:
    """A multi-turn conversation with one backend."""

    def __init__(self, backend: Backend, *, system: str = "", params: GenParams = GenParams()):
        self.backend = backend
        self.system = system
        self.params = params
        self.history: list[Turn] = []
        self.last: TurnStats | None = None

    def messages(self, user: str | None = None) -> list[Message]:
        """The system prompt, the history and (when given) the next question."""
        out = [Message("system", self.system)] if self.system.strip() else []
        for turn in self.history:
            out += [Message("user", turn.user), Message("assistant", turn.assistant)]
        if user is not None:
            out.append(Message("user", user))
        return out

    def ask(self, user: str) -> Iterator[str]:
        """Stream the answer to ``user``.

        When the stream ends, the turn joins the history and :attr:`last` holds its costs;
        an answer abandoned half-way (the caller stops iterating) is not added.
        """
        messages = self.messages(user)
        started = time.perf_counter()
        first: float | None = None
        parts: list[str] = []
        usage: Usage | None = None
        finish = "stop"
        for chunk in self.backend.stream(messages, self.params):
            if chunk.delta:
                first = time.perf_counter() - started if first is None else first
                parts.append(chunk.delta)
                yield chunk.delta
            finish = chunk.finish_reason or finish
            usage = chunk.usage or usage
        answer = "".join(parts)
        self.history.append(Turn(user, answer))
        latency = time.perf_counter() - started
        if usage is None:
            self.last = TurnStats(self._count(messages), None, latency, first, finish)
        else:
            self.last = TurnStats(usage.input_tokens, usage.output_tokens, latency, first, finish)

    def _count(self, messages: list[Message]) -> int | None:
        try:
            return self.backend.count_tokens(messages)
        except Exception:  # a count is a courtesy; never fail a turn for it
            return None

    def reset(self) -> None:
        """Forget the history; the system prompt and parameters stay."""
        self.history.clear()
        self.last = None

    def set_param(self, name: str, value: str) -> tuple[str, Any]:
        """Set a generation parameter from text (``/set temperature 0.7``)."""
        key = param_name(name)
        try:
            parsed = PARSERS[key](value.strip())
        except ValueError as exc:
            raise ConfigError(f"{key}: {exc}", where=key) from None
        self.params = dataclasses.replace(self.params, **{key: parsed})
        return key, parsed
