"""The recipe's optional LLM judge: each answer scored alone, or each before/after pair judged
in both orders. Judge calls are journaled in ``journals/judge-*.jsonl`` like the answers, so
a rerun does not ask the judge again."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunestudio.evaluation.judge_rubric import Rubric
    from tunestudio.experiments.kinds import Context
    from tunestudio.models import Backend


def run_judge(ctx: Context) -> None:
    """Judge the run's answers as the recipe's ``judge:`` says; rows go to ``result.judge``.

    Pairwise, each paired comparison (baseline → tuned, or first model → another) is judged;
    otherwise each variant's answers are scored alone. The recipe's validation makes sure a
    pairwise judge has pairs to judge.
    """
    from tunestudio.evaluation.judge_rubric import load_rubric
    from tunestudio.models import load_backend

    settings = ctx.recipe.judge
    assert settings is not None
    rubric = load_rubric(settings.rubric)
    judge = load_backend(settings.model)
    try:
        if settings.pairwise:
            _pairwise(ctx, judge, rubric)
        else:
            _single(ctx, judge, rubric)
    finally:
        judge.close()


def _pairwise(ctx: Context, judge: Backend, rubric: Rubric) -> None:
    from tunestudio.evaluation.judge import judge_pairwise

    for pair in ctx.result.pairs:
        a, b = ctx.result.evaluation(pair.a), ctx.result.evaluation(pair.b)
        label = f"judge {pair.a} vs {pair.b}"
        with ctx.observer.inference(label, 2 * len(a.predictions)) as progress:
            report = judge_pairwise(
                judge,
                a.predictions.items,
                b.predictions.items,
                rubric,
                names=(pair.a, pair.b),
                candidates={pair.a: a.variant.spec, pair.b: b.variant.spec},
                journal_path=ctx.run_dir / "journals" / f"judge-{pair.a}-vs-{pair.b}.jsonl",
                concurrency=ctx.recipe.generation.concurrency,
                progress=progress,
            )
        ctx.result.judge.append(_row(f"{pair.a} vs {pair.b}", report.metrics, report.warnings))


def _single(ctx: Context, judge: Backend, rubric: Rubric) -> None:
    from tunestudio.evaluation.judge import judge_single

    for ev in ctx.result.evaluations:
        key = ev.variant.key
        with ctx.observer.inference(f"judge {key}", len(ev.predictions)) as progress:
            report = judge_single(
                judge,
                ev.predictions.items,
                rubric,
                candidates={key: ev.variant.spec},
                journal_path=ctx.run_dir / "journals" / f"judge-{key}.jsonl",
                concurrency=ctx.recipe.generation.concurrency,
                progress=progress,
            )
        ctx.result.judge.append(_row(key, report.metrics, report.warnings))


def _row(answers: str, metrics: dict[str, float], warnings: list[str]) -> dict[str, Any]:
    return {"answers": answers, **metrics, "warnings": "; ".join(warnings)}
