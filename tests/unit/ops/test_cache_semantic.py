"""The semantic cache over the offline Korean embedder: hits, the guard, scopes, sharing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.ops.cache_doubles import Recorder
from tests.unit.ops.cascade_doubles import ledger_rows
from tunestudio.config import Settings
from tunestudio.errors import ConfigError
from tunestudio.ops.cache_guard import Guard
from tunestudio.ops.cache_semantic import SemanticCache, from_config
from tunestudio.ops.cache_store import SQLiteStore
from tunestudio.ops.embed_hash import KoreanHashEmbedder
from tunestudio.ops.ledger import SEMANTIC_HIT, Ledger, Prices
from tunestudio.ops.pipeline import StageContext
from tunestudio.types import GenParams, Message

SYSTEM = Message("system", "친절한 상담원으로 답하세요.")
ASKED = "카페인 있는 음료 추천해 주세요"
SAME = "잠 깨게 카페인 있는 음료 좀 추천해줘"  # a paraphrase (cosine 0.65 with hash-ko)
LOOK_ALIKES = [  # (answered, asked): close vectors, different questions
    ("서울 내일 비가 올 거래", "서울 내일 비가 오지 않을 거래"),
    ("10월에 부산 많이 추워요?", "10월에 대구 많이 추워요?"),
    ("5벌 사이즈 교환 어떻게 해요?", "2벌 사이즈 교환 어케 해요?"),
]


def ask(text: str, system: Message | None = SYSTEM) -> list[Message]:
    return [system, Message("user", text)] if system else [Message("user", text)]


@pytest.fixture(scope="module")
def embedder() -> KoreanHashEmbedder:
    return KoreanHashEmbedder()


@pytest.fixture(scope="module")
def guard() -> Guard:
    return Guard()


@pytest.fixture
def make(tmp_path: Path, embedder: KoreanHashEmbedder, guard: Guard) -> Iterator[Any]:
    made: list[SemanticCache] = []

    def build(inner: Recorder | None = None, db: str = "cache.db", **options: Any) -> SemanticCache:
        options.setdefault("guard", guard)
        store = SQLiteStore(tmp_path / db, namespace="semantic")
        cache = SemanticCache(inner or Recorder(), store, embedder, threshold=0.3, **options)
        made.append(cache)
        return cache

    yield build
    for cache in made:
        cache.store.close()


def test_a_paraphrase_is_answered_from_the_cache(make: Any) -> None:
    inner = Recorder()
    cache = make(inner)
    first = cache.chat(ask(ASKED))
    assert cache.chat(ask(SAME)) == first and inner.calls == 1
    assert cache.chat(ask("오늘 매운 거 먹고 싶은데 뭐 먹을까요?")).content.endswith("#2")
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.rejected) == (1, 2, 0)


@pytest.mark.parametrize(("answered", "asked"), LOOK_ALIKES)
def test_the_guard_rejects_look_alikes(make: Any, answered: str, asked: str) -> None:
    inner = Recorder()
    cache = make(inner)
    cache.chat(ask(answered))
    assert cache.chat(ask(asked)).content == f"답: {asked} #2"
    assert cache.stats().rejected == 1
    unguarded = make(Recorder(), db="unguarded.db", guard=False)
    unguarded.chat(ask(answered))
    assert unguarded.chat(ask(asked)).content == f"답: {answered} #1"  # wrong


def test_only_the_same_model_params_and_system_prompt_share_answers(make: Any) -> None:
    cache = make(Recorder("hf:a"))
    cache.chat(ask(ASKED))
    other_prompt = cache.chat(ask(SAME, Message("system", "간결하게 답하세요.")))
    other_params = cache.chat(ask(SAME), GenParams(max_tokens=16))
    no_prompt = cache.chat(ask(SAME, None))
    other_model = make(Recorder("hf:b")).chat(ask(SAME))
    assert all(r.content.startswith(f"답: {SAME}") for r in (other_prompt, other_params, no_prompt))
    assert other_model.content == f"답: {SAME} #1"


def test_follow_up_questions_and_sampling_pass_through(make: Any) -> None:
    inner = Recorder()
    cache = make(inner)
    cache.chat(ask(ASKED))
    history = [SYSTEM, Message("user", "안녕하세요"), Message("assistant", "네"), *ask(SAME)[1:]]
    assert cache.chat(history).content.endswith("#2")
    assert cache.chat(ask(SAME), GenParams(temperature=0.9)).content.endswith("#3")
    assert cache.stats().skipped == 2
    multi = make(Recorder(), single_turn_only=False)
    multi.chat(history)
    assert multi.chat([*history[:-1], Message("user", ASKED)]).content == f"답: {SAME} #1"


def test_a_batch_sends_only_the_misses_in_one_call(make: Any) -> None:
    inner = Recorder()
    cache = make(inner)
    cached = cache.chat(ask(ASKED))
    results = cache.chat_batch([ask("밴드에서 나가고 싶어요"), ask(SAME), ask("오늘 날씨 어때요?")])
    assert inner.batches[1:] == [["밴드에서 나가고 싶어요", "오늘 날씨 어때요?"]]
    assert results[1] == cached
    assert [r.content[-2:] for r in results] == ["#2", "#1", "#3"]


def test_streaming_a_hit_and_a_miss(make: Any) -> None:
    inner = Recorder()
    cache = make(inner)
    missed = list(cache.stream(ask(ASKED)))
    [hit] = list(cache.stream(ask(SAME)))
    assert inner.streams == 1 and hit.delta == "".join(c.delta for c in missed)
    assert hit.finish_reason == "stop"


def test_hits_are_recorded_in_the_ledger(make: Any) -> None:
    ledger = Ledger(pipeline="gw")
    cache = make(Recorder("clova:HCX-005"), ledger=ledger, prices=Prices())
    answer = cache.chat(ask(ASKED))
    cache.chat(ask(SAME))
    [row] = ledger_rows(ledger)
    assert (row.outcome, row.model, row.pipeline) == (SEMANTIC_HIT, "clova:HCX-005", "gw")
    assert row.saved_tokens == answer.usage.total_tokens
    assert row.detail is not None and row.detail.startswith("similarity 0.6")


def test_an_answer_stored_by_another_process_becomes_visible(make: Any) -> None:
    reader = make(Recorder(), refresh_ms=0)
    reader.chat(ask("오늘 날씨 어때요?"))  # the scope is loaded before the other one writes
    writer_inner = Recorder()
    make(writer_inner).chat(ask(ASKED))
    assert reader.chat(ask(SAME)).content == f"답: {ASKED} #1"
    slow_inner = Recorder()
    slow = make(slow_inner, refresh_ms=60_000)
    slow.chat(ask("오늘 날씨 어때요?"))  # a hit: loads the scope
    make(Recorder()).chat(ask("밴드에서 나가고 싶어요"))
    slow.chat(ask("밴드에서 나가고 싶어요"))
    assert slow_inner.calls == 1  # not read yet: refresh_ms has not passed


def test_an_expired_answer_is_not_served(make: Any) -> None:
    inner = Recorder()
    cache = make(inner, ttl=0.2)
    cache.chat(ask(ASKED))
    time.sleep(0.25)
    assert cache.chat(ask(SAME)).content == f"답: {SAME} #2"


def test_another_embedder_needs_its_own_threshold(tmp_path: Path) -> None:
    context = StageContext(
        where="gw.yaml, pipeline[0] (semantic_cache)",
        base_dir=tmp_path,
        settings=Settings(home=tmp_path),
        ledger=Ledger(),
        prices=Prices(),
        pipeline_name="gw",
    )
    with pytest.raises(ConfigError, match="set `threshold:`") as caught:
        from_config(Recorder(), {"embedder": "hf:./bge-m3"}, context)
    assert caught.value.where == context.where
    with pytest.raises(ConfigError, match="threshold: Input should be less than or equal to 1"):
        from_config(Recorder(), {"threshold": 1.5}, context)
