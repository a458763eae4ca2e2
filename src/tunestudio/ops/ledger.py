"""The cost ledger: every call through a pipeline, with its tokens, latency and cost.

Prices are per 1,000 input and output tokens per model (configured in the pipeline's
``prices:``; models without a price cost 0). A :class:`Metered` wrapper around each model a
pipeline loads records every real call; caches record their hits with the cost they saved; a
cascade records the answers its gates rejected. Records carry the run and the API key they
were made for (:func:`labels`), so ``tunestudio stats`` sums them per run, per model and per key.

Writing must not slow a call down: records go to a queue and one background thread writes them
to the store in batches. :meth:`Ledger.flush` waits until everything queued is written.
"""

from __future__ import annotations

import atexit
import contextvars
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from tunestudio.models.base import Backend, StreamChunk
from tunestudio.ops.wrapper import Wrapper
from tunestudio.types import ChatResult, GenParams, Message, Usage

GATHER_S = 0.2  # how long the writer collects records before it writes them

# outcomes a record can have
CALL = "call"  # a model answered (cost is real)
ERROR = "error"  # a model call failed
EXACT_HIT = "exact_hit"  # the exact cache answered (saved_cost is what the call would have cost)
SEMANTIC_HIT = "semantic_hit"
REJECTED = "rejected"  # a cascade gate refused a model's answer (its cost was still paid)


class Price(BaseModel):
    """What a model costs, per 1,000 tokens."""

    model_config = ConfigDict(extra="forbid")

    input_per_1k: float = Field(default=0.0, ge=0)
    output_per_1k: float = Field(default=0.0, ge=0)

    def cost(self, usage: Usage) -> float:
        return (
            usage.input_tokens * self.input_per_1k + usage.output_tokens * self.output_per_1k
        ) / 1000


@dataclass
class Prices:
    """Prices by model spec or name; a model without a price costs 0."""

    by_model: Mapping[str, Price] = field(default_factory=dict)

    def cost(self, model: str, usage: Usage) -> float:
        price = self.by_model.get(model)
        return price.cost(usage) if price else 0.0


@dataclass(frozen=True)
class Labels:
    """Who a call is made for: set by ``tunestudio run``/``infer`` and by the server per key."""

    run: str | None = None
    key: str | None = None


_LABELS: contextvars.ContextVar[Labels | None] = contextvars.ContextVar(
    "ledger_labels", default=None
)


@contextmanager
def labels(run: str | None = None, key: str | None = None) -> Iterator[None]:
    """Label every record made inside the block (and in threads started from its context)."""
    current = current_labels()
    token = _LABELS.set(Labels(run=run or current.run, key=key or current.key))
    try:
        yield
    finally:
        _LABELS.reset(token)


def set_labels(run: str | None = None, key: str | None = None) -> None:
    """Label the rest of the current context (the server does this once per request)."""
    current = current_labels()
    _LABELS.set(Labels(run=run or current.run, key=key or current.key))


def current_labels() -> Labels:
    return _LABELS.get() or Labels()


@dataclass
class CallRecord:
    """One ledger line."""

    model: str
    outcome: str
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: float = 0.0
    cost: float = 0.0
    saved_cost: float = 0.0
    saved_tokens: int = 0
    pipeline: str = ""
    run: str | None = None
    key: str | None = None
    detail: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


class Ledger:
    """Records calls to the store from a background thread; ``url`` None = the default store."""

    def __init__(self, url: str | None = None, *, pipeline: str = "") -> None:
        self.url = url
        self.pipeline = pipeline
        self._queue: queue.Queue[CallRecord | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self.write_failures = 0

    def record(self, record: CallRecord) -> None:
        """Queue a record; labels and the pipeline name are filled in from the context."""
        labels_now = current_labels()
        record.run = record.run or labels_now.run
        record.key = record.key or labels_now.key
        record.pipeline = record.pipeline or self.pipeline
        with self._lock:
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._write_loop, daemon=True)
                self._thread.start()
                atexit.register(self.flush)
        self._queue.put(record)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every queued record is in the store."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending and time.monotonic() < deadline:
                self._idle.wait(timeout=0.1)

    def _write_loop(self) -> None:
        from tunestudio.store.db import get_engine, session_scope
        from tunestudio.store.schema import LedgerRow

        while True:
            first = self._queue.get()
            batch = [first] if first is not None else []
            # gather what arrives in the next moment and write it in one transaction: under
            # steady traffic that is one write per GATHER_S, not one per call
            deadline = time.monotonic() + GATHER_S
            while len(batch) < 1000 and (left := deadline - time.monotonic()) > 0:
                try:
                    item = self._queue.get(timeout=left)
                except queue.Empty:
                    break
                if item is not None:
                    batch.append(item)
            try:
                with session_scope(get_engine(self.url)) as session:
                    session.add_all(LedgerRow(**asdict(item)) for item in batch)
            except Exception:  # accounting must never break a call; the loss is counted
                self.write_failures += len(batch)
            with self._idle:
                self._pending -= len(batch)
                self._idle.notify_all()


class Metered(Wrapper):
    """Records every call of one model in the ledger: tokens, latency, cost, failures."""

    def __init__(self, inner: Backend, ledger: Ledger, prices: Prices, model: str | None = None):
        super().__init__(inner)
        self.ledger = ledger
        self.prices = prices
        self.model = model or inner.name

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        start = time.perf_counter()
        try:
            result = self.inner.chat(messages, params)
        except Exception as exc:
            self._failed(start, exc)
            raise
        self._called(result.usage, (time.perf_counter() - start) * 1000)
        return replace(result, model=self.model)  # later stages price answers by this name

    def chat_batch(
        self, conversations: Sequence[Sequence[Message]], params: GenParams = GenParams()
    ) -> list[ChatResult]:
        start = time.perf_counter()
        try:
            results = self.inner.chat_batch(conversations, params)
        except Exception as exc:
            self._failed(start, exc)
            raise
        each = (time.perf_counter() - start) * 1000 / max(1, len(results))
        for result in results:
            self._called(result.usage, each)
        return [replace(result, model=self.model) for result in results]

    def stream(
        self, messages: Sequence[Message], params: GenParams = GenParams()
    ) -> Iterator[StreamChunk]:
        start = time.perf_counter()
        try:
            for chunk in self.inner.stream(messages, params):
                if chunk.usage is not None:
                    self._called(chunk.usage, (time.perf_counter() - start) * 1000)
                yield chunk
        except Exception as exc:
            self._failed(start, exc)
            raise

    def cost(self, usage: Usage) -> float:
        return self.prices.cost(self.model, usage)

    def _called(self, usage: Usage, latency_ms: float) -> None:
        self.ledger.record(
            CallRecord(
                model=self.model,
                outcome=CALL,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                latency_ms=latency_ms,
                cost=self.cost(usage),
            )
        )

    def _failed(self, start: float, exc: Exception) -> None:
        self.ledger.record(
            CallRecord(
                model=self.model,
                outcome=ERROR,
                latency_ms=(time.perf_counter() - start) * 1000,
                detail=f"{type(exc).__name__}: {exc}"[:500],
            )
        )
