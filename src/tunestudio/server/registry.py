"""The served models by name: loaded on first use, once per model, and closed on shutdown.

A name is a configured model (``ServerConfig.models``) or the id of a SUCCEEDED tuning job in
the store, served from the model spec its result names (what CLOVA's ``/tasks/{taskId}`` calls
need). Loading is thread-safe: concurrent first requests for one model wait for one load.
Backends are cached by spec and options, so two names for one model share one load.
Entries of ``kind: embedding`` load as embedders (:meth:`ModelRegistry.embedder`) and refuse chat.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from anyio import to_thread

from tunestudio.errors import TuneStudioError
from tunestudio.models.base import Backend
from tunestudio.models.registry import load_backend
from tunestudio.ops.embeddings import Embedder, load_embedder
from tunestudio.server.config import ModelEntry, ServerConfig
from tunestudio.server.embedder import ServedEmbedder
from tunestudio.server.errors import ApiError, ErrorKind, ModelNotFound, ModelUnavailable
from tunestudio.server.served import ServedModel
from tunestudio.store.schema import utcnow
from tunestudio.tuning.jobs import ID_ALPHABET, ID_LENGTH, JobNotFoundError, JobStatus, JobStore

log = logging.getLogger("tunestudio.server")
JOB_ID = re.compile(f"[{re.escape(ID_ALPHABET)}]{{{ID_LENGTH}}}")
Loader = Callable[..., Backend]
EmbedLoader = Callable[..., Embedder]
EMBEDDINGS_HINT = (
    "add one to serve.yaml: models: [{name: bge-m3, spec: hf:./bge-m3, kind: embedding}]"
)


@dataclass(frozen=True)
class ModelCard:
    """A servable model as ``GET /v1/models`` lists it."""

    id: str
    spec: str
    source: str  # "config" or "job"
    created: datetime


class ModelRegistry:
    """Names to loaded models. ``loader`` is :func:`load_backend` (tests may count calls)."""

    def __init__(
        self,
        config: ServerConfig,
        jobs: JobStore | None = None,
        *,
        loader: Loader = load_backend,
        embed_loader: EmbedLoader = load_embedder,
    ) -> None:
        self._entries = {entry.name: entry for entry in config.served_models()}
        self._jobs = jobs
        self._loader = loader
        self._started = utcnow()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self._loaded: dict[str, ServedModel] = {}  # by cache key (spec + options)
        self._by_name: dict[str, ServedModel] = {}
        self._embed_loader = embed_loader
        self._embedders: dict[str, ServedEmbedder] = {}

    @property
    def names(self) -> list[str]:
        """The configured model names, in config order."""
        return list(self._entries)

    def entry(self, name: str) -> ModelEntry:
        """The spec behind ``name``: a configured model, or a SUCCEEDED job's result."""
        if name in self._entries:
            return self._entries[name]
        if self._jobs is not None and JOB_ID.fullmatch(name):
            return self._job_entry(name)
        raise ModelNotFound(name, self.names)

    def served(self, name: str) -> ServedModel:
        """The loaded model behind ``name``, loading it first if needed (blocking)."""
        if (found := self._by_name.get(name)) is not None:
            return found
        entry = self.entry(name)
        if entry.kind == "embedding":
            raise ApiError(
                f"the model {name!r} is an embedding model; it does not chat",
                kind=ErrorKind.UNSUPPORTED_FOR_MODEL,
                param="model",
                hint="send it to /v1/embeddings (or CLOVA's /v1/api-tools/embedding/v2)",
            )
        key = f"{entry.spec}|{json.dumps(entry.options, sort_keys=True, default=str)}"
        with self._lock:
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:  # one load per model; later callers find it loaded
            model = self._loaded.get(key)
            if model is None:
                model = ServedModel(entry.spec, cast(Backend, self._load(name, entry)))
                with self._lock:
                    self._loaded[key] = model
        with self._lock:
            self._by_name[name] = model
        return model

    def resolve_model(self, name: str) -> Backend:
        """The Backend behind ``name`` (blocking; loads it on first use)."""
        return self.served(name).backend

    async def get(self, name: str) -> ServedModel:
        """:meth:`served` for async code: a loaded model at once, a load in a worker thread."""
        found = self._by_name.get(name)
        return found if found is not None else await to_thread.run_sync(self.served, name)

    def default_embedder(self) -> str:
        """The embedding model CLOVA's tools use: ``bge-m3`` if served, else the first one."""
        names = [e.name for e in self._entries.values() if e.kind == "embedding"]
        if not names:
            raise ApiError(
                "no embedding model is served",
                kind=ErrorKind.UNSUPPORTED_FOR_MODEL,
                hint=EMBEDDINGS_HINT,
            )
        return "bge-m3" if "bge-m3" in names else names[0]

    def has_embedder(self) -> bool:
        """Whether any configured model is an embedding model."""
        return any(e.kind == "embedding" for e in self._entries.values())

    def embedder(self, name: str) -> ServedEmbedder:
        """The loaded embedder behind ``name`` (blocking; loads it on first use)."""
        entry = self.entry(name)
        if entry.kind != "embedding":
            raise ApiError(
                f"the model {name!r} is a chat model; it does not support embeddings",
                kind=ErrorKind.UNSUPPORTED_FOR_MODEL,
                param="model",
                hint=f"use one served with kind: embedding ({self._embedding_names()}), or "
                + EMBEDDINGS_HINT,
            )
        with self._lock:
            gate = self._loading.setdefault(f"embed|{name}", threading.Lock())
        with gate:
            if (found := self._embedders.get(name)) is None:
                found = ServedEmbedder(entry.spec, self._load(name, entry, self._embed_loader))
                with self._lock:
                    self._embedders[name] = found
        return found

    async def get_embedder(self, name: str) -> ServedEmbedder:
        """:meth:`embedder` for async code."""
        found = self._embedders.get(name)
        return found if found is not None else await to_thread.run_sync(self.embedder, name)

    def _embedding_names(self) -> str:
        names = [e.name for e in self._entries.values() if e.kind == "embedding"]
        return ", ".join(names) or "none is served"

    def list_models(self) -> list[ModelCard]:
        """Configured models, then the SUCCEEDED tuning jobs (newest first)."""
        cards = [ModelCard(e.name, e.spec, "config", self._started) for e in self._entries.values()]
        if self._jobs is not None:
            for job in self._jobs.list_jobs(status=JobStatus.SUCCEEDED):
                spec = (job.result or {}).get("modelSpec")
                if spec and job.id not in self._entries:
                    cards.append(ModelCard(job.id, spec, "job", job.ended_at or job.created_at))
        return cards

    def forget(self, name: str) -> None:
        """Stop serving ``name`` from the cache (e.g. its tuning job was deleted)."""
        with self._lock:
            self._by_name.pop(name, None)

    def close(self) -> None:
        """Close every loaded backend; errors are logged, not raised (this runs at shutdown)."""
        with self._lock:
            closers = [(m.spec, m.backend.close) for m in self._loaded.values()]
            closers += [(e.spec, e.embedder.close) for e in self._embedders.values()]
            self._loaded.clear()
            self._by_name.clear()
            self._embedders.clear()
        for spec, close in closers:
            try:
                close()
            except Exception:
                log.exception("closing %s failed", spec)

    def _load(self, name: str, entry: ModelEntry, loader: Callable[..., Any] | None = None) -> Any:
        log.info("loading model %s (%s)", name, entry.spec)
        start = time.perf_counter()
        try:
            backend = (loader or self._loader)(entry.spec, **entry.options)
        except TuneStudioError as exc:
            log.warning("could not load model %s (%s): %s", name, entry.spec, exc)
            raise ModelUnavailable(
                f"the model {name!r} ({entry.spec}) could not be loaded: {exc.message}",
                where=exc.where,
                hint=exc.hint,
            ) from exc
        except Exception as exc:
            log.exception("loading %s (%s) failed", name, entry.spec)
            raise ModelUnavailable(
                f"the model {name!r} could not be loaded ({type(exc).__name__}; see the server log)"
            ) from exc
        log.info("loaded model %s in %.1f s", name, time.perf_counter() - start)
        return backend

    def _job_entry(self, job_id: str) -> ModelEntry:
        assert self._jobs is not None
        try:
            job = self._jobs.get(job_id)
        except JobNotFoundError:
            raise ModelNotFound(job_id, self.names) from None
        spec: Any = (job.result or {}).get("modelSpec")
        if job.status != JobStatus.SUCCEEDED or not spec:
            raise ApiError(
                f"tuning job {job_id} is {job.status}; only a SUCCEEDED job can be served",
                kind=ErrorKind.MODEL_NOT_READY,
                param="model",
                hint=f"follow it with `tunestudio tune status {job_id}`",
            )
        return ModelEntry(name=job_id, spec=str(spec))
