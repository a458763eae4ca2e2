"""The short pre-training run that turns a random tiny Llama into a (very small) chat model.

Plain next-token prediction over packed documents: every document's token ids are concatenated
in a seeded order and cut into fixed-length rows, so no compute goes to padding. Everything is
seeded and single-process, so the same corpus and seed give the same weights.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel


@dataclass(frozen=True)
class TrainSettings:
    """Hyper-parameters of the pre-training run, chosen by measuring on a 2-core CPU.

    How well a later LoRA run takes hold depends on how far pre-training got: bases stopped at
    200 steps (lr 3e-3) stayed near chance (7-17%) after 100 CPU-seconds of LoRA on the inquiry
    task, while bases past a sharp drop in loss, which came at 220-300 steps, reached 45-75%
    (seed-dependent) after 150. A peak lr of 6e-3 gets there within 240 steps, about a minute
    on one core.
    """

    steps: int = 240
    batch_size: int = 16
    seq_len: int = 128
    lr: float = 6e-3
    warmup: int = 30
    weight_decay: float = 0.01
    seed: int = 0


def pack(documents: Sequence[list[int]], seq_len: int, rng: random.Random) -> list[list[int]]:
    """Shuffle ``documents`` and cut their concatenation into rows of ``seq_len + 1`` ids.

    Each row gives ``seq_len`` inputs and their next tokens; the tail that does not fill a row is
    dropped.
    """
    order = list(range(len(documents)))
    rng.shuffle(order)
    stream = [tok for i in order for tok in documents[i]]
    width = seq_len + 1
    return [stream[i : i + width] for i in range(0, len(stream) - width + 1, width)]


def _lr_factor(step: int, settings: TrainSettings) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < settings.warmup:
        return (step + 1) / settings.warmup
    progress = (step - settings.warmup) / max(1, settings.steps - settings.warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


def _batches(
    documents: Sequence[list[int]], settings: TrainSettings, rng: random.Random
) -> list[list[list[int]]]:
    """Enough batches for ``settings.steps``, reshuffling the documents for every pass."""
    batches: list[list[list[int]]] = []
    while len(batches) < settings.steps:
        rows = pack(documents, settings.seq_len, rng)
        if len(rows) < settings.batch_size:
            raise ValueError("the corpus is too small for one batch")
        full = len(rows) - len(rows) % settings.batch_size
        batches += [rows[i : i + settings.batch_size] for i in range(0, full, settings.batch_size)]
    return batches[: settings.steps]


def pretrain(
    model: PreTrainedModel,
    documents: Sequence[list[int]],
    settings: TrainSettings,
    progress: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Train ``model`` in place on ``documents`` (token id lists); returns the loss per step.

    ``progress(step, loss)`` is called after each step.
    """
    import torch

    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay, betas=(0.9, 0.95)
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, settings))
    model.train()
    losses: list[float] = []
    for step, batch in enumerate(_batches(documents, settings, rng)):
        loss = _step(model, torch.tensor(batch, dtype=torch.long))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if progress:
            progress(step + 1, losses[-1])
    model.eval()
    return losses


def _step(model: PreTrainedModel, rows: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over a batch of packed rows."""
    import torch

    logits = model(input_ids=rows[:, :-1]).logits
    loss: torch.Tensor = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), rows[:, 1:].reshape(-1)
    )
    return loss
