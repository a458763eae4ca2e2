"""An experiment's data as files: generated sets written out, hashed, and nested samples.

Every dataset a run uses is a file in (or named by) the run folder with its sha256, so a report
can always say exactly which rows produced its numbers. Generated sets are written to
``data/``; learning-curve samples too, one file per (size, seed).
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tunestudio.errors import ConfigError
from tunestudio.experiments.recipe import DataSource, Recipe
from tunestudio.types import Conversation

COMPLETION = "Completion"


@dataclass(frozen=True)
class DataFile:
    """One dataset file of a run: what it is, where, its sha256 and its size in rows."""

    role: str
    path: Path
    sha256: str
    rows: int
    source: str

    def to_dict(self) -> dict[str, str | int]:
        return {
            "role": self.role,
            "path": str(self.path),
            "sha256": self.sha256,
            "rows": self.rows,
            "source": self.source,
        }


def sha256_of(path: Path) -> str:
    """The file's sha256 as hex, read in chunks so a large file costs no memory."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def prepare_data(recipe: Recipe, run_dir: Path) -> tuple[DataFile, DataFile | None]:
    """The test set and the training set (None for compare) as files, generating when asked."""
    train_convs: list[Conversation] = []
    train = None
    if recipe.train is not None:
        train_convs, train = _train_file(recipe.train, run_dir)
    test = _test_file(recipe.test, run_dir, recipe.train, train_convs)
    return test, train


def _train_file(source: DataSource, run_dir: Path) -> tuple[list[Conversation], DataFile]:
    from tunestudio.data.formats import load_dataset, save_dataset

    if source.file is not None:
        convs = load_dataset(source.file).conversations
        return convs, _described("train", source.file, len(convs), source.describe())
    convs = _generate(source, "train", [])
    path = save_dataset(convs, run_dir / "data" / "train.csv", "clova")
    return convs, _described("train", path, len(convs), source.describe())


def _test_file(
    source: DataSource, run_dir: Path, train: DataSource | None, train_convs: list[Conversation]
) -> DataFile:
    from tunestudio.data.formats import save_dataset
    from tunestudio.data.table import read_table

    if source.file is not None:
        rows = len(read_table(source.file).rows)
        return _described("test", source.file, rows, source.describe())
    # A generated test set never repeats a training row made by the same generator.
    same = train is not None and train.generator == source.generator
    convs = _generate(source, "test", train_convs if same else [])
    path = save_dataset(convs, run_dir / "data" / "test.csv", "testset")
    return _described("test", path, len(convs), source.describe())


def _described(role: str, path: Path, rows: int, source: str) -> DataFile:
    return DataFile(role, path, sha256_of(path), rows, source)


def _generate(
    source: DataSource, split: Literal["train", "test"], avoid: list[Conversation]
) -> list[Conversation]:
    rows = source.rows or 0
    if source.generator == "inquiries":
        from tunestudio.data.generators import generate_inquiries

        texts = [c.turns[0].user for c in avoid]
        return generate_inquiries(rows, seed=source.seed or 0, split=split, avoid=texts)
    from tunestudio.data.generators import (
        DEFAULT_CONTINENTS,
        DEFAULT_COUNTS,
        generate_countries,
        parse_continents,
        parse_counts,
    )

    return generate_countries(
        rows,
        counts=parse_counts(source.counts) if source.counts else DEFAULT_COUNTS,
        continents=parse_continents(source.continents) if source.continents else DEFAULT_CONTINENTS,
        subset=source.subset,
        seed=source.seed or 0,
        split=split,
        system=source.system or "",
        avoid=[c.meta["countries"] for c in avoid if "countries" in c.meta],
    )


def nested_order(keys: Sequence[str], seed: int) -> list[int]:
    """An order of ``range(len(keys))`` whose every prefix is a stratified sample.

    Within each stratum the members are shuffled; member ``j`` of a stratum of ``n`` gets the
    position ``(j + u) / n`` with one random offset ``u`` per stratum, and the order sorts by
    position. A prefix of length ``N`` then holds ``N × n / total`` members of each stratum
    (± 1), and the sample of a smaller size is part of every larger one (nested).
    """
    rng = random.Random(f"learning-curve:{seed}")
    strata: dict[str, list[int]] = defaultdict(list)
    for index, key in enumerate(keys):
        strata[key].append(index)
    placed: list[tuple[float, float, int]] = []
    for key in sorted(strata):
        members = strata[key]
        rng.shuffle(members)
        offset = rng.random()
        placed += [((j + offset) / len(members), rng.random(), i) for j, i in enumerate(members)]
    return [index for *_, index in sorted(placed)]


def strata_keys(conversations: Sequence[Conversation], column: str | None) -> list[str]:
    """Each conversation's stratum: its last answer for ``Completion``, else a metadata column."""
    if column is None:
        return ["" for _ in conversations]
    if column == COMPLETION:
        return [c.turns[-1].assistant for c in conversations]
    missing = [c for c in conversations if column not in c.meta]
    if missing:
        known = sorted({COMPLETION, *(k for c in conversations for k in c.meta)})
        raise ConfigError(
            f"the training set has no column {column!r} to stratify by",
            where="stratify",
            hint=f"use one of: {', '.join(known)}, or leave stratify unset",
        )
    return [str(c.meta[column]) for c in conversations]


def write_sample(
    conversations: Sequence[Conversation], order: Sequence[int], size: int, path: Path
) -> Path:
    """Write the first ``size`` of ``order`` (in the training file's order) as a CLOVA file."""
    from tunestudio.data.formats import save_dataset

    chosen = sorted(order[:size])
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_dataset([conversations[i] for i in chosen], path, "clova")


def load_train(path: Path) -> list[Conversation]:
    """The training set's conversations (for sampling)."""
    from tunestudio.data.formats import load_dataset

    return load_dataset(path).conversations
