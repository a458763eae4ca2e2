"""Caches in a pipeline file around a real local model: hits, the ledger, Redis by env."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.inference.local_models import llama_dir_fixture  # noqa: F401
from tests.unit.ops.cascade_doubles import ledger_rows
from tests.unit.ops.redis_server import redis_url_fixture  # noqa: F401
from tunestudio.errors import ConfigError
from tunestudio.models import load_backend
from tunestudio.ops.cache import ExactCache
from tunestudio.ops.cache_redis import RedisStore
from tunestudio.ops.cache_store import SQLiteStore
from tunestudio.ops.cache_writer import WriteBehind
from tunestudio.ops.ledger import CALL, EXACT_HIT, SEMANTIC_HIT
from tunestudio.ops.pipeline import Pipeline
from tunestudio.types import GenParams, Message

ASK = [Message("system", "분류하세요."), Message("user", "배송 조회는 어디서 하나요?")]


def gateway(tmp_path: Path, llama_dir: Path, options: str = "{ttl: 3600}") -> Pipeline:
    spec = tmp_path / "gateway.yaml"
    spec.write_text(
        f"name: gw\nmodel: hf:{llama_dir}\n"
        f"prices:\n  hf:{llama_dir}: {{input_per_1k: 2.0, output_per_1k: 10.0}}\n"
        f"pipeline:\n  - exact_cache: {options}\n",
        encoding="utf-8",
    )
    backend = load_backend(f"pipeline:{spec}")
    assert isinstance(backend, Pipeline)
    return backend


def test_a_pipeline_answers_a_repeated_call_from_the_cache(tmp_path: Path, llama_dir: Path) -> None:
    backend = gateway(tmp_path, llama_dir)
    cache = backend.inner
    assert isinstance(cache, ExactCache) and isinstance(cache.store, WriteBehind)
    assert isinstance(cache.store.inner, SQLiteStore)  # writes go behind the requests
    params = GenParams(max_tokens=6)
    first = backend.chat(ASK, params)
    assert backend.chat(ASK, params) == first
    assert backend.chat_batch([ASK, ASK], params) == [first, first]
    ledger = cache.ledger
    backend.close()
    assert ledger is not None
    rows = ledger_rows(ledger)
    assert [r.outcome for r in rows] == [CALL, EXACT_HIT, EXACT_HIT, EXACT_HIT]
    expected = (first.usage.input_tokens * 2.0 + first.usage.output_tokens * 10.0) / 1000
    assert rows[1].saved_cost == pytest.approx(expected) and rows[1].model == f"hf:{llama_dir}"
    assert rows[0].cost == pytest.approx(expected)


def test_the_cache_file_defaults_to_the_data_dir(
    tmp_path: Path, llama_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUNESTUDIO_HOME", str(tmp_path / "home"))
    store = gateway(tmp_path, llama_dir, "{}").inner.store  # type: ignore[attr-defined]
    assert store.inner.path == tmp_path / "home" / "cache.db"
    local = gateway(tmp_path, llama_dir, "{path: answers.db}").inner.store  # type: ignore[attr-defined]
    assert local.inner.path == tmp_path / "answers.db"  # relative to the pipeline file


def test_the_cache_url_in_the_environment_selects_redis(
    tmp_path: Path, llama_dir: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUNESTUDIO_CACHE_URL", redis_url)
    one, two = gateway(tmp_path, llama_dir), gateway(tmp_path, llama_dir)
    assert isinstance(one.inner, ExactCache) and isinstance(one.inner.store, WriteBehind)
    assert isinstance(one.inner.store.inner, RedisStore)
    params = GenParams(max_tokens=5, seed=11)
    answer = one.chat(ASK, params)
    one.inner.store.flush()  # another server sees an answer once it is written
    assert two.chat(ASK, params) == answer
    assert isinstance(two.inner, ExactCache) and two.inner.stats().hits == 1
    one.inner.store.inner.clear()
    one.close()
    two.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("{ttl: -1}", "ttl: Input should be greater than 0"),
        ("{max_entries: 0}", "max_entries: Input should be greater than or equal to 1"),
        ("{size: 10}", "size: Extra inputs are not permitted"),
        ("{url: 'http://cache:6379'}", "unsupported cache URL 'http://cache:6379'"),
    ],
)
def test_bad_options_name_the_stage(
    tmp_path: Path, llama_dir: Path, options: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        gateway(tmp_path, llama_dir, options)
    assert caught.value.where is not None
    assert caught.value.where.startswith(f"{tmp_path / 'gateway.yaml'}, pipeline[0] (exact_cache)")


def test_both_caches_in_a_pipeline(tmp_path: Path, llama_dir: Path) -> None:
    backend = gateway(tmp_path, llama_dir, "{}\n  - semantic_cache: {threshold: 0.3}")
    params = GenParams(max_tokens=4)
    first = backend.chat([Message("user", "카페인 있는 음료 추천해 주세요")], params)
    again = backend.chat([Message("user", "잠 깨게 카페인 있는 음료 좀 추천해줘")], params)
    negated = backend.chat([Message("user", "카페인 없는 음료 추천해 주세요")], params)
    ledger = backend.context.ledger
    backend.close()
    outcomes = [r.outcome for r in ledger_rows(ledger)]
    assert again == first and outcomes == [CALL, SEMANTIC_HIT, CALL]
    assert negated.usage.input_tokens > 0
