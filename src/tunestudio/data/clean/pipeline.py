"""Run a cleaning recipe over conversations, step by step, and account for every row.

Conversations are the unit: a multi-turn conversation is kept or removed whole. Text steps
rewrite values; a value that a step empties (it had text before) removes its conversation,
because an empty Text or Completion cannot be tuned on. Row steps remove conversations with a
reason. Every removed conversation is returned as it was read, so nothing is lost silently.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from tunestudio.data.clean.config import CleanConfig, DropLabelsStep, RelabelStep
from tunestudio.data.clean.pii import mask_pii_step
from tunestudio.data.clean.results import (
    CleanResult,
    Example,
    RemovedConversation,
    StepReport,
    WorkItem,
)
from tunestudio.data.clean.rows import (
    RowFn,
    column,
    dedup_step,
    drop_labels_step,
    label_tally_key,
    length_step,
)
from tunestudio.data.clean.rows import values as field_values
from tunestudio.data.clean.text import (
    TextFn,
    nfc_step,
    relabel_step,
    remove_emoji_step,
    remove_special_step,
    slang_step,
    squash_repeats_step,
    whitespace_step,
)
from tunestudio.data.problems import shown_label
from tunestudio.types import Conversation

MAX_EXAMPLES = 3

_TEXT_STEPS: dict[str, Callable[[Any], TextFn]] = {
    "nfc": nfc_step,
    "whitespace": whitespace_step,
    "remove_emoji": remove_emoji_step,
    "remove_special": remove_special_step,
    "squash_repeats": squash_repeats_step,
    "slang": slang_step,
    "mask_pii": mask_pii_step,
    "relabel": relabel_step,
}
_ROW_STEPS: dict[str, Callable[[Any], RowFn]] = {
    "drop_labels": drop_labels_step,
    "dedup": dedup_step,
    "length": length_step,
}

StepCallback = Callable[[int, str], None]


# A step, ready to run: given the conversations still in, one verdict each (None = keep).
Judge = Callable[[list[WorkItem], Counter[str], StepReport], list[str | None]]


def _judge(cfg: Any) -> Judge:
    """Build a step from its config (one of the step models of config.py)."""
    if cfg.step in _ROW_STEPS:
        rows = _ROW_STEPS[cfg.step](cfg)
        return lambda items, tally, report: rows(items, tally)
    text = _TEXT_STEPS[cfg.step](cfg)
    return lambda items, tally, report: [
        _rewrite(item, text, cfg.fields, tally, report) for item in items
    ]


def run_pipeline(
    conversations: Sequence[Conversation],
    config: CleanConfig,
    *,
    on_step: StepCallback | None = None,
) -> CleanResult:
    """Clean ``conversations`` with the steps of ``config``, in order.

    The input is not modified. ``on_step(index, name)`` is called before each step (1-based),
    for progress display. Kept conversations come back cleaned and in input order; removed
    ones come back as they were read, in input order, each with its step and reason.
    """
    steps = [(cfg, _judge(cfg)) for cfg in config.steps]
    items = [WorkItem.start(i, conv) for i, conv in enumerate(conversations)]
    removed: list[RemovedConversation] = []
    reports: list[StepReport] = []
    for index, (cfg, judge) in enumerate(steps, start=1):
        if on_step is not None:
            on_step(index, cfg.step)
        report = StepReport(index, cfg.step, list(cfg.fields))
        tally: Counter[str] = Counter()
        items = _keep(items, judge(items, tally, report), report, removed)
        report.tally = dict(tally.most_common())
        report.notes = _notes(cfg, tally)
        reports.append(report)
    removed.sort(key=lambda r: r.position)
    return CleanResult([item.current for item in items], removed, reports)


def _rewrite(
    item: WorkItem, fn: TextFn, fields: Sequence[str], tally: Counter[str], report: StepReport
) -> str | None:
    """Apply a text step to one conversation; the reason to remove it if it emptied a value."""
    changed: set[int] = set()
    examples: list[Example] = []
    for name, turn, value in list(field_values(item, fields)):
        new = fn(value, tally)
        if new == value:
            continue
        item.set(name, turn, new)
        where = column(item, name, turn)
        if name != "system" and value.strip() and not new.strip():
            return f"{where} 값이 이 단계에서 비었습니다 (원래 값: {value.strip()[:60]!r})"
        # the system prompt is repeated on every row of its conversation
        changed.update(range(len(item.current.turns)) if name == "system" else [turn])
        examples.append(Example(item.row(turn), where, value, new))
    report.rows_changed += len(changed)
    room = max(MAX_EXAMPLES - len(report.examples), 0)
    report.examples.extend(examples[:room])
    return None


def _keep(
    items: list[WorkItem],
    verdicts: Sequence[str | None],
    report: StepReport,
    removed: list[RemovedConversation],
) -> list[WorkItem]:
    kept = []
    for item, reason in zip(items, verdicts, strict=True):
        if reason is None:
            kept.append(item)
            continue
        removed.append(
            RemovedConversation(item.original, item.position, report.index, report.name, reason)
        )
        report.conversations_removed += 1
        report.rows_removed += len(item.original.turns)
        if len(report.examples) < MAX_EXAMPLES:
            first = item.original.turns[0].user if item.original.turns else ""
            report.examples.append(Example(item.row(), "Text", first, reason=reason))
    return kept


def _notes(cfg: Any, tally: Counter[str]) -> list[str]:
    """Point at map entries that matched nothing: usually a typo in the recipe."""
    if isinstance(cfg, RelabelStep):
        relabel, notes = relabel_step(cfg), []
        for key in cfg.map:
            probe: Counter[str] = Counter()
            relabel(key, probe)  # the tally key this entry counts under
            if not any(tally[k] for k in probe):
                notes.append(f"relabel {shown_label(key)} matched no row")
        return notes
    if isinstance(cfg, DropLabelsStep):
        return [
            f"label {shown_label(label)} matched no row"
            for label in cfg.labels
            if not tally[label_tally_key(unicodedata.normalize("NFC", label.strip()))]
        ]
    return []
