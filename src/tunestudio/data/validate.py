"""Validate a tuning dataset: one report of every problem, each located and with a fix.

``validate_file`` never stops at the first problem. It reads CLOVA Studio tables (CSV, JSONL,
JSON, XLSX) and OpenAI-messages, Alpaca, ShareGPT and test-set files; the header, C_ID/T_ID
and System_Prompt checks are CLOVA's, the content checks apply to every format. Other stages
call it before they use a dataset (``validate_file(path).raise_for_errors()``).
"""

from __future__ import annotations

from pathlib import Path

from tunestudio.data.checks.columns import check_file
from tunestudio.data.checks.content import check_content, check_size
from tunestudio.data.checks.duplicates import check_duplicates
from tunestudio.data.checks.ids import check_ids
from tunestudio.data.checks.labels import check_conflicts, check_labels, decide_task, label_table
from tunestudio.data.checks.leakage import check_leakage, unreadable_file
from tunestudio.data.checks.report import (
    CODE_TITLES,
    TARGETS,
    TASKS,
    LabelCount,
    Target,
    Task,
    ValidationReport,
)
from tunestudio.data.checks.view import DatasetView, build_view
from tunestudio.data.near_dup import DEFAULT_THRESHOLD
from tunestudio.data.table import read_table
from tunestudio.errors import ConfigError, DataError, DataFormatError

__all__ = ["CODE_TITLES", "LabelCount", "Target", "Task", "ValidationReport", "validate_file"]


def validate_file(
    path: Path | str,
    task: Task | None = None,
    test_path: Path | str | None = None,
    near_dup_threshold: float = DEFAULT_THRESHOLD,
    target: Target = "clova",
) -> ValidationReport:
    """Check a dataset file (and, with ``test_path``, a test set against it).

    ``task`` is ``"classification"`` or ``"generation"``; when it is None it is decided from
    the completions and the report says so. ``target`` is where the data goes: ``"clova"``
    (CLOVA Studio's upload rules are errors) or ``"local"`` (local tuning, where a rule only
    CLOVA Studio's upload enforces, such as its 100-row minimum, is a warning). A file that
    cannot be read at all is one ``unreadable-file`` error in the report; only a missing path
    or a bad argument raises.
    """
    path = Path(path)
    _check_arguments(path, task, test_path, near_dup_threshold, target)
    report = ValidationReport(file=str(path), test_file=str(test_path) if test_path else None)
    try:
        view = build_view(read_table(path))
    except DataError as exc:
        report.problems.append(unreadable_file(path, exc))
        return report
    _describe(report, view, task)
    problems = report.problems
    problems += check_file(view)
    problems += view.problems
    if view.columns is not None:
        problems += check_ids(view.table, view.columns)
    problems += check_content(view)
    if view.has_text and view.format != "testset":  # size rules are for training data
        problems += check_size(view, target)
    if report.task == "classification":
        report.labels = label_table(view)
        # rows per label, like the size rules, are advice for training data, not a test set
        problems += check_labels(view, report.labels, size_rules=view.format != "testset")
        problems += check_conflicts(view)
    problems += check_duplicates(view, report.task, near_dup_threshold)
    if test_path is not None:
        problems += check_leakage(view, Path(test_path), near_dup_threshold)
    report.sort()
    return report


def _check_arguments(
    path: Path, task: str | None, test_path: Path | str | None, threshold: float, target: str
) -> None:
    for file in (path, test_path):
        if file is not None and not Path(file).is_file():
            raise DataFormatError(
                "file not found" if not Path(file).exists() else "this is not a file",
                where=str(file),
                hint="give the path of a .csv, .jsonl, .json or .xlsx dataset",
            )
    if task is not None and task not in TASKS:
        raise ConfigError(
            f"unknown task {task!r}", hint=f"use one of: {', '.join(TASKS)} (or leave it out)"
        )
    if target not in TARGETS:
        raise ConfigError(f"unknown target {target!r}", hint=f"use one of: {', '.join(TARGETS)}")
    if not 0 < threshold <= 1:
        raise ConfigError(
            f"near-duplicate threshold {threshold} is outside (0, 1]",
            hint="use a Jaccard similarity such as 0.8",
        )


def _describe(report: ValidationReport, view: DatasetView, task: Task | None) -> None:
    report.format = view.format
    report.encoding = view.table.encoding
    report.row_label = view.table.row_label
    report.rows = len(view.pairs)
    report.conversations = len(view.conversations)
    report.task, report.task_assumed, report.task_reason = decide_task(view, task)
