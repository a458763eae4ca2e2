"""Test doubles of *models* for the cascade, router and fallback tests.

:class:`DictModel` answers from a dict (last user message → answer) and counts its calls; the
stage code under test (gates, cascade, router, ledger) is the real thing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from tunestudio.errors import ModelUnavailableError
from tunestudio.models.base import BaseBackend, Capabilities
from tunestudio.ops.ledger import Ledger
from tunestudio.store.schema import LedgerRow
from tunestudio.types import ChatResult, GenParams, Message, Usage

SYSTEM = Message("system", "카테고리만 답하세요")


def ask(text: str) -> list[Message]:
    """A conversation with the shared system prompt and one user message."""
    return [SYSTEM, Message("user", text)]


@dataclass
class DictModel(BaseBackend):
    """Answers each user message from ``answers`` (``default`` otherwise)."""

    answers: dict[str, str] = field(default_factory=dict)
    default: str = "모름"
    logprob: dict[str, float] = field(default_factory=dict)  # per-token logprob by question
    fail: bool = False
    delay: float = 0.0
    calls: int = 0
    batches: list[int] = field(default_factory=list)  # the size of every chat_batch call
    closed: bool = False

    def __post_init__(self) -> None:
        self.capabilities = Capabilities(batching=True, logprobs=bool(self.logprob))

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        if self.fail:
            raise ModelUnavailableError(f"{self.name} is down", where=self.name)
        question = messages[-1].content
        answer = self.answers.get(question, self.default)
        logprobs = None
        if params.logprobs and question in self.logprob:
            logprobs = (self.logprob[question],) * 2
        return ChatResult(answer, Usage(10, 2), "stop", self.name, logprobs=logprobs)

    def chat_batch(
        self, conversations: Sequence[Sequence[Message]], params: GenParams = GenParams()
    ) -> list[ChatResult]:
        self.batches.append(len(conversations))
        return [self.chat(messages, params) for messages in conversations]

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m.content) for m in messages)

    def close(self) -> None:
        self.closed = True


def ledger_rows(ledger: Ledger) -> list[LedgerRow]:
    """Everything ``ledger`` wrote, oldest first."""
    from sqlalchemy import select

    from tunestudio.store.db import get_engine, session_scope

    ledger.flush()
    with session_scope(get_engine(ledger.url)) as session:
        rows = list(session.scalars(select(LedgerRow).order_by(LedgerRow.id)))
        session.expunge_all()
    return rows
