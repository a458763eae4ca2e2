"""The router stage: pick the cheap or the large model *before* calling, from past requests.

Each request's text (its last user message) is embedded and compared with the requests in the
router's history (:mod:`tunestudio.ops.router_history`). When more than ``threshold`` of the
``k`` nearest past requests (cosine similarity) needed the large model, the request goes
straight to it; otherwise to the cheap one. Until the history holds ``min_history`` requests
every request goes to the cheap model. Unlike a cascade, a routed request costs one call, and
it can stream from the model for real; the price is that a wrong guess is never corrected.

Pipeline YAML::

    - router:
        models: [hf:./runs/inquiry/adapter, clova:HCX-005]   # [cheap, large]
        embedder: hash-ko                     # the default; any spec of ops/embeddings.py
        history: router.sqlite                # relative to the pipeline file
        k: 10
        threshold: 0.5

The kNN is a brute-force dot product in numpy over unit vectors: exact, and a few thousand
past requests take well under a millisecond, so no index library is needed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from tunestudio.config import validate_model
from tunestudio.models.base import Backend, Capabilities, StreamChunk
from tunestudio.ops.cascade import request_text
from tunestudio.ops.cascade_call import model_name, with_inner
from tunestudio.ops.router_history import History
from tunestudio.types import ChatResult, GenParams, Message

if TYPE_CHECKING:
    import numpy as np

    from tunestudio.ops.embeddings import Embedder
    from tunestudio.ops.pipeline import StageContext


class Router:
    """Sends each request to ``models[0]`` (cheap) or ``models[1]`` (large) by kNN."""

    def __init__(
        self,
        models: Sequence[Backend],
        embedder: Embedder,
        history: History,
        *,
        k: int = 10,
        threshold: float = 0.5,
        min_history: int | None = None,
        name: str | None = None,
    ) -> None:
        self.models = list(models)
        self.model_names = [model_name(m) for m in self.models]
        self.name = name or "router(" + ", ".join(self.model_names) + ")"
        self.embedder = embedder
        self.history = history
        self.k = k
        self.threshold = threshold
        self.min_history = k if min_history is None else min_history
        self.routed = [0] * len(self.models)
        self._lock = threading.Lock()  # the server calls from many threads
        self._seen_id = -1
        self._memory: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def capabilities(self) -> Capabilities:
        return replace(self.models[0].capabilities, streaming=True)

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        return self.models[self.choose([messages])[0]].chat(messages, params)

    def chat_batch(
        self, conversations: Sequence[Sequence[Message]], params: GenParams = GenParams()
    ) -> list[ChatResult]:
        """Rows grouped by the model chosen for them, each group in one batch call."""
        choices = self.choose(conversations)
        results: list[ChatResult | None] = [None] * len(conversations)
        for index, model in enumerate(self.models):
            rows = [row for row, choice in enumerate(choices) if choice == index]
            if not rows:
                continue
            answers = model.chat_batch([conversations[row] for row in rows], params)
            for row, answer in zip(rows, answers, strict=True):
                results[row] = answer
        return [result for result in results if result is not None]

    def stream(
        self, messages: Sequence[Message], params: GenParams = GenParams()
    ) -> Iterator[StreamChunk]:
        return self.models[self.choose([messages])[0]].stream(messages, params)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return self.models[0].count_tokens(messages)

    def close(self) -> None:
        for model in self.models:
            model.close()
        self.embedder.close()

    def stats(self) -> dict[str, Any]:
        """Requests sent to each model so far."""
        return {"routed": dict(zip(self.model_names, self.routed, strict=True))}

    def choose(self, conversations: Sequence[Sequence[Message]]) -> list[int]:
        """The index of the model each conversation goes to."""
        import numpy as np

        with self._lock:
            matrix, needed = self._refresh()
        if len(needed) < max(1, self.min_history) or not conversations:
            choices = [0] * len(conversations)
        else:
            queries = np.asarray(self.embedder.embed([request_text(c) for c in conversations]))
            similarity = queries.astype(np.float32) @ matrix.T
            k = min(self.k, len(needed))
            nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
            share = (needed[nearest] >= 1).mean(axis=1)
            choices = [1 if value > self.threshold else 0 for value in share.tolist()]
        with self._lock:
            for choice in choices:
                self.routed[choice] += 1
        return choices

    def _refresh(self) -> tuple[np.ndarray, np.ndarray]:
        """The history as a matrix, reread only when rows were added since the last read."""
        newest = self.history.last_id()
        if self._memory is None or newest != self._seen_id:
            self._memory = self.history.matrix(self.embedder)
            self._seen_id = newest
        return self._memory


class RouterOptions(BaseModel):
    """Options of a ``router`` stage."""

    model_config = ConfigDict(extra="forbid")

    models: list[str] = Field(default_factory=list, description="[cheap, large] model specs")
    embedder: str | None = Field(
        default=None,
        description="embedder spec (see ops/embeddings.py); default: the offline Korean hash-ko",
    )
    history: str | None = Field(
        default=None, description="SQLite history file (default: <data dir>/router/<name>.sqlite)"
    )
    k: int = Field(default=10, ge=1, description="neighbours consulted")
    threshold: float = Field(
        default=0.5,
        ge=0,
        lt=1,
        description="share of neighbours needing the large model above which a request goes to it",
    )
    min_history: int | None = Field(
        default=None, ge=0, description="requests remembered before routing starts (default k)"
    )


def router_from_options(
    inner: Backend | None, options: dict[str, Any], context: StageContext
) -> Router:
    """Build a router from pipeline options (the ``router`` stage)."""
    from tunestudio.ops.embeddings import load_embedder

    config = validate_model(RouterOptions, options, context.where)
    loaded = [context.load(spec) for spec in config.models]
    models = with_inner(loaded, inner, kind="router", where=context.where, exactly=2)
    default = context.settings.home_dir / "router" / f"{context.pipeline_name}.sqlite"
    path = context.path(config.history) if config.history else default
    return Router(
        models,
        load_embedder(config.embedder),
        History(path),
        k=config.k,
        threshold=config.threshold,
        min_history=config.min_history,
    )
