"""Prompt compression as a pipeline stage: shorter system prompts and contexts, Korean-safe.

Two methods, used alone or together (``method``):

* ``tokens`` (:mod:`tunestudio.ops.compress_tokens`): remove low-information morphemes —
  particles, fillers, honorifics, note-style endings — never touching numbers, names, quotes,
  labels, URLs or code, and re-join with Kiwi so the Korean stays well formed. It keeps every
  sentence, so it cannot shrink a text much below ~85% of its length.
* ``sentences`` (:mod:`tunestudio.ops.compress_sentences`): keep the sentences most relevant
  to the query (the last user message) until the budget is met; sentences matching
  ``keep_patterns`` (the label list, the output format) are always kept.
* ``both``: tokens first; if the text is still over budget, sentences from what remains.

The budget is ``target_ratio`` × the text's size, measured in the target model's tokens
(``measure: tokens``, the inner model's ``count_tokens``) or in characters. The achieved ratio
is reported per text (:class:`Compression`) and summed over a stage's life
(:attr:`Compress.stats`). Compressed texts are cached (LRU): a batch run sends the same system
prompt with every row, and it is analysed once.

As a pipeline stage::

    pipeline:
      - compress: {target_ratio: 0.5, method: both, apply_to: system}
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tunestudio.config import validate_model
from tunestudio.errors import ConfigError
from tunestudio.models.base import Backend, StreamChunk
from tunestudio.ops.compress_sentences import SentenceSelector
from tunestudio.ops.compress_tokens import Measure, TokenCompressor
from tunestudio.ops.wrapper import Wrapper
from tunestudio.types import ChatResult, GenParams, Message

if TYPE_CHECKING:
    from tunestudio.ops.embeddings import Embedder
    from tunestudio.ops.pipeline import StageContext

Method = Literal["tokens", "sentences", "both"]
ApplyTo = Literal["system", "context", "all"]
# Sentences that define the task's labels and output format: kept whole by both methods.
DEFAULT_KEEP_PATTERNS: tuple[str, ...] = (
    r"카테고리|라벨|레이블|범주|label|categor",
    r"출력|형식|포맷|output|format|JSON|json",
)


@dataclass(frozen=True)
class Compression:
    """One text before and after: sizes in the compressor's measure (tokens or characters)."""

    text: str
    original: int
    compressed: int

    @property
    def ratio(self) -> float:
        """Compressed size / original size (1.0 for an empty text)."""
        return self.compressed / self.original if self.original else 1.0


class Compressor:
    """Compresses texts to ``target_ratio`` of their size (see the module docs)."""

    def __init__(
        self,
        *,
        target_ratio: float = 0.5,
        method: Method = "both",
        protect: Sequence[str] = (),
        labels: Sequence[str] = (),
        keep_patterns: Sequence[str] = DEFAULT_KEEP_PATTERNS,
        measure: Measure = len,
        embedder: Embedder | None = None,
        min_size: int = 0,
        cache_size: int = 256,
    ) -> None:
        """``measure`` sizes a text; texts under ``min_size`` of it are left alone."""
        if not 0 < target_ratio <= 1:
            raise ConfigError(
                f"target_ratio must be in (0, 1], not {target_ratio}",
                where="compress",
                hint="0.5 keeps about half of the text",
            )
        self.target_ratio = target_ratio
        self.method = method
        self.min_size = min_size
        self.measure: Measure = lru_cache(maxsize=4 * cache_size)(measure)
        self.tokens = TokenCompressor(protect=protect, labels=labels, keep=keep_patterns)
        self.sentences = SentenceSelector(
            measure=self.measure, keep=keep_patterns, embedder=embedder
        )
        self._prepare = lru_cache(maxsize=cache_size)(self.sentences.prepare)
        self._token_pass = lru_cache(maxsize=cache_size)(self._tokens_to)
        self._cached = lru_cache(maxsize=cache_size)(self._compress)

    def compress(self, text: str, query: str = "") -> Compression:
        """``text`` compressed for ``query`` (the query matters to the sentence method only)."""
        return self._cached(text, query if self.method != "tokens" else "")

    def cache_info(self) -> Any:
        """Hits and misses of the whole-text cache (``functools.lru_cache`` statistics)."""
        return self._cached.cache_info()

    def _compress(self, text: str, query: str) -> Compression:
        original = self.measure(text)
        budget = math.floor(original * self.target_ratio)
        if original < self.min_size or original <= budget or not text.strip():
            return Compression(text, original, original)
        out = text
        if self.method in ("tokens", "both"):
            out = self._token_pass(text, budget)
        if self.method in ("sentences", "both") and self.measure(out) > budget:
            out = self.sentences.select(self._prepare(out), query, budget)
        return Compression(out, original, self.measure(out))

    def _tokens_to(self, text: str, budget: int) -> str:
        return self.tokens.compress(text, budget, self.measure)


@dataclass
class CompressionStats:
    """What a stage has compressed so far, in the compressor's measure."""

    texts: int = 0
    original: int = 0
    compressed: int = 0

    @property
    def ratio(self) -> float:
        """Compressed / original over every text (1.0 before any)."""
        return self.compressed / self.original if self.original else 1.0


class Compress(Wrapper):
    """A Backend that compresses the chosen messages before ``inner`` sees them.

    ``apply_to``: ``system`` — system messages; ``context`` — every message before the last
    user message except system ones (earlier turns, tool results); ``all`` — every message
    but the last user message, which is the query and is never changed.
    """

    def __init__(
        self,
        inner: Backend,
        compressor: Compressor,
        *,
        apply_to: ApplyTo = "system",
        name: str | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(inner, name=name)
        self.compressor = compressor
        self.apply_to = apply_to
        self.stats = CompressionStats()
        self.last: list[Compression] = []
        self._lock = threading.Lock()
        self._on_close = on_close

    def rewrite(self, messages: Sequence[Message], *, record: bool = True) -> list[Message]:
        """``messages`` with the chosen ones compressed; ``record``: add them to the stats."""
        last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
        query = messages[last_user].content if last_user >= 0 else ""
        out, done = list(messages), []
        for index, message in enumerate(messages):
            if index != last_user and self._chosen(message, index, last_user):
                result = self.compressor.compress(message.content, query)
                out[index] = Message(message.role, result.text)
                done.append(result)
        if not record:
            return out
        with self._lock:
            self.last = done
            self.stats.texts += len(done)
            self.stats.original += sum(c.original for c in done)
            self.stats.compressed += sum(c.compressed for c in done)
        return out

    def _chosen(self, message: Message, index: int, last_user: int) -> bool:
        if self.apply_to == "system":
            return message.role == "system"
        if self.apply_to == "context":
            return message.role != "system" and index < last_user
        return True

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        return self.inner.chat(self.rewrite(messages), params)

    def chat_batch(
        self, conversations: Sequence[Sequence[Message]], params: GenParams = GenParams()
    ) -> list[ChatResult]:
        # One batched call to the inner model: a local model keeps its batching on the device.
        return self.inner.chat_batch([self.rewrite(m) for m in conversations], params)

    def stream(
        self, messages: Sequence[Message], params: GenParams = GenParams()
    ) -> Iterator[StreamChunk]:
        return self.inner.stream(self.rewrite(messages), params)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Tokens of the messages as the inner model will see them (compressed)."""
        # Not recorded: a window or router counting tokens is not a request.
        return self.inner.count_tokens(self.rewrite(messages, record=False))

    def close(self) -> None:
        if self._on_close:
            self._on_close()
        self.inner.close()


class CompressOptions(BaseModel):
    """The options of a ``compress`` stage."""

    model_config = ConfigDict(extra="forbid")

    target_ratio: float = Field(
        default=0.5, gt=0, le=1, description="keep this share of each text's size, (0, 1]"
    )
    method: Method = Field(default="both", description="tokens | sentences | both")
    apply_to: ApplyTo = Field(default="system", description="system | context | all")
    measure: Literal["tokens", "chars"] = Field(
        default="tokens", description="size texts in the inner model's tokens or in characters"
    )
    protect: list[str] = Field(default_factory=list, description="regexes of spans kept exactly")
    labels: list[str] = Field(default_factory=list, description="label names kept exactly")
    keep_patterns: list[str] = Field(
        default_factory=lambda: list(DEFAULT_KEEP_PATTERNS),
        description="regexes of sentences kept whole (labels, output format)",
    )
    embedder: str | None = Field(
        default=None, description="score sentences with this embedding model (default TF-IDF)"
    )
    min_size: int = Field(default=0, ge=0, description="leave texts smaller than this alone")
    cache_size: int = Field(default=256, ge=1, description="compressed texts kept (LRU)")

    @field_validator("protect", "keep_patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regex: {exc}") from None
        return patterns


def from_config(inner: Backend | None, options: dict[str, Any], context: StageContext) -> Backend:
    """The ``compress`` pipeline stage (see :class:`CompressOptions`)."""
    config = validate_model(CompressOptions, options, context.where)
    if inner is None:
        raise ConfigError(
            "compress needs a model to send the compressed prompt to",
            where=context.where,
            hint="set `model:` in the pipeline file or put compress before a cascade/router",
        )
    embedder = None
    if config.embedder:
        from tunestudio.ops.embeddings import load_embedder

        embedder = load_embedder(config.embedder)
    compressor = Compressor(
        target_ratio=config.target_ratio,
        method=config.method,
        protect=config.protect,
        labels=config.labels,
        keep_patterns=config.keep_patterns,
        measure=token_measure(inner) if config.measure == "tokens" else len,
        embedder=embedder,
        min_size=config.min_size,
        cache_size=config.cache_size,
    )
    on_close = embedder.close if embedder else None
    return Compress(inner, compressor, apply_to=config.apply_to, on_close=on_close)


def token_measure(backend: Backend) -> Measure:
    """Size a text in ``backend``'s tokens: a system message of it, less an empty one's
    template overhead (counted on first use, so building a pipeline makes no call)."""

    @lru_cache(maxsize=1)
    def overhead() -> int:
        return backend.count_tokens([Message("system", "")])

    def measure(text: str) -> int:
        return max(0, backend.count_tokens([Message("system", text)]) - overhead())

    return measure
