"""The experiment charts, as PNG files: accuracy before/after, loss, learning curve, groups.

Built on :mod:`tunestudio.charts` (one style, Korean text renders). Import inside functions
that draw: importing this module imports matplotlib.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.ticker import MaxNLocator

from tunestudio.charts import INK, MUTED, PALETTE, figure, save_png, short_label
from tunestudio.experiments.curve import sort_values
from tunestudio.experiments.results import CurvePoint, Evaluation, GroupPoint, Tuning


def accuracy_chart(evaluations: Sequence[Evaluation], scorer: str, path: Path) -> Path:
    """Grouped bars: for each model its accuracy before tuning and after (the cookbook's chart)."""
    groups: dict[str, list[Evaluation]] = defaultdict(list)
    for ev in evaluations:
        groups[ev.variant.model].append(ev)
    names = list(groups)
    slots = max(len(v) for v in groups.values())
    fig = figure(max(6.0, 1.6 * len(names) * slots + 2), 4.8)
    ax = fig.add_subplot()
    width = 0.8 / slots
    for slot in range(slots):
        xs, heights, labels = [], [], []
        for x, name in enumerate(names):
            if slot < len(groups[name]):
                ev = groups[name][slot]
                xs.append(x + (slot - (slots - 1) / 2) * width)
                heights.append(100 * _accuracy(ev))
                labels.append(_bar_label(ev))
        bars = ax.bar(
            xs,
            heights,
            width * 0.92,
            color=PALETTE[slot % len(PALETTE)],
            label=_slot_name(slot, slots),
        )
        ax.bar_label(bars, labels=labels, padding=3, color=INK, fontsize=9)
    ax.set_xticks(range(len(names)), [short_label(n, 24) for n in names])
    ax.set_ylim(0, 112)
    ax.set_ylabel(f"accuracy (%, {scorer})")
    ax.set_title(f"Accuracy on the test set ({evaluations[0].summary()['n']} rows)", loc="left")
    ax.grid(axis="x", visible=False)
    if slots > 1:
        ax.legend(loc="upper left", ncols=slots)
    return save_png(fig, path)


def loss_chart(tunings: Sequence[Tuning], path: Path) -> Path:
    """Training loss per update of every tuning run (evaluation loss as dots, when measured)."""
    fig = figure(8.0, 4.5)
    ax = fig.add_subplot()
    for index, tuning in enumerate(tunings):
        history = tuning.result.loss_history
        color = PALETTE[index % len(PALETTE)]
        steps = [h["currStep"] for h in history]
        ax.plot(
            steps,
            [h["trainLoss"] for h in history],
            color=color,
            linewidth=1.4,
            label=tuning.variant.key,
        )
        evals = [(h["currStep"], h["evalLoss"]) for h in history if "evalLoss" in h]
        if evals:
            ax.scatter([e[0] for e in evals], [e[1] for e in evals], color=color, s=18, zorder=3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("update")
    ax.set_ylabel("loss (answer tokens)")
    ax.set_title("Training loss", loc="left")
    if len(tunings) <= 12:
        ax.legend(loc="upper right")
    return save_png(fig, path)


def curve_chart(points: Sequence[CurvePoint], baselines: dict[str, float], path: Path) -> Path:
    """Error probability vs training size with its 95% band; the untuned model as a line."""
    fig = figure(8.0, 4.8)
    ax = fig.add_subplot()
    models = list(dict.fromkeys(p.model for p in points))
    for index, model in enumerate(models):
        mine = [p for p in points if p.model == model]
        color = PALETTE[index % len(PALETTE)]
        sizes = [p.size for p in mine]
        ax.fill_between(
            sizes,
            [1 - p.high for p in mine],
            [1 - p.low for p in mine],
            color=color,
            alpha=0.18,
            linewidth=0,
        )
        ax.plot(
            sizes,
            [p.error for p in mine],
            marker="o",
            color=color,
            label=f"{model} tuned ({mine[0].seeds} seed{'s' if mine[0].seeds > 1 else ''})",
        )
        if model in baselines:
            ax.axhline(
                1 - baselines[model],
                color=color,
                linestyle="--",
                linewidth=1.1,
                label=f"{model} untuned",
            )
    ax.set_xscale("log", base=2)
    ticks = sorted({p.size for p in points})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_ylim(-0.02, 1.05)
    ax.set_xlabel("training rows")
    ax.set_ylabel("error probability (1 − match)")
    ax.set_title("Error probability by training size (95% interval)", loc="left")
    ax.legend(loc="best")
    return save_png(fig, path)


def rates_chart(rows: Sequence[dict[str, Any]], scorer: str, path: Path) -> Path:
    """Each ``*_rate`` metric of ``rows`` (see ``metrics_by_size``) by training size."""
    fig = figure(8.0, 4.8)
    ax = fig.add_subplot()
    labels = list(dict.fromkeys(_size_label(r["size"]) for r in rows))
    position = {label: i for i, label in enumerate(labels)}
    models = list(dict.fromkeys(r["model"] for r in rows))
    for index, name in enumerate(rate_names(rows)):
        for style, model in zip(("-", "--", ":", "-."), models, strict=False):
            mine = [r for r in rows if r["model"] == model and name in r]
            ax.plot(
                [position[_size_label(r["size"])] for r in mine],
                [r[name] for r in mine],
                marker="o",
                linestyle=style,
                color=PALETTE[index % len(PALETTE)],
                label=name if len(models) == 1 else f"{model}: {name}",
            )
    ax.set_xticks(range(len(labels)), labels)
    # A per-country rate can pass 1 (two extra countries per listed one), so no cap at 1.
    top = max([r[n] for r in rows for n in rate_names(rows) if n in r], default=1.0)
    ax.set_ylim(-0.02, max(1.05, top * 1.05))
    ax.set_xlabel("training rows")
    ax.set_ylabel("rate")
    ax.set_title(f"{scorer}: rates by training size (mean over seeds)", loc="left")
    ax.legend(loc="best", fontsize=8.5)
    return save_png(fig, path)


def rate_names(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The ``*_rate`` metrics that are not zero everywhere."""
    names = list(dict.fromkeys(k for r in rows for k in r if k.endswith("_rate")))
    return [n for n in names if any(r.get(n) for r in rows)]


def _size_label(size: int) -> str:
    return "untuned" if size == 0 else str(size)


def groups_chart(points: Sequence[GroupPoint], column: str, path: Path) -> Path:
    """Error probability by the values of ``column``, one line per variant (or size)."""
    fig = figure(8.0, 4.5)
    ax = fig.add_subplot()
    mine = [p for p in points if p.column == column]
    values = sort_values(list(dict.fromkeys(p.value for p in mine)))
    position = {v: i for i, v in enumerate(values)}
    variants = list(dict.fromkeys(p.variant for p in mine))
    for index, variant in enumerate(variants):
        line = sorted((position[p.value], p.error) for p in mine if p.variant == variant)
        xs, ys = zip(*line, strict=True)
        ax.plot(xs, ys, marker="o", color=PALETTE[index % len(PALETTE)], label=variant)
    ax.set_xticks(range(len(values)), [short_label(v, 12) for v in values])
    ax.set_ylim(-0.02, 1.05)
    ax.set_xlabel(column)
    ax.set_ylabel("error probability")
    ax.set_title(f"Error probability by {column}", loc="left")
    counts = _counts(mine, values)
    ax.text(
        0.0, -0.2, f"rows per value: {counts}", transform=ax.transAxes, color=MUTED, fontsize=8.5
    )
    ax.legend(loc="best", fontsize=8.5, ncols=2 if len(variants) > 6 else 1)
    return save_png(fig, path)


def _counts(points: Sequence[GroupPoint], values: Sequence[str]) -> str:
    first = {p.value: p.n for p in reversed(points)}
    return ", ".join(f"{v}: {first[v]}" for v in values)


def _accuracy(ev: Evaluation) -> float:
    value = float(ev.summary()["accuracy"])
    return 0.0 if np.isnan(value) else value


def _bar_label(ev: Evaluation) -> str:
    s = ev.summary()
    return f"{100 * _accuracy(ev):.0f}%\n({s['correct']}/{s['scored']})"


def _slot_name(slot: int, slots: int) -> str:
    if slots == 2:
        return ("before tuning", "after tuning")[slot]
    return "untuned" if slot == 0 else f"tuned #{slot}"
