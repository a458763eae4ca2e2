"""The recipe's forward pass: same loss and gradients as the plain computation, less work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from tunestudio.tuning.forward import SEGMENTED, Forward
from tunestudio.tuning.packing import collate, plan_rows, shared_prefix
from tunestudio.tuning.tokenize import IGNORE, Example, encode
from tunestudio.types import Message

SYSTEM = Message("system", "문의를 읽고 결제, 배송, 계정 중 하나로 분류하세요.")
CHATS = [
    [SYSTEM, Message("user", "택배가 안 와요"), Message("assistant", "배송")],
    [SYSTEM, Message("user", "결제가 두 번 됐어요"), Message("assistant", "결제")],
    [SYSTEM, Message("user", "비밀번호를 잊었어요"), Message("assistant", "계정")],
    [SYSTEM, Message("user", "주소를 바꾸고 싶어요"), Message("assistant", "배송")],
    [Message("user", "안녕하세요"), Message("assistant", "네, 반가워요")],
    [Message("user", "결제?"), Message("assistant", "환불은 3일 안에 됩니다")],
]


@pytest.fixture
def setup(random_model: Path) -> tuple[Any, list[Example]]:
    tokenizer = AutoTokenizer.from_pretrained(random_model)
    model = AutoModelForCausalLM.from_pretrained(random_model, attn_implementation="sdpa")
    return model, [encode(tokenizer, chat, 256) for chat in CHATS]


def _plain_loss(model: Any, examples: list[Example]) -> torch.Tensor:
    """Every example alone, full logits: the loss the recipe's shortcuts must reproduce."""
    total = torch.zeros(())
    for example in examples:
        logits = model(input_ids=torch.tensor([example.input_ids]), use_cache=False).logits[0]
        total = total + torch.nn.functional.cross_entropy(
            logits[:-1], torch.tensor(example.labels[1:]), ignore_index=IGNORE, reduction="sum"
        )
    return total


def _loss_and_grads(model: Any, compute: Any) -> tuple[float, dict[str, torch.Tensor]]:
    model.zero_grad()
    loss = compute()
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss.item(), grads


@pytest.mark.parametrize(("packing", "chats"), [(False, 6), (True, 6), (True, 4)])
def test_loss_and_gradients_equal_the_plain_computation(
    setup: tuple[Any, list[Example]], packing: bool, chats: int
) -> None:
    model, examples = setup
    examples = examples[:chats]  # the first 4 share a system prompt
    expected, expected_grads = _loss_and_grads(model, lambda: _plain_loss(model, examples))
    forward = Forward(model, packing=packing, max_length=128)
    rows = [[examples[i] for i in row] for row in plan_rows(examples, 128, packing)]
    batch = forward.collate(rows, pad_id=0)
    if packing:  # one padding-free row, attended segment by segment, the shared prefix once
        assert forward.flat and model.config._attn_implementation == SEGMENTED
        prefix = shared_prefix(examples)
        assert prefix > (20 if chats == 4 else 0)  # the system prompt / only the template
        total = sum(len(e.input_ids) for e in examples)
        assert batch["input_ids"].shape == (1, total - prefix * (len(examples) - 1))
        assert batch["shared_prefix_length"].item() == prefix
    else:  # right-padded rows, no attention mask
        assert set(batch) == {"input_ids", "labels"} and batch["input_ids"].shape[0] == 6
    loss, grads = _loss_and_grads(model, lambda: forward.loss_sum(model, batch))
    assert loss == pytest.approx(expected, rel=1e-5)
    assert grads.keys() == expected_grads.keys()
    # float sums in another order: equal to about 1e-6 of gradients that reach 100s
    assert all(torch.allclose(grads[n], expected_grads[n], rtol=1e-4, atol=1e-4) for n in grads)
    forward.restore()
    assert model.config._attn_implementation == "sdpa"


def test_packed_rows_without_segment_attention_give_the_same_loss(
    setup: tuple[Any, list[Example]],
) -> None:
    """Eager attention keeps the packed rows and transformers' block-diagonal mask."""
    model, examples = setup
    model.set_attn_implementation("eager")
    forward = Forward(model, packing=True, max_length=128)
    assert not forward.flat
    rows = [[examples[i] for i in row] for row in plan_rows(examples, 128, True)]
    batch = forward.collate(rows, pad_id=0)
    assert "position_ids" in batch and "cu_seq_lens_q" not in batch
    with torch.no_grad():
        assert forward.loss_sum(model, batch).item() == pytest.approx(
            _plain_loss(model, examples).item(), rel=1e-5
        )


def test_a_sliding_window_shorter_than_max_length_keeps_the_mask(
    setup: tuple[Any, list[Example]],
) -> None:
    model, _ = setup
    model.config.sliding_window = 32
    assert not Forward(model, packing=True, max_length=64).flat
    assert Forward(model, packing=True, max_length=32).flat


def test_only_labelled_positions_reach_the_head(setup: tuple[Any, list[Example]]) -> None:
    model, examples = setup
    seen: list[int] = []
    head = model.get_output_embeddings()
    hook = head.register_forward_hook(lambda _m, args, _out: seen.append(args[0].shape[-2]))
    forward = Forward(model, packing=False, max_length=64)
    batch = collate([[e] for e in examples], pad_id=0)
    with torch.no_grad():
        forward.loss_sum(model, batch)
    hook.remove()
    targets = sum(e.target_tokens - (e.labels[0] != IGNORE) for e in examples)
    assert seen == [targets] and targets < batch["input_ids"].numel() / 3


def test_the_shared_prefix_stops_before_anything_trained() -> None:
    def example(ids: list[int], first_label: int) -> Example:
        return Example(ids, [IGNORE] * first_label + ids[first_label:])

    same = [1, 2, 3, 4, 5, 6]
    assert shared_prefix([example(same, 4), example(same, 4)]) == 3  # not up to the label
    assert shared_prefix([example(same, 4), example([1, 2, 9, 9, 9], 3)]) == 2
    assert shared_prefix([example(same, 1), example(same, 1)]) == 0
    assert shared_prefix([example(same, 4)]) == 0
