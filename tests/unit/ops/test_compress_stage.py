"""The ``compress`` stage: a Backend that shrinks the system prompt before a real model sees it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.inference.local_models import llama_dir_fixture
from tunestudio.errors import ConfigError
from tunestudio.models import load_backend
from tunestudio.models.base import Backend
from tunestudio.ops.compress import ApplyTo, Compress, Compressor
from tunestudio.ops.pipeline import Pipeline
from tunestudio.types import GenParams, Message

__all__ = ["llama_dir_fixture"]

LONG_PROMPT = (
    Path(__file__).resolve().parents[3] / "examples" / "inquiry" / "long_system_prompt.txt"
).read_text(encoding="utf-8")
# The random test model's context is 512 tokens and its tokenizer spends ~1.6 per Korean
# character, so the stage tests use a prompt a tenth the size of the long one.
PROMPT = "\n".join(
    [
        "- 카테고리: MYBOX 가격, 네이버플러스멤버십 가격, 네이버밴드 결제 중 하나만 출력하세요.",
        "MYBOX 추가 용량은 월 1,650원부터 구매할 수 있습니다.",
        "네이버플러스멤버십은 월 4,900원을 내는 구독 서비스입니다.",
        "밴드에서 결제가 실패하면 카드를 확인해 주세요.",
        "고객들은 정말 다양한 표현으로 문의를 남깁니다.",
    ]
)
PARAMS = GenParams(max_tokens=4, temperature=0.0)


def conversation(question: str) -> list[Message]:
    return [Message("system", PROMPT), Message("user", question)]


def pipeline(tmp_path: Path, llama_dir: Path, options: str) -> Pipeline:
    path = tmp_path / "compress.yaml"
    path.write_text(f"model: hf:{llama_dir}\npipeline:\n  - compress: {options}\n", "utf-8")
    backend = load_backend(f"pipeline:{path}")
    assert isinstance(backend, Pipeline)
    return backend


def stage_of(backend: Pipeline) -> Compress:
    assert isinstance(backend.inner, Compress)
    return backend.inner


def test_the_model_sees_the_system_prompt_at_the_target_ratio_of_its_tokens(
    tmp_path: Path, llama_dir: Path
) -> None:
    backend = pipeline(tmp_path, llama_dir, "{target_ratio: 0.5, method: both}")
    stage, model = stage_of(backend), load_backend(f"hf:{llama_dir}")
    messages = conversation("멤버십 요금은 얼마인가요?")

    result = backend.chat(messages, PARAMS)

    (done,) = stage.last
    assert done.original == model.count_tokens([Message("system", PROMPT)]) - (
        model.count_tokens([Message("system", "")])
    )
    assert done.ratio <= 0.5 and done.compressed > 0
    assert done.text.startswith(PROMPT.split("\n")[0])  # the label line is always kept
    assert "4,900원" in done.text  # the sentence about the membership price is chosen
    assert backend.count_tokens(messages) < model.count_tokens(messages)
    assert result == model.chat(stage.rewrite(messages), PARAMS)  # it is what the model said
    backend.close()
    model.close()


def test_a_batch_compresses_the_shared_prompt_once_and_stays_one_batch(
    tmp_path: Path, llama_dir: Path
) -> None:
    backend = pipeline(tmp_path, llama_dir, "{target_ratio: 0.9, method: tokens}")
    stage = stage_of(backend)
    questions = ["결제 취소는 어떻게 하나요?", "사진이 안 올라가요", "비밀번호를 잊었어요"]

    results = backend.chat_batch([conversation(q) for q in questions], PARAMS)

    assert len(results) == 3
    assert stage.compressor.cache_info().misses == 1  # one analysis for three rows
    assert stage.stats.texts == 3 and stage.stats.ratio <= 0.9
    streamed = list(backend.stream(conversation(questions[0]), PARAMS))
    assert "".join(c.delta for c in streamed) == results[0].content
    assert streamed[-1].finish_reason is not None
    backend.close()


@pytest.mark.parametrize(
    ("apply_to", "changed"),
    [("system", [0]), ("context", [1, 2]), ("all", [0, 1, 2])],
)
def test_apply_to_chooses_the_messages_and_never_the_last_question(
    llama_dir: Path, apply_to: ApplyTo, changed: list[int]
) -> None:
    wordy = "정말 그냥 결제가 실패했습니다!! 혹시 도와주실 수 있나요?"
    messages = [
        Message("system", wordy),
        Message("user", wordy),
        Message("assistant", wordy),
        Message("user", wordy),
    ]
    inner: Backend = load_backend(f"hf:{llama_dir}")
    stage = Compress(inner, Compressor(target_ratio=0.8, method="tokens"), apply_to=apply_to)

    out = stage.rewrite(messages)

    assert [i for i, m in enumerate(out) if m.content != wordy] == changed
    assert [m.role for m in out] == [m.role for m in messages]
    stage.close()


def test_the_token_method_reports_its_floor_rather_than_pretending() -> None:
    compressor = Compressor(target_ratio=0.25, method="tokens")
    result = compressor.compress(LONG_PROMPT)
    assert 0.25 < result.ratio < 1.0  # removing particles alone cannot reach a quarter
    assert result.compressed == len(result.text) and result.original == len(LONG_PROMPT)
    assert Compressor(target_ratio=0.25, method="both").compress(LONG_PROMPT, "환불").ratio <= 0.25


def test_short_texts_and_ratio_one_are_left_alone() -> None:
    assert Compressor(target_ratio=1.0).compress(LONG_PROMPT).text == LONG_PROMPT
    assert Compressor(min_size=10_000).compress(LONG_PROMPT).text == LONG_PROMPT


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ("{target_ratio: 1.5}", "target_ratio"),
        ("{method: fastest}", "method"),
        ("{protect: ['(unclosed']}", "protect"),
        ("{ratio: 0.5}", "ratio"),
    ],
)
def test_bad_options_name_the_stage_and_the_field(
    tmp_path: Path, llama_dir: Path, options: str, field: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        pipeline(tmp_path, llama_dir, options)
    assert "pipeline[0] (compress)" in str(caught.value.where)
    assert field in str(caught.value)
