"""The three kinds of experiment, each a short plan over the same steps (evaluate, tune, pair).

- compare: every model answers the test set; the first is paired with each other one.
- tune-and-compare: every model answers; the tuned ones are tuned on the whole training set,
  answer again, and each is paired with its own baseline.
- learning-curve: every model answers; the tuned ones are tuned on nested, stratified samples
  of the training set at each size × seed and answer again; accuracy per size gets a 95%
  interval, and error probability is broken down by the ``group_by`` columns per size.
- classify-compare: a kNN classifier over embeddings of training samples at each size × seed
  vs the generative models with and without the system prompt (see experiments.classify).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tunestudio.errors import ConfigError
from tunestudio.experiments import curve
from tunestudio.experiments.datasets import (
    DataFile,
    load_train,
    nested_order,
    sha256_of,
    strata_keys,
    write_sample,
)
from tunestudio.experiments.evaluate import evaluate
from tunestudio.experiments.observer import Observer
from tunestudio.experiments.results import Evaluation, Pair, RunResult, Variant
from tunestudio.experiments.training import tune

if TYPE_CHECKING:
    from tunestudio.evaluation.scorers.base import Scorer
    from tunestudio.experiments.recipe import Recipe
    from tunestudio.types import Conversation


@dataclass
class Context:
    """What every step of a run needs, and the result it adds to."""

    recipe: Recipe
    where: str  # the recipe file, for messages
    run_dir: Path
    observer: Observer
    scorers: list[Scorer]
    test: DataFile
    train: DataFile | None
    result: RunResult

    def evaluate(self, variant: Variant) -> Evaluation:
        self.observer.stage(f"evaluating {variant.key} ({variant.spec})")
        ev = evaluate(
            variant, self.test.path, self.run_dir, self.recipe, self.scorers, self.observer
        )
        self.result.evaluations.append(ev)
        return ev

    def pair(self, a: Evaluation, b: Evaluation) -> None:
        from tunestudio.evaluation.compare import paired

        comparison = paired(a.matches, b.matches)
        self.result.pairs.append(Pair(a.variant.key, b.variant.key, comparison))


def run_compare(ctx: Context) -> None:
    """Models × one test set; the first model is paired with each of the others."""
    baselines = _baselines(ctx)
    for other in baselines[1:]:
        ctx.pair(baselines[0], other)
    _groups_per_variant(ctx, baselines)


def run_tune_and_compare(ctx: Context) -> None:
    """Baselines, then each tuned model on the whole training set, paired with its baseline."""
    assert ctx.train is not None  # the recipe's validation requires it for this kind
    baselines = {ev.variant.model: ev for ev in _baselines(ctx)}
    settings = ctx.recipe.tune_settings()
    for model in ctx.recipe.tuned_models():
        base = baselines[model.name]
        spec = settings.for_run(model.spec, ctx.train.path)
        key = f"{model.name}+tuned"
        ctx.observer.stage(f"tuning {model.name} on {ctx.train.rows} rows → {key}")
        tuning = tune(base.variant, key, spec, ctx.train, ctx.run_dir, ctx.observer)
        ctx.result.tunings.append(tuning)
        ctx.pair(base, ctx.evaluate(tuning.variant))
    _groups_per_variant(ctx, ctx.result.evaluations)


def run_learning_curve(ctx: Context) -> None:
    """Tune at every size × seed on nested samples; a curve point per size with its interval."""
    assert ctx.train is not None and ctx.recipe.sizes
    conversations = load_train(ctx.train.path)  # bad sizes or stratify fail before any work
    check_sizes(ctx.recipe.sizes, len(conversations), ctx.where)
    keys = strata_keys(conversations, ctx.recipe.stratify)
    baselines = {ev.variant.model: ev for ev in _baselines(ctx)}
    _groups_per_variant(ctx, list(baselines.values()))
    orders = {seed: nested_order(keys, seed) for seed in ctx.recipe.seeds}
    for model in ctx.recipe.tuned_models():
        base = baselines[model.name].variant
        for size in ctx.recipe.sizes:
            runs = [
                _curve_run(ctx, base, conversations, orders[seed], size, seed)
                for seed in ctx.recipe.seeds
            ]
            ctx.result.curve.append(curve.curve_point(model.name, size, runs))
            _groups(ctx, runs, variant=f"{model.name} n={size}", size=size)


def _curve_run(
    ctx: Context,
    base: Variant,
    conversations: Sequence[Conversation],
    order: Sequence[int],
    size: int,
    seed: int,
) -> list[int | None]:
    """One learning-curve point's run: sample, tune (seeded), answer; its match column."""
    assert ctx.train is not None
    path = ctx.run_dir / "data" / f"train-n{size}-s{seed}.csv"
    write_sample(conversations, order, size, path)
    source = f"sample of {ctx.train.path.name}"
    data = DataFile(f"train n={size} seed {seed}", path, sha256_of(path), size, source)
    ctx.result.data.append(data)
    key = f"{base.model}-n{size}-s{seed}"
    ctx.observer.stage(f"tuning {base.model} on {size} rows (seed {seed}) → {key}")
    spec = ctx.recipe.tune_settings().for_run(base.spec, path, seed=seed)
    tuning = tune(base, key, spec, data, ctx.run_dir, ctx.observer, size=size, seed=seed)
    ctx.result.tunings.append(tuning)
    return ctx.evaluate(tuning.variant).matches


def run_classify_compare(ctx: Context) -> None:
    """kNN over embeddings vs the generative models, by training size (experiments.classify)."""
    from tunestudio.experiments.classify import run_classify

    run_classify(ctx)  # imported here: classify builds on this module's Context and helpers


KINDS = {
    "compare": run_compare,
    "tune-and-compare": run_tune_and_compare,
    "learning-curve": run_learning_curve,
    "classify-compare": run_classify_compare,
}


def _baselines(ctx: Context) -> list[Evaluation]:
    return [
        ctx.evaluate(Variant(key=m.name, model=m.name, spec=m.spec, system=m.system))
        for m in ctx.recipe.models
    ]


def _groups_per_variant(ctx: Context, evaluations: Sequence[Evaluation]) -> None:
    for ev in evaluations:
        _groups(ctx, [ev.matches], variant=ev.variant.key, size=None)


def _groups(
    ctx: Context, runs: Sequence[Sequence[int | None]], *, variant: str, size: int | None
) -> None:
    if not ctx.recipe.group_by or not ctx.result.evaluations:
        return
    meta = [item.meta for item in ctx.result.evaluations[0].predictions.items]
    for column in ctx.recipe.group_by:
        ctx.result.groups += curve.group_points(column, meta, runs, variant=variant, size=size)


def check_sizes(sizes: Sequence[int], available: int, where: str) -> None:
    """Refuse training sizes larger than the training set, before any work."""
    too_big = [s for s in sizes if s > available]
    if too_big:
        raise ConfigError(
            f"sizes {', '.join(map(str, too_big))} exceed the {available} conversations of the "
            "training set",
            where=f"{where}: sizes",
            hint=f"use sizes up to {available}, or a larger training set (or generator rows)",
        )
