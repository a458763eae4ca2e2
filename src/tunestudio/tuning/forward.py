"""How a batch goes through the model: logits only where there are labels, packing without waste.

Two things make a training step cheaper without changing its loss (tests compare them with the
plain computation):

- **Logits only at labelled positions.** The language-model head and its softmax over the whole
  vocabulary are a large share of a step, yet an assistant-only loss needs them at a few positions
  per example (one label's tokens, in a classification set). transformers' ``logits_to_keep``
  takes a boolean mask of the positions to keep and applies the model's own head (with any
  scaling the model does after it) to those alone.
- **Packing, attended segment by segment.** SDPA on CPU computes a packed row's attention at the
  row's full length squared even with a block-diagonal mask, which can cost more than packing
  saves. When the model uses SDPA, the recipe registers a small attention function through
  transformers' ``AttentionInterface`` that runs SDPA on each packed example on its own (fused
  causal kernel, no mask), and lays a batch out as one padding-free row (``flat`` collation).
  Flash-attention kernels already work this way from the position ids, so other implementations
  keep the packed rows.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tunestudio.tuning.packing import collate
from tunestudio.tuning.tokenize import IGNORE, Example

if TYPE_CHECKING:
    import torch

SEGMENTED = "tunestudio_segmented_sdpa"


def segmented_sdpa(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers' SDPA attention, run on each segment of a flat row separately.

    ``cu_seq_lens_q`` (from the model's keyword arguments) holds the segment boundaries; with
    ``shared_prefix_length`` the first segment is a prefix that every other segment also attends
    to. Without them (an unpacked batch) this is plain SDPA.
    """
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    bounds = kwargs.pop("cu_seq_lens_q", None)
    prefix = int(kwargs.pop("shared_prefix_length", 0))
    if bounds is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    # split (not slicing in a loop): its backward is one concatenation of the gradients, where
    # each slice's backward would write a zero-filled full-length gradient
    lengths = bounds.diff().tolist()
    queries, keys, values = (t.split(lengths, dim=2) for t in (query, key, value))
    parts = []
    for index, (q, k, v) in enumerate(zip(queries, keys, values, strict=True)):
        mask = None  # the fused causal path
        if prefix and index > 0:
            k, v = torch.cat([keys[0], k], dim=2), torch.cat([values[0], v], dim=2)
            mask = _after_prefix(q.shape[2], prefix, q.device)
        parts.append(sdpa_attention_forward(module, q, k, v, mask, **kwargs)[0])
    return torch.cat(parts, dim=1), None  # (batch, length, heads, head_dim), as SDPA returns


def _after_prefix(length: int, prefix: int, device: torch.device) -> torch.Tensor:
    """Which keys each of ``length`` queries sees: the whole prefix, then causally its own."""
    import torch

    own = torch.ones(length, length, dtype=torch.bool, device=device).tril()
    seen = torch.ones(length, prefix, dtype=torch.bool, device=device)
    return torch.cat([seen, own], dim=1)[None, None]


class Forward:
    """The model's forward pass and loss for the recipe, set up once for a model and spec."""

    def __init__(self, model: Any, packing: bool, max_length: int) -> None:
        self.base = model.get_base_model() if hasattr(model, "get_base_model") else model
        params = inspect.signature(self.base.forward).parameters
        self.keep_logits = "logits_to_keep" in params
        self.attention = self.base.config._attn_implementation
        self.flat = packing and self._segment_attention(max_length)

    def _segment_attention(self, max_length: int) -> bool:
        """Switch an SDPA model to :func:`segmented_sdpa`; False when that would change it."""
        window = getattr(self.base.config, "sliding_window", None)
        if self.attention != "sdpa" or (window is not None and window < max_length):
            return False  # a sliding window lives in the mask this path leaves out
        from transformers import AttentionInterface

        AttentionInterface.register(SEGMENTED, segmented_sdpa)
        self.base.set_attn_implementation(SEGMENTED)
        return bool(self.base.config._attn_implementation == SEGMENTED)

    def restore(self) -> None:
        """Put the model's own attention back (before saving it)."""
        if self.flat:
            self.base.set_attn_implementation(self.attention)

    def collate(self, rows: Sequence[Sequence[Example]], pad_id: int) -> dict[str, torch.Tensor]:
        """The batch tensors in the layout this model trains on (see packing.py)."""
        return collate(rows, pad_id, flat=self.flat)

    def loss_sum(self, model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Summed next-token cross-entropy over the labelled positions of one batch.

        ``model`` is what to call: the model itself, or its DDP wrapper when distributed.
        """
        import torch

        device = self.base.device
        inputs = {k: v.to(device) for k, v in batch.items() if k != "labels"}
        targets = batch["labels"][:, 1:].to(device)  # position i predicts token i + 1
        wanted = targets != IGNORE
        if self.keep_logits:  # the last position predicts nothing
            keep = torch.nn.functional.pad(wanted, (0, 1))
            logits = model(**inputs, use_cache=False, logits_to_keep=keep).logits
        else:
            logits = model(**inputs, use_cache=False).logits[:, :-1][wanted]
        return torch.nn.functional.cross_entropy(logits.float(), targets[wanted], reduction="sum")
