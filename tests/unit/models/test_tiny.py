"""The built-in tiny model: its tokenizer, corpus, deterministic build, cache and loading."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from tunestudio.data.generators.countries import COUNTRY_CONTINENT
from tunestudio.data.generators.inquiries import INQUIRY_LABELS
from tunestudio.errors import ModelError
from tunestudio.models import load_backend
from tunestudio.models.hf import HFBackend
from tunestudio.models.tiny import MANIFEST, build_tiny, ensure_built, recipe, tiny_dir
from tunestudio.models.tiny_corpus import (
    ECHO_PROMPT,
    PICK_PROMPT,
    SERVICE_PROMPT,
    Corpus,
    CorpusSize,
    build_corpus,
)
from tunestudio.models.tiny_tokenizer import SPECIAL_TOKENS, train_tokenizer
from tunestudio.types import GenParams, Message

SMALL = CorpusSize(inquiries=60, services=30, replies=20, echo=40, pick=40, countries=20)


@pytest.fixture(scope="module")
def small_corpus() -> Corpus:
    return build_corpus(seed=0, size=SMALL)


def test_corpus_is_deterministic_per_seed(small_corpus: Corpus) -> None:
    assert build_corpus(seed=0, size=SMALL) == small_corpus
    assert build_corpus(seed=1, size=SMALL) != small_corpus
    assert len(small_corpus.texts) == SMALL.inquiries
    sizes = (SMALL.services, SMALL.replies, SMALL.echo, SMALL.pick, SMALL.countries)
    assert len(small_corpus.chats) == sum(sizes)


def test_corpus_never_teaches_the_inquiry_classification(small_corpus: Corpus) -> None:
    services = {"네이버밴드", "MYBOX", "네이버플러스멤버십"}
    answered = 0
    for chat in small_corpus.chats:
        system = chat[0]["content"] if chat[0]["role"] == "system" else ""
        turns = chat[1:] if system else chat
        for user, answer in zip(turns[0::2], turns[1::2], strict=True):
            if system.startswith(SERVICE_PROMPT.split("\n")[0]):
                assert answer["content"] in services  # the service, never its category
            if answer["content"] in INQUIRY_LABELS:
                # A category name is only ever echoed, or picked by its number from a list.
                answered += 1
                assert answer["content"] == user["content"] or system.startswith(
                    PICK_PROMPT.split("\n")[0]
                )
    assert answered > 0


def test_tokenizer_knows_labels_countries_and_chat_markers(small_corpus: Corpus) -> None:
    tokenizer = train_tokenizer(small_corpus.tokenizer_texts(), vocab_size=3000)
    for label in INQUIRY_LABELS:
        assert len(tokenizer.tokenize(label)) <= 5, label
    lengths = [len(tokenizer.tokenize(country)) for country in COUNTRY_CONTINENT]
    assert max(lengths) <= 3
    assert lengths.count(1) > 0.8 * len(lengths)
    for token in SPECIAL_TOKENS:
        assert len(tokenizer(token, add_special_tokens=False)["input_ids"]) == 1
    assert tokenizer.tokenize("assistant") == ["assistant"]


def test_chat_template_is_shaped_like_hyperclova_x_seed(small_corpus: Corpus) -> None:
    tokenizer = train_tokenizer(small_corpus.tokenizer_texts(), vocab_size=3000)
    messages = [
        {"role": "system", "content": "규칙"},
        {"role": "user", "content": "안녕"},
        {"role": "assistant", "content": "네"},
        {"role": "user", "content": "다시"},
    ]
    rendered = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert rendered == (
        "<|im_start|>tool_list\n<|im_end|>\n"
        "<|im_start|>system\n규칙<|im_end|>\n"
        "<|im_start|>user\n안녕<|im_end|>\n"
        "<|im_start|>assistant\n네<|im_end|><|endofturn|>\n"
        "<|im_start|>user\n다시<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_build_is_deterministic_and_loads_through_hf(tmp_path: Path) -> None:
    first = build_tiny(tmp_path / "a", steps=3, corpus_size=SMALL)
    second = build_tiny(tmp_path / "b", steps=3, corpus_size=SMALL)
    for name in ("model.safetensors", "tokenizer.json", "generation_config.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    manifest = json.loads((first / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["recipe"] == recipe(steps=3, corpus_size=SMALL)
    assert manifest["recipe"] != recipe()
    assert manifest["parameters"] > 100_000
    backend = load_backend(f"hf:{first}")
    assert isinstance(backend, HFBackend)
    result = backend.chat([Message("user", "안녕하세요")], GenParams(max_tokens=4))
    assert result.usage.output_tokens <= 4


def _slow_build(log: Path) -> object:
    def build(staging: Path) -> None:
        with log.open("a") as f:
            f.write("built\n")
        time.sleep(0.3)  # long enough for the other caller to be waiting on the lock
        (staging / "weights").write_text("w")
        (staging / MANIFEST).write_text("{}")

    return build


def test_ensure_built_builds_once_when_called_concurrently(tmp_path: Path) -> None:
    target, log = tmp_path / "models" / "m", tmp_path / "log"
    build = _slow_build(log)
    threads = [threading.Thread(target=ensure_built, args=(target, build)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert log.read_text() == "built\n"
    assert (target / "weights").read_text() == "w"
    assert [p.name for p in target.parent.iterdir() if p.name.startswith(".")] == []


def test_interrupted_build_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "models" / "m"

    def broken(staging: Path) -> None:
        (staging / "half").write_text("x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ensure_built(target, broken)
    assert not target.exists()
    assert [p.name for p in target.parent.iterdir() if not p.name.endswith(".lock")] == []
    ensure_built(target, _slow_build(tmp_path / "log"))
    assert (target / MANIFEST).exists()


def test_a_build_from_another_recipe_is_replaced(tmp_path: Path) -> None:
    target, log = tmp_path / "models" / "m", tmp_path / "log"
    ensure_built(target, _slow_build(log))
    (target / MANIFEST).write_text(json.dumps({"recipe": {"steps": 1}}))

    def fresh(path: Path) -> bool:
        return json.loads((path / MANIFEST).read_text()) == {}

    ensure_built(target, _slow_build(log), fresh)
    assert log.read_text() == "built\nbuilt\n"
    assert json.loads((target / MANIFEST).read_text()) == {}
    ensure_built(target, _slow_build(log), fresh)  # now current: not built again
    assert log.read_text().count("built") == 2


def test_unwritable_home_is_a_model_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("TUNESTUDIO_HOME", str(blocker))
    assert tiny_dir() == blocker / "models" / "tiny-v1"
    with pytest.raises(ModelError, match="cannot build the tiny model") as info:
        ensure_built(tiny_dir(), _slow_build(tmp_path / "log"))
    assert info.value.hint and "TUNESTUDIO_HOME" in info.value.hint


@pytest.mark.slow
def test_load_backend_tiny_builds_once_then_reuses_the_cache(tmp_path: Path) -> None:
    backend = load_backend("tiny")
    assert isinstance(backend, HFBackend) and backend.name == "tiny"
    manifest = tiny_dir() / MANIFEST
    built_at = manifest.stat().st_mtime_ns
    started = time.perf_counter()
    again = load_backend("tiny")
    assert time.perf_counter() - started < 5
    assert manifest.stat().st_mtime_ns == built_at
    echo = [Message("system", ECHO_PROMPT), Message("user", "MYBOX 결제")]
    results = again.chat_batch([echo, [Message("user", "안녕하세요")]], GenParams(max_tokens=40))
    assert [r.finish_reason for r in results] == ["stop", "stop"]  # it learned to end answers
    assert all(any("가" <= ch <= "힣" for ch in r.content) for r in results)  # in Korean

    # An adapter tuned on the built-in model may name its base "tiny".
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_dir())
    config = LoraConfig(r=2, target_modules=["q_proj"], init_lora_weights=False)
    get_peft_model(base, config).save_pretrained(tmp_path / "adapter")
    config_file = tmp_path / "adapter" / "adapter_config.json"
    saved = json.loads(config_file.read_text())
    config_file.write_text(json.dumps({**saved, "base_model_name_or_path": "tiny"}))
    tuned = load_backend(f"hf:{tmp_path / 'adapter'}")
    assert tuned.chat(echo, GenParams(max_tokens=8)).content
