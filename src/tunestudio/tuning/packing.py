"""Rows of a batch: one example per row, or several short examples packed into one row.

Three layouts, all giving every example the loss it has alone:

- **unpacked** rows are right-padded and passed *without* an attention mask: under causal
  attention no real token can see the padding that follows it, and without a mask SDPA takes its
  fused causal path (a padding mask would make it build a mask and repeat the key/value heads);
- **packed** rows restart ``position_ids`` at 0 for each example and are passed without a mask:
  transformers reads the restarts as sequence boundaries and builds a block-diagonal causal mask
  (flash-attention kernels read them as variable-length sequences);
- **flat** (packing on a model that attends segment by segment, see forward.py): the whole batch
  in one row with no padding. The leading tokens that every example shares and none is trained on
  (in a CLOVA dataset: the template and the system prompt, often most of each row) are laid down
  once, then each example's remainder, its positions continuing after the prefix;
  ``cu_seq_lens_q`` marks the segments and ``shared_prefix_length`` says that the first one is
  the shared prefix, which every later segment attends to.

Tests check that each layout gives the same loss and gradients as every example alone.
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
    """Tensors for one batch: ``input_ids`` and ``labels``; ``position_ids`` when packed; and
    ``cu_seq_lens_q`` (segment boundaries), ``shared_prefix_length`` when ``flat``."""
    import torch

    if flat:
        return _flat([e for row in rows for e in row])
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


def shared_prefix(examples: Sequence[Example]) -> int:
    """How many leading tokens all ``examples`` share with no label on them or on the next token.

    The next token counts too: the prefix's last position would have to predict a different
    token for each example. 0 for a single example (nothing to share).
    """
    if len(examples) < 2:
        return 0
    # the common prefix of all is that of the lexicographically smallest and largest
    low, high = min(e.input_ids for e in examples), max(e.input_ids for e in examples)
    common = next((i for i, (a, b) in enumerate(zip(low, high, strict=False)) if a != b), len(low))
    return max(0, min(common, *(_first_label(e) - 1 for e in examples)))


def _first_label(example: Example) -> int:
    return next((i for i, label in enumerate(example.labels) if label != IGNORE), 0)


def _flat(examples: Sequence[Example]) -> dict[str, torch.Tensor]:
    """One row: the shared prefix once (if any), then each example's remainder."""
    import torch

    prefix = shared_prefix(examples)
    ids, positions = list(examples[0].input_ids[:prefix]), list(range(prefix))
    labels = [IGNORE] * prefix
    lengths = [prefix] if prefix else []
    for example in examples:
        ids += example.input_ids[prefix:]
        # labels[prefix] is IGNORE (see shared_prefix), as is each first label anyway
        labels += [IGNORE, *example.labels[prefix + 1 :]]
        positions += range(prefix, len(example.input_ids))
        lengths.append(len(example.input_ids) - prefix)
    batch = {
        "input_ids": torch.tensor([ids]),
        "labels": torch.tensor([labels]),
        "position_ids": torch.tensor([positions]),
        "cu_seq_lens_q": torch.tensor(list(accumulate(lengths, initial=0))),
    }
    if prefix:
        batch["shared_prefix_length"] = torch.tensor(prefix)
    return batch
