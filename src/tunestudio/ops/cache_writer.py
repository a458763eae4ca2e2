"""Write-behind for the cache stores: every cache write leaves the request path.

:class:`WriteBehind` wraps a :class:`~tunestudio.ops.cache_store.BatchStore` (SQLite or
Redis). ``put``, ``add_vector`` and the access-time updates of hits ("touches") are queued and
return at once; one daemon thread per store takes *everything* queued and writes it with one
``write_batch`` call (one SQLite transaction / one Redis pipeline), followed by eviction. Under
load batches form by themselves while a write is in progress; when idle, a single write goes
out at once (the thread waits on a condition variable, not a timer). Touches alone do not wake
the writer: they go out with the next answer, a flush, or after ``TOUCH_DELAY``.

Reads stay correct: answers still queued (or being written) are served from memory, with
their time to live. What is lost: answers queued in the last moments before a crash (a
``kill -9``; a normal exit flushes) — for a cache that costs one model call each.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from tunestudio.ops.cache_store import (
    AnswerWrite,
    BatchStore,
    CachedAnswer,
    StoredVector,
    VectorWrite,
)

log = logging.getLogger(__name__)
MAX_PENDING = 10_000
TOUCH_DELAY = 1.0  # seconds a hit's access time may wait for an answer to go out with


@dataclass
class _Batch:
    """What one ``write_batch`` call writes; ``upto`` is the queue position it completes."""

    puts: dict[str, AnswerWrite] = field(default_factory=dict)
    vectors: list[VectorWrite] = field(default_factory=list)
    touches: dict[str, float] = field(default_factory=dict)
    upto: int = 0

    def __len__(self) -> int:
        return len(self.puts) + len(self.vectors) + len(self.touches)


class _Queue:
    """The pending writes, shared by the request threads and the writer thread.

    Positions count every queued operation; ``written`` is the position up to which
    everything has been written (or has failed), which is what ``flush`` waits for.
    """

    def __init__(self, max_pending: int) -> None:
        self.cond = threading.Condition()
        self.max_pending = max_pending
        self.pending = _Batch()
        self.inflight: dict[str, AnswerWrite] = {}  # taken by the writer, not yet committed
        self.queued = 0
        self.written = 0
        self.stopping = False
        self.touches_since = 0.0  # time.monotonic() of the oldest waiting touch

    def add(self, put: AnswerWrite | None = None, vector: VectorWrite | None = None) -> None:
        """Queue a put or a vector, waiting while the queue is full (never dropping)."""
        with self.cond:
            while len(self.pending) >= self.max_pending and not self.stopping:
                self.cond.wait()
            if self.stopping:
                raise RuntimeError("the cache store is closed")
            if put is not None:
                self.pending.puts[put.key] = put  # a newer answer for a key replaces the older
            if vector is not None:
                self.pending.vectors.append(vector)
            self.queued += 1
            self.cond.notify_all()

    def touch(self, keys: Sequence[str], at: float) -> None:
        """Queue access times without waiting: a hit never blocks, and touches of one key
        merge, so they cannot grow beyond the number of distinct keys.

        Touches do not wake the writer (waking it on every hit costs the hit more than the
        write it saves): they go out with the next answer written — before that batch's
        eviction, which is when this process needs them — or once ``TOUCH_DELAY`` has passed
        since the first one waiting, so that other processes evict by them too."""
        with self.cond:
            if self.stopping:
                return
            if not self.pending.touches:
                self.touches_since = time.monotonic()
            self.pending.touches.update(dict.fromkeys(keys, at))
            self.queued += 1
            if time.monotonic() - self.touches_since >= TOUCH_DELAY:
                self.cond.notify_all()

    def lookup(self, keys: Sequence[str]) -> dict[str, AnswerWrite]:
        """The queued or in-flight answers among ``keys``."""
        with self.cond:
            found = {k: w for k in keys if (w := self.pending.puts.get(k) or self.inflight.get(k))}
        return found

    def take(self) -> _Batch | None:
        """Everything queued (waiting until there is some); None once stopped and drained."""
        with self.cond:
            while not self.pending and not self.stopping:
                self.cond.wait()
            if not self.pending:
                return None
            batch, self.pending = self.pending, _Batch()
            batch.upto = self.queued
            self.inflight = batch.puts
            self.cond.notify_all()  # room again for puts waiting on a full queue
            return batch

    def done(self, batch: _Batch) -> None:
        with self.cond:
            self.inflight = {}
            self.written = batch.upto
            self.cond.notify_all()

    def wait_written(self, timeout: float | None) -> bool:
        """Wait until everything queued before this call is written; False on timeout."""
        with self.cond:
            target = self.queued
            self.cond.notify_all()  # touches alone do not wake the writer: this does
            return self.cond.wait_for(lambda: self.written >= target, timeout)

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()


def _write_loop(
    queue: _Queue, inner: BatchStore, owner: weakref.ReferenceType[WriteBehind]
) -> None:
    """The writer thread: write batches until stopped, then close the inner store.

    It holds the owner only weakly, so a WriteBehind nobody closed can still be collected
    (its finalizer then flushes and stops this thread)."""
    while (batch := queue.take()) is not None:
        try:
            inner.write_batch(list(batch.puts.values()), batch.vectors, batch.touches)
        except Exception as exc:  # a failed cache write costs model calls, never a request
            log.warning("cache write failed (%s): %s", inner.where, exc)
            _report(owner(), exc)
        finally:
            queue.done(batch)
    inner.close()


def _report(store: WriteBehind | None, exc: Exception) -> None:
    callback = store.on_error if store is not None else None
    if callback is not None:
        try:
            callback(exc)
        except Exception:  # the callback's failure must not stop the writer
            log.exception("cache write error callback failed")


def _shutdown(queue: _Queue, thread: threading.Thread) -> None:
    """Flush and stop the writer (close, garbage collection or interpreter exit)."""
    queue.stop()
    if thread is not threading.current_thread():  # a collection may run on the writer itself
        thread.join()


class WriteBehind:
    """A :class:`~tunestudio.ops.cache_store.CacheStore` whose writes happen on a background
    thread, batched.

    ``put`` and ``add_vector`` return as soon as the write is queued; hits queue their access
    time instead of writing it. At most ``max_pending`` operations wait: beyond that, ``put``
    and ``add_vector`` block until the writer has made room — nothing is dropped. A failed
    write is logged ("cache write failed (<where>): <error>") and passed to ``on_error``; it
    never raises into a request. ``close()`` (and interpreter exit, and garbage collection of
    an unclosed store) writes what is queued first.
    """

    def __init__(self, inner: BatchStore, *, max_pending: int = MAX_PENDING) -> None:
        self.inner = inner
        self.where = inner.where
        self.on_error: Callable[[Exception], None] | None = None
        self._queue = _Queue(max_pending)
        thread = threading.Thread(
            target=_write_loop,
            args=(self._queue, inner, weakref.ref(self)),
            name=f"cache-writer {inner.where}",
            daemon=True,
        )
        thread.start()
        # also runs at interpreter exit (atexit), without keeping this object alive
        self._finalizer = weakref.finalize(self, _shutdown, self._queue, thread)

    def get_many(self, keys: Sequence[str], touch: bool = True) -> list[CachedAnswer | None]:
        """Queued answers from memory (respecting their ttl), the rest from the inner store;
        the hits' access times are queued, not written here."""
        now = time.time()
        queued = self._queue.lookup(keys)
        rest = [key for key in keys if key not in queued]
        stored = dict(zip(rest, self.inner.get_many(rest, touch=False), strict=True))
        answers = [
            (queued[key].answer if queued[key].live(now) else None)
            if key in queued
            else stored[key]
            for key in keys
        ]
        if touch:
            hits = [key for key, answer in zip(keys, answers, strict=True) if answer is not None]
            if hits:
                self._queue.touch(hits, now)
        return answers

    def put(self, key: str, answer: CachedAnswer, ttl: float | None) -> None:
        """Queue an answer (its ttl counts from now); blocks only when the queue is full."""
        self._queue.add(put=AnswerWrite.now(key, answer, ttl))

    def add_vector(self, scope: str, key: str, text: str, vector: np.ndarray) -> None:
        """Queue a question vector; it shows in :meth:`vectors` once written."""
        self._queue.add(vector=VectorWrite(scope, key, text, np.array(vector, copy=True)))

    def vectors(self, scope: str, after: str | None) -> list[StoredVector]:
        """The inner store's log (queued vectors appear once written: the semantic cache
        indexes its own vectors in memory as it adds them)."""
        return self.inner.vectors(scope, after)

    def count(self) -> int:
        """How many answers are stored, after writing what is queued."""
        self.flush()
        return self.inner.count()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued before this call is written (or failed to be);
        False when ``timeout`` seconds passed first."""
        return self._queue.wait_written(timeout)

    def close(self) -> None:
        """Write what is queued, stop the writer thread and close the inner store."""
        self._finalizer()
