"""Where the caches keep their answers: SQLite on one machine (here), Redis for several
servers (:mod:`tunestudio.ops.cache_redis`).

A :class:`CacheStore` holds answers by key (with an optional time to live and a least-recently
used size limit) and, for the semantic cache, an append-only log of question vectors per
*scope*, which every process reads from its own cursor so that an answer stored by one server
process becomes visible to the others.

SQLite is used through the standard library's ``sqlite3`` rather than the SQLAlchemy store:
an exact-cache hit is a single indexed read, and the ORM's session machinery would cost more
than the lookup itself. WAL mode lets readers in several processes proceed while one writes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from tunestudio.errors import ConfigError
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


class CacheStore(Protocol):
    """Answers by key plus per-scope vector logs; one namespace (exact/semantic) each."""

    where: str  # shown in error messages and stats: the file or URL

    def get_many(self, keys: Sequence[str]) -> list[CachedAnswer | None]:
        """The live answers for ``keys`` (None where missing or expired); marks them used."""
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


_SCHEMA = """
CREATE TABLE IF NOT EXISTS cache_entries (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    expires REAL,
    accessed REAL NOT NULL,
    PRIMARY KEY (namespace, key)
);
CREATE INDEX IF NOT EXISTS cache_entries_lru ON cache_entries (namespace, accessed);
CREATE INDEX IF NOT EXISTS cache_entries_expiry ON cache_entries (namespace, expires);
CREATE TABLE IF NOT EXISTS cache_vectors (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL,
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS cache_vectors_scope ON cache_vectors (namespace, scope, seq);
CREATE INDEX IF NOT EXISTS cache_vectors_key ON cache_vectors (namespace, key);
"""


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
            self._conn().executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"cannot open the cache file: {exc}",
                where=self.where,
                hint="check that the directory exists and is writable, or set `path:`",
            ) from exc

    def get_many(self, keys: Sequence[str]) -> list[CachedAnswer | None]:
        found: dict[str, CachedAnswer] = {}
        for start in range(0, len(keys), 500):  # SQLite caps the parameters of one statement
            found.update(self._get_chunk(keys[start : start + 500]))
        return [found.get(key) for key in keys]

    def _get_chunk(self, keys: Sequence[str]) -> dict[str, CachedAnswer]:
        now = time.time()
        marks = ",".join("?" * len(keys))
        rows = self._conn().execute(
            f"SELECT key, value FROM cache_entries WHERE namespace = ? AND key IN ({marks})"
            " AND (expires IS NULL OR expires > ?)",
            (self.namespace, *keys, now),
        )
        found = {key: CachedAnswer.loads(value) for key, value in rows}
        if found:  # the access time is what LRU eviction orders by
            self._conn().executemany(
                "UPDATE cache_entries SET accessed = ? WHERE namespace = ? AND key = ?",
                [(now, self.namespace, key) for key in found],
            )
        return found

    def put(self, key: str, answer: CachedAnswer, ttl: float | None) -> None:
        now = time.time()
        conn = self._conn()
        with _transaction(conn):
            conn.execute(
                "INSERT OR REPLACE INTO cache_entries VALUES (?, ?, ?, ?, ?)",
                (self.namespace, key, answer.dumps(), now + ttl if ttl else None, now),
            )
            self._evict(conn, now)

    def add_vector(self, scope: str, key: str, text: str, vector: np.ndarray) -> None:
        blob = np.asarray(vector, dtype=np.float32).tobytes()
        with _transaction(conn := self._conn()):
            conn.execute(
                "INSERT INTO cache_vectors (namespace, scope, key, text, vector)"
                " VALUES (?, ?, ?, ?, ?)",
                (self.namespace, scope, key, text, blob),
            )

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
        """Drop expired answers and, beyond ``max_entries``, the least recently used."""
        expired = conn.execute(
            "SELECT key FROM cache_entries WHERE namespace = ? AND expires <= ?",
            (self.namespace, now),
        ).fetchall()
        over: list[tuple[str]] = []
        if self.max_entries is not None:
            over = conn.execute(
                "SELECT key FROM cache_entries WHERE namespace = ?"
                " ORDER BY accessed DESC LIMIT -1 OFFSET ?",
                (self.namespace, self.max_entries),
            ).fetchall()
        gone = [(self.namespace, key) for (key,) in expired + over]
        if gone:
            conn.executemany("DELETE FROM cache_entries WHERE namespace = ? AND key = ?", gone)
            conn.executemany("DELETE FROM cache_vectors WHERE namespace = ? AND key = ?", gone)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # autocommit (isolation_level=None): a read is one statement, writes use BEGIN
            conn = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints
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
    """Redis when ``url`` is given, else SQLite at ``path`` (default ``home/cache.db``)."""
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
