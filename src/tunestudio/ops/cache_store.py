"""Where the caches keep their answers: SQLite on one machine (here), Redis for several
servers (:mod:`tunestudio.ops.cache_redis`).

A :class:`CacheStore` holds answers by key (with an optional time to live and a least-recently
used size limit) and, for the semantic cache, an append-only log of question vectors per
*scope*, which every process reads from its own cursor so that an answer stored by one server
process becomes visible to the others.

SQLite is used through the standard library's ``sqlite3`` rather than the SQLAlchemy store:
an exact-cache hit is a single indexed read, and the ORM's session machinery would cost more
than the lookup itself. WAL mode lets readers in several processes proceed while one writes.

:func:`open_store` returns the store behind a :class:`~tunestudio.ops.cache_writer.WriteBehind`,
so the caches' writes are batched on a background thread; the stores themselves stay
synchronous (``put`` is a ``write_batch`` of one) for code that wants that.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from tunestudio.errors import ConfigError
from tunestudio.ops.cache_schema import SCHEMA
from tunestudio.types import ChatResult, Usage

# Only complete, ordinary answers are worth replaying; an error or a filtered answer is not.
CACHEABLE_FINISH = frozenset({"stop", "length"})


@dataclass(frozen=True)
class CachedAnswer:
    """One stored answer: what the model said, what it cost, and when."""

    content: str
    input_tokens: int
    output_tokens: int
    finish_reason: str
    model: str
    created: float
    logprobs: tuple[float, ...] | None = None

    @classmethod
    def from_result(cls, result: ChatResult, model: str) -> CachedAnswer:
        """The answer to store for ``result`` (``model`` when the result names none)."""
        return cls(
            content=result.content,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            finish_reason=result.finish_reason,
            model=result.model or model,
            created=time.time(),
            logprobs=result.logprobs,
        )

    @property
    def usage(self) -> Usage:
        return Usage(self.input_tokens, self.output_tokens)

    def to_result(self) -> ChatResult:
        return ChatResult(self.content, self.usage, self.finish_reason, self.model, self.logprobs)

    def dumps(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def loads(cls, text: str | bytes) -> CachedAnswer:
        data = json.loads(text)
        if data.get("logprobs") is not None:
            data["logprobs"] = tuple(data["logprobs"])
        return cls(**data)


@dataclass(frozen=True)
class StoredVector:
    """One entry of a scope's vector log: the question, its vector and its answer's key."""

    cursor: str  # position in the log; read on from here with CacheStore.vectors
    key: str
    text: str
    vector: np.ndarray


@dataclass(frozen=True)
class AnswerWrite:
    """An answer to store: written at ``at`` (its first access time), live until ``expires``."""

    key: str
    answer: CachedAnswer
    expires: float | None  # time.time() after which it is gone; None = no time to live
    at: float

    @classmethod
    def now(cls, key: str, answer: CachedAnswer, ttl: float | None) -> AnswerWrite:
        """The write of ``answer`` made now, with ``ttl`` seconds to live (None: no limit)."""
        at = time.time()
        return cls(key, answer, at + ttl if ttl else None, at)

    def live(self, now: float) -> bool:
        return self.expires is None or self.expires > now


@dataclass(frozen=True)
class VectorWrite:
    """A question vector to append to ``scope``'s log."""

    scope: str
    key: str
    text: str
    vector: np.ndarray

    def blob(self) -> bytes:
        return np.asarray(self.vector, dtype=np.float32).tobytes()


class CacheStore(Protocol):
    """Answers by key plus per-scope vector logs; one namespace (exact/semantic) each."""

    where: str  # shown in error messages and stats: the file or URL

    def get_many(self, keys: Sequence[str], touch: bool = True) -> list[CachedAnswer | None]:
        """The live answers for ``keys`` (None where missing or expired); with ``touch``,
        marks them used (their LRU access time)."""
        ...

    def put(self, key: str, answer: CachedAnswer, ttl: float | None) -> None:
        """Store an answer, then evict the least recently used beyond the size limit."""
        ...

    def add_vector(self, scope: str, key: str, text: str, vector: np.ndarray) -> None:
        """Append a question vector to ``scope``'s log."""
        ...

    def vectors(self, scope: str, after: str | None) -> list[StoredVector]:
        """The entries of ``scope``'s log after cursor ``after`` (all when None), oldest first."""
        ...

    def count(self) -> int:
        """How many answers are stored in this namespace."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class BatchStore(CacheStore, Protocol):
    """A store that writes many changes at once (what :class:`~.cache_writer.WriteBehind`
    wraps)."""

    def write_batch(
        self,
        puts: Sequence[AnswerWrite],
        vectors: Sequence[VectorWrite],
        touches: Mapping[str, float],
    ) -> None:
        """Store ``puts``, append ``vectors`` and set the access time of ``touches`` (key ->
        time) together, then evict what expired and the least recently used beyond the limit."""
        ...


class SQLiteStore:
    """A cache in one SQLite file (WAL), shared by the threads and processes that open it.

    Each thread gets its own connection (sqlite3 connections must not be shared between
    threads); writes are short transactions, and ``busy_timeout`` makes a writer wait for
    another process instead of failing.
    """

    def __init__(self, path: Path, *, namespace: str, max_entries: int | None = None) -> None:
        self.path = path
        self.where = str(path)
        self.namespace = namespace
        self.max_entries = max_entries
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn().executescript(f"BEGIN IMMEDIATE;{SCHEMA}COMMIT;")  # one at a time
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"cannot open the cache file: {exc}",
                where=self.where,
                hint="check that the directory exists and is writable, or set `path:`",
            ) from exc

    def get_many(self, keys: Sequence[str], touch: bool = True) -> list[CachedAnswer | None]:
        found: dict[str, CachedAnswer] = {}
        for start in range(0, len(keys), 500):  # SQLite caps the parameters of one statement
            found.update(self._get_chunk(keys[start : start + 500]))
        if touch and found:  # the access time is what LRU eviction orders by
            now = time.time()
            self.write_batch((), (), dict.fromkeys(found, now))
        return [found.get(key) for key in keys]

    def _get_chunk(self, keys: Sequence[str]) -> dict[str, CachedAnswer]:
        marks = ",".join("?" * len(keys))
        rows = self._conn().execute(
            f"SELECT key, value FROM cache_entries WHERE namespace = ? AND key IN ({marks})"
            " AND (expires IS NULL OR expires > ?)",
            (self.namespace, *keys, time.time()),
        )
        return {key: CachedAnswer.loads(value) for key, value in rows}

    def put(self, key: str, answer: CachedAnswer, ttl: float | None) -> None:
        self.write_batch([AnswerWrite.now(key, answer, ttl)], (), {})

    def add_vector(self, scope: str, key: str, text: str, vector: np.ndarray) -> None:
        self.write_batch((), [VectorWrite(scope, key, text, vector)], {})

    def write_batch(
        self,
        puts: Sequence[AnswerWrite],
        vectors: Sequence[VectorWrite],
        touches: Mapping[str, float],
    ) -> None:
        """Everything in one ``BEGIN IMMEDIATE`` transaction; eviction follows new answers."""
        ns = self.namespace
        with _transaction(conn := self._conn()):
            conn.executemany(
                "INSERT OR REPLACE INTO cache_entries VALUES (?, ?, ?, ?, ?)",
                [(ns, p.key, p.answer.dumps(), p.expires, p.at) for p in puts],
            )
            conn.executemany(
                "INSERT INTO cache_vectors (namespace, scope, key, text, vector)"
                " VALUES (?, ?, ?, ?, ?)",
                [(ns, v.scope, v.key, v.text, v.blob()) for v in vectors],
            )
            # MAX: a touch queued before a newer put of the same key must not age it
            conn.executemany(
                "UPDATE cache_entries SET accessed = MAX(accessed, ?)"
                " WHERE namespace = ? AND key = ?",
                [(at, ns, key) for key, at in touches.items()],
            )
            if puts:  # only new answers can push the namespace over its limit
                self._evict(conn, time.time())

    def vectors(self, scope: str, after: str | None) -> list[StoredVector]:
        rows = self._conn().execute(
            "SELECT seq, key, text, vector FROM cache_vectors"
            " WHERE namespace = ? AND scope = ? AND seq > ? ORDER BY seq",
            (self.namespace, scope, int(after or 0)),
        )
        return [
            StoredVector(str(seq), key, text, np.frombuffer(blob, dtype=np.float32))
            for seq, key, text, blob in rows
        ]

    def count(self) -> int:
        row = self._conn().execute(
            "SELECT COUNT(*) FROM cache_entries WHERE namespace = ?", (self.namespace,)
        )
        return int(row.fetchone()[0])

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    def _evict(self, conn: sqlite3.Connection, now: float) -> None:
        """Drop expired answers and, beyond ``max_entries``, the least recently used.

        Both go through an index (expiry, LRU) and the size comes from ``cache_sizes``, so a
        write costs O(k log n) for k evicted, not a scan of the namespace."""
        ns = self.namespace
        gone = conn.execute(
            "SELECT key FROM cache_entries WHERE namespace = ? AND expires <= ?", (ns, now)
        ).fetchall()
        self._delete(conn, [key for (key,) in gone])
        if self.max_entries is None:
            return
        row = conn.execute("SELECT entries FROM cache_sizes WHERE namespace = ?", (ns,)).fetchone()
        over = (row[0] if row else 0) - self.max_entries
        if over > 0:
            oldest = conn.execute(
                "SELECT key FROM cache_entries WHERE namespace = ? ORDER BY accessed LIMIT ?",
                (ns, over),
            ).fetchall()
            self._delete(conn, [key for (key,) in oldest])

    def _delete(self, conn: sqlite3.Connection, keys: list[str]) -> None:
        """Delete answers and their question vectors."""
        rows = [(self.namespace, key) for key in keys]
        conn.executemany("DELETE FROM cache_entries WHERE namespace = ? AND key = ?", rows)
        conn.executemany("DELETE FROM cache_vectors WHERE namespace = ? AND key = ?", rows)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # autocommit (isolation_level=None): a read is one statement, writes use BEGIN
            conn = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints
            conn.execute("PRAGMA recursive_triggers=ON")  # see cache_sizes in SCHEMA
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn


class _transaction:
    """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error): take the write lock up front, so two
    processes evicting at once wait for each other instead of failing mid-transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind: object, *_: object) -> None:
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")


def open_store(
    *,
    namespace: str,
    home: Path,
    path: Path | None = None,
    url: str | None = None,
    max_entries: int | None = None,
) -> CacheStore:
    """Redis when ``url`` is given, else SQLite at ``path`` (default ``home/cache.db``),
    behind a :class:`~tunestudio.ops.cache_writer.WriteBehind` that takes the writes off the
    request path."""
    from tunestudio.ops.cache_writer import WriteBehind

    return WriteBehind(_open_inner(namespace, home, path, url, max_entries))


def _open_inner(
    namespace: str, home: Path, path: Path | None, url: str | None, max_entries: int | None
) -> BatchStore:
    if url:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(
                f"unsupported cache URL {redacted(url)!r}",
                hint="use redis://host:port/db (or leave it unset for SQLite under the data dir)",
            )
        from tunestudio.ops.cache_redis import RedisStore

        return RedisStore(url, namespace=namespace, max_entries=max_entries)
    return SQLiteStore(path or home / "cache.db", namespace=namespace, max_entries=max_entries)


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"
