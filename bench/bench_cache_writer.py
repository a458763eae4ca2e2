"""Write-behind: what a cache write costs the request, synchronous vs behind a writer thread.

    .venv/bin/python bench/bench_cache_writer.py [--entries 100000] [--calls 1500]

A SQLite cache file is filled with ``--entries`` answers and capped at that size
(``max_entries``), so every new answer also evicts one: the state of a full production cache.
Against that file, in this process, in alternating rounds (a busy spell hits every side), each
side puts ``--calls`` new answers and then reads each of them back (a hit):

* before — the store as it was: ``put`` a transaction on the request path whose eviction read
  every key beyond the limit (``ORDER BY accessed DESC LIMIT -1 OFFSET max_entries``), and a
  hit's read writing the access time;
* synchronous — today's ``SQLiteStore`` on its own: eviction through the LRU index and the
  trigger-kept size, still on the request path;
* write-behind — the same store behind ``WriteBehind`` (what ``open_store`` returns): the
  request only queues; the writer thread writes batches. Its hits are timed after a flush, so
  they read SQLite, not the queue.

Goal (issue "The LLMOps layer"): gateway overhead <= 1 ms p50 on a miss; the cache's writes
were ~0.5 ms of it. No assertions: the numbers go to docs/ops/caching.md.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from tunestudio.ops.cache_store import AnswerWrite, CachedAnswer, CacheStore, SQLiteStore
from tunestudio.ops.cache_writer import WriteBehind

ANSWER = CachedAnswer("환불은 영업일 기준 3일 안에 처리됩니다. " * 4, 40, 30, "stop", "m", 0.0)


class BeforeStore(SQLiteStore):
    """The eviction ``SQLiteStore`` had before write-behind: every key beyond the limit read."""

    def _evict(self, conn: sqlite3.Connection, now: float) -> None:
        ns = self.namespace
        expired = conn.execute(
            "SELECT key FROM cache_entries WHERE namespace = ? AND expires <= ?", (ns, now)
        ).fetchall()
        over = conn.execute(
            "SELECT key FROM cache_entries WHERE namespace = ?"
            " ORDER BY accessed DESC LIMIT -1 OFFSET ?",
            (ns, self.max_entries),
        ).fetchall()
        self._delete(conn, [key for (key,) in expired + over])


def fill(path: Path, entries: int) -> None:
    """``entries`` answers, written in big batches (the setup, not what is measured)."""
    store = SQLiteStore(path, namespace="exact")
    for start in range(0, entries, 5000):
        now = time.time()
        count = min(5000, entries - start)
        store.write_batch(
            [AnswerWrite(f"seed-{start + i}", ANSWER, None, now) for i in range(count)], (), {}
        )
    store.close()


def timed_round(store: CacheStore, offset: int, count: int) -> tuple[list[float], list[float]]:
    """Seconds per ``put`` of ``count`` new answers, then per hit on each of them."""
    puts, hits = [], []
    for i in range(offset, offset + count):
        start = time.perf_counter()
        store.put(f"new-{i}", ANSWER, None)
        puts.append(time.perf_counter() - start)
    if isinstance(store, WriteBehind):
        store.flush()  # hits on written answers, not on the queue
    for i in range(offset, offset + count):
        start = time.perf_counter()
        store.get_many([f"new-{i}"])
        hits.append(time.perf_counter() - start)
    return puts, hits


def ms(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=1500, help="timed puts (and hits) per side")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cache.db"
        fill(path, args.entries)
        cap = args.entries
        behind = WriteBehind(SQLiteStore(path, namespace="exact", max_entries=cap))
        sides: dict[str, CacheStore] = {
            "before": BeforeStore(path, namespace="exact", max_entries=cap),
            "synchronous": SQLiteStore(path, namespace="exact", max_entries=cap),
            "write-behind": behind,
        }
        puts: dict[str, list[float]] = {name: [] for name in sides}
        hits: dict[str, list[float]] = {name: [] for name in sides}
        per_round = args.calls // args.rounds
        for r in range(args.rounds):
            for n, (name, store) in enumerate(sides.items()):
                offset = (r * len(sides) + n) * per_round
                round_puts, round_hits = timed_round(store, offset, per_round)
                puts[name] += round_puts
                hits[name] += round_hits
        count = behind.count()
        for store in sides.values():
            store.close()
    report(args, puts, hits, count)


def report(
    args: argparse.Namespace,
    puts: dict[str, list[float]],
    hits: dict[str, list[float]],
    count: int,
) -> None:
    print(
        f"SQLite cache of {args.entries} answers (max_entries {args.entries}), {args.calls} calls"
    )
    print(f"{'':16}{'put p50':>9}{'put p95':>9}{'hit p50':>9}{'hit p95':>9}   (ms)")
    for name in puts:
        print(
            f"{name:16}{ms(puts[name], 50):9.3f}{ms(puts[name], 95):9.3f}"
            f"{ms(hits[name], 50):9.3f}{ms(hits[name], 95):9.3f}"
        )
    for base in ("before", "synchronous"):
        print(
            f"write-behind / {base}: put p50 {ms(puts['write-behind'], 50) / ms(puts[base], 50):.4f},"
            f" hit p50 {ms(hits['write-behind'], 50) / ms(hits[base], 50):.3f}"
        )
    print("goal: gateway overhead <= 1 ms p50 on a miss (the cache's write was ~0.5 ms of it)")
    print(f"answers after the run: {count} (max_entries {args.entries})")


if __name__ == "__main__":
    main()
