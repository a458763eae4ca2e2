"""The cache store in Redis, shared by every server process pointed at the same URL.

Answers are strings with Redis's own expiry (``PX``); a sorted set of last-access times per
namespace orders LRU eviction (the oldest beyond ``max_entries`` are popped after a write);
each scope's question vectors are a Redis stream, read from a cursor (the last entry id seen)
and trimmed, approximately (which Redis makes cheap), to ``max_entries``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tunestudio.errors import ConfigError
from tunestudio.ops.cache_store import (
    AnswerWrite,
    CachedAnswer,
    StoredVector,
    VectorWrite,
    redacted,
)


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

    def get_many(self, keys: Sequence[str], touch: bool = True) -> list[CachedAnswer | None]:
        if not keys:
            return []
        values: list[bytes | None] = self._redis.mget([self._answer(k) for k in keys])
        found = {key: value for key, value in zip(keys, values, strict=True) if value is not None}
        if touch and found:
            self.write_batch((), (), dict.fromkeys(found, time.time()))
        return [CachedAnswer.loads(found[key]) if key in found else None for key in keys]

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
        """Everything in one pipeline (one round trip); then, when new answers pushed the
        namespace over ``max_entries``, the least recently used are popped."""
        now = time.time()
        pipe = self._redis.pipeline(transaction=False)
        for put in puts:
            if not put.live(now):  # expired while queued: storing it would only cost a write
                continue
            px = max(1, int((put.expires - now) * 1000)) if put.expires is not None else None
            pipe.set(self._answer(put.key), put.answer.dumps(), px=px)
            pipe.zadd(self._lru, {put.key: put.at}, gt=True)
        for vector in vectors:
            fields: dict[Any, Any] = {
                "key": vector.key,
                "text": vector.text,
                "vector": vector.blob(),
            }
            pipe.xadd(self._stream(vector.scope), fields, maxlen=self.max_entries, approximate=True)
        if touches:  # xx: a touch must not bring back an answer evicted meanwhile
            pipe.zadd(self._lru, dict(touches), xx=True, gt=True)
        pipe.zcard(self._lru)
        size = int(pipe.execute()[-1])
        if puts and self.max_entries is not None and size > self.max_entries:
            oldest = self._redis.zpopmin(self._lru, size - self.max_entries)
            if oldest:
                self._redis.delete(*(self._answer(member.decode()) for member, _ in oldest))

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
