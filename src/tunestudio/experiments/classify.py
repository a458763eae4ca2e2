"""classify-compare: classification by embedding search vs by a generative model (seed item 7).

Two ways to put a question in one of a fixed set of categories, at several training sizes:

- **kNN over embeddings** (the seed's Search API side): embed the training set's ``Text`` once
  per embedder; at each size × seed take the same nested, stratified sample a learning curve
  uses and label every test question by the vote of its ``k`` most similar training texts
  (k=1 and the recipe's k).
- **the generative models** (the Chat Completion side): every model answers the test set with
  the system prompt and without it; with ``tune:``, each is also tuned on the samples at
  ``classify.tune_sizes`` (without the system prompt: on samples whose System_Prompt is empty,
  so training and test agree) and answers again.

Every method's answers go through the same files and scorers as any variant
(``outputs/<key>.csv``, the recipe's first scorer gives accuracy), and each (method, size) gets
a curve point: the mean over seeds × test rows with a crossed-bootstrap 95% interval. Untuned
models are points of size 0. Generation is journaled and tuning resumable as in every kind;
the embeddings are kept in ``embeddings/`` and the kNN lookups are redone (milliseconds).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tunestudio.errors import TuneStudioError
from tunestudio.experiments import curve
from tunestudio.experiments.classify_recipe import ClassifySettings, EmbedderEntry
from tunestudio.experiments.datasets import (
    DataFile,
    load_train,
    nested_order,
    sha256_of,
    strata_keys,
    write_sample,
)
from tunestudio.experiments.evaluate import score_output
from tunestudio.experiments.kinds import Context, check_sizes
from tunestudio.experiments.knn import EmbeddedSets, KnnClassifier, embed_sets
from tunestudio.experiments.results import Variant
from tunestudio.experiments.training import tune

if TYPE_CHECKING:
    from tunestudio.inference import BatchInput
    from tunestudio.types import Conversation

NO_SYSTEM = "-nosys"  # key suffix of a variant answering (and tuned) without the system prompt


def run_classify(ctx: Context) -> None:
    """The classify-compare plan: untuned generative models, kNN per embedder, tuned models."""
    assert ctx.train is not None and ctx.recipe.sizes  # the recipe's validation requires them
    settings = ctx.recipe.classify or ClassifySettings()
    conversations = load_train(ctx.train.path)
    check_sizes(ctx.recipe.sizes, len(conversations), ctx.where)
    keys = strata_keys(conversations, ctx.recipe.stratify)
    orders = {seed: nested_order(keys, seed) for seed in ctx.recipe.seeds}
    bases = _untuned(ctx, settings)
    tune_sizes = settings.tune_sizes or ctx.recipe.sizes
    _knn(ctx, settings, conversations, orders)
    for model in ctx.recipe.tuned_models():
        for bare in _prompt_modes(settings):
            for size in tune_sizes:
                runs = [
                    _tuned_run(ctx, bases[model.name, bare], conversations, order, size, seed)
                    for seed, order in orders.items()
                ]
                label = method_name(model.name, tuned=True, bare=bare)
                _point(ctx, label, size, runs, last=size == max(tune_sizes))


def method_name(model: str, *, tuned: bool, bare: bool) -> str:
    """``tiny tuned (no system prompt)``: a generative method's name in tables and charts."""
    prompt = "no system prompt" if bare else "system prompt"
    return f"{model}{' tuned' if tuned else ''} ({prompt})"


def knn_name(embedder: str, k: int) -> str:
    """``kNN hash-ko k=5``: a kNN method's name in tables and charts."""
    return f"kNN {embedder} k={k}"


def _prompt_modes(settings: ClassifySettings) -> list[bool]:
    return [False, True] if settings.without_system else [False]


def _untuned(ctx: Context, settings: ClassifySettings) -> dict[tuple[str, bool], Variant]:
    """Every model answers with its system prompt and without; each is a point of size 0."""
    bases = {}
    for model in ctx.recipe.models:
        for bare in _prompt_modes(settings):
            variant = Variant(
                key=model.name + (NO_SYSTEM if bare else ""),
                model=model.name,
                spec=model.spec,
                system="" if bare else model.system,  # "" removes the test set's prompt
            )
            bases[model.name, bare] = variant
            matches = ctx.evaluate(variant).matches
            _point(ctx, method_name(model.name, tuned=False, bare=bare), 0, [matches])
    return bases


def _knn(
    ctx: Context,
    settings: ClassifySettings,
    conversations: Sequence[Conversation],
    orders: dict[int, list[int]],
) -> None:
    """Every embedder × k × size: a kNN classifier per seed's sample, scored like a model."""
    from tunestudio.inference import read_batch_input

    assert ctx.recipe.sizes
    batch = read_batch_input(ctx.test.path)
    questions = [messages[-1].content for messages in batch.conversations]
    texts = [c.turns[-1].user for c in conversations]
    labels = [c.turns[-1].assistant for c in conversations]
    for index, entry in enumerate(settings.embedders):
        sets = _embedded(ctx, entry, index, texts, questions)
        for k in settings.ks:
            for size in ctx.recipe.sizes:
                runs = [
                    _knn_run(ctx, batch, sets, labels, entry, k, order[:size], seed)
                    for seed, order in orders.items()
                ]
                last = size == ctx.recipe.sizes[-1]  # sizes are sorted by the recipe
                _point(ctx, knn_name(entry.label, k), size, runs, last=last)


def _embedded(
    ctx: Context, entry: EmbedderEntry, index: int, texts: list[str], questions: list[str]
) -> EmbeddedSets:
    ctx.observer.stage(f"embedding {len(texts)} training and {len(questions)} test texts")
    path = ctx.run_dir / "embeddings" / f"{entry.label}.npz"
    try:
        sets = embed_sets(entry.spec, texts, questions, path)
    except TuneStudioError as exc:  # name the recipe field the user wrote, then the embedder
        where = f"{ctx.where}: classify.embedders.{index} ({exc.where or entry.spec})"
        raise type(exc)(exc.message, where=where, hint=exc.hint) from None
    if sets.seconds:
        ctx.result.timings[f"embed {entry.label}"] = sets.seconds
    else:
        ctx.observer.note(f"{entry.label}: embeddings from an earlier run ({path})")
    return sets


def _knn_run(
    ctx: Context,
    batch: BatchInput,
    sets: EmbeddedSets,
    labels: Sequence[str],
    entry: EmbedderEntry,
    k: int,
    chosen: Sequence[int],
    seed: int,
) -> list[int | None]:
    """Classify the test set with a kNN over the ``chosen`` training rows; its match column."""
    from tunestudio.inference import RowResult, output_table, write_atomic

    size = len(chosen)
    started = time.perf_counter()
    classifier = KnnClassifier(sets.train[list(chosen)], [labels[i] for i in chosen])
    predicted = classifier.predict(sets.test, k)
    # Per row: its share of embedding the test set plus of the search (there is no model call).
    per_row_ms = 1000 * (sets.test_seconds + time.perf_counter() - started) / len(predicted)
    rows = [RowResult(i, label, latency_ms=per_row_ms) for i, label in enumerate(predicted)]
    key = f"knn-{entry.label}-k{k}-n{size}-s{seed}"
    out = write_atomic(ctx.run_dir / "outputs" / f"{key}.csv", *output_table(batch, rows))
    # "tuned" in the sense that matters to the report: fitted to a sample of `size` rows.
    variant = Variant(
        key=key,
        model=knn_name(entry.label, k),
        spec=f"kNN k={k} over {sets.name}",
        system="",
        tuned=True,
        size=size,
        seed=seed,
    )
    evaluation = score_output(variant, out, batch, ctx.scorers, answered_now=len(rows))
    ctx.result.evaluations.append(evaluation)
    return evaluation.matches


def _tuned_run(
    ctx: Context,
    base: Variant,
    conversations: Sequence[Conversation],
    order: Sequence[int],
    size: int,
    seed: int,
) -> list[int | None]:
    """Tune ``base`` on the seed's sample of ``size`` rows and answer; its match column.

    A base without the system prompt is tuned on the sample with System_Prompt emptied.
    """
    assert ctx.train is not None
    bare = base.key.endswith(NO_SYSTEM)
    suffix = NO_SYSTEM if bare else ""
    if bare:
        conversations = [dataclasses.replace(c, system="") for c in conversations]
    path = ctx.run_dir / "data" / f"train-n{size}-s{seed}{suffix}.csv"
    write_sample(conversations, order, size, path)
    source = f"sample of {ctx.train.path.name}" + (", System_Prompt emptied" if bare else "")
    role = f"train n={size} seed {seed}" + (" (no system prompt)" if bare else "")
    data = DataFile(role, path, sha256_of(path), size, source)
    ctx.result.data.append(data)
    key = f"{base.model}{suffix}-n{size}-s{seed}"
    ctx.observer.stage(f"tuning {base.model} on {size} rows (seed {seed}) → {key}")
    spec = ctx.recipe.tune_settings().for_run(base.spec, path, seed=seed)
    tuning = tune(base, key, spec, data, ctx.run_dir, ctx.observer, size=size, seed=seed)
    ctx.result.tunings.append(tuning)
    return ctx.evaluate(tuning.variant).matches


def _point(
    ctx: Context, method: str, size: int, runs: list[list[int | None]], *, last: bool = True
) -> None:
    """The method's curve point at ``size`` and, for ``group_by``, its error by group.

    The breakdown is kept for untuned models and each method's largest size (``last``) only:
    one line per method and size would bury the chart.
    """
    ctx.result.curve.append(curve.curve_point(method, size, runs))
    if last and ctx.recipe.group_by and ctx.result.evaluations:
        meta = [item.meta for item in ctx.result.evaluations[0].predictions.items]
        name = method if size == 0 else f"{method} n={size}"
        for column in ctx.recipe.group_by:
            ctx.result.groups += curve.group_points(
                column, meta, runs, variant=name, size=size or None
            )
