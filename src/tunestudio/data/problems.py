"""A problem found in a dataset, located the way a person finds it: file, row, column."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Problem:
    """One finding. ``row`` is the number a person sees (CSV/XLSX: header is row 1)."""

    severity: Severity
    code: str
    message: str
    hint: str = ""
    file: str = ""
    row: int | None = None
    column: str | None = None

    @property
    def where(self) -> str:
        parts = [self.file] if self.file else []
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column}")
        return ", ".join(parts) if len(parts) > 1 else " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        head = f"{self.where}: " if self.where else ""
        tail = f" ({self.hint})" if self.hint else ""
        return f"[{self.severity}] {head}{self.message}{tail}"
