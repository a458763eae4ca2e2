"""The semantic cache: answer a question that means the same as one answered before.

Only the last user message is compared by meaning; everything else must match exactly. The
*scope* of a question is the SHA-256 of the wrapped model, every generation parameter, the
embedder and every message before the last (by default only a system prompt is allowed there:
``single_turn_only``, since a follow-up question means something only with its history). In a
scope, the question's embedding is compared with the questions answered before (cosine); the
closest at or above ``threshold`` is then checked by the :class:`~tunestudio.ops.cache_guard.Guard`
(negation, numbers, names), and its stored answer is returned if the guard agrees.

Every process keeps each scope's vectors in memory and reads what other processes added from the
store at most every ``refresh_ms``: a :class:`~tunestudio.ops.cache_sparse.SparseIndex` for an
embedder whose vectors are sparse (``hash-ko``: exact, reads only the query's nonzero buckets),
else a :class:`~tunestudio.ops.cache_index.VectorIndex`.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from tunestudio.config import validate_model
from tunestudio.errors import ConfigError
from tunestudio.models.base import Backend, StreamChunk
from tunestudio.ops.cache import CacheBase, CacheOptions, cache_store, exact_key, replay
from tunestudio.ops.cache_guard import Guard
from tunestudio.ops.cache_index import Match, VectorIndex
from tunestudio.ops.cache_sparse import SparseIndex
from tunestudio.ops.cache_store import CachedAnswer, CacheStore
from tunestudio.ops.embeddings import DEFAULT_EMBEDDER, Embedder
from tunestudio.ops.ledger import SEMANTIC_HIT
from tunestudio.types import ChatResult, GenParams, Message

if TYPE_CHECKING:
    from tunestudio.ops.pipeline import StageContext

# The threshold measured for the default embedder (hash-ko: Kiwi morphemes and character
# n-grams) on examples/paraphrase/pairs.csv (docs/ops/caching.md): with the guard, all 46 of
# its hits there were true paraphrases (23.0% of them answered); 0.2 let wrong ones through.
# Cosines are on each embedder's own scale, so another embedder needs its own threshold.
DEFAULT_THRESHOLD = 0.3


class SemanticOptions(CacheOptions):
    """Options of the ``semantic_cache`` stage."""

    embedder: str = Field(
        default=DEFAULT_EMBEDDER, description="embedder spec for load_embedder (hash-ko, hf:…)"
    )
    threshold: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description=f"least cosine for a hit; {DEFAULT_THRESHOLD} for {DEFAULT_EMBEDDER}, "
        "required for any other embedder",
    )
    single_turn_only: bool = Field(
        default=True, description="only questions with no history (a system prompt is allowed)"
    )
    guard: bool = Field(default=True, description="reject look-alikes: negation, numbers, names")
    refresh_ms: int = Field(
        default=500, ge=0, description="how often to read entries other processes added"
    )


@dataclass(frozen=True)
class Question:
    """The part of a call the semantic cache compares: its scope and its last user message."""

    scope: str
    text: str

    @property
    def key(self) -> str:
        return hashlib.sha256(f"{self.scope}\n{self.text}".encode()).hexdigest()


@dataclass
class _Scope:
    index: VectorIndex | SparseIndex
    cursor: str | None = None
    checked: float = float("-inf")
    lock: threading.Lock = field(default_factory=threading.Lock)


class SemanticCache(CacheBase):
    """Answers questions close in meaning to ones answered before (see the module doc)."""

    outcome = SEMANTIC_HIT

    def __init__(
        self,
        inner: Backend,
        store: CacheStore,
        embedder: Embedder,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        single_turn_only: bool = True,
        guard: Guard | bool = True,
        refresh_ms: int = 500,
        **options: Any,
    ) -> None:
        super().__init__(inner, store, **options)
        self.embedder = embedder
        self.threshold = threshold
        self.single_turn_only = single_turn_only
        # True: the guard with the process's shared Kiwi; False: vector similarity alone
        self.guard = Guard() if guard is True else guard or None
        self.refresh_s = refresh_ms / 1000
        self._scopes: dict[str, _Scope] = {}
        self._scopes_lock = threading.Lock()

    def question(self, messages: Sequence[Message], params: GenParams) -> Question | None:
        """What to compare for this call; None when the cache does not apply to it."""
        if not messages or messages[-1].role != "user" or not self.deterministic(params):
            return None
        history = messages[:-1]
        if self.single_turn_only and any(m.role != "system" for m in history):
            return None
        scope = exact_key(f"{self.inner.name}|{self.embedder.name}", params, history)
        return Question(scope, messages[-1].content)

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        return self.chat_batch([messages], params)[0]

    def chat_batch(
        self, conversations: Sequence[Sequence[Message]], params: GenParams = GenParams()
    ) -> list[ChatResult]:
        """Cached answers for the questions that match; the rest go to the model in one batch."""
        started = time.perf_counter()
        questions = [self.question(messages, params) for messages in conversations]
        vectors = self._embed([q.text for q in questions if q is not None])
        by_index = dict(zip([i for i, q in enumerate(questions) if q], vectors, strict=True))
        self._count(skipped=len(conversations) - len(by_index))
        results: list[ChatResult | None] = [None] * len(conversations)
        for index, vector in by_index.items():
            question = questions[index]
            found = self._find(question, vector) if question else None
            if found is not None:
                self._hit(found[0], started, detail=f"similarity {found[1].score:.3f}")
                results[index] = found[0].to_result()
        missing = [i for i, result in enumerate(results) if result is None]
        self._count(misses=sum(1 for i in missing if i in by_index))
        fresh = self._ask([conversations[i] for i in missing], params)
        for index, result in zip(missing, fresh, strict=True):
            results[index] = result
            if (question := questions[index]) is not None:
                self._remember(question, by_index[index], result)
        return [result for result in results if result is not None]

    def stream(
        self, messages: Sequence[Message], params: GenParams = GenParams()
    ) -> Iterator[StreamChunk]:
        started = time.perf_counter()
        question = self.question(messages, params)
        if question is None:
            self._count(skipped=1)
            yield from self.inner.stream(messages, params)
            return
        vector = self._embed([question.text])[0]
        found = self._find(question, vector)
        if found is not None:
            self._hit(found[0], started, detail=f"similarity {found[1].score:.3f}")
            yield from replay(found[0])
            return
        self._count(misses=1)
        yield from self._stream_and_keep(
            messages, params, lambda result: self._remember(question, vector, result)
        )

    def close(self) -> None:
        super().close()
        self.embedder.close()

    def _embed(self, texts: list[str]) -> list[np.ndarray]:
        if not texts:
            return []
        embed_array = getattr(self.embedder, "embed_array", None)  # hash-ko: no list round trip
        vectors = embed_array(texts) if embed_array else self.embedder.embed(texts)
        matrix = np.asarray(vectors, dtype=np.float32)
        return list(matrix.reshape(len(texts), -1))

    def _find(self, question: Question, vector: np.ndarray) -> tuple[CachedAnswer, Match] | None:
        """The best match that passes the guard and still has a live answer."""
        scope = self._scope(question.scope)
        for match in scope.index.search(vector, self.threshold):
            if self._guarded(question, match):
                self._count(rejected=1)
                continue
            answer = self._lookup([match.key])[0]
            if answer is None:  # expired or evicted since it was indexed
                scope.index.remove(match.key)
                continue
            return answer, match
        return None

    def _guarded(self, question: Question, match: Match) -> bool:
        """Whether the guard refuses ``match`` as an answer to ``question``."""
        if self.guard is None or match.key == question.key:
            return False
        return self.guard.check(question.text, match.text) is not None

    def _remember(self, question: Question, vector: np.ndarray, result: ChatResult) -> None:
        """Store the answer, and the question's vector unless this scope already has it."""
        if not self._save(question.key, result):
            return
        scope = self._scope(question.scope)
        if question.key in scope.index:
            return
        try:
            self.store.add_vector(question.scope, question.key, question.text, vector)
        except Exception as exc:  # the answer is stored; only the vector is lost
            self._store_failed("write", exc)
            return
        scope.index.add(question.key, question.text, vector)

    def _scope(self, key: str) -> _Scope:
        """The scope's index, with what other processes added since the last read."""
        with self._scopes_lock:
            scope = self._scopes.get(key)
            if scope is None:
                scope = self._scopes[key] = _Scope(self._new_index())
        now = time.monotonic()
        if now - scope.checked >= self.refresh_s and scope.lock.acquire(blocking=False):
            try:  # one thread reads; the others search what is already loaded
                self._refresh(key, scope)
                scope.checked = now
            finally:
                scope.lock.release()
        return scope

    def _new_index(self) -> VectorIndex | SparseIndex:
        if getattr(self.embedder, "sparse", False):
            return SparseIndex(self.embedder.dimensions)
        return VectorIndex(self.embedder.dimensions)

    def _refresh(self, key: str, scope: _Scope) -> None:
        try:
            entries = self.store.vectors(key, scope.cursor)
        except Exception as exc:
            self._store_failed("read", exc)
            return
        if entries:
            scope.index.add_many([(e.key, e.text, e.vector) for e in entries])
            scope.cursor = entries[-1].cursor


def from_config(inner: Backend, options: dict[str, Any], context: StageContext) -> Backend:
    """The ``semantic_cache`` stage: SemanticOptions plus the storage options of every cache."""
    from tunestudio.ops.embeddings import load_embedder

    parsed = validate_model(SemanticOptions, options, context.where)
    threshold = parsed.threshold
    if threshold is None:
        if parsed.embedder != DEFAULT_EMBEDDER:
            raise ConfigError(
                f"set `threshold:` for the embedder {parsed.embedder!r}",
                where=context.where,
                hint="similarity scales differ between embedders; measure one with "
                "`bench/bench_cache.py --part precision --embedder <spec>`",
            )
        threshold = DEFAULT_THRESHOLD
    store = cache_store(parsed, context, "semantic")
    return SemanticCache(
        inner,
        store,
        load_embedder(parsed.embedder),
        threshold=threshold,
        single_turn_only=parsed.single_turn_only,
        guard=parsed.guard,
        refresh_ms=parsed.refresh_ms,
        ttl=parsed.ttl,
        cache_sampling=parsed.cache_sampling,
        ledger=context.ledger,
        prices=context.prices,
    )
