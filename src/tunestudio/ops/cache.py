"""Caches that answer repeated questions without calling the model (pipeline stages).

``exact_cache`` answers a call it has seen before: the key is the SHA-256 of the inner model's
name (its spec string, adapter included), every generation parameter and the full message list
as the cache receives it (after any window stage outside it). ``semantic_cache``
(:mod:`tunestudio.ops.cache_semantic`) answers a question that *means* the same as one it has
seen. Both keep answers in a :mod:`~tunestudio.ops.cache_store` (SQLite by default, Redis with
``url:`` or ``TUNESTUDIO_CACHE_URL``), record each hit in the cost ledger with the cost it
saved, and count hits and misses per process (:meth:`CacheBase.stats`).

What is cached: answers that finished normally (``stop``, or ``length`` — the same limit gives
the same cut). Errors and other finish reasons (filtered, tool calls) are not. Sampled calls
(temperature > 0 without a seed) pass through uncached unless ``cache_sampling: true``: their
caller asked for a fresh draw each time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from tunestudio.config import validate_model
from tunestudio.errors import ConfigError
from tunestudio.models.base import Backend, StreamChunk
from tunestudio.ops.cache_store import CACHEABLE_FINISH, CachedAnswer, CacheStore, open_store
from tunestudio.ops.cache_writer import WriteBehind
from tunestudio.ops.ledger import EXACT_HIT, CallRecord, Ledger, Prices
from tunestudio.ops.wrapper import Wrapper
from tunestudio.types import ChatResult, GenParams, Message, Usage

if TYPE_CHECKING:
    from tunestudio.ops.pipeline import StageContext

log = logging.getLogger(__name__)
CACHE_URL_ENV = "TUNESTUDIO_CACHE_URL"


@dataclass
class CacheStats:
    """What a cache did in this process (the ledger keeps the durable record)."""

    hits: int = 0
    misses: int = 0
    skipped: int = 0  # calls not looked up: sampling, or (semantic) not a single-turn question
    rejected: int = 0  # semantic: vector matches the guard refused
    errors: int = 0  # store failures; the call went to the model instead
    tokens_saved: int = 0
    cost_saved: float = 0.0

    @property
    def hit_rate(self) -> float:
        looked_up = self.hits + self.misses
        return self.hits / looked_up if looked_up else 0.0


class CacheOptions(BaseModel):
    """Options every cache stage takes."""

    model_config = ConfigDict(extra="forbid")

    ttl: float | None = Field(default=None, gt=0, description="seconds an answer stays valid")
    max_entries: int | None = Field(
        default=None, ge=1, description="keep at most this many answers (least recently used go)"
    )
    cache_sampling: bool = Field(
        default=False, description="also cache calls with temperature > 0 and no seed"
    )
    path: str | None = Field(default=None, description="SQLite file (default: <home>/cache.db)")
    url: str | None = Field(
        default=None, description="redis://… to share the cache between processes and machines"
    )


class CacheBase(Wrapper):
    """What both caches share: the store, the ledger, the stats and the rules of caching."""

    outcome = EXACT_HIT

    def __init__(
        self,
        inner: Backend,
        store: CacheStore,
        *,
        ttl: float | None = None,
        cache_sampling: bool = False,
        ledger: Ledger | None = None,
        prices: Prices | None = None,
    ) -> None:
        super().__init__(inner)
        self.store = store
        self.ttl = ttl
        self.cache_sampling = cache_sampling
        self.ledger = ledger
        self.prices = prices or Prices()
        self._stats = CacheStats()
        self._stats_lock = threading.Lock()
        if isinstance(store, WriteBehind):  # its writes fail later, on its own thread
            store.on_error = self._write_failed

    def stats(self) -> CacheStats:
        """A snapshot of this process's counts."""
        with self._stats_lock:
            return replace(self._stats)

    def close(self) -> None:
        self.store.close()
        self.inner.close()

    def deterministic(self, params: GenParams) -> bool:
        """Whether a call with ``params`` may be answered from the cache."""
        return self.cache_sampling or params.temperature <= 0 or params.seed is not None

    def _count(self, **deltas: int) -> None:
        with self._stats_lock:
            for name, delta in deltas.items():
                setattr(self._stats, name, getattr(self._stats, name) + delta)

    def _lookup(self, keys: Sequence[str]) -> list[CachedAnswer | None]:
        try:
            return self.store.get_many(keys)
        except Exception as exc:  # a broken cache must degrade to calling the model
            self._store_failed("read", exc)
            return [None] * len(keys)

    def _save(self, key: str, result: ChatResult) -> bool:
        """Store ``result`` under ``key`` when it is worth replaying; True when stored."""
        if result.finish_reason not in CACHEABLE_FINISH:
            return False
        try:
            self.store.put(key, CachedAnswer.from_result(result, self.inner.name), self.ttl)
        except Exception as exc:  # as above: the answer is still returned
            self._store_failed("write", exc)
            return False
        return True

    def _write_failed(self, exc: Exception) -> None:
        """A background write failed (WriteBehind has logged it): count it."""
        self._count(errors=1)

    def _store_failed(self, action: str, exc: Exception) -> None:
        self._count(errors=1)
        log.warning("cache %s failed (%s): %s", action, self.store.where, exc)

    def _hit(self, answer: CachedAnswer, started: float, detail: str | None = None) -> None:
        """Count a hit and record it in the ledger with the cost it saved."""
        saved = self._saved_cost(answer)
        with self._stats_lock:
            self._stats.hits += 1
            self._stats.tokens_saved += answer.usage.total_tokens
            self._stats.cost_saved += saved
        if self.ledger is not None:
            self.ledger.record(
                CallRecord(
                    model=answer.model,
                    outcome=self.outcome,
                    latency_ms=(time.perf_counter() - started) * 1000,
                    saved_cost=saved,
                    saved_tokens=answer.usage.total_tokens,
                    detail=detail,
                )
            )

    def _saved_cost(self, answer: CachedAnswer) -> float:
        """The price of the answer's model, else of the wrapped model (prices use specs)."""
        for model in (answer.model, self.inner.name):
            if model in self.prices.by_model:
                return self.prices.cost(model, answer.usage)
        return 0.0

    def _ask(
        self, conversations: Sequence[Sequence[Message]], params: GenParams
    ) -> list[ChatResult]:
        """The model's answers: ``chat`` for one conversation (what a caller of ``chat``
        expects the model to see), one ``chat_batch`` for several."""
        if len(conversations) == 1:
            return [self.inner.chat(conversations[0], params)]
        return self.inner.chat_batch(conversations, params) if conversations else []

    def _stream_and_keep(
        self,
        messages: Sequence[Message],
        params: GenParams,
        keep: Callable[[ChatResult], object],
    ) -> Iterator[StreamChunk]:
        """Stream from the model; ``keep`` the whole answer once its last chunk has passed
        (a stream the client abandons halfway keeps nothing)."""
        parts: list[str] = []
        for chunk in self.inner.stream(messages, params):
            parts.append(chunk.delta)
            yield chunk
            if chunk.finish_reason is not None:
                usage = chunk.usage or Usage()
                keep(ChatResult("".join(parts), usage, chunk.finish_reason, self.inner.name))


def replay(answer: CachedAnswer) -> Iterator[StreamChunk]:
    """A cached answer as a stream: one chunk carrying the text, finish reason and usage."""
    yield StreamChunk(answer.content, answer.finish_reason, answer.usage)


def exact_key(model: str, params: GenParams, messages: Sequence[Message]) -> str:
    """SHA-256 of a canonical JSON of the model, every GenParams field and every message."""
    payload = {  # vars/to_dict, not dataclasses.asdict: the same dicts at 1/100 of the cost
        "v": 1,
        "model": model,
        "params": vars(params),
        "messages": [message.to_dict() for message in messages],
    }
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class ExactCache(CacheBase):
    """Answers a call seen before (same model, parameters and messages) from the store."""

    def key(self, messages: Sequence[Message], params: GenParams) -> str:
        return exact_key(self.inner.name, params, messages)

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        return self.chat_batch([messages], params)[0]

    def chat_batch(
        self, conversations: Sequence[Sequence[Message]], params: GenParams = GenParams()
    ) -> list[ChatResult]:
        """Cached answers where there are some; the misses go to the model in one batch."""
        if not self.deterministic(params):
            self._count(skipped=len(conversations))
            return self.inner.chat_batch(conversations, params)
        started = time.perf_counter()
        keys = [self.key(messages, params) for messages in conversations]
        results: list[ChatResult | None] = []
        for answer in self._lookup(keys):
            if answer is not None:
                self._hit(answer, started)
            results.append(answer.to_result() if answer else None)
        return self._fill_misses(results, keys, conversations, params)

    def stream(
        self, messages: Sequence[Message], params: GenParams = GenParams()
    ) -> Iterator[StreamChunk]:
        if not self.deterministic(params):
            self._count(skipped=1)
            yield from self.inner.stream(messages, params)
            return
        started = time.perf_counter()
        key = self.key(messages, params)
        answer = self._lookup([key])[0]
        if answer is not None:
            self._hit(answer, started)
            yield from replay(answer)
            return
        self._count(misses=1)
        yield from self._stream_and_keep(messages, params, lambda result: self._save(key, result))

    def _fill_misses(
        self,
        results: list[ChatResult | None],
        keys: list[str],
        conversations: Sequence[Sequence[Message]],
        params: GenParams,
    ) -> list[ChatResult]:
        """Ask the model once per distinct missing key, in one batch, and store the answers."""
        first: dict[str, int] = {}
        for index, result in enumerate(results):
            if result is None:
                first.setdefault(keys[index], index)
        self._count(misses=sum(1 for r in results if r is None))
        if first:
            fresh = self._ask([conversations[i] for i in first.values()], params)
            answers = dict(zip(first, fresh, strict=True))
            for key, result in answers.items():
                self._save(key, result)
            results = [
                r if r is not None else answers[k] for r, k in zip(results, keys, strict=True)
            ]
        return [r for r in results if r is not None]


def cache_store(options: CacheOptions, context: StageContext, namespace: str) -> CacheStore:
    """The store the options name: ``url:``, else ``path:``, else TUNESTUDIO_CACHE_URL, else
    SQLite under the data dir. A store that cannot open names the pipeline stage too."""
    url = options.url or (None if options.path else os.environ.get(CACHE_URL_ENV))
    path = context.path(options.path) if options.path else None
    try:
        return open_store(
            namespace=namespace,
            home=context.settings.home_dir,
            path=path,
            url=url,
            max_entries=options.max_entries,
        )
    except ConfigError as exc:
        exc.where = f"{context.where} ({exc.where})" if exc.where else context.where
        raise


def exact_from_config(
    inner: Backend | None, options: dict[str, Any], context: StageContext
) -> Backend:
    """The ``exact_cache`` stage: ``{ttl, max_entries, cache_sampling, path, url}``."""
    parsed = validate_model(CacheOptions, options, context.where)
    return ExactCache(
        require_inner(inner, context.where, "exact_cache"),
        cache_store(parsed, context, "exact"),
        ttl=parsed.ttl,
        cache_sampling=parsed.cache_sampling,
        ledger=context.ledger,
        prices=context.prices,
    )


def semantic_from_config(
    inner: Backend | None, options: dict[str, Any], context: StageContext
) -> Backend:
    """The ``semantic_cache`` stage (see :mod:`tunestudio.ops.cache_semantic`)."""
    from tunestudio.ops.cache_semantic import from_config

    return from_config(require_inner(inner, context.where, "semantic_cache"), options, context)


def require_inner(inner: Backend | None, where: str, kind: str) -> Backend:
    """The wrapped model; a cache at the innermost place of a pipeline without one is an error."""
    if inner is None:
        raise ConfigError(
            f"{kind} needs a model to wrap",
            where=where,
            hint=f"set `model:` in the pipeline file, or put a cascade or router after {kind}",
        )
    return inner
