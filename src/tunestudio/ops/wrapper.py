"""The base of every ops stage: a Backend that wraps another Backend (seam 2).

A :class:`Wrapper` passes every call through to ``inner`` unchanged; a stage overrides only the
calls it changes (a window rewrites the messages, a cache answers some calls itself, a cascade
chooses among several inner models). So a stage is a Backend, and stages compose: the CLI,
batch runs, evaluation and the server use a pipeline exactly as they use a model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from tunestudio.models.base import Backend, Capabilities, StreamChunk
from tunestudio.types import ChatResult, GenParams, Message


class Wrapper:
    """A Backend over ``inner`` that delegates everything it does not override."""

    def __init__(self, inner: Backend, name: str | None = None) -> None:
        self.inner = inner
        self.name = name or inner.name

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        return self.inner.chat(messages, params)

    def chat_batch(
        self, conversations: Sequence[Sequence[Message]], params: GenParams = GenParams()
    ) -> list[ChatResult]:
        return self.inner.chat_batch(conversations, params)

    def stream(
        self, messages: Sequence[Message], params: GenParams = GenParams()
    ) -> Iterator[StreamChunk]:
        return self.inner.stream(messages, params)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return self.inner.count_tokens(messages)

    def close(self) -> None:
        self.inner.close()
