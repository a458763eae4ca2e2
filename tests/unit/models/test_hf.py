"""The hf backend against small random Llama models built in the fixtures."""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from tests.model_fixtures import build_random_llama
from tunestudio.errors import ConfigError, ContextLengthError, ModelError, ModelRequestError
from tunestudio.models import Backend, load_backend
from tunestudio.models.hf import HFBackend
from tunestudio.models.hf_generate import StopHoldback, cut_at_stop, plan_stops
from tunestudio.models.hf_load import HUB_HINT, looks_like_path, pick_device, pick_dtype
from tunestudio.types import GenParams, Message

GREEDY = GenParams(max_tokens=24)
CONVERSATIONS = [
    [Message("user", "안녕하세요")],
    [Message("system", "결제 내역을 확인"), Message("user", "환불은 언제 되나요? " * 3)],
    [Message("user", "hello world")],
    [Message("user", "사진이"), Message("assistant", "네"), Message("user", "업로드되지 않아요")],
    [Message("user", "프랑스, 독일, 이탈리아는 유럽에 있습니다. " * 2)],
]


@pytest.fixture(scope="module")
def backend(random_llama: Path) -> HFBackend:
    loaded = load_backend(f"hf:{random_llama}")
    assert isinstance(loaded, HFBackend)
    return loaded


def test_is_a_backend_with_exact_capabilities(backend: HFBackend, random_llama: Path) -> None:
    assert isinstance(backend, Backend)
    assert backend.name == f"hf:{random_llama}"
    caps = backend.capabilities
    assert (caps.batching, caps.streaming, caps.exact_token_count) == (True, True, True)
    assert caps.context_length == 512


def test_prompt_uses_the_models_chat_template(backend: HFBackend) -> None:
    prompt = backend.render([Message("system", "규칙"), Message("user", "질문")])
    assert prompt == (
        "<|im_start|>tool_list\n<|im_end|>\n<|im_start|>system\n규칙<|im_end|>\n"
        "<|im_start|>user\n질문<|im_end|>\n<|im_start|>assistant\n"
    )


def test_greedy_is_deterministic(backend: HFBackend) -> None:
    first = backend.chat(CONVERSATIONS[1], GREEDY)
    second = backend.chat(CONVERSATIONS[1], GREEDY)
    assert first == second
    assert first.content and first.model == backend.name


def test_batch_equals_one_by_one_in_input_order(backend: HFBackend) -> None:
    one_by_one = [backend.chat(messages, GREEDY) for messages in CONVERSATIONS]
    backend.max_batch_size = 2  # several sorted micro-batches, then back to input order
    try:
        batched = backend.chat_batch(CONVERSATIONS, GREEDY)
    finally:
        backend.max_batch_size = 32
    assert batched == one_by_one
    assert len({r.usage.input_tokens for r in batched}) == len(CONVERSATIONS)
    assert backend.chat_batch([], GREEDY) == []


def test_usage_counts_prompt_and_generated_tokens(backend: HFBackend) -> None:
    messages = CONVERSATIONS[3]
    result = backend.chat(messages, GenParams(max_tokens=5))
    rendered = backend.tokenizer(backend.render(messages), add_special_tokens=False)["input_ids"]
    assert result.usage.input_tokens == len(rendered) == backend.count_tokens(messages)
    assert (result.finish_reason, result.usage.output_tokens) == ("length", 5)


def test_max_tokens_cuts_with_finish_reason_length(backend: HFBackend) -> None:
    long = backend.chat(CONVERSATIONS[0], GenParams(max_tokens=40))
    short = backend.chat(CONVERSATIONS[0], GenParams(max_tokens=6))
    assert short.finish_reason == "length"
    assert short.usage.output_tokens == 6
    assert long.usage.output_tokens > 6
    ids = backend.tokenizer(long.content, add_special_tokens=False)["input_ids"]
    assert len(ids) >= 6  # the short answer is a strict prefix of the long one
    assert long.content.startswith(short.content.rstrip("\ufffd"))


def _stop_string(text: str) -> str:
    """A two-character piece of ``text`` (clean characters, not at the very start)."""
    for i in range(3, len(text) - 1):
        piece = text[i : i + 2]
        if piece.isprintable() and "\ufffd" not in piece and text.find(piece) == i:
            return piece
    raise AssertionError(f"no usable stop string in {text!r}")


def test_stop_string_cuts_before_it(backend: HFBackend) -> None:
    free = backend.chat(CONVERSATIONS[2], GenParams(max_tokens=40))
    stop = _stop_string(free.content)
    stopped = backend.chat(CONVERSATIONS[2], GenParams(max_tokens=40, stop=(stop,)))
    assert stopped.content == free.content[: free.content.find(stop)]
    assert stopped.finish_reason == "stop"
    assert 0 < stopped.usage.output_tokens < free.usage.output_tokens
    batched = backend.chat_batch(
        [CONVERSATIONS[0], CONVERSATIONS[2]], GenParams(max_tokens=40, stop=(stop,))
    )
    assert batched[1] == stopped


def test_stream_concatenation_equals_chat(backend: HFBackend) -> None:
    for params in (GenParams(max_tokens=30), GenParams(max_tokens=30, stop=("요",))):
        result = backend.chat(CONVERSATIONS[4], params)
        chunks = list(backend.stream(CONVERSATIONS[4], params))
        assert "".join(c.delta for c in chunks) == result.content
        assert [c.finish_reason for c in chunks[:-1]] == [None] * (len(chunks) - 1)
        assert chunks[-1].finish_reason == result.finish_reason
        assert chunks[-1].usage == result.usage


def test_stream_closed_early_releases_the_model(backend: HFBackend) -> None:
    stream = backend.stream(CONVERSATIONS[0], GenParams(max_tokens=200))
    next(stream)
    stream.close()  # the worker sees the cancel flag and finishes
    assert backend.chat(CONVERSATIONS[0], GREEDY) == backend.chat(CONVERSATIONS[0], GREEDY)


def test_sampling_is_reproducible_with_a_seed(backend: HFBackend) -> None:
    import torch

    sampled = GenParams(max_tokens=20, temperature=1.0, top_p=0.95, top_k=50, seed=7)
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = backend.chat(CONVERSATIONS[0], sampled)
    assert torch.equal(torch.rand(1), expected_next)  # the caller's random state is untouched
    assert backend.chat(CONVERSATIONS[0], sampled) == first
    others = {backend.chat(CONVERSATIONS[0], GenParams(20, 1.0, seed=s)).content for s in (1, 2)}
    assert others != {first.content}


def test_concurrent_calls_are_serialised_and_correct(backend: HFBackend) -> None:
    expected = [backend.chat(messages, GREEDY) for messages in CONVERSATIONS]
    results: dict[int, object] = {}

    def call(i: int) -> None:
        results[i] = backend.chat(CONVERSATIONS[i], GREEDY)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(CONVERSATIONS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[i] for i in range(len(CONVERSATIONS))] == expected


def test_context_window_and_bad_max_tokens_are_refused(backend: HFBackend) -> None:
    too_long = [Message("user", "안녕하세요 " * 200)]
    with pytest.raises(ContextLengthError, match="context window of 512") as info:
        backend.chat_batch([CONVERSATIONS[0], too_long], GREEDY)
    assert info.value.where == "conversation 2"
    with pytest.raises(ModelRequestError, match="max_tokens"):
        backend.chat(CONVERSATIONS[0], GenParams(max_tokens=0))


def _make_adapter(base: Path, out: Path) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(base)
    # init_lora_weights=False: random B as well as A, so the adapter changes the outputs.
    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(out)
    return out


def test_adapter_loads_with_base_or_alone(random_llama: Path, tmp_path: Path) -> None:
    adapter = _make_adapter(random_llama, tmp_path / "adapter")
    base_answer = load_backend(f"hf:{random_llama}").chat(CONVERSATIONS[1], GREEDY)
    with_base = load_backend(f"hf:{random_llama}@{adapter}").chat(CONVERSATIONS[1], GREEDY)
    alone = load_backend(f"hf:{adapter}").chat(CONVERSATIONS[1], GREEDY)
    assert alone == replace(with_base, model=f"hf:{adapter}")  # the same merged model
    assert with_base.content != base_answer.content


def test_missing_paths_are_clear_errors(random_llama: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="model directory not found") as info:
        load_backend("hf:./no/such/model")
    assert info.value.hint and "path" in info.value.hint
    with pytest.raises(ModelError, match=r"no config\.json"):
        load_backend(f"hf:{tmp_path}")
    with pytest.raises(ModelError, match="adapter directory not found"):
        load_backend(f"hf:{random_llama}@{tmp_path / 'missing'}")
    with pytest.raises(ModelError, match="not a peft adapter"):
        load_backend(f"hf:{random_llama}@{tmp_path}")


def test_adapter_without_base_name_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
    with pytest.raises(ModelError, match="does not name its base model") as info:
        load_backend(f"hf:{tmp_path}")
    assert info.value.hint and "hf:<base model>@<adapter path>" in info.value.hint


def test_unreachable_hub_gives_the_download_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    # huggingface_hub reads HF_HUB_OFFLINE when first imported (before conftest could set it);
    # offline, the load fails at once, as it does with no network after the hub's retries.
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(ModelError) as info:
        load_backend("hf:naver-hyperclovax/HyperCLOVAX-SEED-Text-Instruct-0.5B")
    assert info.value.hint == HUB_HINT


def test_tokenizer_without_chat_template_is_refused(random_llama_no_template: Path) -> None:
    with pytest.raises(ModelError, match="no chat template") as info:
        load_backend(f"hf:{random_llama_no_template}")
    assert info.value.hint and "chat_template" in info.value.hint


def test_device_and_dtype_choices() -> None:
    import torch

    cpu = pick_device("cpu")
    assert cpu.type == "cpu"
    assert pick_device(None).type in {"cpu", "cuda", "mps"}
    assert pick_dtype(None, cpu) == torch.float32
    assert pick_dtype("bf16", cpu) == torch.bfloat16
    assert pick_dtype("float16", cpu) == torch.float16
    with pytest.raises(ConfigError, match="unknown dtype"):
        pick_dtype("float8", cpu)
    with pytest.raises(ConfigError, match="unknown device"):
        pick_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="not available") as info:
            pick_device("cuda")
        assert info.value.hint == "use --device auto (or cpu)"


def test_paths_and_hub_ids_are_told_apart() -> None:
    assert not looks_like_path("naver-hyperclovax/HyperCLOVAX-SEED-Text-Instruct-0.5B")
    assert not looks_like_path("gpt2")
    for path in ("./runs/x/adapter", "/models/x", "~/m", "runs/x/adapter"):
        assert looks_like_path(path)


def test_stop_helpers(backend: HFBackend) -> None:
    plan = plan_stops(["<|stop|>", "끝", ""], backend.tokenizer)
    assert plan.token_ids == (backend.tokenizer.convert_tokens_to_ids("<|stop|>"),)
    assert plan.strings == ("끝",)
    assert cut_at_stop("가나다라", ["다", "나"]) == ("가", True)
    holdback = StopHoldback(["END!"])
    sent = holdback.feed("abcE") + holdback.feed("N") + holdback.feed("D!xyz")
    assert sent == "abc"
    assert holdback.rest("abc") == ""


def test_closed_backend_says_so(random_llama: Path) -> None:
    backend = load_backend(f"hf:{random_llama}")
    backend.close()
    backend.close()
    with pytest.raises(ModelError, match="was closed"):
        backend.chat(CONVERSATIONS[0], GREEDY)


def test_broken_weights_are_a_clear_error(random_llama: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(random_llama, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # as if a download stopped
    with pytest.raises(ModelError, match="cannot load the model") as info:
        load_backend(f"hf:{broken}")
    assert info.value.where == str(broken)
    assert info.value.hint and "complete" in info.value.hint


def test_adapter_for_another_base_is_a_clear_error(random_llama: Path, tmp_path: Path) -> None:
    wider = build_random_llama(tmp_path / "wider", hidden_size=64)
    adapter = _make_adapter(wider, tmp_path / "adapter")
    with pytest.raises(ModelError, match="cannot apply the adapter") as info:
        load_backend(f"hf:{random_llama}@{adapter}")
    assert info.value.where == str(adapter)
    assert info.value.hint == "check that the adapter was trained on this base model"
