"""Scores sliced by metadata columns (skill × domain × difficulty), as a table and a heatmap.

:func:`slice_table` groups any per-row values (judge scores, 0/1 matches, B's pairwise score)
by the named columns and gives the mean and the number of values behind it. :func:`heatmap`
draws that table: one column → bars, two → a heatmap with the mean and n in every cell, three
(the seed's 12 skills × 10 domains × 5 levels) → the first two as a heatmap pooled over the
third, beside a bar per value of the third.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunestudio.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

EMPTY = "(빈 값)"
MAX_COLUMNS = 3


def slice_table(
    values: Sequence[float | None], meta: Sequence[Mapping[str, Any]], by: Sequence[str]
) -> list[dict[str, Any]]:
    """Mean and count of ``values`` per combination of the ``by`` columns of ``meta``.

    Each row is ``{column: value, …, "mean": float | None, "n": int, "missing": int}``;
    ``n`` counts the values behind the mean and ``missing`` the rows without one (a judge
    failure, a failed answer). Rows are sorted by the columns, numbers numerically.
    Raises ConfigError naming a column ``meta`` does not have, with the ones it has.
    """
    if len(values) != len(meta):
        raise ValueError(f"{len(values)} values for {len(meta)} rows of metadata")
    check_columns(meta, by)
    groups: dict[tuple[str, ...], list[float | None]] = {}
    for value, row in zip(values, meta, strict=True):
        key = tuple(_label(row.get(column)) for column in by)
        groups.setdefault(key, []).append(value)
    table = []
    for key in sorted(groups, key=lambda k: tuple(_order(part) for part in k)):
        present = [v for v in groups[key] if v is not None]
        mean = math.fsum(present) / len(present) if present else None
        row = dict(zip(by, key, strict=True))
        table.append(
            {**row, "mean": mean, "n": len(present), "missing": len(groups[key]) - len(present)}
        )
    return table


def heatmap(
    table: Sequence[Mapping[str, Any]],
    by: Sequence[str],
    *,
    title: str,
    value_label: str = "평균",
    vmin: float | None = None,
    vmax: float | None = None,
) -> Figure:
    """Draw a :func:`slice_table` result: bars, a heatmap, or a heatmap beside bars."""
    from tunestudio import charts

    _check_count(by)
    if len(by) == 1:
        fig = charts.figure(8, max(2.5, 0.45 * len(table) + 1.5))
        _bars(fig.add_subplot(), table, by[0], title=title, xlabel=value_label)
        return fig
    rows, cols = _levels(table, by[0]), _levels(table, by[1])
    width = min(24.0, 2.8 + 0.95 * len(cols))
    height = min(18.0, 2.2 + 0.55 * len(rows))
    if len(by) == 2:
        fig = charts.figure(width, height)
        _grid(fig, fig.add_subplot(), table, by, (vmin, vmax), value_label)
        fig.suptitle(title, x=0.02, ha="left")
        return fig
    fig = charts.figure(width + 4.5, max(height, 0.45 * len(_levels(table, by[2])) + 2))
    left, right = fig.subplots(1, 2, width_ratios=[width, 4.0])
    _grid(fig, left, pooled(table, by[:2]), by[:2], (vmin, vmax), value_label)
    left.set_title(f"{by[0]} × {by[1]} ({by[2]} 전체)", loc="left")
    _bars(right, pooled(table, by[2:]), by[2], title=f"{by[2]}별", xlabel=value_label)
    fig.suptitle(title, x=0.02, ha="left")
    return fig


def pooled(table: Sequence[Mapping[str, Any]], by: Sequence[str]) -> list[dict[str, Any]]:
    """Re-group a slice table by fewer columns, weighting each mean by its n."""
    sums: dict[tuple[str, ...], list[float]] = {}
    for row in table:
        key = tuple(str(row[column]) for column in by)
        total = sums.setdefault(key, [0.0, 0.0, 0.0])
        if row["mean"] is not None:
            total[0] += row["mean"] * row["n"]
        total[1] += row["n"]
        total[2] += row["missing"]
    out = []
    for key in sorted(sums, key=lambda k: tuple(_order(part) for part in k)):
        weighted, n, missing = sums[key]
        mean = weighted / n if n else None
        out.append(
            {**dict(zip(by, key, strict=True)), "mean": mean, "n": int(n), "missing": int(missing)}
        )
    return out


def check_columns(meta: Sequence[Mapping[str, Any]], by: Sequence[str]) -> None:
    """ConfigError unless ``by`` names 1–3 columns that ``meta`` has (listing the ones it has)."""
    _check_count(by)
    available = sorted({str(k) for row in meta for k in row})
    for column in by:
        if not any(column in row for row in meta):
            raise ConfigError(
                f"열 '{column}' 이(가) 예측 파일에 없습니다",
                where="--by",
                hint=f"있는 열: {', '.join(available) or '(없음)'}",
            )


def _check_count(by: Sequence[str]) -> None:
    if not 1 <= len(by) <= MAX_COLUMNS:
        raise ConfigError(
            f"slice by 1 to {MAX_COLUMNS} columns, not {len(by)}",
            where="--by",
            hint="e.g. --by skill,domain or --by skill,domain,difficulty",
        )


def _label(value: Any) -> str:
    """A cell as a group label: a spreadsheet's 3.0 is 3, an empty cell is named as such."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return EMPTY
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or EMPTY


def _order(label: str) -> tuple[int, float, str]:
    """Numbers first and numerically (난이도 2 before 10), then text, the empty group last."""
    if label == EMPTY:
        return (2, 0.0, "")
    try:
        return (0, float(label), "")
    except ValueError:
        return (1, 0.0, label)


def _levels(table: Sequence[Mapping[str, Any]], column: str) -> list[str]:
    return sorted({str(row[column]) for row in table}, key=_order)


def _bars(
    ax: Axes, table: Sequence[Mapping[str, Any]], column: str, *, title: str, xlabel: str
) -> None:
    from tunestudio import charts

    shown = [row for row in table if row["mean"] is not None]
    charts.barh(
        ax,
        [str(row[column]) for row in shown],
        [float(row["mean"]) for row in shown],
        title=title,
        xlabel=xlabel,
        value_labels=[f"{row['mean']:.2f} (n={row['n']})" for row in shown],
    )
    ax.set_ylabel(column)


def _grid(
    fig: Figure,
    ax: Axes,
    table: Sequence[Mapping[str, Any]],
    by: Sequence[str],
    limits: tuple[float | None, float | None],
    value_label: str,
) -> None:
    """A heatmap of the mean per (row, column) cell, each cell showing its mean and n."""
    import numpy as np

    from tunestudio import charts

    rows, cols = _levels(table, by[0]), _levels(table, by[1])
    grid = np.full((len(rows), len(cols)), np.nan)
    counts = np.zeros((len(rows), len(cols)), dtype=int)
    for row in table:
        r, c = rows.index(str(row[by[0]])), cols.index(str(row[by[1]]))
        grid[r, c] = np.nan if row["mean"] is None else row["mean"]
        counts[r, c] = row["n"]
    cmap = _colormap()
    image = ax.imshow(
        np.ma.masked_invalid(grid), cmap=cmap, aspect="auto", vmin=limits[0], vmax=limits[1]
    )
    ax.set_xticks(
        range(len(cols)), [charts.short_label(c, 14) for c in cols], rotation=30, ha="right"
    )
    ax.set_yticks(range(len(rows)), [charts.short_label(r, 20) for r in rows])
    ax.set_xlabel(by[1])
    ax.set_ylabel(by[0])
    ax.grid(False)
    for r in range(len(rows)):
        for c in range(len(cols)):
            _cell_text(ax, image, r, c, grid[r, c], counts[r, c])
    fig.colorbar(image, ax=ax, label=value_label, shrink=0.85)


def _cell_text(ax: Axes, image: Any, r: int, c: int, value: float, n: int) -> None:
    from tunestudio import charts

    if math.isnan(value):
        ax.text(c, r, "–", ha="center", va="center", color=charts.MUTED, fontsize=9)
        return
    red, green, blue, _ = image.cmap(image.norm(value))
    # Dark text on light cells, white on dark ones (relative luminance, ITU-R BT.709).
    light = 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.55
    color = charts.INK if light else "white"
    ax.text(c, r, f"{value:.2f}\nn={n}", ha="center", va="center", color=color, fontsize=8.5)


def _colormap() -> Any:
    from matplotlib import colormaps

    return colormaps["viridis"].with_extremes(bad="#EEEEEE")  # grey: no scored row
