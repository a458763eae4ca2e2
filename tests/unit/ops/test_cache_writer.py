"""Write-behind: cache writes leave the request path, batched, and the caches stay correct."""

from __future__ import annotations

import gc
import logging
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest

from tests.unit.ops.cache_doubles import Recorder
from tests.unit.ops.redis_server import redis_url_fixture  # noqa: F401
from tunestudio.ops.cache import ExactCache
from tunestudio.ops.cache_redis import RedisStore
from tunestudio.ops.cache_store import AnswerWrite, CachedAnswer, SQLiteStore, VectorWrite
from tunestudio.ops.cache_writer import WriteBehind
from tunestudio.types import Message

READER = """
import sys
from pathlib import Path
from tunestudio.ops.cache_store import SQLiteStore
store = SQLiteStore(Path(sys.argv[1]), namespace="exact")
print(store.get_many([sys.argv[2]], touch=False)[0].content)
"""

FORGETFUL = """
import sys, time
from pathlib import Path
from tunestudio.ops.cache_store import CachedAnswer, SQLiteStore
from tunestudio.ops.cache_writer import WriteBehind
class Slow(SQLiteStore):  # a slow disk: the puts are still queued when the script ends
    def write_batch(self, *args):
        time.sleep(0.2)
        super().write_batch(*args)
store = WriteBehind(Slow(Path(sys.argv[1]), namespace="exact"))
for i in range(50):
    store.put(f"k{i}", CachedAnswer(f"답 {i}", 1, 1, "stop", "m", 0.0), None)
# no close(): the interpreter's exit must write them
"""


def answer(text: str) -> CachedAnswer:
    return CachedAnswer(text, 10, 5, "stop", "clova:HCX-005", time.time())


class GatedStore(SQLiteStore):
    """A real SQLiteStore whose writes wait for ``gate`` and are logged (puts, vectors,
    touches per call), so a test decides when the writer may write."""

    def __init__(self, path: Path, **options: int | None) -> None:
        super().__init__(path, namespace="exact", max_entries=options.get("max_entries"))
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.calls: list[tuple[int, int, int]] = []

    def write_batch(
        self,
        puts: Sequence[AnswerWrite],
        vectors: Sequence[VectorWrite],
        touches: Mapping[str, float],
    ) -> None:
        self.entered.set()
        assert self.gate.wait(30)
        super().write_batch(puts, vectors, touches)
        self.calls.append((len(puts), len(vectors), len(touches)))  # once committed


class BrokenStore(SQLiteStore):
    """A real SQLiteStore whose every write fails as a full disk would."""

    def write_batch(
        self,
        puts: Sequence[AnswerWrite],
        vectors: Sequence[VectorWrite],
        touches: Mapping[str, float],
    ) -> None:
        raise sqlite3.OperationalError("database or disk is full")


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[tuple[WriteBehind, GatedStore]]:
    inner = GatedStore(tmp_path / "c.db")
    store = WriteBehind(inner)
    yield store, inner
    inner.gate.set()
    store.close()


def contents(store: SQLiteStore | RedisStore, keys: list[str]) -> list[str | None]:
    return [a.content if a else None for a in store.get_many(keys, touch=False)]


def test_a_put_is_readable_at_once_and_written_by_the_flush(
    gated: tuple[WriteBehind, GatedStore], tmp_path: Path
) -> None:
    store, inner = gated
    inner.gate.clear()  # the writer may not write yet
    store.put("k", answer("환불은 3일 안에 됩니다"), None)
    other = SQLiteStore(tmp_path / "c.db", namespace="exact")
    assert store.get_many(["k", "x"])[0] == store.get_many(["k"])[0] is not None
    assert contents(other, ["k"]) == [None]  # not written: the put did not wait for SQLite
    inner.gate.set()
    assert store.flush(timeout=30)
    assert contents(other, ["k"]) == ["환불은 3일 안에 됩니다"]
    process = subprocess.run(
        [sys.executable, "-c", READER, str(tmp_path / "c.db"), "k"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert process.stdout.strip() == "환불은 3일 안에 됩니다"


def test_puts_from_many_threads_are_written_in_few_batches(
    gated: tuple[WriteBehind, GatedStore],
) -> None:
    store, inner = gated
    inner.gate.clear()

    def put_fifty(name: str) -> None:
        for i in range(50):
            store.put(f"{name}-{i}", answer(f"{name} {i}"), None)

    threads = [threading.Thread(target=put_fifty, args=(f"t{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    inner.gate.set()
    assert store.count() == 400
    assert len(inner.calls) <= 2 and sum(puts for puts, _, _ in inner.calls) == 400


def test_hits_queue_their_access_time_and_eviction_follows_it(tmp_path: Path) -> None:
    inner = GatedStore(tmp_path / "c.db", max_entries=2)
    store = WriteBehind(inner)
    store.put("a", answer("a"), None)
    time.sleep(0.002)
    store.put("b", answer("b"), None)
    time.sleep(0.002)
    assert store.get_many(["a"])[0] is not None  # a is now used more recently than b
    store.put("c", answer("c"), None)
    store.close()
    assert contents(inner, ["a", "b", "c"]) == ["a", None, "c"]
    assert any(touches == 1 for _, _, touches in inner.calls)  # the hit's touch, batched


def test_a_thousand_entries_are_cut_to_max_entries_oldest_first(tmp_path: Path) -> None:
    store = WriteBehind(SQLiteStore(tmp_path / "c.db", namespace="exact", max_entries=100))
    for i in range(1000):
        store.put(f"k{i}", answer(f"답 {i}"), None)
    assert store.count() == 100
    assert contents(store.inner, ["k0", "k999"]) == [None, "답 999"]  # type: ignore[arg-type]
    store.close()


def test_a_pending_answer_expires_with_its_ttl(gated: tuple[WriteBehind, GatedStore]) -> None:
    store, inner = gated
    inner.gate.clear()
    store.put("k", answer("곧 사라짐"), ttl=0.05)
    assert store.get_many(["k"])[0] is not None
    time.sleep(0.1)
    assert store.get_many(["k"]) == [None]  # still queued, but past its time to live
    inner.gate.set()
    assert store.count() == 0  # the writer's eviction removed the expired row


def test_a_full_queue_makes_put_wait_instead_of_dropping(tmp_path: Path) -> None:
    inner = GatedStore(tmp_path / "c.db")
    store = WriteBehind(inner, max_pending=2)
    inner.gate.clear()
    store.put("k0", answer("0"), None)
    assert inner.entered.wait(30)  # the writer holds k0; the queue is empty again
    store.put("k1", answer("1"), None)
    store.put("k2", answer("2"), None)
    blocked = threading.Thread(target=store.put, args=("k3", answer("3"), None))
    blocked.start()
    blocked.join(0.2)
    assert blocked.is_alive()  # the queue is full: the put waits for the writer
    inner.gate.set()
    blocked.join(30)
    assert store.count() == 4
    store.close()


def test_a_failing_write_is_counted_and_never_raises_into_the_request(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = WriteBehind(BrokenStore(tmp_path / "c.db", namespace="exact"))
    inner = Recorder()
    cache = ExactCache(inner, store)
    ask = [Message("user", "배송 조회는 어디서 하나요?")]
    with caplog.at_level(logging.WARNING, logger="tunestudio.ops.cache_writer"):
        first = cache.chat(ask)
        assert store.flush(timeout=30)
    assert cache.stats().errors == 1 and first.content.startswith("답: 배송")
    assert f"cache write failed ({tmp_path / 'c.db'}): database or disk is full" in caplog.text
    assert cache.chat(ask) != first and inner.calls == 2  # nothing was stored: asked again
    cache.close()


def test_close_writes_what_is_queued_and_stops_the_writer(tmp_path: Path) -> None:
    inner = GatedStore(tmp_path / "c.db")
    store = WriteBehind(inner)
    inner.gate.clear()
    store.put("k", answer("마지막 답"), None)
    store.add_vector("s", "k", "마지막 질문", np.array([0.6, 0.8], dtype=np.float32))
    threading.Timer(0.05, inner.gate.set).start()
    store.close()
    assert not [t for t in threading.enumerate() if t.name == f"cache-writer {inner.where}"]
    reader = SQLiteStore(tmp_path / "c.db", namespace="exact")
    assert contents(reader, ["k"]) == ["마지막 답"]
    [vector] = reader.vectors("s", None)
    assert vector.text == "마지막 질문" and np.allclose(vector.vector, [0.6, 0.8])


def test_a_forgotten_store_is_written_when_collected_or_at_exit(tmp_path: Path) -> None:
    store = WriteBehind(SQLiteStore(tmp_path / "c.db", namespace="exact"))
    store.put("k", answer("버려진 답"), None)
    gone = weakref.ref(store)
    del store
    gc.collect()
    assert gone() is None  # the writer thread does not keep it alive
    assert contents(SQLiteStore(tmp_path / "c.db", namespace="exact"), ["k"]) == ["버려진 답"]
    path = tmp_path / "exit.db"
    subprocess.run([sys.executable, "-c", FORGETFUL, str(path)], timeout=120, check=True)
    assert SQLiteStore(path, namespace="exact").count() == 50


@pytest.fixture
def redis_store(redis_url: str) -> Iterator[tuple[str, str]]:
    """The URL and a namespace of its own for this test, deleted after."""
    namespace = f"w{uuid.uuid4().hex[:8]}"
    yield redis_url, namespace
    RedisStore(redis_url, namespace=namespace).clear()


def test_the_same_through_redis(redis_store: tuple[str, str]) -> None:
    url, namespace = redis_store
    store = WriteBehind(RedisStore(url, namespace=namespace, max_entries=2))
    other = RedisStore(url, namespace=namespace)
    store.put("a", answer("a"), None)
    assert store.get_many(["a"])[0] is not None
    store.put("b", answer("b"), ttl=60)
    time.sleep(0.002)
    store.get_many(["a"])  # a used after b
    store.put("c", answer("c"), None)
    store.add_vector("s", "c", "질문 c", np.array([1, 0], dtype=np.float32))
    assert store.flush(timeout=30)
    assert contents(other, ["a", "b", "c"]) == ["a", None, "c"]
    assert [v.key for v in other.vectors("s", None)] == ["c"] and other.count() == 2
    store.close()


def test_hits_do_not_wake_the_writer_until_an_answer_a_flush_or_the_delay(
    gated: tuple[WriteBehind, GatedStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, inner = gated
    store.put("k", answer("답"), None)
    assert store.flush(timeout=30) and inner.calls == [(1, 0, 0)]
    for _ in range(5):
        assert store.get_many(["k"])[0] is not None
    time.sleep(0.05)
    assert inner.calls == [(1, 0, 0)]  # five hits, no write yet
    assert store.flush(timeout=30) and inner.calls == [(1, 0, 0), (0, 0, 1)]
    (accessed,) = inner._conn().execute("SELECT accessed FROM cache_entries").fetchone()
    monkeypatch.setattr("tunestudio.ops.cache_writer.TOUCH_DELAY", 0.0)
    store.get_many(["k"])  # the oldest waiting touch is "old enough": this one goes out
    deadline = time.monotonic() + 30
    while len(inner.calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert inner.calls[2] == (0, 0, 1)
    (later,) = inner._conn().execute("SELECT accessed FROM cache_entries").fetchone()
    assert later > accessed
