"""``tunestudio eval score PREDICTIONS``: score saved answers again, without the model."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tunestudio.cli.eval.app import app
from tunestudio.errors import ConfigError, DataError

if TYPE_CHECKING:
    from tunestudio.evaluation.predictions import Predictions
    from tunestudio.evaluation.scorers import Scorer, ScoreReport

ScorerOption = Annotated[
    list[str] | None,
    typer.Option(
        "--scorer",
        "-s",
        metavar="NAME",
        help="exact, classification, grouping, style or textstats; repeat for several "
        "(the first gives the match and error_class columns). Default: exact.",
    ),
]
LabelsOption = Annotated[
    str | None,
    typer.Option(
        help="classification: the label set, comma-separated (default: every expected value)."
    ),
]
TargetOption = Annotated[
    str | None,
    typer.Option(help="style: the target style — 합쇼체, 해요체, 해라체, 반말 or 명사형."),
]
TokenizerOption = Annotated[
    str | None,
    typer.Option(
        help="style/textstats: count tokens with this tokenizer folder (default: kiwi morphemes)."
    ),
]
BucketsOption = Annotated[
    str | None,
    typer.Option(help="style: input-length bucket edges in tokens, e.g. 20,40,80,160."),
]
AnswerColumn = Annotated[
    str, typer.Option(help="Column holding the answers (tunestudio infer writes `content`).")
]
ExpectedColumn = Annotated[
    str | None,
    typer.Option(help="Column holding the expected answers (default: expected, answer, label…)."),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print metrics and tables as JSON instead of tables.")
]

HELP = (
    "Score the answers saved in PREDICTIONS (the output of `tunestudio infer`, or any table with "
    "an answer column) with one or more scorers.\n\n"
    "Nothing is generated again, so a scorer can be changed and rerun on old outputs. With -o "
    "the table is written again with `match`, `error_class` and `<scorer>.<detail>` columns."
)
NEEDS_EXPECTED = ("exact", "classification")
# Which scorers read each command-line option (its name in get_scorer's options).
CLI_OPTIONS = {
    "--labels": ("labels", ("classification",)),
    "--target": ("target", ("style",)),
    "--tokenizer": ("tokenizer", ("style", "textstats")),
    "--buckets": ("buckets", ("style",)),
}


@app.command(help=HELP)
def score(
    predictions: Annotated[
        Path, typer.Argument(metavar="PREDICTIONS", help="Saved answers (.xlsx/.csv/.jsonl/.json).")
    ],
    scorer: ScorerOption = None,
    labels: LabelsOption = None,
    target: TargetOption = None,
    tokenizer: TokenizerOption = None,
    buckets: BucketsOption = None,
    answer_column: AnswerColumn = "content",
    expected_column: ExpectedColumn = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the table with the scores (.xlsx/.csv/.jsonl)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Score saved predictions and print (or write) the results."""
    from tunestudio.cli.eval import score_show as show
    from tunestudio.evaluation.predictions import read_predictions
    from tunestudio.inference.tables import check_output_path

    given = {"--labels": labels, "--target": target, "--tokenizer": tokenizer, "--buckets": buckets}
    names = scorer or ["exact"]
    scorers = build_scorers(names, given)
    if output:
        check_output_path(output, predictions)
    table = read_predictions(
        predictions, answer_column=answer_column, expected_column=expected_column
    )
    require_expected(table, names)
    reports = score_all(table, scorers)
    if as_json:
        sys.stdout.write(json.dumps(to_json(table, reports), ensure_ascii=False, indent=2) + "\n")
    else:
        show.reports(table, reports)
    if output:
        written = write_scored(table, reports, output)
        if not as_json:
            show.note(f"wrote {len(table)} rows with scores to {written}")


def build_scorers(names: Sequence[str], given: dict[str, str | None]) -> list[Scorer]:
    """The scorers named on the command line with the options meant for them."""
    from tunestudio.evaluation.scorers import get_scorer

    for flag, value in given.items():
        option, users = CLI_OPTIONS[flag]
        if value is not None and not set(users) & set(names):
            raise ConfigError(
                f"this option is for the {' or '.join(users)} scorer, which is not chosen",
                where=flag,
                hint=f"add --scorer {users[0]}, or leave {flag} out",
            )
    flags = {option: flag for flag, (option, _) in CLI_OPTIONS.items()} | {"name": "--scorer"}
    scorers = []
    for name in dict.fromkeys(names):
        options: dict[str, Any] = {}
        for flag, value in given.items():
            option, users = CLI_OPTIONS[flag]
            if value is not None and name in users:
                options[option] = _parse(flag, value)
        try:
            scorers.append(get_scorer(name, **options))
        except ConfigError as exc:  # name the command-line flag, not the option
            where = flags.get(exc.where or "", exc.where)
            raise ConfigError(exc.message, where=where, hint=exc.hint) from None
    return scorers


def _parse(flag: str, value: str) -> Any:
    if flag == "--labels":
        return [label.strip() for label in value.split(",") if label.strip()]
    if flag == "--buckets":
        try:
            return [int(part) for part in value.split(",")]
        except ValueError:
            raise ConfigError(
                f"{value!r} is not a list of whole numbers",
                where=flag,
                hint="e.g. --buckets 20,40,80",
            ) from None
    return value


def require_expected(table: Predictions, names: Sequence[str]) -> None:
    """Refuse to score exact or classification against a table without expected answers."""
    needing = [name for name in names if name in NEEDS_EXPECTED]
    if needing and table.expected_column is None:
        raise DataError(
            f"정답 열이 없어 {', '.join(needing)} 채점을 할 수 없습니다 "
            f"(있는 열: {', '.join(table.table.columns)})",
            where=str(table.table.path),
            hint="--expected-column 으로 정답 열을 지정하세요 (기본으로 찾는 이름: expected, answer, label, completion, 정답)",
        )


def score_all(table: Predictions, scorers: Sequence[Scorer]) -> list[ScoreReport]:
    """Run every scorer; a row a scorer cannot use is named as the user finds it in the file."""
    from tunestudio.evaluation.scorers import RowDataError

    reports = []
    for scorer in scorers:
        try:
            reports.append(scorer.score(table.items))
        except RowDataError as exc:
            column = table.expected_column if exc.column == "expected" else exc.column
            raise DataError(
                exc.message, where=table.table.where(exc.index, column), hint=exc.hint
            ) from None
    return reports


def scored_columns(reports: Sequence[ScoreReport]) -> dict[str, list[Any]]:
    """The columns -o adds: match and error_class of the first scorer, then every detail."""
    columns: dict[str, list[Any]] = {}
    for position, report in enumerate(reports):
        prefix = "" if position == 0 else f"{report.scorer}."
        columns[f"{prefix}match"] = [row.match for row in report.rows]
        columns[f"{prefix}error_class"] = [row.error_class for row in report.rows]
        keys = dict.fromkeys(key for row in report.rows for key in row.details)
        for key in keys:
            columns[f"{report.scorer}.{key}"] = [row.details.get(key) for row in report.rows]
    return columns


def write_scored(table: Predictions, reports: Sequence[ScoreReport], output: Path) -> Path:
    """Write the predictions table again with the score columns (replacing older ones)."""
    from tunestudio.inference import write_atomic

    added = scored_columns(reports)
    columns = [c for c in table.table.columns if c not in added] + list(added)
    rows = [
        {**row, **{name: values[i] for name, values in added.items()}}
        for i, row in enumerate(table.table.rows)
    ]
    return write_atomic(output, columns, rows)


def to_json(table: Predictions, reports: Sequence[ScoreReport]) -> dict[str, Any]:
    """Metrics and tables of every scorer, for --json."""
    return {
        "file": str(table.table.path),
        "rows": len(table),
        "scorers": {r.scorer: {"metrics": r.metrics, "tables": r.tables} for r in reports},
    }
