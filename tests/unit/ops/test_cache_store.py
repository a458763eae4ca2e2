"""The cache stores: SQLite shared by processes, Redis shared by servers (a real redis-server)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.unit.ops.cache_doubles import Recorder
from tests.unit.ops.redis_server import redis_url_fixture  # noqa: F401
from tunestudio.errors import ConfigError
from tunestudio.ops.cache import ExactCache
from tunestudio.ops.cache_redis import RedisStore
from tunestudio.ops.cache_store import CachedAnswer, SQLiteStore, open_store
from tunestudio.ops.cache_writer import WriteBehind
from tunestudio.types import Message

ASK = [Message("user", "결제가 두 번 됐어요. 환불되나요?")]

WRITER = """
import sys, numpy as np
from pathlib import Path
from tunestudio.ops.cache_store import CachedAnswer, SQLiteStore
store = SQLiteStore(Path(sys.argv[1]), namespace="exact", max_entries=None)
for i in range(int(sys.argv[3])):
    key = f"{sys.argv[2]}-{i}"
    store.put(key, CachedAnswer(f"답 {key}", 3, 4, "stop", "m", 0.0), None)
    store.add_vector("scope", key, key, np.full(4, i, dtype=np.float32))
"""


def answer(text: str) -> CachedAnswer:
    return CachedAnswer(text, 10, 5, "stop", "clova:HCX-005", time.time())


def test_answers_round_trip_with_logprobs(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "c.db", namespace="exact")
    stored = CachedAnswer("안녕하세요", 3, 2, "length", "tiny", 1.5, (-0.1, -2.0))
    store.put("k", stored, None)
    assert store.get_many(["missing", "k"]) == [None, stored]
    assert stored.to_result().logprobs == (-0.1, -2.0)


def test_two_processes_write_one_sqlite_file_at_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    store = SQLiteStore(path, namespace="exact")
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, "40"])
        for name in ("a", "b")
    ]
    for i in range(40):  # and this process writes too, while they do
        store.put(f"c-{i}", answer(f"c {i}"), None)
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    assert store.count() == 120
    assert store.get_many(["a-39", "b-0"])[0] == CachedAnswer("답 a-39", 3, 4, "stop", "m", 0.0)
    log = store.vectors("scope", None)
    assert len(log) == 80 and {v.key for v in log} >= {"a-0", "b-39"}
    assert [v.key for v in store.vectors("scope", log[-2].cursor)] == [log[-1].key]
    assert np.array_equal(next(v for v in log if v.key == "a-3").vector, np.full(4, 3.0))


def test_a_cache_file_that_cannot_be_opened_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(ConfigError, match="cannot open the cache file") as caught:
        SQLiteStore(tmp_path / "dir.db", namespace="exact")
    assert caught.value.where == str(tmp_path / "dir.db") and caught.value.hint


def test_only_redis_urls_are_accepted(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unsupported cache URL 'postgresql://\*\*\*@db/x'"):
        open_store(namespace="exact", home=tmp_path, url="postgresql://u:secret@db/x")
    store = open_store(namespace="exact", home=tmp_path)
    assert isinstance(store, WriteBehind) and isinstance(store.inner, SQLiteStore)
    store.close()
    assert (tmp_path / "cache.db").exists()


def test_an_unreachable_redis_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot reach the Redis cache") as caught:
        RedisStore("redis://:pw@127.0.0.1:1/0", namespace="exact")
    assert caught.value.where == "redis://***@127.0.0.1:1/0"


@pytest.fixture
def redis_store(redis_url: str) -> Iterator[tuple[str, str]]:
    """The URL and a namespace of its own for this test, deleted after."""
    namespace = f"t{uuid.uuid4().hex[:8]}"
    yield redis_url, namespace
    RedisStore(redis_url, namespace=namespace).clear()


def test_two_server_processes_share_answers_through_redis(
    redis_store: tuple[str, str],
) -> None:
    url, namespace = redis_store
    first_inner, second_inner = Recorder(), Recorder()
    first = ExactCache(first_inner, RedisStore(url, namespace=namespace))
    second = ExactCache(second_inner, RedisStore(url, namespace=namespace))
    stored = first.chat(ASK)
    assert second.chat(ASK) == stored and second_inner.calls == 0
    assert second.stats().hits == 1 and first.stats().misses == 1


def test_redis_expires_answers_itself(redis_store: tuple[str, str]) -> None:
    url, namespace = redis_store
    store = RedisStore(url, namespace=namespace)
    store.put("k", answer("곧 사라짐"), ttl=0.2)
    assert store.get_many(["k"])[0] is not None
    time.sleep(0.3)
    assert store.get_many(["k"]) == [None]


def test_redis_evicts_the_least_recently_used(redis_store: tuple[str, str]) -> None:
    url, namespace = redis_store
    store = RedisStore(url, namespace=namespace, max_entries=2)
    store.put("a", answer("a"), None)
    store.put("b", answer("b"), None)
    time.sleep(0.01)
    store.get_many(["a"])
    store.put("c", answer("c"), None)
    assert [x.content if x else None for x in store.get_many(["a", "b", "c"])] == ["a", None, "c"]
    assert store.count() == 2


def test_redis_vector_logs_are_read_from_a_cursor(redis_store: tuple[str, str]) -> None:
    url, namespace = redis_store
    writer, reader = (RedisStore(url, namespace=namespace) for _ in range(2))
    writer.add_vector("s", "k1", "첫 질문", np.array([1, 0], dtype=np.float32))
    [first] = reader.vectors("s", None)
    writer.add_vector("s", "k2", "둘째 질문", np.array([0, 1], dtype=np.float32))
    [second] = reader.vectors("s", first.cursor)
    assert (first.key, first.text, second.key) == ("k1", "첫 질문", "k2")
    assert np.array_equal(second.vector, [0, 1]) and reader.vectors("other", None) == []


def test_the_size_limit_counts_replaces_once_and_files_from_before_the_counter(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # a cache file as versions without cache_sizes wrote it
        conn.execute(
            "CREATE TABLE cache_entries (namespace TEXT NOT NULL, key TEXT NOT NULL,"
            " value TEXT NOT NULL, expires REAL, accessed REAL NOT NULL,"
            " PRIMARY KEY (namespace, key))"
        )
        rows = [("exact", f"k{i}", answer(f"{i}").dumps(), None, float(i)) for i in range(5)]
        rows += [("semantic", f"s{i}", answer("s").dumps(), None, 0.0) for i in range(2)]
        conn.executemany("INSERT INTO cache_entries VALUES (?, ?, ?, ?, ?)", rows)
    conn.close()
    store = SQLiteStore(path, namespace="exact", max_entries=3)
    store.put("k0", answer("다시"), None)  # replaces k0 (now the newest): 5 answers, 2 too many
    assert [a.content if a else None for a in store.get_many([f"k{i}" for i in range(5)])] == [
        "다시",
        None,
        None,
        "3",
        "4",
    ]
    for _ in range(5):  # replacing an answer does not make the namespace look bigger
        store.put("k4", answer("또"), None)
    assert store.count() == 3 and store.get_many(["k3"])[0] is not None
    assert SQLiteStore(path, namespace="semantic").count() == 2  # another namespace, untouched
