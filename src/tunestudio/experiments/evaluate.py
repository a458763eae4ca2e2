"""Evaluate one variant: answer the test set (journaled, resumable), save, read back, score.

Scores are always computed from the saved predictions file, exactly as ``tunestudio eval
score`` would, so a report's numbers can be re-derived from ``outputs/<key>.csv`` alone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tunestudio.errors import ConfigError, DataError
from tunestudio.evaluation.scorers.base import RowDataError
from tunestudio.experiments.observer import Observer
from tunestudio.experiments.results import Evaluation, Variant

if TYPE_CHECKING:
    from tunestudio.evaluation.scorers.base import Scorer
    from tunestudio.experiments.recipe import Recipe
    from tunestudio.inference import BatchInput, RowResult
    from tunestudio.models import Backend

LOCAL_KINDS = ("tiny", "hf")


def build_scorers(recipe: Recipe, where: str) -> list[Scorer]:
    """The recipe's scorers, built before any model work so a bad option fails at once."""
    from tunestudio.evaluation.scorers import get_scorer

    scorers = []
    for index, entry in enumerate(recipe.scorers):
        try:
            scorers.append(get_scorer(entry.name, **entry.options))
        except ConfigError as exc:
            # get_scorer names the field it refused: `name`, or the option's own name.
            inner = exc.where if exc.where in (None, "name") else f"options.{exc.where}"
            field = f"scorers.{index}" + (f".{inner}" if inner else "")
            raise ConfigError(exc.message, where=f"{where}: {field}", hint=exc.hint) from None
    return scorers


def evaluate(
    variant: Variant,
    test_path: Path,
    run_dir: Path,
    recipe: Recipe,
    scorers: Sequence[Scorer],
    observer: Observer,
) -> Evaluation:
    """Answer ``test_path`` with the variant, write ``outputs/<key>.csv`` and score it."""
    from tunestudio.inference import output_table, read_batch_input, write_atomic

    batch = read_batch_input(test_path, system=variant.system)
    out = run_dir / "outputs" / f"{variant.key}.csv"
    journal = run_dir / "journals" / f"{variant.key}.jsonl"
    started = time.perf_counter()
    results, answered = _answers(variant, batch, journal, recipe, observer)
    wall = time.perf_counter() - started
    write_atomic(out, *output_table(batch, results))
    return score_output(
        variant,
        out,
        batch,
        scorers,
        answered_now=answered,
        from_journal=len(results) - answered,
        wall_s=wall if answered else 0.0,
    )


def score_output(
    variant: Variant,
    out: Path,
    batch: BatchInput,
    scorers: Sequence[Scorer],
    *,
    answered_now: int,
    from_journal: int = 0,
    wall_s: float = 0.0,
) -> Evaluation:
    """Read the saved answers ``out`` to ``batch`` back and score them with every scorer."""
    from tunestudio.evaluation.predictions import read_predictions

    predictions = read_predictions(out)
    try:
        scores = [scorer.score(predictions.items) for scorer in scorers]
    except RowDataError as exc:  # a scorer knows the item; the user knows the test file's row
        column = f", column {exc.column}" if exc.column else ""
        raise DataError(
            exc.message, where=f"{batch.where(exc.index)}{column}", hint=exc.hint
        ) from None
    return Evaluation(
        variant=variant,
        path=out,
        predictions=predictions,
        scores=scores,
        answered_now=answered_now,
        from_journal=from_journal,
        wall_s=wall_s,
    )


def _answers(
    variant: Variant, batch: BatchInput, journal: Path, recipe: Recipe, observer: Observer
) -> tuple[list[RowResult], int]:
    """Every row's result, calling the model only for rows the journal does not hold."""
    from tunestudio.inference import journaled_rows, run_batch

    params = recipe.generation.params()
    with _rows_named(batch):
        done = journaled_rows(journal, batch.conversations, model_id=variant.spec, params=params)
    if len(done) == len(batch):  # all answered by an earlier run: do not even load the model
        observer.note(
            f"{variant.key}: all {len(batch)} rows answered by an earlier run ({journal})"
        )
        return [done[i] for i in range(len(batch))], 0
    backend = _load(variant.spec, recipe.generation.batch_size)
    try:
        with observer.inference(variant.key, len(batch)) as progress, _rows_named(batch):
            result = run_batch(
                backend,
                batch.conversations,
                params=params,
                journal_path=journal,
                model_id=variant.spec,
                concurrency=recipe.generation.concurrency,
                batch_size=recipe.generation.batch_size,
                progress=progress,
            )
    finally:
        backend.close()
    return result.rows, result.called


def _load(spec: str, batch_size: int) -> Backend:
    from tunestudio.models import load_backend, parse_spec

    # Local models generate a whole batch per call; the hf loader caps it at max_batch_size.
    local = parse_spec(spec).kind in LOCAL_KINDS
    return load_backend(spec, **({"max_batch_size": batch_size} if local else {}))


@contextmanager
def _rows_named(batch: BatchInput) -> Iterator[None]:
    """Name a row the journal disagrees with as the user finds it: ``test.csv row 12``."""
    from tunestudio.inference import JournalError

    try:
        yield
    except JournalError as exc:
        if exc.index is None:
            raise
        raise JournalError(
            f"this test row is not the row the journal {exc.where} answered",
            where=batch.where(exc.index),
            hint="the test set (or a model's system prompt) changed since this run folder was "
            "made; restore it, or rerun with --fresh (or another --output) to start over",
        ) from None
