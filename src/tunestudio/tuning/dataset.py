"""The data side of the recipe: validate, read, split, tokenize with loss masks."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tunestudio.errors import ConfigError
from tunestudio.tuning.spec import TuneSpec
from tunestudio.tuning.tokenize import Example, encode

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from tunestudio.data.validate import ValidationReport
    from tunestudio.types import Conversation


@dataclass
class Prepared:
    """A validated, tokenized dataset, split into training and evaluation examples."""

    task_type: str
    labels: list[str]
    data_rows: int
    sha256: str
    conversations: list[Conversation]
    train: list[Example] = field(default_factory=list)
    eval: list[Example] = field(default_factory=list)
    truncated: int = 0


def sha256_of(path: Path) -> str:
    """The file's sha256, so a result names the exact data it was trained on."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def validate_data(spec: TuneSpec) -> ValidationReport:
    """Run the data validator for local tuning; raise DatasetInvalidError when it finds errors.

    Local tuning validates with ``target="local"``: CLOVA Studio's upload-only rules (its
    100-row minimum) are warnings here, since a local run can learn from fewer rows.
    """
    from tunestudio.data.validate import validate_file

    task = spec.task_type.lower() if spec.task_type else None
    report = validate_file(spec.data, task=task, target="local")  # type: ignore[arg-type]
    report.raise_for_errors()
    return report


def validate_and_read(spec: TuneSpec) -> Prepared:
    """Validate the data (see :func:`validate_data`) and read its conversations."""
    from tunestudio.data.formats import load_dataset

    report = validate_data(spec)
    dataset = load_dataset(spec.data)
    labels = [entry.label for entry in report.labels] if report.task == "classification" else []
    return Prepared(
        task_type=report.task.upper(),
        labels=labels,
        data_rows=report.rows,
        sha256=sha256_of(spec.data),
        conversations=list(dataset.conversations),
    )


def eval_count(spec: TuneSpec, total: int) -> int:
    """How many conversations ``eval_split`` holds out (a share below 1, else a count)."""
    split = spec.eval_split
    count = round(total * split) if split < 1 else int(split)
    if split > 0 and count == 0:
        count = 1
    if count >= total:
        raise ConfigError(
            f"eval_split={split} leaves no conversations to train on ({total} in the data)",
            where="eval_split",
            hint="use a share such as 0.1, or a row count smaller than the dataset",
        )
    return count


def tokenize_split(prepared: Prepared, tokenizer: PreTrainedTokenizerBase, spec: TuneSpec) -> None:
    """Split off the evaluation conversations (seeded) and tokenize both parts with masks."""
    conversations = prepared.conversations
    order = list(range(len(conversations)))
    random.Random(spec.seed).shuffle(order)
    held = set(order[: eval_count(spec, len(conversations))])
    for index, conversation in enumerate(conversations):
        example = encode(tokenizer, conversation.messages(), spec.max_length)
        prepared.truncated += example.truncated
        if example.target_tokens == 0:
            continue  # the answer was cut away entirely; nothing to learn from this row
        (prepared.eval if index in held else prepared.train).append(example)
    if not prepared.train:
        raise ConfigError(
            f"max_length={spec.max_length} cuts every answer away",
            where="max_length",
            hint="raise max_length so the prompt and at least part of the answer fit",
        )
