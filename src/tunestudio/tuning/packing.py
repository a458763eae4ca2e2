"""Rows of a batch: one example per row, or several short examples packed into one row.

A packed row restarts ``position_ids`` at 0 for each example and is passed to the model without
an attention mask: transformers then reads the restarts as sequence boundaries and builds a
block-diagonal causal mask, so no token attends to another example (tests check that a packed
example's logits equal its logits alone). Unpacked rows are right-padded with a 2-D mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tunestudio.tuning.tokenize import IGNORE, Example

if TYPE_CHECKING:
    import torch


def plan_rows(examples: Sequence[Example], max_length: int, packing: bool) -> list[list[int]]:
    """Group example indices into rows: singletons, or first-fit-decreasing bins of max_length.

    First-fit decreasing fills rows nearly full with a simple, deterministic rule.
    """
    if not packing:
        return [[i] for i in range(len(examples))]
    order = sorted(range(len(examples)), key=lambda i: (-len(examples[i].input_ids), i))
    rows: list[list[int]] = []
    room: list[int] = []
    for index in order:
        size = len(examples[index].input_ids)
        slot = next((r for r, free in enumerate(room) if free >= size), None)
        if slot is None:
            rows.append([index])
            room.append(max_length - size)
        else:
            rows[slot].append(index)
            room[slot] -= size
    return rows


def collate(rows: Sequence[Sequence[Example]], pad_id: int) -> dict[str, torch.Tensor | None]:
    """Tensors for one batch: input_ids, labels, position_ids and attention_mask (None if packed).

    Each example's first label is IGNORE: nothing before it in the row may predict it.
    """
    import torch

    width = max(sum(len(e.input_ids) for e in row) for row in rows)
    packed = any(len(row) > 1 for row in rows)
    ids, labels, positions, mask = [], [], [], []
    for row in rows:
        row_ids: list[int] = []
        row_labels: list[int] = []
        row_positions: list[int] = []
        for example in row:
            row_ids += example.input_ids
            row_labels += [IGNORE, *example.labels[1:]]
            row_positions += list(range(len(example.input_ids)))
        pad = width - len(row_ids)
        mask.append([1] * len(row_ids) + [0] * pad)
        ids.append(row_ids + [pad_id] * pad)
        labels.append(row_labels + [IGNORE] * pad)
        # Padding is a sequence of its own (positions from 0), so packed rows never attend to it.
        positions.append(row_positions + list(range(pad)))
    return {
        "input_ids": torch.tensor(ids),
        "labels": torch.tensor(labels),
        "position_ids": torch.tensor(positions),
        "attention_mask": None if packed else torch.tensor(mask),
    }
