"""Per-key rate limits: one token bucket per key, in this process's memory.

A key allowed N requests per minute holds up to N tokens (so a full minute's worth may come
in one burst) and regains N/60 tokens per second. The buckets live in memory, per server
process: several ``serve`` processes behind a balancer each allow N per minute, and a restart
refills every bucket. That is the usual trade-off of single-node servers; a shared limit would
need the store on every request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Token buckets keyed by key id; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key_id: str, per_minute: int) -> float | None:
        """Spend one request of ``key_id``: None when allowed, else seconds until one is free.

        ``per_minute`` 0 (or less) means no limit.
        """
        if per_minute <= 0:
            return None
        rate = per_minute / 60.0
        now = self._clock()
        with self._lock:
            bucket = self._buckets.setdefault(key_id, _Bucket(float(per_minute), now))
            bucket.tokens = min(float(per_minute), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return (1.0 - bucket.tokens) / rate

    def forget(self, key_id: str) -> None:
        """Drop a key's bucket (after it is revoked)."""
        with self._lock:
            self._buckets.pop(key_id, None)
