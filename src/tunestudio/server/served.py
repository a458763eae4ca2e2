"""A loaded Backend as the server calls it: off the event loop, one call at a time if local.

Backends are synchronous. Every call runs in a worker thread (anyio's pool), so the event loop
keeps serving other requests while a model generates. A local model (``capabilities.concurrent``
False) computes one call at a time anyway; its callers queue on an asyncio-side semaphore
rather than on a lock inside the thread, so waiting requests hold no worker thread and cannot
starve the pool that other requests (listing models, reading the store) also use.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import cast

import anyio
from anyio import to_thread

from tunestudio.models.base import Backend, StreamChunk
from tunestudio.server.errors import ContextOverflow
from tunestudio.types import ChatResult, GenParams, Message

_END = object()


@dataclass
class ServedModel:
    """One loaded backend; ``spec`` is the spec string it was loaded from."""

    spec: str
    backend: Backend
    _turn: anyio.Semaphore | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self._turn is None and not self.backend.capabilities.concurrent:
            self._turn = anyio.Semaphore(1)

    async def chat(
        self, messages: Sequence[Message], params: GenParams, *, fit: bool = False
    ) -> ChatResult:
        """One answer. ``fit`` cuts ``params.max_tokens`` to what the context window leaves."""
        if self._turn is None:
            return await to_thread.run_sync(self._chat, messages, params, fit)
        async with self._turn:
            return await to_thread.run_sync(self._chat, messages, params, fit)

    async def stream(
        self, messages: Sequence[Message], params: GenParams, *, fit: bool = False
    ) -> AsyncGenerator[StreamChunk, None]:
        """The answer piece by piece; leaving the loop early stops the generation."""
        if self._turn is not None:
            await self._turn.acquire()
        iterator: Iterator[StreamChunk] | None = None
        try:
            iterator = await to_thread.run_sync(self._start_stream, messages, params, fit)
            while (chunk := await to_thread.run_sync(next, iterator, _END)) is not _END:
                yield cast(StreamChunk, chunk)
        finally:
            # Shielded: a client that hung up cancels us, but the generator must still be
            # closed (which stops generate()) before the next caller takes the model.
            with anyio.CancelScope(shield=True):
                if iterator is not None:
                    await to_thread.run_sync(_close, iterator)
                if self._turn is not None:
                    self._turn.release()

    async def count_tokens(self, messages: Sequence[Message]) -> int:
        """Prompt tokens of ``messages`` (exact when the backend says so)."""
        return await to_thread.run_sync(self.backend.count_tokens, messages)

    def _chat(self, messages: Sequence[Message], params: GenParams, fit: bool) -> ChatResult:
        return self.backend.chat(messages, self.budget(messages, params, fit))

    def _start_stream(
        self, messages: Sequence[Message], params: GenParams, fit: bool
    ) -> Iterator[StreamChunk]:
        return iter(self.backend.stream(messages, self.budget(messages, params, fit)))

    def budget(self, messages: Sequence[Message], params: GenParams, fit: bool) -> GenParams:
        """``params`` checked against a local model's context window.

        With ``fit`` (the client set no max_tokens) the budget shrinks to what is left; a
        budget the client chose that does not fit raises ContextOverflow with the numbers.
        Remote backends (``capabilities.concurrent``) are left to judge for themselves:
        counting their tokens would cost a request to their API.
        """
        caps = self.backend.capabilities
        if caps.concurrent or caps.context_length is None or not caps.exact_token_count:
            return params
        prompt = self.backend.count_tokens(messages)
        room = caps.context_length - prompt
        if fit:
            params = replace(params, max_tokens=max(1, min(params.max_tokens, room)))
        if prompt + params.max_tokens > caps.context_length:
            raise ContextOverflow(caps.context_length, prompt, params.max_tokens)
        return params


def _close(iterator: Iterator[StreamChunk]) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        close()
