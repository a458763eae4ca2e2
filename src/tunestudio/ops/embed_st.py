"""``st:<hub id or local path>``: a sentence-transformers model (the library does the pooling).

sentence-transformers reads the model's own ``modules.json`` — pooling kind (mean, CLS, last
token), normalisation layer, max sequence length — so a model card's recipe is followed exactly,
which :class:`~tunestudio.ops.embeddings.HFEmbedder`'s fixed mean pooling cannot promise. A hub
id loads from the local Hugging Face cache (or downloads, where the network allows it); a path
loads a saved model directory.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from tunestudio.config import validate_model
from tunestudio.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class SentenceTransformerOptions(BaseModel):
    """What ``load_embedder("st:…", **options)`` accepts (others are ignored by the caller)."""

    model_config = ConfigDict(extra="forbid")

    device: str | None = Field(None, description="cpu, cuda, mps; default: the library's pick")
    batch_size: int = Field(32, ge=1, description="texts per forward pass")


class SentenceTransformerEmbedder:
    """A loaded sentence-transformers model; one call at a time (a CPU gains nothing more)."""

    def __init__(self, name: str, model: SentenceTransformer, *, batch_size: int = 32) -> None:
        self._name = name
        self._model: SentenceTransformer | None = model
        dimensions = model.get_embedding_dimension()
        if not dimensions:
            raise ModelError(
                f"{name} does not say how long its vectors are",
                where=name,
                hint="use a sentence-transformers model with a pooling module",
            )
        self._dimensions = int(dimensions)
        self._batch_size = batch_size
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimensions(self) -> int:
        return self._dimensions

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text (normalised by us, whatever the model's last layer)."""
        if not texts:
            return []
        with self._lock:
            vectors = self._loaded().encode(
                list(texts),
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        rows: list[list[float]] = vectors.astype("float64").tolist()
        return rows

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text as the model reads it: special tokens in, cut at its max length."""
        model = self._loaded()
        limit = model.get_max_seq_length()
        encoded = model.tokenizer(list(texts), truncation=limit is not None, max_length=limit)
        return [len(ids) for ids in encoded["input_ids"]]

    def close(self) -> None:
        """Drop the model so its memory can be freed; later calls raise ModelError."""
        with self._lock:
            self._model = None
        gc.collect()

    def _loaded(self) -> SentenceTransformer:
        if self._model is None:
            raise ModelError(f"the embedder {self._name} is closed", where=self._name)
        return self._model


def load_sentence_transformer(
    name: str, target: str, **options: Any
) -> SentenceTransformerEmbedder:
    """Load ``st:<target>``; a missing model is a ModelError saying where it was looked for."""
    opts = validate_model(SentenceTransformerOptions, options, f"options of {name}")
    from sentence_transformers import SentenceTransformer

    local = Path(target).expanduser()
    source = str(local) if local.exists() else target
    try:
        model = SentenceTransformer(source, device=opts.device)
    except (OSError, ValueError) as exc:  # not found locally, no network, not a model
        raise ModelError(
            f"could not load the sentence-transformers model {target!r}: {exc}",
            where=name,
            hint="give a local model directory (st:./models/my-model) or a hub id that is in "
            "the local Hugging Face cache",
        ) from None
    return SentenceTransformerEmbedder(name, model, batch_size=opts.batch_size)
