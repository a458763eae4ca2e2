"""The ``classify:`` section of a classify-compare recipe: which embedders, which k, and where
the generative models are tuned.

Kept apart from :mod:`tunestudio.experiments.recipe` so the recipe module stays small; it has
no dependency on it (the recipe imports this).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Names become file names (outputs/knn-<name>-….csv), so the same characters are refused.
_FORBIDDEN_IN_NAMES = set('/\\:*?"<>|@')
DEFAULT_EMBEDDER_NAME = "default"


class EmbedderEntry(BaseModel):
    """An embedding model for the kNN classifier: a spec string, or the library default."""

    model_config = ConfigDict(extra="forbid")

    spec: str | None = Field(
        default=None,
        description="Embedder spec string (see docs/ops/embeddings.md), e.g. hash-ko, "
        "st:<path or hub id>, hf:<path>, tiny; unset: tunestudio's default embedder.",
    )
    name: str | None = Field(
        default=None,
        description="Short name for tables, charts and file names; default: from the spec.",
    )

    @model_validator(mode="before")
    @classmethod
    def _spec_shorthand(cls, value: Any) -> Any:
        # `embedders: [hash-ko, st:./minilm]` is the common case; `null` is the default one.
        if value is None:
            return {}
        return {"spec": value} if isinstance(value, str) else value

    @field_validator("spec")
    @classmethod
    def _known_spec(cls, value: str | None) -> str | None:
        """A spec tunestudio can embed with (the model itself is loaded when the run starts)."""
        from tunestudio.errors import TuneStudioError
        from tunestudio.ops.embeddings import parse_embed_spec

        if value is not None:
            try:
                parse_embed_spec(value)
            except TuneStudioError as exc:
                raise ValueError(f"{exc.message}; {exc.hint}") from None
        return value

    @field_validator("name")
    @classmethod
    def _file_safe(cls, value: str | None) -> str | None:
        if value is None:
            return value
        bad = sorted(_FORBIDDEN_IN_NAMES & set(value))
        if not value.strip() or bad or value.startswith("."):
            shown = f" (remove {' '.join(bad)})" if bad else ""
            raise ValueError(f"{value!r} cannot name files{shown}; use letters, digits, - _ .")
        return value

    @property
    def label(self) -> str:
        """The name shown and used in file names: ``name``, else derived from the spec."""
        if self.name:
            return self.name
        if self.spec is None:
            return DEFAULT_EMBEDDER_NAME
        # hf:/models/bge-m3 → bge-m3; st:org/x → x; openai:<url>#bge → bge; hash-ko → hash-ko
        spec = self.spec.rsplit("#", 1)[-1]
        tail = spec.split(":", 1)[-1].rstrip("/\\").replace("\\", "/").split("/")[-1]
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in tail).strip("-.")
        return safe or DEFAULT_EMBEDDER_NAME


class ClassifySettings(BaseModel):
    """classify-compare: kNN over embeddings vs the generative models, by training size."""

    model_config = ConfigDict(extra="forbid")

    embedders: list[EmbedderEntry] = Field(
        default_factory=lambda: [EmbedderEntry()],
        min_length=1,
        description="Embedders for the kNN classifier; default: tunestudio's default embedder.",
    )
    k: int = Field(
        default=5,
        ge=1,
        description="Neighbours that vote (the nearest breaks a tie); k=1 is always reported too.",
    )
    without_system: bool = Field(
        default=True,
        description="Also answer without the system prompt; tuned models are then tuned on the "
        "samples with System_Prompt emptied as well, so train and test match.",
    )
    tune_sizes: list[int] | None = Field(
        default=None,
        description="Training sizes at which the generative models are tuned (a subset of "
        "`sizes`); default: every size. Tuning costs minutes where the kNN costs seconds.",
    )

    @field_validator("embedders")
    @classmethod
    def _unique_labels(cls, entries: list[EmbedderEntry]) -> list[EmbedderEntry]:
        labels = [e.label for e in entries]
        twice = sorted({n for n in labels if labels.count(n) > 1})
        if twice:
            raise ValueError(
                f"embedder names must differ; {', '.join(twice)} is used twice "
                "(give one of them a `name:`)"
            )
        return entries

    @field_validator("tune_sizes")
    @classmethod
    def _sorted_sizes(cls, sizes: list[int] | None) -> list[int] | None:
        if sizes is None:
            return None
        if not sizes:
            raise ValueError("give one or more sizes, or leave tune_sizes unset for every size")
        if len(set(sizes)) != len(sizes):
            raise ValueError("each size once, please")
        return sorted(sizes)

    @property
    def ks(self) -> list[int]:
        """The k values reported: 1 and the configured k."""
        return sorted({1, self.k})

    def check_tune_sizes(self, sizes: list[int]) -> None:
        """Refuse a tuning size that is not one of the recipe's ``sizes``."""
        unknown = sorted(set(self.tune_sizes or []) - set(sizes))
        if unknown:
            raise ValueError(
                f"classify.tune_sizes {', '.join(map(str, unknown))} is not among sizes "
                f"({', '.join(map(str, sizes))})"
            )
