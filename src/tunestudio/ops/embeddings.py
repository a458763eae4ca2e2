"""Embeddings: the :class:`Embedder` protocol, :func:`load_embedder` and :class:`HFEmbedder`.

An embedder is named by a spec string (:data:`EMBED_SPEC_FORMS`):

- ``hash-ko`` (the default) — offline Korean: Kiwi morphemes and character n-grams, hashed
  (:mod:`tunestudio.ops.embed_hash`); no model file;
- ``st:<hub id or path>`` — a sentence-transformers model (:mod:`tunestudio.ops.embed_st`);
- ``hf:<path>[@<adapter>]`` and ``tiny`` — :class:`HFEmbedder`, below;
- ``clova-embed:v2`` and ``openai:<base_url>#<model>`` — remote APIs
  (:mod:`tunestudio.ops.embed_remote`).

:class:`HFEmbedder` is what sentence-embedding models with mean pooling do (e.g.
sentence-transformers' default pooling, and how bge-style models are often served): run the
encoder, average the last hidden states over the real tokens (the attention mask weights the
mean, so padding never counts), and L2-normalise, so a dot product is the cosine similarity.
A causal language model's pooled states make a *weak* embedding: they were trained to predict
the next token, not to place paraphrases together (docs/ops/embeddings.md measures it).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

from pydantic import BaseModel

from tunestudio.errors import ConfigError, ModelError
from tunestudio.models.registry import ModelSpec, parse_spec
from tunestudio.ops.embed_hash import HASH_KO

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

DEFAULT_BATCH_SIZE = 16
# The default: on the Korean paraphrase set it separates paraphrases from other pairs better
# than the offline neural options at hand (docs/ops/embeddings.md has the table), needs no
# model file, and embeds hundreds of texts a second on a CPU.
DEFAULT_EMBEDDER = HASH_KO
EMBED_SPEC_FORMS = (
    "hash-ko (offline Korean: Kiwi morphemes + character n-grams; the default)",
    "st:<hub id or local path> (a sentence-transformers model)",
    "hf:<hub id or local path>[@<adapter>] (mean-pooled hidden states of any model)",
    "tiny (the built-in model, mean-pooled; weak)",
    "clova-embed:v2 (CLOVA Studio embedding v2, bge-m3; also clova-embed:clir-emb-dolphin, "
    "clova-embed:clir-sts-dolphin)",
    "openai:<base_url>#<model> (an OpenAI-compatible /embeddings)",
)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into fixed-size vectors."""

    @property
    def name(self) -> str:
        """The spec string the embedder was loaded from."""
        ...

    @property
    def dimensions(self) -> int:
        """The length of every vector :meth:`embed` returns."""
        ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text, in order."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """The number of tokens each text is embedded from."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...


class HFEmbedder:
    """Mean-pooled, L2-normalised last hidden states of a local transformers model.

    Texts are embedded in batches of ``batch_size``; one call at a time (the lock), since a
    torch model on a CPU gains nothing from concurrent forward passes.
    """

    def __init__(
        self,
        name: str,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_length: int | None = None,
    ) -> None:
        self._name = name
        self._model: PreTrainedModel | None = model.eval()
        self._dimensions = int(model.config.hidden_size)
        self._tokenizer = tokenizer
        self._batch_size = max(1, batch_size)
        self._max_length = max_length or _max_length(model, tokenizer)
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimensions(self) -> int:
        return self._dimensions

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text; an empty list for no texts."""
        vectors: list[list[float]] = []
        with self._lock:
            for start in range(0, len(texts), self._batch_size):
                vectors.extend(self._embed_batch(list(texts[start : start + self._batch_size])))
        return vectors

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text, special tokens included, after truncation to the model's limit."""
        encoded = self._tokenizer(
            list(texts), truncation=True, max_length=self._max_length, add_special_tokens=True
        )
        return [len(ids) for ids in encoded["input_ids"]]

    def close(self) -> None:
        """Drop the model so its memory can be freed; later calls raise ModelError."""
        with self._lock:
            self._model = None
        gc.collect()

    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        import torch

        if self._model is None:
            raise ModelError(f"the embedder {self._name} is closed", where=self._name)
        batch = self._tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self._max_length,
            return_tensors="pt",
        ).to(self._model.device)
        with torch.inference_mode():
            states = self._model(**batch).last_hidden_state
        return _mean_pool(states, batch["attention_mask"]).tolist()


def _mean_pool(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mask-weighted mean over tokens, L2-normalised (padding, left or right, ignored)."""
    import torch

    weights = mask.unsqueeze(-1).to(states.dtype)
    summed = (states * weights).sum(dim=1)
    pooled = summed / weights.sum(dim=1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled.float(), p=2, dim=-1)


def _max_length(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> int:
    """The longest input the model takes: its position limit, else the tokenizer's."""
    positions = getattr(model.config, "max_position_embeddings", None)
    limit = tokenizer.model_max_length if tokenizer.model_max_length < 10**9 else None
    candidates = [n for n in (positions, limit) if isinstance(n, int) and n > 0]
    return min(candidates) if candidates else 512


def load_embedder(
    spec: str | ModelSpec | None = None,
    *,
    device: str | None = None,
    dtype: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    **options: Any,
) -> Embedder:
    """The embedder a spec names (see :data:`EMBED_SPEC_FORMS`); ``hash-ko`` when none is given.

    Each kind takes the options it knows (e.g. ``dimensions`` for hash-ko, ``api_key`` and
    ``base_url`` for clova-embed); the rest are ignored, so one ``options`` mapping serves both
    uses of a served model (e.g. ``max_batch_size`` is for chat). An unknown spec is a
    ConfigError listing the forms; a chat-only spec (``clova:``) is a ModelError.
    """
    given = {key: value for key, value in options.items() if value is not None}
    if spec is None or isinstance(spec, str):
        kind, target = parse_embed_spec(spec or DEFAULT_EMBEDDER)
        raw = (spec or DEFAULT_EMBEDDER).strip()
    else:
        kind, target, raw = spec.kind, spec.target, spec.raw
    if kind == HASH_KO:
        from tunestudio.ops.embed_hash import HashKoOptions, load_hash_ko

        return load_hash_ko(raw, **_known(given, HashKoOptions))
    if kind == "st":
        from tunestudio.ops.embed_st import load_sentence_transformer

        return load_sentence_transformer(raw, target, device=device, batch_size=batch_size)
    if kind == "clova-embed":
        from tunestudio.ops.embed_remote import ClovaEmbedOptions, load_clova_embedder

        return load_clova_embedder(raw, target, **_known(given, ClovaEmbedOptions))
    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(raw)
    if parsed.kind == "openai":
        from tunestudio.ops.embed_remote import OpenAIEmbedOptions, load_openai_embedder

        known = _known(given, OpenAIEmbedOptions)
        return load_openai_embedder(raw, parsed.target, parsed.model or "", **known)
    return _load_local(parsed, device, dtype, batch_size)


def parse_embed_spec(spec: str) -> tuple[str, str]:
    """``(kind, target)`` of an embedder spec; ConfigError for an unknown one, ModelError for a
    model that only chats."""
    raw = spec.strip()
    kind, _, rest = raw.partition(":")
    if raw in (HASH_KO, "tiny"):
        return raw, ""
    if kind in ("st", "clova-embed", "hf", "openai") and rest.strip():
        return kind, rest.strip()
    if kind in ("clova", "clova-task", "pipeline") and rest:
        raise ModelError(
            f"{raw} is a chat model; it cannot embed",
            where=raw,
            hint="for CLOVA Studio's embedding API use clova-embed:v2; for a local model, "
            "st:<path> or hf:<path>",
        )
    raise ConfigError(
        f"unknown embedder spec {spec!r}",
        where="embedder",
        hint="name an embedder as one of: " + "; ".join(EMBED_SPEC_FORMS),
    )


def _known(options: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """The options ``model`` has fields for (the rest belong to other uses of the spec)."""
    return {key: value for key, value in options.items() if key in model.model_fields}


def _load_local(
    parsed: ModelSpec, device: str | None, dtype: str | None, batch_size: int
) -> HFEmbedder:
    """``tiny`` or ``hf:<path>[@<adapter>]``: mean-pooled hidden states."""
    if parsed.kind == "tiny":
        from tunestudio.models.tiny import ensure_tiny

        target, adapter = str(ensure_tiny()), None
    elif parsed.kind == "hf":
        target, adapter = parsed.target, parsed.adapter
    else:
        raise ModelError(
            f"{parsed.raw} is a chat model; it cannot embed",
            where=parsed.raw,
            hint="for CLOVA Studio's embedding API use clova-embed:v2; for a local model, "
            "st:<path> or hf:<path>",
        )
    model, tokenizer = _load(target, adapter, device, dtype)
    return HFEmbedder(parsed.raw, model, tokenizer, batch_size=batch_size)


def _load(
    target: str, adapter: str | None, device: str | None, dtype: str | None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The encoder (without any language-model head) and a right-padding tokenizer."""
    from transformers import AutoModel, AutoTokenizer

    from tunestudio.models import hf_load

    sources = hf_load.resolve_sources(target, adapter)
    chosen = hf_load.pick_device(device)
    torch_dtype = hf_load.pick_dtype(dtype, chosen)
    tokenizer = hf_load.from_pretrained(AutoTokenizer, sources.tokenizer, "tokenizer")
    # Right padding keeps every real token at the positions it has alone, so a text's vector
    # does not depend on the batch it is in (causal models see no padding after them).
    tokenizer.padding_side = "right"
    if tokenizer.pad_token is None:  # causal LMs often have none; pooling masks it out anyway
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    if sources.adapter is not None:  # merge the adapter, then keep the body without the head
        merged = hf_load.load_model(sources, torch_dtype, chosen, len(tokenizer))
        model = cast("PreTrainedModel", merged.base_model)
    else:
        model = hf_load.from_pretrained(
            AutoModel, sources.base, "model", dtype=torch_dtype, device_map=chosen
        )
    if getattr(model.config, "hidden_size", None) is None:
        raise ModelError(
            f"the model {target} has no hidden states to embed with",
            where=target,
            hint="use a transformer encoder or decoder model (e.g. a local bge-m3 directory)",
        )
    return model, tokenizer
