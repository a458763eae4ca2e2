"""Shared-prefix KV caching for the ``hf`` backend.

The prompts of a batch usually begin with the same tokens: the chat template's header and one
system prompt shared by a whole test set (141 of the 170 tokens of the inquiry cookbook's
rows). Reading those tokens dominated batched runs, so they are read once: the model runs on
the common prefix into a transformers ``DynamicCache`` and ``generate()`` continues every row of
the batch from a copy of it.

Rows are laid out ``prefix | padding | suffix`` with attention-mask zeros on the padding:
generate() derives position ids from the mask's cumulative sum, so each suffix keeps the
positions it has in the unpadded prompt, and greedy answers stay those of one row at a time.

Prefix caches live in a small LRU keyed by their token ids, bounded in count and bytes, and
dropped whenever the model's weights change. Later batches reuse them, and so do single-row
calls: a prompt that shares a long prefix with one of the last few prompts caches that prefix.
Not thread-safe: the backend calls it under its generation lock, in inference mode.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from transformers import DynamicCache, PreTrainedModel

# Shorter shared prefixes save little (10 tokens saved 3-10% of a 64-row batch on ``tiny``),
# while computing one costs an extra forward pass.
MIN_PREFIX_TOKENS = 16
MAX_ENTRIES = 8
MAX_BYTES = 256 * 2**20
RECENT_PROMPTS = 8

KV = tuple[tuple["torch.Tensor", "torch.Tensor"], ...]


def common_length(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


def batch_common_length(prompts: Sequence[Sequence[int]]) -> int:
    """How many leading tokens every prompt shares."""
    first = prompts[0]
    return min((common_length(first, p) for p in prompts[1:]), default=len(first))


def prefix_layout(
    prompts: Sequence[Sequence[int]], shared: int, pad: int
) -> tuple[list[list[int]], list[list[int]]]:
    """Rows as ``prompt[:shared] | padding | prompt[shared:]`` and their attention mask.

    ``shared`` 0 is plain left padding.
    """
    width = max(len(p) for p in prompts)
    ids = [[*p[:shared], *[pad] * (width - len(p)), *p[shared:]] for p in prompts]
    mask = [[1] * shared + [0] * (width - len(p)) + [1] * (len(p) - shared) for p in prompts]
    return ids, mask


def supports_prefix_cache(model: PreTrainedModel) -> bool:
    """Whether the prefix path is known to give the same answers for ``model``.

    Only decoder-only models whose cache is plain full attention: a sliding-window layer would
    drop prefix tokens, an unmerged peft adapter (prompt tuning) prepends its own tokens, and a
    model that asks generate() for its own cache kind (``cache_implementation``) refuses ours.
    """
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    if model.config.is_encoder_decoder or hasattr(model, "peft_config"):
        return False
    if getattr(model.generation_config, "cache_implementation", None) is not None:
        return False
    layers = DynamicCache(config=model.config).layers
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def model_fingerprint(model: PreTrainedModel) -> tuple[object, ...]:
    """Changes whenever the model, its device or dtype, or any weight (in place) changes.

    Every in-place write to a tensor (an adapter merged, an optimizer step, ``load_state_dict``)
    bumps its version counter, so the sum of the counters moves whenever a weight does.
    """
    params = list(model.parameters())
    versions = sum(p._version for p in params)
    return (id(model), str(model.device), str(model.dtype), len(params), versions)


@dataclass(frozen=True)
class PrefixKV:
    """The key/value states of every layer for the token ids ``ids`` (batch of one)."""

    ids: tuple[int, ...]
    layers: KV

    @property
    def nbytes(self) -> int:
        """Memory held by the states."""
        return sum(t.nelement() * t.element_size() for pair in self.layers for t in pair)


@dataclass(frozen=True)
class SharedPrefix:
    """The first ``length`` tokens of ``kv``, shared by every row of one generate() call."""

    kv: PrefixKV
    length: int

    def cache(self, batch: int) -> DynamicCache:
        """A fresh cache holding the prefix for ``batch`` rows.

        generate() extends the cache it is given, so each call gets its own; the stored states
        are only read (sliced and broadcast, then copied by the cache's first concatenation).
        """
        from transformers import DynamicCache

        n = self.length
        return DynamicCache(
            [
                (k[:, :, :n].expand(batch, -1, -1, -1), v[:, :, :n].expand(batch, -1, -1, -1))
                for k, v in self.kv.layers
            ]
        )


def compute_prefix(
    model: PreTrainedModel, ids: Sequence[int], base: SharedPrefix | None = None
) -> PrefixKV:
    """Run the model over ``ids`` (continuing from ``base``, a cached start of them) into a cache.

    Only the backbone runs: the prefix needs no logits, and a large vocabulary's head would cost
    as much as the layers.
    """
    import torch
    from transformers import DynamicCache

    start = base.length if base is not None else 0
    cache = base.cache(1) if base is not None else DynamicCache(config=model.config)
    tokens = torch.tensor([list(ids[start:])], dtype=torch.long, device=model.device)
    model.base_model(input_ids=tokens, past_key_values=cache, use_cache=True)
    # A DynamicCache iterates as (keys, values, sliding window) per layer.
    return PrefixKV(tuple(ids), tuple((keys, values) for keys, values, _ in cache))


class PrefixCache:
    """An LRU of prefix caches for one model, bounded in entry count and bytes."""

    def __init__(
        self,
        *,
        max_entries: int = MAX_ENTRIES,
        max_bytes: int = MAX_BYTES,
        min_tokens: int = MIN_PREFIX_TOKENS,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.min_tokens = max(1, min_tokens)
        self._entries: OrderedDict[tuple[int, ...], PrefixKV] = OrderedDict()
        self._recent: deque[tuple[int, ...]] = deque(maxlen=RECENT_PROMPTS)
        self._fingerprint: tuple[object, ...] | None = None

    @property
    def prefixes(self) -> list[tuple[int, ...]]:
        """The token ids of every stored prefix, least recently used first."""
        return list(self._entries)

    @property
    def nbytes(self) -> int:
        """Memory held by all stored prefixes."""
        return sum(kv.nbytes for kv in self._entries.values())

    def clear(self) -> None:
        """Forget every stored prefix and recent prompt."""
        self._entries.clear()
        self._recent.clear()

    def prepare(
        self, model: PreTrainedModel, prompts: Sequence[Sequence[int]]
    ) -> SharedPrefix | None:
        """The prefix the rows of one generate() call should share, or None when it won't pay.

        A batch shares its common prefix; a single prompt shares what it has in common with a
        stored prefix or one of the last few prompts. Every row keeps at least one token of its
        own (generate() needs logits of the last prompt token). A stored prefix is reused, and
        extended when the rows share more than it holds.
        """
        if not prompts:
            return None
        self._check_model(model)
        limit = min(len(p) for p in prompts) - 1
        if len(prompts) > 1:
            reach = wanted = min(limit, batch_common_length(prompts))
        else:
            reach, wanted = limit, min(limit, self._recent_common(prompts[0]))
            self._recent.append(tuple(prompts[0]))
        hit, hit_length = self._best(prompts[0], reach)
        target = max(wanted, hit_length)
        if target < self.min_tokens:
            return None
        if hit is not None and hit_length == target:
            self._entries.move_to_end(hit.ids)
            return SharedPrefix(hit, target)
        base = SharedPrefix(hit, hit_length) if hit is not None and hit_length > 0 else None
        kv = compute_prefix(model, prompts[0][:target], base)
        self._store(kv)
        return SharedPrefix(kv, target)

    def _check_model(self, model: PreTrainedModel) -> None:
        fingerprint = model_fingerprint(model)
        if fingerprint != self._fingerprint:
            self.clear()  # states computed by other weights would give other answers
            self._fingerprint = fingerprint

    def _recent_common(self, prompt: Sequence[int]) -> int:
        return max((common_length(prompt, seen) for seen in self._recent), default=0)

    def _best(self, prompt: Sequence[int], reach: int) -> tuple[PrefixKV | None, int]:
        """The stored prefix that covers most of ``prompt`` (at most ``reach`` tokens)."""
        best: PrefixKV | None = None
        best_length = 0
        for kv in self._entries.values():
            length = min(common_length(kv.ids, prompt), reach)
            if length > best_length:
                best, best_length = kv, length
        return best, best_length

    def _store(self, kv: PrefixKV) -> None:
        size = kv.nbytes
        if size > self.max_bytes:
            return  # used for this call only
        # A stored prefix of the new one is redundant: the new one serves its prompts too.
        for ids in [ids for ids in self._entries if kv.ids[: len(ids)] == ids]:
            del self._entries[ids]
        self._entries[kv.ids] = kv
        total = self.nbytes
        while len(self._entries) > self.max_entries or total > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            total -= dropped.nbytes
