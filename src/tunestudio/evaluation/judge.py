"""LLM-as-judge: any backend scores answers on a rubric, or compares two runs pair by pair.

Judge prompts are the rows of an ordinary batch run (:func:`tunestudio.inference.run_batch`),
so an HTTP judge is called concurrently, a local one in batches, failed calls are retried, and
with a journal a killed judge run continues where it stopped. Repeats and the two orders of a
pair are laid out one block after another (all items once, then all again), so a later run
with more repeats extends the same journal instead of contradicting it.

Pairwise comparison asks every pair twice, A first and B first, and maps the second verdict
back: a judge that prefers whatever comes first agrees with itself on nothing, and the report
says so (``swap_consistency``) instead of crowning the side that happened to be shown first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tunestudio.data.normalize import exact_key
from tunestudio.errors import ConfigError, DataError
from tunestudio.evaluation.judge_bias import self_preference_warnings
from tunestudio.evaluation.judge_parse import JudgeReply, parse_score, parse_verdict
from tunestudio.evaluation.judge_report import (
    CANDIDATE_FAILED,
    JUDGE_FAILED,
    PairRow,
    PairwiseReport,
    SingleJudgeReport,
    SingleJudgeRow,
    pair_metrics,
    single_metrics,
)
from tunestudio.evaluation.judge_rubric import Kind, Rubric, check_variables, render
from tunestudio.evaluation.predictions import INPUT_COLUMNS, Prediction
from tunestudio.inference.batch import BatchResult, ProgressCallback, run_batch
from tunestudio.inference.journal import JournalError, RowResult
from tunestudio.models.base import Backend
from tunestudio.types import GenParams, Message

# Temperature 0 for reproducible verdicts; room for a sentence of reason and the JSON.
DEFAULT_PARAMS = GenParams(max_tokens=512, temperature=0.0)


@dataclasses.dataclass(frozen=True)
class _JudgeRun:
    """How to drive the judge: generation, journal and concurrency settings."""

    params: GenParams = DEFAULT_PARAMS
    journal_path: Path | str | None = None
    concurrency: int = 8
    retry_failed: bool = False
    fresh: bool = False
    progress: ProgressCallback | None = None


class DifferentTestSetsError(DataError):
    """The two runs of a pairwise comparison did not answer the same items in the same order.

    ``index`` is the first item (0-based) that differs, when the lengths agree.
    """

    def __init__(self, message: str, *, index: int | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.index = index


def judge_single(
    judge: Backend,
    items: Sequence[Prediction],
    rubric: Rubric,
    *,
    params: GenParams | None = None,
    repeats: int = 1,
    variables: Mapping[str, str] | None = None,
    candidates: Mapping[str, str] | None = None,
    journal_path: Path | str | None = None,
    concurrency: int = 8,
    retry_failed: bool = False,
    fresh: bool = False,
    progress: ProgressCallback | None = None,
) -> SingleJudgeReport:
    """Score every answer on the rubric's scale; ``repeats`` asks the judge that many times.

    Items whose candidate failed to answer are not sent and come back as ``candidate_failed``.
    ``candidates`` (name → model spec) are checked against the judge for self-preference.
    ``variables`` fill template variables for every row (``--var``). Raises ConfigError for a
    rubric the items cannot fill, before any call.
    """
    if repeats < 1:
        raise ConfigError(f"repeats must be at least 1, not {repeats}", where="repeats")
    run = _JudgeRun(
        params or DEFAULT_PARAMS, journal_path, concurrency, retry_failed, fresh, progress
    )
    check_rubric(rubric, "single", items, variables)
    sent = [i for i, item in enumerate(items) if not item.failed]
    prompts = [
        render(rubric, "single", items[i], {"answer": items[i].answer or ""}, variables)
        for i in sent
    ]
    batch = _run(judge, prompts * repeats, sent * repeats, run)
    scale = rubric.scale
    replies: dict[int, list[JudgeReply]] = {i: [] for i in sent}
    for owner, result in zip(sent * repeats, batch.rows, strict=True):
        replies[owner].append(_reply(result, lambda text: parse_score(text, scale.min, scale.max)))
    rows = [_single_row(i, replies.get(i)) for i in range(len(items))]
    warnings = self_preference_warnings(judge.name, candidates or {})
    return SingleJudgeReport(
        rubric=rubric.name,
        judge=judge.name,
        rows=rows,
        metrics=single_metrics(rows),
        warnings=warnings + _repeat_warnings(run.params, repeats),
        batch=batch,
        repeats=repeats,
    )


def judge_pairwise(
    judge: Backend,
    a: Sequence[Prediction],
    b: Sequence[Prediction],
    rubric: Rubric,
    *,
    names: tuple[str, str] = ("A model", "B model"),
    params: GenParams | None = None,
    variables: Mapping[str, str] | None = None,
    candidates: Mapping[str, str] | None = None,
    journal_path: Path | str | None = None,
    concurrency: int = 8,
    retry_failed: bool = False,
    fresh: bool = False,
    progress: ProgressCallback | None = None,
) -> PairwiseReport:
    """Compare ``a`` and ``b`` item by item, asking in both orders (A first, then B first).

    ``a`` and ``b`` must answer the same questions in the same order
    (:class:`DifferentTestSetsError` otherwise). A pair where either side failed to answer is
    not sent (``candidate_failed``); both verdicts readable and agreeing give ``a``, ``b`` or
    ``tie``, disagreeing ``inconsistent``; an unreadable verdict gives ``judge_failed``.
    """
    check_same_test_set(a, b)
    run = _JudgeRun(
        params or DEFAULT_PARAMS, journal_path, concurrency, retry_failed, fresh, progress
    )
    check_rubric(rubric, "pairwise", a, variables)
    sent = [i for i in range(len(a)) if not a[i].failed and not b[i].failed]
    first = [_pair_prompt(rubric, a[i], b[i], variables) for i in sent]
    second = [_pair_prompt(rubric, a[i], b[i], variables, swapped=True) for i in sent]
    batch = _run(judge, first + second, sent + sent, run)
    verdicts = [_reply(result, parse_verdict) for result in batch.rows]
    by_item = {i: (verdicts[k], verdicts[k + len(sent)]) for k, i in enumerate(sent)}
    rows = [_pair_row(i, by_item.get(i)) for i in range(len(a))]
    return PairwiseReport(
        rubric=rubric.name,
        judge=judge.name,
        names=names,
        rows=rows,
        metrics=pair_metrics(rows),
        warnings=self_preference_warnings(judge.name, candidates or {}) + _system_warnings(a, b),
        batch=batch,
    )


def check_same_test_set(a: Sequence[Prediction], b: Sequence[Prediction]) -> None:
    """Refuse two runs that did not answer the same questions in the same order."""
    hint = (
        "두 파일 모두 같은 테스트셋을 `tunestudio infer`로 답한 출력이어야 합니다 (행 순서도 같게)"
    )
    if len(a) != len(b):
        raise DifferentTestSetsError(
            f"두 예측 파일의 행 수가 다릅니다 ({len(a)}행, {len(b)}행)", hint=hint
        )
    if not a:
        raise DifferentTestSetsError("예측 파일에 행이 없습니다", hint=hint)
    for index, (x, y) in enumerate(zip(a, b, strict=True)):
        if exact_key(x.input) != exact_key(y.input):
            raise DifferentTestSetsError(
                f"같은 자리의 질문이 다릅니다: {_short(x.input)!r} / {_short(y.input)!r}",
                index=index,
                hint=hint,
            )


def check_rubric(
    rubric: Rubric, kind: Kind, items: Sequence[Prediction], variables: Mapping[str, str] | None
) -> None:
    """Refuse a rubric these items cannot fill, or items without questions, before any call."""
    columns = {name for item in items for name in item.meta if isinstance(name, str)}
    check_variables(rubric, kind, columns, variables)
    if items and not any(item.input.strip() for item in items):
        raise DataError(
            "예측 파일에서 질문을 찾지 못했습니다: 질문 열이 없거나 모두 비어 있습니다",
            hint=f"질문을 담은 열을 두세요 ({', '.join(INPUT_COLUMNS)} 중 하나); 심사 모델은 "
            "질문 없이 답변을 평가할 수 없습니다",
        )


def _pair_prompt(
    rubric: Rubric,
    a: Prediction,
    b: Prediction,
    variables: Mapping[str, str] | None,
    *,
    swapped: bool = False,
) -> list[Message]:
    """The pairwise prompt for one item, A's answer shown first (B's when ``swapped``).

    The judge sees A's item with the reference either side has and the system prompt only
    when both runs used the same one.
    """
    item = dataclasses.replace(
        a,
        expected=a.expected or b.expected,
        system=a.system if a.system == b.system else "",
    )
    first, second = (b, a) if swapped else (a, b)
    answers = {"answer_a": first.answer or "", "answer_b": second.answer or ""}
    return render(rubric, "pairwise", item, answers, variables)


def _system_warnings(a: Sequence[Prediction], b: Sequence[Prediction]) -> list[str]:
    if all(x.system == y.system for x, y in zip(a, b, strict=True)):
        return []
    return [
        "the two runs used different system prompts; the judge is shown neither, so it "
        "judges the answers without the instructions they followed"
    ]


def _run(
    judge: Backend, prompts: list[list[Message]], owners: list[int], run: _JudgeRun
) -> BatchResult:
    """One batch run over the judge prompts; a journal mismatch names the item, not the call."""
    try:
        return run_batch(
            judge,
            prompts,
            params=run.params,
            journal_path=run.journal_path,
            concurrency=run.concurrency,
            retry_failed=run.retry_failed,
            fresh=run.fresh,
            progress=run.progress,
            model_id=judge.name,
        )
    except JournalError as exc:
        if exc.index is None:
            raise
        raise JournalError(
            "the judge prompt for this item is not the one the journal holds",
            index=owners[exc.index],
            where=exc.where,
            hint="the predictions, the rubric or its variables changed since this judge run "
            "started; restore them, or rerun with --fresh to start over (its verdicts are "
            "discarded)",
        ) from None


def _reply(result: RowResult, parse: Callable[[str], JudgeReply]) -> JudgeReply:
    if not result.ok:
        return JudgeReply(None, "", f"the judge call failed: {result.error}")
    return parse(result.content)


def _single_row(index: int, replies: list[JudgeReply] | None) -> SingleJudgeRow:
    if replies is None:
        return SingleJudgeRow(index, None, candidate_failed=True)
    scores = [reply.value if isinstance(reply.value, int) else None for reply in replies]
    readable = [s for s in scores if s is not None]
    errors = [reply.error for reply in replies if not reply.ok]
    error = errors[0] if errors else ""
    if errors and len(replies) > 1:
        error = f"{len(errors)} of {len(replies)} replies failed; first: {error}"
    reason = next((reply.reason for reply in replies if reply.ok), "")
    score = sum(readable) / len(readable) if readable else None
    return SingleJudgeRow(index, score, scores, reason, error)


def _pair_row(index: int, replies: tuple[JudgeReply, JudgeReply] | None) -> PairRow:
    if replies is None:
        return PairRow(index, CANDIDATE_FAILED)
    first, second = replies
    # In the second order B's answer was shown as "A": swap the letters back.
    ab = {"A": "a", "B": "b", "tie": "tie"}.get(str(first.value))
    ba = {"A": "b", "B": "a", "tie": "tie"}.get(str(second.value))
    errors = [f"{order}: {r.error}" for order, r in (("AB", first), ("BA", second)) if r.error]
    final = JUDGE_FAILED if ab is None or ba is None else (ab if ab == ba else "inconsistent")
    # A failed reply has no reason; its excerpt is in judge_error.
    reason_ab, reason_ba = (r.reason if r.ok else "" for r in (first, second))
    return PairRow(index, final, ab, ba, reason_ab, reason_ba, "; ".join(errors))


def _repeat_warnings(params: GenParams, repeats: int) -> list[str]:
    if repeats > 1 and params.temperature == 0:
        return [
            f"{repeats} repeats at temperature 0: the scores can differ only where the judge's "
            "server is not deterministic; set a temperature (e.g. 0.7) to measure how much the "
            "judge's sampling moves its scores"
        ]
    return []


def _short(text: str, limit: int = 40) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
