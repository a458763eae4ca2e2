"""``tunestudio data validate FILE [--task T] [--test TESTFILE] [--json]``."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from tunestudio.cli.common import console, err_console
from tunestudio.cli.data.app import app

if TYPE_CHECKING:
    from tunestudio.data.checks.report import ValidationReport
    from tunestudio.data.problems import Problem

_SEVERITY = {
    "error": ("오류", "bold red", "✗"),
    "warning": ("경고", "yellow", "!"),
    "info": ("참고", "cyan", "i"),
}
_ROW_WORD = {"row": "행", "line": "줄", "item": "항목"}
_TASK_WORD = {"classification": "분류", "generation": "생성"}
_FORMAT_NAME = {
    "clova": "CLOVA",
    "openai": "OpenAI messages",
    "alpaca": "Alpaca",
    "sharegpt": "ShareGPT",
    "testset": "테스트 셋",
    "unknown": "알 수 없는",
}


class TaskName(str, Enum):
    classification = "classification"
    generation = "generation"


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="Dataset to check (.csv, .jsonl, .json, .xlsx).")],
    task: Annotated[
        TaskName | None,
        typer.Option(help="What the data teaches; decided from the completions when left out."),
    ] = None,
    test: Annotated[
        Path | None,
        typer.Option(help="A test set to check for rows that also appear in FILE."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the full report as JSON (every problem).")
    ] = False,
    near_threshold: Annotated[
        float,
        typer.Option(help="Similarity (Jaccard of character 3-grams) that counts as near-equal."),
    ] = 0.8,
    show: Annotated[
        int, typer.Option(min=1, help="Problems shown per kind; --json always has all.")
    ] = 20,
) -> None:
    """Report every problem in a tuning dataset: columns, IDs, lengths, labels, duplicates,
    test-set leakage. Exits with 1 when there are errors."""
    from tunestudio.data.validate import validate_file

    with err_console.status("데이터셋 검사 중…", spinner="dots"):
        report = validate_file(file, task.value if task else None, test, near_threshold)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print_report(report, show)
    if report.errors:
        raise typer.Exit(1)


def print_report(report: ValidationReport, show: int = 20) -> None:
    """The report for a person: a summary, problems grouped by kind, the label table."""
    console.print(_summary(report), highlight=False)
    if report.task_reason:
        console.print(_labelled("작업:", report.task_reason, "dim"))
    for code, problems in report.by_code().items():
        _print_group(report, code, problems, show)
    if report.labels:
        console.print()
        console.print(_label_table(report))
    console.print()
    counts = report.counts()
    if counts["errors"]:
        console.print(
            f"[bold red]✗ 오류 {counts['errors']}개[/] — 고친 뒤 다시 검사하세요. "
            "오류가 있으면 튜닝을 시작하지 않습니다."
        )
    else:
        console.print(f"[bold green]✓ 오류 없음[/] (경고 {counts['warnings']}개)")


def _summary(report: ValidationReport) -> Text:
    counts = report.counts()
    word = _ROW_WORD.get(report.row_label, "행")
    task = _TASK_WORD[report.task] + (" (자동 판단)" if report.task_assumed else "")
    text = Text()
    text.append(Path(report.file).name, style="bold")
    kind = _FORMAT_NAME.get(report.format, report.format)
    text.append(f": {kind} 형식 · {report.rows:,}{word} · 대화 {report.conversations:,}개")
    text.append(f" · 작업 {task} · ")
    text.append(f"오류 {counts['errors']}", style="bold red" if counts["errors"] else "green")
    text.append(f" · 경고 {counts['warnings']} · 참고 {counts['infos']}")
    return text


def _labelled(label: str, text: str, style: str) -> Padding:
    """``  해결: …`` whose wrapped lines stay under the text, not back at column 0."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row(Text(label, style=style), Text(text, style=style))
    return _indent(grid)


def _indent(renderable: Table | Text) -> Padding:
    """Two spaces before every line, wrapped ones included."""
    return Padding(renderable, (0, 0, 0, 2), expand=False)


def _print_group(report: ValidationReport, code: str, problems: list[Problem], show: int) -> None:
    from tunestudio.data.checks.report import CODE_TITLES

    label, style, mark = _SEVERITY[problems[0].severity]
    console.print()
    heading = Text(f"{mark} {label} ", style=style)
    heading.append(code, style="bold")
    heading.append(f"  {CODE_TITLES.get(code, '')} · {len(problems)}개", style="default")
    console.print(heading)
    if code == "label-rare" and report.labels:
        _print_rare_labels(report, problems, show)
        return
    hints = {p.hint for p in problems}
    with_hint = len(hints) > 1
    main_file = Path(report.file).name
    with_file = any(p.file and p.file != main_file for p in problems)
    shown = problems[:show]
    with_row = any(p.row is not None for p in shown)
    with_column = any(p.column for p in shown)
    table = Table(show_header=True, header_style="dim", box=None, padding=(0, 1))
    if with_file:
        table.add_column("파일", no_wrap=True)
    if with_row:
        # a --test problem counts the rows of the test file, which may be JSONL lines
        labels = {p.row_label for p in shown if p.row is not None}
        row_label = labels.pop() if len(labels) == 1 else report.row_label
        table.add_column(_ROW_WORD.get(row_label, "행"), justify="right", no_wrap=True)
    if with_column:
        table.add_column("열", no_wrap=True)
    table.add_column("내용", overflow="fold")
    if with_hint:
        table.add_column("해결 방법", overflow="fold")
    for problem in shown:
        cells = [Text(problem.file)] if with_file else []
        if with_row:
            cells.append(Text("" if problem.row is None else str(problem.row)))
        if with_column:
            cells.append(Text(problem.column or ""))
        cells.append(Text(problem.message))
        if with_hint:
            cells.append(Text(problem.hint, style="dim"))
        table.add_row(*cells)
    console.print(table)
    if len(problems) > show:
        console.print(Text(f"  … 외 {len(problems) - show}개 (--json으로 모두 볼 수 있습니다)"))
    if not with_hint and problems[0].hint:
        console.print(_labelled("해결:", problems[0].hint, "green"))


def _print_rare_labels(report: ValidationReport, problems: list[Problem], show: int) -> None:
    """One sentence and the rare labels with their counts, instead of one sentence per label
    (``--json`` still has one problem per label)."""
    from tunestudio.data.checks.labels import MIN_LABEL_ROWS
    from tunestudio.data.problems import shown_label

    rare = [label for label in report.labels if label.count < MIN_LABEL_ROWS]
    column = problems[0].column or "Completion"
    console.print(
        _indent(
            Text(
                f"{column} 열의 라벨 {len(rare)}개가 예제 {MIN_LABEL_ROWS}개 미만입니다. "
                f"분류 튜닝은 라벨마다 {MIN_LABEL_ROWS}개 이상을 권장합니다:"
            )
        )
    )
    listed = ", ".join(f"{shown_label(r.label)} {r.count:,}개" for r in rare[:show])
    more = (
        f" … 외 {len(rare) - show}개 (--json으로 모두 볼 수 있습니다)" if len(rare) > show else ""
    )
    console.print(_indent(Text(listed + more)))
    if problems[0].hint:
        console.print(_labelled("해결:", problems[0].hint, "green"))


def _label_table(report: ValidationReport) -> Table:
    from tunestudio.data.problems import shown_label

    word = _ROW_WORD.get(report.row_label, "행")
    table = Table(title=f"라벨 {len(report.labels)}개", title_justify="left")
    table.add_column("라벨")
    table.add_column("예제 수", justify="right")
    table.add_column("비율", justify="right")
    table.add_column(f"처음 나온 {word}", justify="right")
    for label in report.labels:
        table.add_row(
            Text(shown_label(label.label, quote=False)),
            f"{label.count:,}",
            f"{label.share:.1%}",
            str(label.first_row),
        )
    return table
