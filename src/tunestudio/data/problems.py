"""A problem found in a dataset, located the way a person finds it: file, row, column."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Problem:
    """One finding. ``row`` is the number a person sees (CSV/XLSX: header is row 1).

    ``row_label`` names what ``row`` counts, as the file's :class:`~tunestudio.data.table.Table`
    does: ``row`` (CSV/XLSX), ``line`` (JSONL) or ``item`` (JSON).
    """

    severity: Severity
    code: str
    message: str
    hint: str = ""
    file: str = ""
    row: int | None = None
    column: str | None = None
    row_label: str = "row"

    @property
    def where(self) -> str:
        """``train.jsonl, line 3, column Text``: as much of the place as is known."""
        parts = [self.file] if self.file else []
        if self.row is not None:
            parts.append(f"{self.row_label} {self.row}")
        if self.column:
            parts.append(f"column {self.column}")
        return ", ".join(parts) if len(parts) > 1 else " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        head = f"{self.where}: " if self.where else ""
        tail = f" ({self.hint})" if self.hint else ""
        return f"[{self.severity}] {head}{self.message}{tail}"


EMPTY_LABEL = "(빈 값)"


def shown_label(label: str, *, quote: bool = True) -> str:
    """A label as a message or table shows it: ``'MYBOX 결제'``, or ``(빈 값)`` when empty.

    An empty completion is a label too (the model would learn to say nothing); printed as
    ``''`` or as a blank table cell it is easy to miss.
    """
    if not label.strip():
        return EMPTY_LABEL
    return repr(label) if quote else label
