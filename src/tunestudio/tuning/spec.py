"""TuneSpec: everything that defines a tuning run. Variants of the recipe are values here.

A TuneSpec is saved with every job and every output, so a result can always be traced to the
exact settings (and, with the dataset's sha256, the exact data) that produced it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TaskType = Literal["GENERATION", "CLASSIFICATION"]
Method = Literal["LORA", "FULL"]


class TuneSpec(BaseModel):
    """Settings of one tuning run (CLOVA Studio's task fields, plus what a local run needs)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Base model spec string, e.g. `tiny` or `hf:<id or path>`.")
    data: Path = Field(
        description="Training dataset (CLOVA format, or any format tunestudio reads)."
    )
    name: str | None = Field(
        default=None, description="A name for the job (defaults to data file stem)."
    )
    task_type: TaskType | None = Field(
        default=None,
        description="GENERATION or CLASSIFICATION; guessed from the data by the validator when unset.",
    )
    method: Method = Field(default="LORA", description="LORA (peft adapter) or FULL fine-tuning.")
    epochs: int = Field(default=4, ge=1, le=1000, description="Passes over the training data.")
    learning_rate: float = Field(default=1e-4, gt=0, le=1, description="Peak learning rate.")
    batch_size: int = Field(
        default=8, ge=1, description="Sequences (or packed rows) per step per process."
    )
    grad_accum: int = Field(
        default=1, ge=1, description="Steps of gradient accumulation per update."
    )
    max_length: int = Field(
        default=1024, ge=16, description="Longest tokenized example; longer ones are cut."
    )
    lora_r: int = Field(default=8, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(
        default=16, ge=1, description="LoRA scaling numerator (scale = alpha / r)."
    )
    # 0 as in peft and torchtune: on CPU the random masks cost a large share of every step.
    lora_dropout: float = Field(default=0.0, ge=0, lt=1, description="Dropout on the LoRA input.")
    target_modules: list[str] | None = Field(
        default=None, description="Module names LoRA adapts; all linear layers when unset."
    )
    warmup_ratio: float = Field(
        default=0.03, ge=0, lt=1, description="Share of updates spent warming up."
    )
    weight_decay: float = Field(default=0.0, ge=0, description="AdamW weight decay.")
    seed: int = Field(default=0, description="Seed for initialisation, shuffling and dropout.")
    eval_split: float = Field(
        default=0.0,
        ge=0,
        description="Held-out share (0–1) or row count (≥ 1) for evaluation loss.",
    )
    checkpoint_every: int = Field(
        default=50, ge=1, description="Save a resumable checkpoint every N updates."
    )
    packing: bool = Field(
        default=False,
        description="Pack short rows into full-length sequences (no cross-attention).",
    )
    merge: bool = Field(
        default=False, description="Also save the base model with the adapter merged in."
    )
    num_processes: int = Field(
        default=1, ge=1, description="Data-parallel processes (DDP via accelerate)."
    )

    @field_validator("target_modules")
    @classmethod
    def _non_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError(
                "give at least one module name, or leave it unset for all linear layers"
            )
        return value

    @property
    def job_name(self) -> str:
        return self.name or self.data.stem


def read_spec_file(path: Path) -> dict[str, Any]:
    """The fields of a TuneSpec YAML file, unvalidated, with ``data`` resolved.

    A relative ``data`` path is taken from the YAML file's folder, so a recipe and its dataset
    can sit side by side and work from any current directory.
    """
    from tunestudio.config import read_yaml

    fields = read_yaml(path)
    data = fields.get("data")
    if isinstance(data, str) and data and not Path(data).expanduser().is_absolute():
        fields["data"] = str((path.parent / data).resolve())
    return fields


def load_spec(path: Path, **overrides: Any) -> TuneSpec:
    """A TuneSpec from a YAML file (see :func:`read_spec_file`), ``overrides`` replacing fields.

    Raises ConfigError naming the file and every bad field.
    """
    from tunestudio.config import validate_model

    return validate_model(TuneSpec, read_spec_file(Path(path)) | overrides, str(path))
