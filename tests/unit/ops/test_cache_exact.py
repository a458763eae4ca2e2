"""The exact cache: what makes a key, TTL, LRU, batches, streams, the ledger and the stats."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest

from tests.unit.ops.cache_doubles import Recorder
from tests.unit.ops.cascade_doubles import ledger_rows
from tunestudio.ops.cache import CacheStats, ExactCache, exact_key
from tunestudio.ops.cache_store import SQLiteStore
from tunestudio.ops.ledger import EXACT_HIT, Ledger, Price, Prices
from tunestudio.types import GenParams, Message

SYSTEM = Message("system", "고객 문의를 분류하세요.")
ASK = [SYSTEM, Message("user", "결제가 두 번 됐어요. 환불되나요?")]
OTHER = [SYSTEM, Message("user", "배송 조회는 어디서 하나요?")]


def cache_over(
    inner: Recorder, tmp_path: Path, *, max_entries: int | None = None, **options: Any
) -> ExactCache:
    store = SQLiteStore(tmp_path / "cache.db", namespace="exact", max_entries=max_entries)
    return ExactCache(inner, store, **options)


# A changed value for every GenParams field: a new field without one here fails the test below.
CHANGED: dict[str, Any] = {
    "max_tokens": 64,
    "temperature": 0.7,
    "top_p": 0.9,
    "top_k": 40,
    "repetition_penalty": 1.1,
    "stop": ("\n",),
    "seed": 7,
    "logprobs": True,
}


def test_every_generation_parameter_is_part_of_the_key() -> None:
    base = exact_key("hf:base", GenParams(), ASK)
    assert {f.name for f in dataclasses.fields(GenParams)} == set(CHANGED)
    for name, value in CHANGED.items():
        assert exact_key("hf:base", GenParams(**{name: value}), ASK) != base, name
    assert exact_key("hf:base", GenParams(), list(ASK)) == base  # same content, same key


def test_model_adapter_and_each_message_are_part_of_the_key() -> None:
    base = exact_key("hf:base@./runs/a/adapter", GenParams(), ASK)
    assert exact_key("hf:base@./runs/b/adapter", GenParams(), ASK) != base
    assert exact_key("hf:base", GenParams(), ASK) != base
    for index in range(len(ASK)):
        changed = list(ASK)
        changed[index] = Message(ASK[index].role, ASK[index].content + " ")
        assert exact_key("hf:base@./runs/a/adapter", GenParams(), changed) != base
    as_assistant = [SYSTEM, Message("assistant", ASK[1].content)]
    assert exact_key("hf:base@./runs/a/adapter", GenParams(), as_assistant) != base


def test_a_repeated_call_is_answered_from_the_cache(tmp_path: Path) -> None:
    inner = Recorder()
    cache = cache_over(inner, tmp_path)
    first = cache.chat(ASK)
    again = cache.chat(ASK)
    assert again == first and inner.calls == 1
    assert cache.chat(ASK, GenParams(max_tokens=8)).content.endswith("#2")  # another key
    assert cache.chat(OTHER).content == "답: 배송 조회는 어디서 하나요? #3"
    stats = cache.stats()
    assert (stats.hits, stats.misses) == (1, 3)
    assert stats.tokens_saved == first.usage.total_tokens and stats.hit_rate == 0.25


def test_another_model_does_not_see_the_answers(tmp_path: Path) -> None:
    cache_over(Recorder("hf:base@./a"), tmp_path).chat(ASK)
    inner = Recorder("hf:base@./b")
    assert cache_over(inner, tmp_path).chat(ASK).content.endswith("#1") and inner.calls == 1


def test_answers_expire_after_the_ttl(tmp_path: Path) -> None:
    inner = Recorder()
    cache = cache_over(inner, tmp_path, ttl=0.3)
    cache.chat(ASK)
    cache.chat(ASK)
    assert inner.calls == 1
    time.sleep(0.35)
    assert cache.chat(ASK).content.endswith("#2")


def test_the_least_recently_used_answer_is_evicted(tmp_path: Path) -> None:
    inner = Recorder()
    cache = cache_over(inner, tmp_path, max_entries=2)
    a, b, c = ([Message("user", q)] for q in ("가", "나", "다"))
    cache.chat(a)
    cache.chat(b)
    time.sleep(0.01)  # access times must differ for the order to be defined
    cache.chat(a)  # a is now more recent than b
    cache.chat(c)  # evicts b
    assert cache.store.count() == 2
    calls = inner.calls
    cache.chat(a)
    cache.chat(c)
    assert inner.calls == calls
    cache.chat(b)
    assert inner.calls == calls + 1


def test_a_batch_sends_only_the_distinct_misses_in_one_call(tmp_path: Path) -> None:
    inner = Recorder()
    cache = cache_over(inner, tmp_path)
    cached = cache.chat(ASK)
    batch = [OTHER, ASK, [Message("user", "새 질문")], OTHER]
    results = cache.chat_batch(batch)
    assert inner.batches[1:] == [["배송 조회는 어디서 하나요?", "새 질문"]]
    assert results[1] == cached and results[0] == results[3]
    assert [r.content for r in results] == [
        "답: 배송 조회는 어디서 하나요? #2",
        cached.content,
        "답: 새 질문 #3",
        "답: 배송 조회는 어디서 하나요? #2",
    ]
    assert (cache.stats().hits, cache.stats().misses) == (1, 4)
    assert cache.chat_batch(batch) == results and inner.calls == 3


def test_streaming_stores_a_miss_and_replays_a_hit(tmp_path: Path) -> None:
    inner = Recorder()
    cache = cache_over(inner, tmp_path)
    chunks = list(cache.stream(ASK))
    assert len(chunks) == 2 and inner.streams == 1
    replayed = list(cache.stream(ASK))
    assert inner.streams == 1 and len(replayed) == 1
    [chunk] = replayed
    assert chunk.delta == "".join(c.delta for c in chunks)
    assert (chunk.finish_reason, chunk.usage) == ("stop", chunks[-1].usage)
    assert cache.chat(ASK).content == chunk.delta and inner.calls == 1


def test_an_abandoned_stream_stores_nothing(tmp_path: Path) -> None:
    inner = Recorder()
    cache = cache_over(inner, tmp_path)
    next(iter(cache.stream(ASK)))  # the client went away after the first piece
    cache.chat(ASK)
    assert inner.calls == 2


def test_sampled_calls_pass_through_unless_configured(tmp_path: Path) -> None:
    sampled = GenParams(temperature=0.8)
    inner = Recorder()
    cache = cache_over(inner, tmp_path)
    cache.chat(ASK, sampled)
    cache.chat(ASK, sampled)
    assert inner.calls == 2 and cache.stats().skipped == 2
    cache.chat(ASK, GenParams(temperature=0.8, seed=1))  # a seed makes it repeatable
    cache.chat(ASK, GenParams(temperature=0.8, seed=1))
    assert inner.calls == 3
    sampling = cache_over(Recorder(), tmp_path / "s", cache_sampling=True)
    sampling.chat(ASK, sampled)
    assert sampling.chat(ASK, sampled).content.endswith("#1")


@pytest.mark.parametrize("reason", ["error", "content_filter", "tool_calls"])
def test_unusual_endings_are_not_cached(tmp_path: Path, reason: str) -> None:
    inner = Recorder(finish_reason=reason)
    cache = cache_over(inner, tmp_path)
    cache.chat(ASK)
    cache.chat(ASK)
    assert inner.calls == 2 and cache.store.count() == 0


def test_a_truncated_answer_is_cached_for_the_same_limit(tmp_path: Path) -> None:
    inner = Recorder(finish_reason="length")
    cache = cache_over(inner, tmp_path)
    cache.chat(ASK)
    assert cache.chat(ASK).finish_reason == "length" and inner.calls == 1


def test_hits_are_recorded_in_the_ledger_with_the_cost_saved(tmp_path: Path) -> None:
    ledger = Ledger(pipeline="gw")
    prices = Prices({"clova:HCX-005": Price(input_per_1k=1.25, output_per_1k=5.0)})
    inner = Recorder("clova:HCX-005")
    cache = cache_over(inner, tmp_path, ledger=ledger, prices=prices)
    answer = cache.chat(ASK)
    cache.chat(ASK)
    list(cache.stream(ASK))
    rows = ledger_rows(ledger)
    expected = (answer.usage.input_tokens * 1.25 + answer.usage.output_tokens * 5.0) / 1000
    assert [r.outcome for r in rows] == [EXACT_HIT, EXACT_HIT]
    assert all(r.model == "clova:HCX-005" and r.pipeline == "gw" for r in rows)
    assert rows[0].saved_cost == pytest.approx(expected)
    assert rows[0].saved_tokens == answer.usage.total_tokens
    assert (rows[0].cost, rows[0].input_tokens) == (0.0, 0)
    assert cache.stats().cost_saved == pytest.approx(2 * expected)


def test_a_broken_store_degrades_to_calling_the_model(tmp_path: Path) -> None:
    inner = Recorder()
    store = SQLiteStore(tmp_path / "cache.db", namespace="exact")
    cache = ExactCache(inner, store)
    store.close()
    (tmp_path / "cache.db").unlink()
    (tmp_path / "cache.db").mkdir()  # the file is gone and cannot be recreated
    store.path = tmp_path / "cache.db" / "x" / "y.db"
    assert cache.chat(ASK).content.endswith("#1")
    assert cache.chat(ASK).content.endswith("#2")
    assert cache.stats() == CacheStats(misses=2, errors=4)
