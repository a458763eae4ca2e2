"""Cascade and fallback stages: try the cheap model first, escalate only when needed.

A :class:`Cascade` asks its models in order, cheapest first, and keeps the first answer that
passes every validity gate (:mod:`tunestudio.ops.gates`); a rejected answer is recorded in the
ledger (outcome ``rejected``, ``detail="gate=<name>: <why>"``; its cost was already recorded as
a call) and the request goes to the next model. The last model's answer is returned as it is,
gates or not: there is nobody left to ask. An error or timeout of a model that is not the last
also escalates (its error is in the ledger).

A :class:`Fallback` asks the next model only when one fails (a ModelError or a timeout).

Pipeline YAML::

    - cascade:
        models: [hf:./runs/inquiry/adapter, clova:HCX-005]   # cheapest first
        gates: {labels_from: train.csv, min_confidence: 0.9}
        timeout: 30          # seconds per model call (optional)
        history: router.sqlite   # optional: record which model each request needed
    - fallback: {models: [clova:HCX-005, openai:http://localhost:8000/v1#qwen], timeout: 20}

When the pipeline also has a ``model:`` (or the stage wraps another stage), that Backend is
the last model of the cascade or fallback.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from tunestudio.config import validate_model
from tunestudio.errors import ConfigError, ModelError
from tunestudio.models.base import Backend, Capabilities, StreamChunk
from tunestudio.ops.cascade_call import T, call_with_timeout, model_name, with_inner
from tunestudio.ops.gates import GatesConfig, GateSet, build_gates
from tunestudio.ops.ledger import REJECTED, CallRecord, Ledger
from tunestudio.types import ChatResult, GenParams, Message

if TYPE_CHECKING:
    from tunestudio.ops.pipeline import StageContext
    from tunestudio.ops.router_history import History


class _Chain:
    """Several models tried in order: naming, capabilities, timed calls, closing."""

    def __init__(
        self,
        models: Sequence[Backend],
        *,
        name: str | None,
        timeout: float | None,
        ledger: Ledger | None,
    ) -> None:
        self.models = list(models)
        self.model_names = [model_name(model) for model in self.models]
        self.name = name or " > ".join(self.model_names)
        self.timeout = timeout
        self.ledger = ledger

    @property
    def capabilities(self) -> Capabilities:
        # The first model answers most requests, so its abilities describe the stage; stream()
        # always works here (the answer is decided first, then sent).
        return replace(self.models[0].capabilities, streaming=True)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return self.models[0].count_tokens(messages)

    def close(self) -> None:
        for model in self.models:
            model.close()

    def _timed(self, index: int, call: Callable[[], T]) -> T:
        return call_with_timeout(call, self.timeout, self.model_names[index], self.ledger)


class Cascade(_Chain):
    """Keeps the first answer that passes the gates; the last model's answer is always kept."""

    def __init__(
        self,
        models: Sequence[Backend],
        gates: GateSet,
        *,
        name: str | None = None,
        timeout: float | None = None,
        ledger: Ledger | None = None,
        history: History | None = None,
    ) -> None:
        super().__init__(models, name=name, timeout=timeout, ledger=ledger)
        self.gates = gates
        self.history = history
        self.answered_by = [0] * len(self.models)  # accepted answers per model
        self._count_lock = threading.Lock()  # the server calls from many threads

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        asked = self._asked(params)
        for index, model in enumerate(self.models):
            last = index == len(self.models) - 1
            try:
                result = self._timed(index, partial(model.chat, messages, asked))
            except ModelError:
                if last:
                    raise
                continue
            if last or self._accepts(index, result):
                self._answered(index, [messages])
                return _as_asked(result, params)
        raise AssertionError("unreachable: the last model's answer is always kept")

    def chat_batch(
        self, conversations: Sequence[Sequence[Message]], params: GenParams = GenParams()
    ) -> list[ChatResult]:
        """The whole batch on the first model, then only its rejected rows on the next, …"""
        asked = self._asked(params)
        results: list[ChatResult | None] = [None] * len(conversations)
        pending = list(range(len(conversations)))
        for index, model in enumerate(self.models):
            last = index == len(self.models) - 1
            batch = [conversations[i] for i in pending]
            try:
                answers = self._timed(index, partial(model.chat_batch, batch, asked))
            except ModelError:
                if last:
                    raise
                continue
            rejected: list[int] = []
            for row, answer in zip(pending, answers, strict=True):
                if last or self._accepts(index, answer):
                    results[row] = _as_asked(answer, params)
                else:
                    rejected.append(row)
            kept = set(pending) - set(rejected)
            self._answered(index, [conversations[i] for i in pending if i in kept])
            pending = rejected
            if not pending:
                break
        return [result for result in results if result is not None]

    def stream(
        self, messages: Sequence[Message], params: GenParams = GenParams()
    ) -> Iterator[StreamChunk]:
        """The accepted answer as a stream: decided first (gates need the whole answer)."""
        result = self.chat(messages, params)
        yield StreamChunk(result.content)
        yield StreamChunk("", finish_reason=result.finish_reason, usage=result.usage)

    def stats(self) -> dict[str, Any]:
        """Accepted answers per model, and per model the answers checked and gate rejections."""
        answered = dict(zip(self.model_names, self.answered_by, strict=True))
        return {"answered_by": answered, "gates": self.gates.stats()}

    def _asked(self, params: GenParams) -> GenParams:
        return replace(params, logprobs=True) if self.gates.needs_logprobs else params

    def _accepts(self, index: int, result: ChatResult) -> bool:
        name = self.model_names[index]
        failure = self.gates.check(name, result)
        if failure is None:
            return True
        gate, verdict = failure
        if self.ledger is not None:
            detail = f"gate={gate}: {verdict.reason}"
            self.ledger.record(CallRecord(model=name, outcome=REJECTED, detail=detail))
        return False

    def _answered(self, index: int, conversations: Sequence[Sequence[Message]]) -> None:
        with self._count_lock:
            self.answered_by[index] += len(conversations)
        if self.history is not None and conversations:
            self.history.add([request_text(c) for c in conversations], [index] * len(conversations))


class Fallback(_Chain):
    """Asks the next model only when one fails with a ModelError or times out."""

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        return self._first_success(lambda m: m.chat(messages, params))

    def chat_batch(
        self, conversations: Sequence[Sequence[Message]], params: GenParams = GenParams()
    ) -> list[ChatResult]:
        return self._first_success(lambda m: m.chat_batch(conversations, params))

    def stream(
        self, messages: Sequence[Message], params: GenParams = GenParams()
    ) -> Iterator[StreamChunk]:
        """Streams from the first model that starts answering; an error after the first chunk
        is raised (what was sent cannot be taken back)."""
        for index, model in enumerate(self.models):
            chunks = model.stream(messages, params)
            try:
                first = next(chunks)
            except StopIteration:
                return
            except ModelError:
                if index == len(self.models) - 1:
                    raise
                continue
            yield first
            yield from chunks
            return

    def _first_success(self, call: Callable[[Backend], T]) -> T:
        for index, model in enumerate(self.models):
            try:
                return self._timed(index, partial(call, model))
            except ModelError:
                if index == len(self.models) - 1:
                    raise
        raise AssertionError("unreachable: the last model's error is raised")


def request_text(messages: Sequence[Message]) -> str:
    """What identifies a request for the router: its last user message (the system prompt is
    usually shared by every request, so it would only blur the neighbours)."""
    users = [m.content for m in messages if m.role == "user"]
    return users[-1] if users else (messages[-1].content if messages else "")


def _as_asked(result: ChatResult, params: GenParams) -> ChatResult:
    """Token log-probabilities only go back to a caller who asked for them."""
    return result if params.logprobs or result.logprobs is None else replace(result, logprobs=None)


class CascadeOptions(BaseModel):
    """Options of a ``cascade`` stage."""

    model_config = ConfigDict(extra="forbid")

    models: list[str] = Field(default_factory=list, description="specs, cheapest first")
    gates: GatesConfig = Field(default_factory=GatesConfig, description="validity gates")
    timeout: float | None = Field(default=None, gt=0, description="seconds per model call")
    history: str | None = Field(
        default=None, description="SQLite file recording which model each request needed"
    )


class FallbackOptions(BaseModel):
    """Options of a ``fallback`` stage."""

    model_config = ConfigDict(extra="forbid")

    models: list[str] = Field(default_factory=list, description="specs, in order of preference")
    timeout: float | None = Field(default=None, gt=0, description="seconds per model call")


def cascade_from_config(
    inner: Backend | None, options: dict[str, Any], context: StageContext
) -> Backend:
    """The ``cascade`` stage of a pipeline file."""
    config = validate_model(CascadeOptions, options, context.where)
    gates = build_gates(config.gates, where=context.where, base_dir=context.base_dir)
    if not gates:
        raise ConfigError(
            "a cascade needs at least one gate",
            where=context.where,
            hint="e.g. `gates: {labels_from: train.csv}`; use `fallback` to escalate on errors",
        )
    loaded = [context.load(spec) for spec in config.models]
    models = with_inner(loaded, inner, kind="cascade", where=context.where)
    gate_set = GateSet(gates)
    if gate_set.needs_logprobs:
        _check_logprobs(models[:-1], context.where)
    history = None
    if config.history:
        from tunestudio.ops.router_history import History

        history = History(context.path(config.history))
    return Cascade(models, gate_set, timeout=config.timeout, ledger=context.ledger, history=history)


def fallback_from_config(
    inner: Backend | None, options: dict[str, Any], context: StageContext
) -> Backend:
    """The ``fallback`` stage of a pipeline file."""
    config = validate_model(FallbackOptions, options, context.where)
    loaded = [context.load(spec) for spec in config.models]
    models = with_inner(loaded, inner, kind="fallback", where=context.where)
    return Fallback(models, name=None, timeout=config.timeout, ledger=context.ledger)


def router_from_config(
    inner: Backend | None, options: dict[str, Any], context: StageContext
) -> Backend:
    """The ``router`` stage of a pipeline file (see :mod:`tunestudio.ops.router`)."""
    from tunestudio.ops.router import router_from_options

    return router_from_options(inner, options, context)


def _check_logprobs(models: Sequence[Backend], where: str) -> None:
    blind = [model_name(m) for m in models if not m.capabilities.logprobs]
    if blind:
        raise ConfigError(
            f"min_logprob/min_confidence need token log-probabilities, which {', '.join(blind)} "
            "cannot return",
            where=where,
            hint="use them with local models (tiny, hf:…) or drop the confidence gate",
        )


__all__ = [
    "Cascade",
    "CascadeOptions",
    "Fallback",
    "FallbackOptions",
    "cascade_from_config",
    "fallback_from_config",
    "request_text",
    "router_from_config",
]
