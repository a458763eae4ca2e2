"""A loaded :class:`~tunestudio.ops.embeddings.Embedder` as the server calls it.

Like :class:`~tunestudio.server.served.ServedModel`: the blocking forward pass runs in a worker
thread, and callers of one local model queue on an asyncio-side semaphore, so waiting requests
hold no worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import anyio
from anyio import to_thread

from tunestudio.ops.embeddings import Embedder


@dataclass
class ServedEmbedder:
    """One loaded embedder; ``spec`` is the spec string it was loaded from."""

    spec: str
    embedder: Embedder
    _turn: anyio.Semaphore = field(default_factory=lambda: anyio.Semaphore(1), repr=False)

    @property
    def dimensions(self) -> int:
        return self.embedder.dimensions

    async def embed(self, texts: Sequence[str]) -> tuple[list[list[float]], list[int]]:
        """The texts' vectors and their token counts."""
        async with self._turn:
            return await to_thread.run_sync(self._embed, list(texts))

    async def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text, as the embedder sees them."""
        return await to_thread.run_sync(self.embedder.count_tokens, list(texts))

    def _embed(self, texts: list[str]) -> tuple[list[list[float]], list[int]]:
        return self.embedder.embed(texts), self.embedder.count_tokens(texts)
