"""What a cleaning run returns: kept and removed conversations and one report per step."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from tunestudio.types import Conversation, Turn

FIELD_COLUMNS = {"text": "Text", "completion": "Completion", "system": "System_Prompt"}


@dataclass
class WorkItem:
    """A conversation on its way through the pipeline, remembering what it looked like."""

    position: int  # index in the input, 0-based
    original: Conversation
    current: Conversation

    @classmethod
    def start(cls, position: int, conv: Conversation) -> WorkItem:
        # Turns are frozen, so copying the lists is enough to leave the input untouched.
        current = replace(conv, turns=list(conv.turns), meta=dict(conv.meta))
        return cls(position, conv, current)

    def row(self, turn: int = 0) -> int | None:
        """The file row of a turn, as a person sees it (None for conversations built in code)."""
        rows = self.original.source_rows
        if not rows:
            return None
        return rows[turn] if turn < len(rows) else rows[0]

    @property
    def label(self) -> str:
        """How a reason refers to this conversation: ``12행`` or ``대화 3``."""
        row = self.row()
        return f"{row}행" if row is not None else f"대화 {self.position + 1}"

    def get(self, field_name: str, turn: int) -> str:
        if field_name == "system":
            return self.current.system
        t = self.current.turns[turn]
        return t.user if field_name == "text" else t.assistant

    def set(self, field_name: str, turn: int, value: str) -> None:
        if field_name == "system":
            self.current.system = value
            return
        old = self.current.turns[turn]
        new = Turn(value, old.assistant) if field_name == "text" else Turn(old.user, value)
        self.current.turns[turn] = new


@dataclass(frozen=True)
class Example:
    """One before → after change, or one removal with its reason."""

    row: int | None
    field: str
    before: str
    after: str | None = None
    reason: str | None = None

    def excerpt(self, width: int = 40) -> tuple[str, str]:
        """Before and after cut down to the changed part with a little context around it."""
        after = self.after if self.after is not None else ""
        return _clip(self.before, after, width)


def _clip(before: str, after: str, width: int, context: int = 8) -> tuple[str, str]:
    prefix = 0
    while prefix < min(len(before), len(after)) and before[prefix] == after[prefix]:
        prefix += 1
    suffix = 0
    while (
        suffix < min(len(before), len(after)) - prefix and before[-1 - suffix] == after[-1 - suffix]
    ):
        suffix += 1
    start = max(0, prefix - context)

    def cut(text: str) -> str:
        end = min(len(text), len(text) - suffix + context)
        piece = text[start:end]
        if len(piece) > width:
            piece = piece[: width - 1] + "…"
        elif end < len(text):
            piece += "…"
        return ("…" if start else "") + piece

    return cut(before), cut(after)


@dataclass
class StepReport:
    """What one step did: rows changed and removed, tallies, examples and notes."""

    index: int  # 1-based, as in the YAML list
    name: str
    fields: list[str]
    rows_changed: int = 0
    rows_removed: int = 0
    conversations_removed: int = 0
    tally: dict[str, int] = field(default_factory=dict)
    examples: list[Example] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RemovedConversation:
    """A conversation a step removed, as it was in the input, with the step and the reason."""

    conversation: Conversation
    position: int
    step_index: int
    step: str
    reason: str

    @property
    def source_rows(self) -> list[int]:
        return list(self.conversation.source_rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_rows": self.source_rows,
            "step": self.step,
            "step_index": self.step_index,
            "reason": self.reason,
            "text": [t.user for t in self.conversation.turns],
        }


@dataclass
class CleanResult:
    """Kept conversations (cleaned), removed ones (as read) and the per-step reports."""

    kept: list[Conversation]
    removed: list[RemovedConversation]
    reports: list[StepReport]

    @property
    def rows_in(self) -> int:
        return self.rows_out + sum(len(r.conversation.turns) for r in self.removed)

    @property
    def rows_out(self) -> int:
        return sum(len(c.turns) for c in self.kept)

    def removed_as_dataset(self) -> list[Conversation]:
        """Removed conversations with ``source_rows``, ``removed_step`` and ``removed_reason``
        columns, ready for ``save_dataset`` (so the side file is a dataset you can fix and
        merge back)."""
        return [
            replace(
                item.conversation,
                meta={
                    **item.conversation.meta,
                    "source_rows": ", ".join(map(str, item.source_rows)),
                    "removed_step": f"{item.step_index}. {item.step}",
                    "removed_reason": item.reason,
                },
            )
            for item in self.removed
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "conversations_in": len(self.kept) + len(self.removed),
            "conversations_out": len(self.kept),
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "steps": [r.to_dict() for r in self.reports],
            "removed": [r.to_dict() for r in self.removed],
        }
