"""``tunestudio eval judge`` and ``eval pair``: a model judges saved answers, alone or in pairs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tunestudio.cli.common import err_console
from tunestudio.cli.eval import judge_show as show
from tunestudio.cli.eval.app import app

if TYPE_CHECKING:
    from tunestudio.evaluation.predictions import Predictions
    from tunestudio.inference import BatchProgress
    from tunestudio.models import Backend
    from tunestudio.types import GenParams

JudgeOption = Annotated[
    str,
    typer.Option(
        "--judge",
        metavar="MODEL",
        help="Judge model spec: tiny, hf:<path>, clova:HCX-005, openai:<base_url>#<model>.",
    ),
]
RubricOption = Annotated[
    str,
    typer.Option(help="Rubric: general-ko, general-en, style-ko, or the path of a YAML rubric."),
]
ByOption = Annotated[
    str | None,
    typer.Option(
        "--by", help="Slice by these columns, comma-separated (e.g. skill,domain,difficulty)."
    ),
]
ChartOption = Annotated[
    Path | None,
    typer.Option(help="PNG chart: a heatmap with --by, else the distribution of results."),
]
VarOption = Annotated[
    list[str] | None,
    typer.Option("--var", metavar="NAME=VALUE", help="A template variable for every row."),
]
AnswerColumn = Annotated[
    str, typer.Option(help="Column holding the answers (tunestudio infer writes `content`).")
]
Concurrency = Annotated[int, typer.Option(min=1, help="Judge calls in flight (HTTP judges).")]
MaxTokens = Annotated[int, typer.Option(min=1, help="Longest judge reply, in tokens.")]
Temperature = Annotated[float, typer.Option(min=0.0, help="Judge sampling temperature.")]
RetryFailed = Annotated[
    bool, typer.Option("--retry-failed", help="Call the judge again for calls that failed.")
]
Fresh = Annotated[
    bool, typer.Option("--fresh", help="Discard the journal of an earlier judge run.")
]

JUDGE_HELP = (
    "Score every answer in PREDICTIONS with a judge model on a rubric.\n\n"
    "Adds judge_score, judge_reason, judge_error and judge_status. A reply the judge's rubric "
    "cannot read is a judge failure, never a score; rows whose model failed to answer are not "
    "sent. Judge calls are journaled, so an interrupted run continues. Exit code 1 when some "
    "rows could not be judged."
)
PAIR_HELP = (
    "Compare two runs on the same test set, pair by pair, with a judge model.\n\n"
    "Each pair is asked twice, A's answer first and then B's first; verdicts that disagree are "
    "'inconsistent' (position bias), and swap consistency is reported. Exit code 1 when some "
    "pairs could not be judged."
)


@app.command(help=JUDGE_HELP)
def judge(
    predictions: Annotated[
        Path,
        typer.Argument(
            metavar="PREDICTIONS", help="Answers to judge (the output of `tunestudio infer`)."
        ),
    ],
    judge_model: JudgeOption,
    rubric: RubricOption = "general-ko",
    by: ByOption = None,
    repeats: Annotated[int, typer.Option(min=1, help="Ask the judge N times per row.")] = 1,
    concurrency: Concurrency = 8,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Judged table (.xlsx, .csv, .jsonl).")
    ] = None,
    chart: ChartOption = None,
    var: VarOption = None,
    answer_column: AnswerColumn = "content",
    max_tokens: MaxTokens = 512,
    temperature: Temperature = 0.0,
    retry_failed: RetryFailed = False,
    fresh: Fresh = False,
) -> None:
    """Score every answer of PREDICTIONS with a judge model."""
    from tunestudio.evaluation.judge import check_rubric, judge_single
    from tunestudio.evaluation.judge_bias import recorded_model
    from tunestudio.evaluation.judge_rubric import load_rubric
    from tunestudio.evaluation.predictions import read_predictions
    from tunestudio.models import parse_spec

    # Everything that can be wrong with the inputs fails before the judge is loaded.
    parse_spec(judge_model)
    chosen = load_rubric(rubric)
    variables = _variables(var)
    columns = _columns(by)
    preds = read_predictions(predictions, answer_column=answer_column)
    check_rubric(chosen, "single", preds.items, variables)
    _check_slices(preds, columns)
    out = _output_path(output, predictions)
    _check_chart(chart)
    journal = _journal(out, predictions, f"judge-{chosen.name}-{judge_model}")
    candidate = recorded_model(predictions)
    backend = _load(judge_model)
    settings: dict[str, Any] = {
        "params": _params(max_tokens, temperature),
        "repeats": repeats,
        "variables": variables,
        "candidates": {predictions.name: candidate} if candidate else {},
        "journal_path": journal,
        "concurrency": concurrency,
        "retry_failed": retry_failed,
        "fresh": fresh,
    }
    with _judging(backend, journal, preds) as progress:
        report = judge_single(backend, preds.items, chosen, progress=progress, **settings)
    if out is not None:
        show.write_judged(preds, report, out)
    show.print_single(report, journal, out, [] if candidate else [predictions.name])
    if columns:
        show.print_slices(report.scores, preds, columns, "평균 점수")
    if chart is not None:
        show.chart_single(report, preds, columns, chart, (chosen.scale.min, chosen.scale.max))
    if report.metrics["judge_failed"]:
        raise typer.Exit(1)


@app.command(help=PAIR_HELP)
def pair(
    first: Annotated[Path, typer.Argument(metavar="A", help="Answers of the first model.")],
    second: Annotated[Path, typer.Argument(metavar="B", help="Answers of the second model.")],
    judge_model: JudgeOption,
    rubric: RubricOption = "general-ko",
    names: Annotated[
        str | None, typer.Option(help="Names of A and B, comma-separated (e.g. before,after).")
    ] = None,
    by: ByOption = None,
    concurrency: Concurrency = 8,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Pairs table: both answers, both verdicts, final."),
    ] = None,
    chart: ChartOption = None,
    var: VarOption = None,
    answer_column: AnswerColumn = "content",
    max_tokens: MaxTokens = 512,
    temperature: Temperature = 0.0,
    retry_failed: RetryFailed = False,
    fresh: Fresh = False,
) -> None:
    """Compare the answers of A and B pair by pair with a judge model."""
    from tunestudio.evaluation.judge import check_rubric, judge_pairwise
    from tunestudio.evaluation.judge_rubric import load_rubric
    from tunestudio.evaluation.predictions import read_predictions
    from tunestudio.models import parse_spec

    parse_spec(judge_model)
    chosen = load_rubric(rubric)
    variables = _variables(var)
    columns = _columns(by)
    side_names = _names(names, first, second)
    a = read_predictions(first, answer_column=answer_column)
    b = read_predictions(second, answer_column=answer_column)
    _same_test_set(a, b)
    check_rubric(chosen, "pairwise", a.items, variables)
    _check_slices(a, columns)
    out = _output_path(output, first, second)
    _check_chart(chart)
    journal = _journal(out, first, f"pair-{second.stem}-{chosen.name}-{judge_model}")
    candidates = _candidates(side_names, (first, second))
    backend = _load(judge_model)
    settings: dict[str, Any] = {
        "names": side_names,
        "params": _params(max_tokens, temperature),
        "variables": variables,
        "candidates": candidates,
        "journal_path": journal,
        "concurrency": concurrency,
        "retry_failed": retry_failed,
        "fresh": fresh,
    }
    with _judging(backend, journal, a) as progress:
        report = judge_pairwise(backend, a.items, b.items, chosen, progress=progress, **settings)
    if out is not None:
        show.write_pairs(a, b, report, out)
    unknown = [
        path.name
        for name, path in zip(side_names, (first, second), strict=True)
        if name not in candidates
    ]
    show.print_pairs(report, journal, out, unknown)
    if columns:
        show.print_slices(report.b_scores, a, columns, f"{side_names[1]} 승률")
    if chart is not None:
        show.chart_pairs(report, a, columns, chart)
    if report.metrics["judge_failed"]:
        raise typer.Exit(1)


# --- checking the command line -------------------------------------------------------------


def _variables(items: list[str] | None) -> dict[str, str]:
    from tunestudio.errors import ConfigError

    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise ConfigError(
                f"--var {item!r} is not NAME=VALUE",
                where="--var",
                hint="write e.g. --var target_style=해요체 (NAME is a template variable)",
            )
        out[name.strip()] = value
    return out


def _columns(by: str | None) -> list[str]:
    return [c.strip() for c in (by or "").split(",") if c.strip()]


def _names(names: str | None, first: Path, second: Path) -> tuple[str, str]:
    from tunestudio.errors import ConfigError

    if names is None:
        stems = (first.stem, second.stem)
        return stems if stems[0] != stems[1] else ("A", "B")
    parts = [n.strip() for n in names.split(",")]
    if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
        raise ConfigError(
            f"--names needs two different names separated by a comma, not {names!r}",
            where="--names",
            hint="e.g. --names before,after",
        )
    return parts[0], parts[1]


def _check_slices(preds: Predictions, columns: list[str]) -> None:
    from tunestudio.evaluation.slices import check_columns

    if columns:
        check_columns(preds.table.rows, columns)


def _check_chart(chart: Path | None) -> None:
    from tunestudio.errors import ConfigError

    if chart is not None and chart.suffix.lower() != ".png":
        raise ConfigError(
            "the chart is written as PNG", where=str(chart), hint="name it e.g. heatmap.png"
        )


def _output_path(output: Path | None, *inputs: Path) -> Path | None:
    from tunestudio.inference.tables import check_output_path

    if output is None:
        return None
    for source in inputs:
        check_output_path(output, source)
    return output


def _journal(out: Path | None, predictions: Path, run: str) -> Path:
    """Beside the output, or beside the predictions when nothing is written.

    The name there says which run it is (rubric, judge, other side), so judging the same
    answers with a second judge starts its own journal instead of tripping over the first's.
    """
    import re

    from tunestudio.inference import journal_beside

    if out is not None:
        return journal_beside(out)
    name = re.sub(r"[^\w.-]+", "_", run).strip("_")
    return predictions.with_name(f"{predictions.name}.{name}.journal.jsonl")


def _same_test_set(a: Predictions, b: Predictions) -> None:
    from tunestudio.errors import DataError
    from tunestudio.evaluation.judge import DifferentTestSetsError, check_same_test_set

    try:
        check_same_test_set(a.items, b.items)
    except DifferentTestSetsError as exc:
        if exc.index is None:
            where = f"{a.table.path.name}, {b.table.path.name}"
        else:
            where = f"{a.where(exc.index)} / {b.where(exc.index)}"
        raise DataError(exc.message, where=where, hint=exc.hint) from None


def _candidates(names: tuple[str, str], paths: tuple[Path, Path]) -> dict[str, str]:
    from tunestudio.evaluation.judge_bias import recorded_model

    found = {name: recorded_model(path) for name, path in zip(names, paths, strict=True)}
    return {name: spec for name, spec in found.items() if spec}


def _params(max_tokens: int, temperature: float) -> GenParams:
    from tunestudio.types import GenParams

    return GenParams(max_tokens=max_tokens, temperature=temperature)


# --- running the judge ------------------------------------------------------------------


def _load(model: str) -> Backend:
    from tunestudio.models import load_backend

    with err_console.status(f"loading the judge {model}…"):
        return load_backend(model)


@contextmanager
def _judging(
    backend: Backend, journal: Path, preds: Predictions
) -> Iterator[Callable[[BatchProgress], None]]:
    """A progress bar; on Ctrl-C or an error, say what the journal kept; close the judge."""
    from tunestudio.inference import JournalError

    try:
        with show.progress_bar() as report:
            yield report
    except JournalError as exc:
        if exc.index is None:
            raise
        message = f"{exc.message} ({journal.name})"
        raise JournalError(message, where=preds.where(exc.index), hint=exc.hint) from None
    except KeyboardInterrupt:
        err_console.print(
            f"stopped; finished judge calls are kept in {journal}: rerun the same command to "
            "continue",
            highlight=False,
        )
        raise typer.Exit(130) from None
    finally:
        backend.close()
