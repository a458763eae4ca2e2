"""Loss masks: only assistant answers (plus their end-of-turn markers) are trained on."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from tunestudio.tuning.tokenize import IGNORE, Example, encode
from tunestudio.types import Message

END = "<|im_end|><|endofturn|>"


@pytest.fixture(scope="module")
def tokenizer(random_model: Path) -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(random_model)


def trained_pieces(tokenizer: PreTrainedTokenizerBase, example: Example) -> list[str]:
    """Decode each contiguous run of trained tokens."""
    runs: list[list[int]] = []
    previous = False
    for token, label in zip(example.input_ids, example.labels, strict=True):
        if label != IGNORE:
            assert label == token  # labels are the tokens themselves; the loss shifts them
            if not previous:
                runs.append([])
            runs[-1].append(token)
        previous = label != IGNORE
    return [tokenizer.decode(run) for run in runs]


def test_single_turn_trains_only_on_the_answer(tokenizer: PreTrainedTokenizerBase) -> None:
    messages = [
        Message("system", "문의를 분류하세요."),
        Message("user", "결제가 두 번 됐어요"),
        Message("assistant", "결제"),
    ]
    example = encode(tokenizer, messages, 512)
    assert trained_pieces(tokenizer, example) == ["결제" + END]
    assert not example.truncated


def test_multi_turn_trains_on_every_assistant_turn(tokenizer: PreTrainedTokenizerBase) -> None:
    messages = [
        Message("user", "안녕하세요"),
        Message("assistant", "네, 무엇을 도와드릴까요?"),
        Message("user", "환불은 언제 되나요?"),
        Message("assistant", "환불은 3일 안에 됩니다."),
    ]
    example = encode(tokenizer, messages, 512)
    assert trained_pieces(tokenizer, example) == [
        "네, 무엇을 도와드릴까요?" + END,
        "환불은 3일 안에 됩니다." + END,
    ]
    # the user's words never get a label
    assert "환불은 언제" not in tokenizer.decode([t for t in example.labels if t != IGNORE])


def test_long_conversations_are_cut_and_flagged(tokenizer: PreTrainedTokenizerBase) -> None:
    messages = [Message("user", "안녕하세요 " * 40), Message("assistant", "네")]
    example = encode(tokenizer, messages, 32)
    assert example.truncated
    assert len(example.input_ids) == len(example.labels) == 32
    assert example.target_tokens == 0  # the answer fell off the end
