"""A self-contained HTML report: sections of tables, charts (PNG, embedded) and text.

The writer knows nothing about experiments; :mod:`tunestudio.experiments.report` decides what
goes in. One file, no external assets: charts are embedded as base64 PNG, so the report can be
mailed or attached to an issue as it is. The page is a Jinja2 template shipped in the package
(``templates/report.html.j2``), autoescaped, so answers full of ``<`` and ``&`` stay text.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tunestudio.errors import TuneStudioError

TEMPLATE = "report.html.j2"


@dataclass
class TableBlock:
    """A table; cells are shown as they are, floats with ``digits`` decimals."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""
    digits: int = 3


@dataclass
class ChartBlock:
    """A PNG chart, embedded into the page."""

    title: str
    path: Path
    note: str = ""


@dataclass
class TextBlock:
    """A paragraph, or preformatted text (a recipe, a command) with ``code``."""

    text: str
    code: bool = False
    title: str = ""


Block = TableBlock | ChartBlock | TextBlock


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return "".join(c if c.isalnum() else "-" for c in self.title.lower()).strip("-")


@dataclass
class Report:
    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)
    footer: str = ""


def write_html(report: Report, path: Path | str) -> Path:
    """Render ``report`` into one self-contained HTML file at ``path``."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("tunestudio.evaluation", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cell"] = format_cell
    env.filters["png"] = embed_png
    html = env.get_template(TEMPLATE).render(
        report=report,
        generated=datetime.now(timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        kind=_kind,
    )
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, "utf-8")
    except OSError as exc:
        raise TuneStudioError(
            f"cannot write the report: {exc.strerror or exc}",
            where=str(path),
            hint="choose a writable folder with --output",
        ) from exc
    return path


def format_cell(value: Any, digits: int = 3) -> str:
    """A table cell as text: floats rounded, NaN and None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def embed_png(path: Path) -> str:
    """A ``data:`` URL holding the PNG at ``path``."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _kind(block: Block) -> str:
    return {TableBlock: "table", ChartBlock: "chart", TextBlock: "text"}[type(block)]
