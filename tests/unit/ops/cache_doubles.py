"""A deterministic Backend for the cache tests: its answer shows what it was asked, and it
logs every call, so a test can tell which answers came from the model and which from a cache."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from tunestudio.models.base import BaseBackend, StreamChunk
from tunestudio.types import ChatResult, GenParams, Message, Usage


@dataclass
class Recorder(BaseBackend):
    """Answers ``답: <last message> #<n>`` (n counts calls, so a fresh answer differs)."""

    name: str = "recorder"
    finish_reason: str = "stop"
    batches: list[list[str]] = field(default_factory=list)  # questions of each chat_batch
    streams: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def calls(self) -> int:
        return sum(len(batch) for batch in self.batches) + self.streams

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        return self.chat_batch([messages], params)[0]

    def chat_batch(
        self, conversations: Sequence[Sequence[Message]], params: GenParams = GenParams()
    ) -> list[ChatResult]:
        with self._lock:
            self.batches.append([c[-1].content for c in conversations])
            start = self.calls - len(conversations)
        return [self._answer(c, start + i + 1) for i, c in enumerate(conversations)]

    def stream(
        self, messages: Sequence[Message], params: GenParams = GenParams()
    ) -> Iterator[StreamChunk]:
        with self._lock:
            self.streams += 1
            number = self.calls
        result = self._answer(messages, number)
        half = len(result.content) // 2
        yield StreamChunk(result.content[:half])
        yield StreamChunk(result.content[half:], result.finish_reason, result.usage)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m.content) for m in messages)

    def _answer(self, messages: Sequence[Message], number: int) -> ChatResult:
        content = f"답: {messages[-1].content} #{number}"
        usage = Usage(self.count_tokens(messages), len(content))
        return ChatResult(content, usage, self.finish_reason, self.name)
