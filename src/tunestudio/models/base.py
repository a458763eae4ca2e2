"""The Backend protocol (seam 1): everything that produces text implements it.

Local models, CLOVA Studio, OpenAI-compatible servers, and the wrappers of the ops layer
(window, cache, cascade) all look the same to the CLI, batch runs, evaluation and the server.
Calls are synchronous; batch runs and the server get concurrency from threads.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from tunestudio.types import ChatResult, GenParams, Message, Usage


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, so callers choose how to drive it."""

    streaming: bool = True
    batching: bool = False  # True when chat_batch is faster than one call per row
    concurrent: bool = False  # True when calls from many threads at once help (HTTP)
    logprobs: bool = False
    context_length: int | None = None
    exact_token_count: bool = False  # count_tokens uses the model's own tokenizer


@dataclass(frozen=True)
class StreamChunk:
    """A piece of a streamed answer; the last chunk has ``finish_reason`` and ``usage``."""

    delta: str
    finish_reason: str | None = None
    usage: Usage | None = None


@runtime_checkable
class Backend(Protocol):
    """A model you can talk to. ``name`` is the spec string it was loaded from."""

    name: str

    @property
    def capabilities(self) -> Capabilities:
        """What the backend can do (a wrapper reports its inner model's)."""
        ...

    def chat(self, messages: Sequence[Message], params: GenParams = ...) -> ChatResult:
        """Answer one conversation."""
        ...

    def chat_batch(
        self, conversations: Sequence[Sequence[Message]], params: GenParams = ...
    ) -> list[ChatResult]:
        """Answer many conversations; local models batch them on the device."""
        ...

    def stream(self, messages: Sequence[Message], params: GenParams = ...) -> Iterator[StreamChunk]:
        """Answer one conversation piece by piece."""
        ...

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Prompt tokens these messages take (exact when capabilities say so)."""
        ...

    def close(self) -> None:
        """Release connections, processes or memory."""
        ...


@dataclass
class BaseBackend:
    """Sensible defaults: batch = one call per conversation, stream = the whole answer at once.

    Subclasses implement ``chat`` and ``count_tokens`` and override the rest when they can do
    better (a local model batches; an HTTP API streams for real).
    """

    name: str
    capabilities: Capabilities = field(default_factory=Capabilities)

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        raise NotImplementedError

    def chat_batch(
        self, conversations: Sequence[Sequence[Message]], params: GenParams = GenParams()
    ) -> list[ChatResult]:
        return [self.chat(messages, params) for messages in conversations]

    def stream(
        self, messages: Sequence[Message], params: GenParams = GenParams()
    ) -> Iterator[StreamChunk]:
        result = self.chat(messages, params)
        yield StreamChunk(result.content)
        yield StreamChunk("", finish_reason=result.finish_reason, usage=result.usage)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        raise NotImplementedError

    def close(self) -> None:
        return None
