"""Rows of a batch: one example per row, or several short examples packed into one row.

Three layouts, all with the same labels (each example's first label IGNORE):

- **unpacked** rows are right-padded and passed *without* an attention mask: under causal
  attention no real token can see the padding that follows it, and without a mask SDPA takes its
  fused causal path (a padding mask would make it build a mask and repeat the key/value heads);
- **packed** rows restart ``position_ids`` at 0 for each example and are passed without a mask:
  transformers reads the restarts as sequence boundaries and builds a block-diagonal causal mask
  (flash-attention kernels read them as variable-length sequences);
- **flat** (packing on a model that attends segment by segment, see forward.py): every example of
  the batch in one row, no padding at all, with ``cu_seq_lens_q`` marking where each one starts.

Tests check that a packed or flat example's logits equal its logits alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate
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


def collate(
    rows: Sequence[Sequence[Example]], pad_id: int, *, flat: bool = False
) -> dict[str, torch.Tensor]:
    """Tensors for one batch: ``input_ids`` and ``labels``, plus ``position_ids`` when packed and
    ``cu_seq_lens_q`` (example boundaries) when ``flat``."""
    import torch

    if flat:
        examples = [e for row in rows for e in row]
        batch = {k: torch.tensor([v]) for k, v in _row(examples).items()}
        # [0, len0, len0 + len1, …]: where each example starts and ends in the one row
        starts = accumulate((len(e.input_ids) for e in examples), initial=0)
        batch["cu_seq_lens_q"] = torch.tensor(list(starts))
        return batch
    width = max(sum(len(e.input_ids) for e in row) for row in rows)
    packed = any(len(row) > 1 for row in rows)
    columns: dict[str, list[list[int]]] = {"input_ids": [], "labels": [], "position_ids": []}
    for row in rows:
        parts = _row(row)
        pad = width - len(parts["input_ids"])
        columns["input_ids"].append(parts["input_ids"] + [pad_id] * pad)
        columns["labels"].append(parts["labels"] + [IGNORE] * pad)
        # Padding is a sequence of its own (positions from 0), so packed rows never attend to it.
        columns["position_ids"].append(parts["position_ids"] + list(range(pad)))
    if not packed:
        del columns["position_ids"]  # 0, 1, 2, … is what the model assumes without them
    return {k: torch.tensor(v) for k, v in columns.items()}


def _row(examples: Sequence[Example]) -> dict[str, list[int]]:
    """Examples laid end to end: ids, labels with each first label hidden, restarting positions.

    Each example's first label is IGNORE: nothing before it in the row may predict it.
    """
    ids: list[int] = []
    labels: list[int] = []
    positions: list[int] = []
    for example in examples:
        ids += example.input_ids
        labels += [IGNORE, *example.labels[1:]]
        positions += range(len(example.input_ids))
    return {"input_ids": ids, "labels": labels, "position_ids": positions}
