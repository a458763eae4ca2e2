"""Shared-prefix KV caching in the hf backend: answers must equal one-row-at-a-time greedy
decoding without the cache, on a small random Llama built in the fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tunestudio.models import load_backend
from tunestudio.models.hf import HFBackend
from tunestudio.models.hf_prefix import (
    PrefixCache,
    batch_common_length,
    common_length,
    model_fingerprint,
    prefix_layout,
    supports_prefix_cache,
)
from tunestudio.types import GenParams, Message

GREEDY = GenParams(max_tokens=16)
SYSTEM = "결제 내역을 확인하고 싶어요. 환불은 언제 되나요? 사진이 업로드되지 않아요."
QUESTIONS = [
    "안녕하세요",
    "사진이 업로드되지 않아요. 용량이 부족하다고 나옵니다.",
    "hello world",
    "프랑스, 독일, 이탈리아는 유럽에 있습니다. " * 2,
]


def asked(question: str, system: str = SYSTEM) -> list[Message]:
    return [Message("system", system), Message("user", question)]


@pytest.fixture(scope="module")
def on(random_llama: Path) -> HFBackend:
    loaded = load_backend(f"hf:{random_llama}")
    assert isinstance(loaded, HFBackend)
    return loaded


@pytest.fixture(scope="module")
def off(random_llama: Path) -> HFBackend:
    loaded = load_backend(f"hf:{random_llama}", prefix_cache=False)
    assert isinstance(loaded, HFBackend)
    return loaded


@pytest.fixture
def cache(on: HFBackend) -> Iterator[PrefixCache]:
    """The cached backend's prefix cache, emptied and with default limits for each test."""
    assert on.prefix_cache is not None
    on.prefix_cache.clear()
    limits = (on.prefix_cache.max_entries, on.prefix_cache.max_bytes, on.prefix_cache.min_tokens)
    yield on.prefix_cache
    on.prefix_cache.max_entries, on.prefix_cache.max_bytes, on.prefix_cache.min_tokens = limits


def test_common_length_helpers() -> None:
    assert common_length([1, 2, 3], [1, 2, 4]) == 2
    assert common_length([1, 2], [1, 2, 3]) == 2
    assert common_length([5], [6]) == 0
    assert batch_common_length([[1, 2, 3], [1, 2, 9], [1, 7]]) == 1
    assert batch_common_length([[1, 2, 3]]) == 3


def test_layout_puts_the_padding_after_the_shared_prefix() -> None:
    ids, mask = prefix_layout([[1, 2, 3], [1, 2, 4, 5, 6]], 2, 0)
    assert ids == [[1, 2, 0, 0, 3], [1, 2, 4, 5, 6]]
    assert mask == [[1, 1, 0, 0, 1], [1, 1, 1, 1, 1]]
    # Nothing shared is plain left padding.
    assert prefix_layout([[7], [8, 9]], 0, 0) == ([[0, 7], [8, 9]], [[0, 1], [1, 1]])


def test_shared_system_prompt_batch_equals_one_row_at_a_time(
    on: HFBackend, off: HFBackend, cache: PrefixCache
) -> None:
    rows = [asked(q) for q in QUESTIONS]  # suffixes of different lengths
    expected = [off.chat(row, GREEDY) for row in rows]
    assert on.chat_batch(rows, GREEDY) == expected
    prompts = [on.prompt_ids(row) for row in rows]
    shared = batch_common_length(prompts)
    assert shared > len(on.prompt_ids([Message("user", "")])) // 2  # the system prompt is in it
    assert cache.prefixes == [tuple(prompts[0][:shared])]
    assert [r.usage.input_tokens for r in expected] == [len(p) for p in prompts]


def test_a_prompt_that_is_the_whole_prefix_of_the_others(
    on: HFBackend, off: HFBackend, cache: PrefixCache
) -> None:
    short = asked("안녕")
    longer = [*short, Message("assistant", "네 고객님"), Message("user", "hello")]
    short_ids, longer_ids = on.prompt_ids(short), on.prompt_ids(longer)
    assert longer_ids[: len(short_ids)] == short_ids  # the premise of this test
    rows = [longer, short, asked("환불은 언제 되나요?")]
    assert on.chat_batch(rows, GREEDY) == [off.chat(row, GREEDY) for row in rows]
    # The short prompt keeps its last token to itself: generate() needs its logits.
    shared = batch_common_length([on.prompt_ids(row) for row in rows])
    assert [len(p) for p in cache.prefixes] == [min(shared, len(short_ids) - 1)]


def test_batch_without_a_shared_system_prompt(
    on: HFBackend, off: HFBackend, cache: PrefixCache
) -> None:
    rows = [[Message("user", q)] for q in QUESTIONS]
    expected = [off.chat(row, GREEDY) for row in rows]
    # Only the chat template's header is shared: short, but still read once.
    assert on.chat_batch(rows, GREEDY) == expected
    header = batch_common_length([on.prompt_ids(row) for row in rows])
    assert [len(p) for p in cache.prefixes] == ([header] if header >= cache.min_tokens else [])
    # Below the threshold the plain left-padded path runs and stores nothing.
    cache.clear()
    cache.min_tokens = header + 1
    assert on.chat_batch(rows, GREEDY) == expected
    assert cache.prefixes == []


def test_prompts_with_no_common_token_share_nothing(on: HFBackend) -> None:
    prompts = [list(range(5, 40)), list(range(40, 80))]
    assert PrefixCache(min_tokens=1).prepare(on.model, prompts) is None


def test_single_rows_reuse_a_batchs_prefix(
    on: HFBackend, off: HFBackend, cache: PrefixCache
) -> None:
    on.chat_batch([asked(q) for q in QUESTIONS[:2]], GREEDY)
    stored = cache.prefixes
    later = asked("결제 내역을 확인하고 싶어요.")
    assert on.chat(later, GREEDY) == off.chat(later, GREEDY)
    assert cache.prefixes == stored  # a hit: nothing recomputed


def test_a_system_prompt_repeated_across_single_calls_is_cached(
    on: HFBackend, off: HFBackend, cache: PrefixCache
) -> None:
    first, second, third = (asked(q) for q in QUESTIONS[:3])
    assert on.chat(first, GREEDY) == off.chat(first, GREEDY)
    assert cache.prefixes == []  # one prompt alone says nothing about what will repeat
    assert on.chat(second, GREEDY) == off.chat(second, GREEDY)
    shared = common_length(on.prompt_ids(first), on.prompt_ids(second))
    assert [len(p) for p in cache.prefixes] == [shared]
    assert on.chat(third, GREEDY) == off.chat(third, GREEDY)
    assert [len(p) for p in cache.prefixes] == [shared]


def test_a_longer_shared_prefix_extends_the_stored_one(
    on: HFBackend, off: HFBackend, cache: PrefixCache
) -> None:
    on.chat_batch([asked(q) for q in QUESTIONS[:2]], GREEDY)
    (short,) = cache.prefixes
    rows = [asked("환불은 언제 되나요? " + q) for q in QUESTIONS]
    assert on.chat_batch(rows, GREEDY) == [off.chat(row, GREEDY) for row in rows]
    (extended,) = cache.prefixes  # the old one is part of the new one, so it was dropped
    assert len(extended) > len(short) and extended[: len(short)] == short


def test_the_cache_is_bounded_in_count_and_bytes(
    on: HFBackend, off: HFBackend, cache: PrefixCache
) -> None:
    cache.max_entries = 2
    systems = ["첫째 규칙: 공손하게 답하세요. " * 3, "둘째 규칙: 짧게 답하세요. " * 3, SYSTEM]
    for system in systems:
        on.chat_batch([asked(q, system) for q in QUESTIONS[:2]], GREEDY)
    kept = [on.prompt_ids(asked(QUESTIONS[0], s))[:40] for s in systems[1:]]
    assert [list(p[:40]) for p in cache.prefixes] == kept  # the least recently used went
    cache.clear()
    cache.max_bytes = 1  # too small for any prefix: used for the call, never stored
    rows = [asked(q) for q in QUESTIONS]
    assert on.chat_batch(rows, GREEDY) == [off.chat(row, GREEDY) for row in rows]
    assert (cache.prefixes, cache.nbytes) == ([], 0)


def test_changed_weights_drop_the_cached_prefixes(random_llama: Path) -> None:
    import torch

    cached = load_backend(f"hf:{random_llama}")
    plain = load_backend(f"hf:{random_llama}", prefix_cache=False)
    assert isinstance(cached, HFBackend) and isinstance(plain, HFBackend)
    rows = [asked(q) for q in QUESTIONS]
    before = cached.chat_batch(rows, GREEDY)
    fingerprint = model_fingerprint(cached.model)
    with torch.no_grad():  # as a merged adapter or a training step would, in place
        for backend in (cached, plain):
            layer = backend.model.get_decoder().layers[0]
            layer.self_attn.k_proj.weight.mul_(-1.0)
    assert model_fingerprint(cached.model) != fingerprint
    after = cached.chat_batch(rows, GREEDY)
    assert after == plain.chat_batch(rows, GREEDY) == [plain.chat(r, GREEDY) for r in rows]
    assert after != before  # the change matters, so stale prefix states would have shown


def test_sampling_with_a_seed_matches_the_plain_path(
    on: HFBackend, off: HFBackend, cache: PrefixCache
) -> None:
    rows = [asked(q) for q in QUESTIONS]
    sampled = GenParams(max_tokens=12, temperature=1.0, top_p=0.95, top_k=50, seed=7)
    assert on.chat_batch(rows, sampled) == off.chat_batch(rows, sampled)
    assert cache.prefixes  # the prefix path ran
    other = GenParams(max_tokens=12, temperature=1.0, seed=8)
    assert on.chat_batch(rows, other) != on.chat_batch(rows, sampled)


def test_streaming_and_stop_strings_with_a_warm_cache(
    on: HFBackend, off: HFBackend, cache: PrefixCache
) -> None:
    on.chat_batch([asked(q) for q in QUESTIONS], GREEDY)
    row = asked("사진이 업로드되지 않아요.")
    expected = off.chat(row, GREEDY)
    chunks = list(on.stream(row, GREEDY))
    assert "".join(c.delta for c in chunks) == expected.content
    assert (chunks[-1].finish_reason, chunks[-1].usage) == (
        expected.finish_reason,
        expected.usage,
    )
    stop = expected.content[3:5]
    with_stop = GenParams(max_tokens=16, stop=[stop])
    assert on.chat(row, with_stop) == off.chat(row, with_stop)
    assert stop not in on.chat(row, with_stop).content


def test_models_that_cannot_share_a_prefix_run_without_it(random_llama: Path) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    small = {"hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2}
    small |= {"num_hidden_layers": 2, "vocab_size": 50}
    llama = LlamaForCausalLM(LlamaConfig(**small))
    assert supports_prefix_cache(llama)
    llama.generation_config.cache_implementation = "static"  # generate() would refuse our cache
    assert not supports_prefix_cache(llama)
    sliding = Qwen2Config(**small, use_sliding_window=True, sliding_window=8, max_window_layers=1)
    assert not supports_prefix_cache(Qwen2ForCausalLM(sliding))
    plain = load_backend(f"hf:{random_llama}", prefix_cache=False)
    assert isinstance(plain, HFBackend) and plain.prefix_cache is None


def test_closing_frees_the_cached_prefixes(random_llama: Path) -> None:
    backend = load_backend(f"hf:{random_llama}")
    assert isinstance(backend, HFBackend) and backend.prefix_cache is not None
    backend.chat_batch([asked(q) for q in QUESTIONS], GREEDY)
    assert backend.prefix_cache.nbytes > 0
    backend.close()
    assert (backend.prefix_cache.prefixes, backend.prefix_cache.nbytes) == ([], 0)
