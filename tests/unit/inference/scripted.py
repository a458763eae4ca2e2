"""Small deterministic backends for the batch and session tests.

They are real Backends (BaseBackend subclasses) whose answers are a function of the question,
so a test can tell which row got which answer, and they log every call they receive.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from tunestudio.errors import ModelError
from tunestudio.models.base import BaseBackend, Capabilities
from tunestudio.types import ChatResult, GenParams, Message, Usage


class OutOfMemoryError(RuntimeError):
    """Named like torch's, which is what the batch runner recognises."""


def answer_for(question: str) -> str:
    return f"답: {question}"


@dataclass
class ScriptedBackend(BaseBackend):
    """Answers ``답: <question>``; ``failures`` maps a question to errors raised in turn."""

    name: str = "scripted"
    capabilities: Capabilities = field(default_factory=Capabilities)
    delay_s: float = 0.0
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)  # the question of every chat() call
    batches: list[list[str]] = field(default_factory=list)  # the questions of each chat_batch
    capacity: int | None = None  # chat_batch runs out of memory above this many rows
    in_flight: int = 0
    most_in_flight: int = 0  # the most chat() calls that were running at the same time
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        question = messages[-1].content
        with self._lock:
            self.calls.append(question)
            pending = self.failures.get(question)
            error = pending.pop(0) if pending else None
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay_s:
                time.sleep(self.delay_s)
            if error is not None:
                raise error
            return self._answer(messages)
        finally:
            with self._lock:
                self.in_flight -= 1

    def chat_batch(
        self, conversations: Sequence[Sequence[Message]], params: GenParams = GenParams()
    ) -> list[ChatResult]:
        questions = [c[-1].content for c in conversations]
        with self._lock:
            self.batches.append(questions)
        if self.capacity is not None and len(questions) > self.capacity:
            raise OutOfMemoryError(f"cannot fit {len(questions)} rows")
        bad = [q for q in questions if self.failures.get(q)]
        if bad:
            raise ModelError(f"cannot answer {bad[0]!r}")
        return [self._answer(c) for c in conversations]

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m.content) for m in messages)

    def _answer(self, messages: Sequence[Message]) -> ChatResult:
        content = answer_for(messages[-1].content)
        usage = Usage(self.count_tokens(messages), len(content))
        return ChatResult(content, usage, "stop", self.name)


def conversations(questions: Sequence[str], system: str = "") -> list[list[Message]]:
    head = [Message("system", system)] if system else []
    return [[*head, Message("user", q)] for q in questions]
