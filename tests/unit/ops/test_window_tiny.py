"""The sliding window on the real ``tiny`` model: exact counts on Korean conversations, and the
``window`` stage inside a pipeline file (``pipeline:<yaml>``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.unit.inference.local_models import tiny_built_fixture, tiny_home_fixture
from tunestudio.errors import ConfigError, ContextLengthError
from tunestudio.models import Backend, load_backend
from tunestudio.ops.window import split_turns, trim_to_fit
from tunestudio.types import GenParams, Message

__all__ = ["tiny_built_fixture", "tiny_home_fixture"]

SYSTEM = Message("system", "당신은 쇼핑몰 고객센터 상담원입니다. 짧고 정확하게 답하세요.")
QUESTIONS = [
    "주문한 상품이 아직 안 왔어요. 언제 도착하나요?",
    "환불은 얼마나 걸리나요?",
    "사이즈를 교환하고 싶어요.",
    "쿠폰이 적용되지 않아요. 어떻게 해야 하나요?",
]
CONTEXT = 2048  # tiny's context window
RESERVE = 256


def korean_turn(i: int) -> list[Message]:
    """A turn; every third one calls a tool and reads its result before answering."""
    question = Message("user", f"{i}번째 문의: {QUESTIONS[i % len(QUESTIONS)]}")
    answer = Message("assistant", f"{i}번째 답변: 확인해 보니 내일까지 처리될 예정입니다.")
    if i % 3:
        return [question, answer]
    call = Message("assistant", f'{{"tool": "order_status", "order_id": {1000 + i}}}')
    result = Message("tool", f'{{"status": "배송 중", "order_id": {1000 + i}}}')
    return [question, call, result, answer]


def korean_conversation(turns: int) -> list[Message]:
    answered = [m for i in range(turns) for m in korean_turn(i)]
    return [SYSTEM, *answered, Message("user", "마지막으로, 영수증을 다시 받을 수 있나요?")]


@pytest.fixture(scope="module")
def tiny(tiny_built: Path) -> Iterator[Backend]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TUNESTUDIO_HOME", str(tiny_built.parent.parent))
        backend = load_backend("tiny")
    yield backend
    backend.close()


def test_the_window_is_token_exact_on_tiny(tiny: Backend) -> None:
    messages = korean_conversation(300)
    calls: list[int] = []

    def count(window: Sequence[Message]) -> int:
        calls.append(len(window))
        return tiny.count_tokens(window)

    trimmed = trim_to_fit(messages, count, CONTEXT, RESERVE)
    _, kept_turns = split_turns(trimmed.messages)
    _, all_turns = split_turns(messages)
    assert trimmed.messages[0] == SYSTEM and trimmed.messages[-1] == messages[-1]
    assert kept_turns == all_turns[len(all_turns) - len(kept_turns) :]
    assert trimmed.prompt_tokens == tiny.count_tokens(trimmed.messages)
    assert trimmed.prompt_tokens + RESERVE <= CONTEXT
    one_more = [SYSTEM, *all_turns[-len(kept_turns) - 1], *trimmed.messages[1:]]
    assert tiny.count_tokens(one_more) + RESERVE > CONTEXT
    # tiny's template is additive, so the per-turn estimate needs no correction: newest turn,
    # system alone, one count per turn looked at, then the two exact checks.
    assert len(calls) == 1 + 1 + len(kept_turns) + 2


def test_a_newest_turn_longer_than_the_context_is_refused_not_cut(tiny: Backend) -> None:
    messages = [SYSTEM, *korean_turn(0), Message("user", "환불 규정을 알려 주세요. " * 300)]
    with pytest.raises(ContextLengthError) as caught:
        trim_to_fit(messages, tiny.count_tokens, CONTEXT, RESERVE)
    need = tiny.count_tokens([SYSTEM, messages[-1]])
    assert f"needs {need} prompt tokens" in caught.value.message
    assert f"only {CONTEXT - RESERVE} fit" in caught.value.message


def write_pipeline(path: Path, window: str) -> Path:
    path.write_text(f"model: tiny\npipeline:\n  - window: {window}\n", encoding="utf-8")
    return path


def test_the_window_stage_lets_tiny_answer_a_conversation_longer_than_its_context(
    tiny: Backend, tiny_home: Path, tmp_path: Path
) -> None:
    long = korean_conversation(200)
    short = korean_conversation(1)
    params = GenParams(max_tokens=8)
    # A window smaller than tiny's own keeps the generations below quick on a busy CPU.
    path = write_pipeline(tmp_path / "window.yaml", "{context_length: 400}")
    pipeline = load_backend(f"pipeline:{path}")
    model = tiny
    try:
        with pytest.raises(ContextLengthError):
            model.chat(long, params)  # the model alone refuses it
        kept = trim_to_fit(long, model.count_tokens, 400, 8).messages
        assert 400 - 8 - 60 < model.count_tokens(kept) <= 400 - 8
        answer = pipeline.chat(long, params)
        assert answer.usage.input_tokens == model.count_tokens(kept)
        assert answer.content == model.chat(kept, params).content
        batch = pipeline.chat_batch([long, short], params)
        assert [r.usage.input_tokens for r in batch] == [
            model.count_tokens(kept),
            model.count_tokens(short),
        ]
        chunks = list(pipeline.stream(long, params))
        assert "".join(c.delta for c in chunks) == answer.content
        assert chunks[-1].usage is not None
        assert chunks[-1].usage.input_tokens == answer.usage.input_tokens
        assert pipeline.capabilities.context_length is None  # it takes any length
    finally:
        pipeline.close()


def test_a_configured_reserve_lowers_a_larger_max_tokens_to_what_is_left(
    tiny_home: Path, tmp_path: Path
) -> None:
    path = write_pipeline(tmp_path / "reserve.yaml", "{context_length: 400, max_tokens: 16}")
    pipeline = load_backend(f"pipeline:{path}")
    try:
        answer = pipeline.chat(korean_conversation(200), GenParams(max_tokens=300))
        # more history than a 300-token reserve would keep; the answer fits what is left
        assert 400 - 300 < answer.usage.input_tokens <= 400 - 16
        assert answer.usage.total_tokens <= 400
    finally:
        pipeline.close()


@pytest.mark.parametrize(
    ("model", "window", "message"),
    [
        ("tiny", "{context_lenght: 4096}", "context_lenght: Extra inputs are not permitted"),
        ("tiny", "{max_tokens: 2048}", "max_tokens (2048) must be less than context_length"),
        ("openai:http://127.0.0.1:9/v1#qwen", "{}", "context window of"),
    ],
)
def test_bad_window_options_are_config_errors_naming_the_stage(
    tiny_home: Path, tmp_path: Path, model: str, window: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"model: {model}\npipeline:\n  - window: {window}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_backend(f"pipeline:{path}")
    assert message in caught.value.message
    assert caught.value.where == f"{path}, pipeline[0] (window)"
    assert caught.value.hint
