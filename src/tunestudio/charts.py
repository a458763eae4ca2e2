"""Charts every stage shares: one clean style, Korean text that renders, PNG output.

Figures are built with :class:`matplotlib.figure.Figure` and drawn on the Agg canvas, never
through ``pyplot``: no GUI backend is touched, no global figure list grows in a long-running
server, and the code is safe to call from worker threads. Importing this module imports
matplotlib, so import it inside functions that draw (``tunestudio --help`` stays instant).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import koreanize_matplotlib  # noqa: F401  (registers NanumGothic and makes it the font)
import numpy as np
from cycler import cycler
from matplotlib import style as mpl_style
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tunestudio.errors import TuneStudioError

# Colour-blind-safe (Okabe–Ito), in the order charts use them.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
INK = "#333333"
MUTED = "#777777"

# NanumGothic first for Hangul; DejaVu Sans catches symbols it lacks (→, ≥, ×).
STYLE: dict[str, Any] = {
    "font.family": ["NanumGothic", "DejaVu Sans"],
    "axes.unicode_minus": False,
    "font.size": 10.5,
    "axes.titlesize": 12.5,
    "axes.titleweight": "bold",
    "axes.titlepad": 10,
    "axes.labelsize": 10.5,
    "axes.labelcolor": INK,
    "axes.edgecolor": "#BBBBBB",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "axes.prop_cycle": cycler(color=list(PALETTE)),
    "grid.color": "#E5E5E5",
    "grid.linewidth": 0.8,
    "xtick.color": INK,
    "ytick.color": INK,
    "legend.frameon": False,
    "legend.fontsize": 9.5,
    "figure.facecolor": "white",
    "figure.titlesize": 14,
    "figure.titleweight": "bold",
    "savefig.dpi": 150,
    "savefig.facecolor": "white",
}
mpl_style.use(STYLE)

_MAX_LABEL_CHARS = 28
_MAX_BINS = 50


def figure(width: float = 8.0, height: float = 5.0) -> Figure:
    """A new figure (inches) in the shared style, on the Agg canvas, with a tidy layout."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def short_label(text: str, limit: int = _MAX_LABEL_CHARS) -> str:
    """One line of at most ``limit`` characters, so tick labels never swamp a chart."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def histogram(
    ax: Axes,
    values: Sequence[float],
    *,
    title: str,
    xlabel: str,
    ylabel: str = "count",
    color: str = PALETTE[0],
) -> None:
    """A histogram with the mean and the 95th percentile marked and named in a legend."""
    ax.set_title(title, loc="left")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if not values:
        _no_data(ax)
        return
    data = np.asarray(values, dtype=float)
    ax.hist(data, bins=_bins(data).tolist(), color=color, edgecolor="white", linewidth=0.6)
    mean, p95 = float(data.mean()), float(np.percentile(data, 95))
    ax.axvline(mean, color=INK, linestyle="--", linewidth=1.2, label=f"mean {mean:,.1f}")
    ax.axvline(p95, color=PALETTE[5], linestyle=":", linewidth=1.6, label=f"p95 {p95:,.0f}")
    # A light box keeps the legend readable where it crosses a bar or a marker line.
    ax.legend(loc="upper right", frameon=True, facecolor="white", edgecolor="none", framealpha=0.9)
    ax.grid(axis="x", visible=False)


def barh(
    ax: Axes,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    xlabel: str = "count",
    value_format: str = "{:,}",
    value_labels: Sequence[str] | None = None,
    color: str = PALETTE[0],
) -> None:
    """Horizontal bars, first item on top, each labelled with its value (or ``value_labels``)."""
    ax.set_title(title, loc="left")
    ax.set_xlabel(xlabel)
    if not values:
        _no_data(ax)
        return
    ticks = [short_label(label) for label in labels]
    bars = ax.barh(ticks, values, color=color, height=0.7)
    ax.invert_yaxis()
    texts = list(value_labels) if value_labels else [value_format.format(v) for v in values]
    ax.bar_label(bars, labels=texts, padding=4, color=INK)
    ax.set_xlim(0, max(values) * 1.2 or 1)
    ax.grid(axis="y", visible=False)
    ax.margins(y=0.01)


def bar(
    ax: Axes,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    ylabel: str = "",
    value_format: str = "{:,}",
    colors: Sequence[str] | None = None,
) -> None:
    """Vertical bars, each labelled with its value (e.g. accuracy per model)."""
    ax.set_title(title, loc="left")
    ax.set_ylabel(ylabel)
    if not values:
        _no_data(ax)
        return
    palette = list(colors) if colors else [PALETTE[i % len(PALETTE)] for i in range(len(values))]
    bars = ax.bar([short_label(label, 16) for label in labels], values, color=palette, width=0.6)
    ax.bar_label(bars, labels=[value_format.format(v) for v in values], padding=3, color=INK)
    top = max(values)
    ax.set_ylim(0, top * 1.15 if top > 0 else 1)
    ax.grid(axis="x", visible=False)


def save_png(fig: Figure, path: Path | str) -> Path:
    """Write ``fig`` as a PNG (creating the folder) and return the path."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png")
    except OSError as exc:
        raise TuneStudioError(
            f"cannot write the chart: {exc.strerror or exc}",
            where=str(path),
            hint="choose a writable place for the PNG",
        ) from exc
    return path


def _bins(data: np.ndarray) -> np.ndarray:
    """One bin per integer for a narrow range of counts; otherwise numpy's 'auto', capped."""
    low, high = float(data.min()), float(data.max())
    if high - low <= 40 and np.all(data == np.round(data)):
        return np.arange(low - 0.5, high + 1.5)
    edges = np.histogram_bin_edges(data, bins="auto")
    if len(edges) - 1 > _MAX_BINS:
        edges = np.histogram_bin_edges(data, bins=_MAX_BINS)
    return edges


def _no_data(ax: Axes) -> None:
    ax.text(0.5, 0.5, "no data", ha="center", va="center", color=MUTED, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
