"""The cache store in Redis, shared by every server process pointed at the same URL.

Answers are strings with Redis's own expiry (``PX``); a sorted set of last-access times per
namespace orders LRU eviction (the oldest beyond ``max_entries`` are popped after a write);
each scope's question vectors are a Redis stream, read from a cursor (the last entry id seen)
and trimmed, approximately (which Redis makes cheap), to ``max_entries``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from tunestudio.errors import ConfigError
from tunestudio.ops.cache_store import CachedAnswer, StoredVector, redacted


class RedisStore:
    """A cache in Redis, shared by every server process that points at the same URL.

    Answers are strings with Redis's own expiry; a sorted set of last-access times per
    namespace orders LRU eviction; each scope's vectors are a Redis stream, trimmed
    (approximately, which is cheap) to ``max_entries``.
    """

    def __init__(
        self, url: str, *, namespace: str, max_entries: int | None = None, prefix: str = "ts"
    ) -> None:
        import redis

        self.where = redacted(url)
        self.namespace = namespace
        self.max_entries = max_entries
        self._base = f"{prefix}:cache:{namespace}"
        try:
            # Any: redis-py annotates every command as returning "sync result | awaitable"
            self._redis: Any = redis.Redis.from_url(url, socket_timeout=5.0)
            self._redis.ping()
        except (redis.RedisError, ValueError) as exc:
            raise ConfigError(
                f"cannot reach the Redis cache: {exc}",
                where=self.where,
                hint="start redis-server or fix `url:` / TUNESTUDIO_CACHE_URL (redis://host:port/db)",
            ) from exc

    def get_many(self, keys: Sequence[str]) -> list[CachedAnswer | None]:
        if not keys:
            return []
        values: list[bytes | None] = self._redis.mget([self._answer(k) for k in keys])
        found = {key: value for key, value in zip(keys, values, strict=True) if value is not None}
        if found:
            now = time.time()
            self._redis.zadd(self._lru, {key: now for key in found})
        return [CachedAnswer.loads(found[key]) if key in found else None for key in keys]

    def put(self, key: str, answer: CachedAnswer, ttl: float | None) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(self._answer(key), answer.dumps(), px=max(1, int(ttl * 1000)) if ttl else None)
        pipe.zadd(self._lru, {key: time.time()})
        pipe.zcard(self._lru)
        size = int(pipe.execute()[-1])
        if self.max_entries is not None and size > self.max_entries:
            oldest = self._redis.zpopmin(self._lru, size - self.max_entries)
            if oldest:
                self._redis.delete(*(self._answer(member.decode()) for member, _ in oldest))

    def add_vector(self, scope: str, key: str, text: str, vector: np.ndarray) -> None:
        fields: dict[Any, Any] = {
            "key": key,
            "text": text,
            "vector": np.asarray(vector, dtype=np.float32).tobytes(),
        }
        self._redis.xadd(self._stream(scope), fields, maxlen=self.max_entries, approximate=True)

    def vectors(self, scope: str, after: str | None) -> list[StoredVector]:
        start = f"({after}" if after else "-"  # "(" = exclusive: entries after the cursor
        entries = self._redis.xrange(self._stream(scope), min=start, max="+")
        return [
            StoredVector(
                entry_id.decode(),
                fields[b"key"].decode(),
                fields[b"text"].decode(),
                np.frombuffer(fields[b"vector"], dtype=np.float32),
            )
            for entry_id, fields in entries
        ]

    def count(self) -> int:
        return int(self._redis.zcard(self._lru))

    def clear(self) -> None:
        """Delete every key of this namespace (tests and `cache clear` use it)."""
        names = list(self._redis.scan_iter(match=f"{self._base}:*", count=1000))
        if names:
            self._redis.delete(*names)

    def close(self) -> None:
        self._redis.close()

    @property
    def _lru(self) -> str:
        return f"{self._base}:lru"

    def _answer(self, key: str) -> str:
        return f"{self._base}:a:{key}"

    def _stream(self, scope: str) -> str:
        return f"{self._base}:v:{scope}"
