"""Packing: short examples share a row without seeing each other."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from tunestudio.tuning.packing import collate, plan_rows
from tunestudio.tuning.tokenize import IGNORE, Example, encode
from tunestudio.types import Message


def _example(length: int) -> Example:
    return Example(list(range(1, length + 1)), list(range(1, length + 1)))


def test_rows_hold_every_example_once_within_max_length() -> None:
    examples = [_example(n) for n in (30, 10, 25, 5, 40, 12, 8, 33)]
    rows = plan_rows(examples, 50, packing=True)
    assert sorted(i for row in rows for i in row) == list(range(len(examples)))
    assert all(sum(len(examples[i].input_ids) for i in row) <= 50 for row in rows)
    assert len(rows) < len(examples)
    assert plan_rows(examples, 50, packing=False) == [[i] for i in range(len(examples))]


def test_collate_restarts_positions_and_hides_each_first_label() -> None:
    batch = collate([[_example(3), _example(2)], [_example(4)]], pad_id=0)
    assert "attention_mask" not in batch  # packed: boundaries come from position_ids
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 1], [0, 1, 2, 3, 0]]
    assert batch["labels"].tolist() == [[IGNORE, 2, 3, IGNORE, 2], [IGNORE, 2, 3, 4, IGNORE]]
    unpacked = collate([[_example(3)], [_example(1)]], pad_id=0)
    # right padding needs no mask under causal attention; positions default to 0, 1, 2, …
    assert set(unpacked) == {"input_ids", "labels"}
    assert unpacked["input_ids"].tolist() == [[1, 2, 3], [1, 0, 0]]
    assert unpacked["labels"].tolist() == [[IGNORE, 2, 3], [IGNORE, IGNORE, IGNORE]]


def test_flat_collate_is_one_row_without_padding() -> None:
    batch = collate([[_example(3), _example(2)], [_example(4)]], pad_id=0, flat=True)
    assert batch["input_ids"].tolist() == [[1, 2, 3, 1, 2, 1, 2, 3, 4]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 1, 0, 1, 2, 3]]
    assert batch["labels"].tolist() == [[IGNORE, 2, 3, IGNORE, 2, IGNORE, 2, 3, 4]]
    assert batch["cu_seq_lens_q"].tolist() == [0, 3, 5, 9]


def test_packed_logits_equal_logits_alone(random_model: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(random_model)
    model = AutoModelForCausalLM.from_pretrained(random_model).eval()
    chats = [
        [Message("user", "안녕하세요"), Message("assistant", "네, 반가워요")],
        [
            Message("system", "분류하세요"),
            Message("user", "택배가 안 와요"),
            Message("assistant", "배송"),
        ],
        [Message("user", "결제?"), Message("assistant", "환불은 3일")],
    ]
    examples = [encode(tokenizer, chat, 256) for chat in chats]
    batch = collate([examples], tokenizer.pad_token_id)
    with torch.no_grad():
        packed = model(
            input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False
        ).logits[0]
        start = 0
        for example in examples:
            alone = model(input_ids=torch.tensor([example.input_ids]), use_cache=False).logits[0]
            part = packed[start : start + len(example.input_ids)]
            assert torch.allclose(part, alone, atol=1e-4)
            start += len(example.input_ids)
