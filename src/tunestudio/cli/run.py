"""``tunestudio run RECIPE.yaml``: run an experiment recipe and write its report."""

from __future__ import annotations

import math
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tunestudio.cli.app import app
from tunestudio.cli.common import console, err_console

if TYPE_CHECKING:
    from tunestudio.experiments import RunResult

HELP = (
    "Run an experiment RECIPE (compare, tune-and-compare, learning-curve or classify-compare) "
    "and write report.html, predictions.xlsx and the charts into the run folder.\n\n"
    "A rerun with the same --output continues where a stopped run ended: answered rows, "
    "finished tuning runs and finished learning-curve sizes are not done again."
)


@app.command(help=HELP)
def run(
    recipe_path: Annotated[
        Path, typer.Argument(metavar="RECIPE", help="The recipe YAML (see docs/evaluation.md).")
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Run folder; default: the recipe's report.dir, else "
            "runs/<name>-<timestamp>. Give the same folder again to resume.",
        ),
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="Override a recipe field, e.g. --set tune.epochs=2 --set generation.max_tokens=32.",
        ),
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option("--fresh", help="Remove the run folder's earlier results and start over."),
    ] = False,
) -> None:
    """Run the recipe, print the summary table and where the report is."""
    from tunestudio.cli.run_progress import RichObserver
    from tunestudio.experiments import load_recipe, run_experiment
    from tunestudio.experiments.runner import run_folder

    _quiet_known_library_warnings()
    recipe = load_recipe(recipe_path, overrides)
    folder = run_folder(recipe, output)
    console.print(f"[bold]{recipe.kind}[/] {recipe.name} → {folder}", highlight=False)
    try:
        result = run_experiment(
            recipe, where=str(recipe_path), output=folder, fresh=fresh, observer=RichObserver()
        )
    except KeyboardInterrupt:
        err_console.print(
            "stopped. Finished work is kept; to continue run:\n  tunestudio run "
            f"{shlex.quote(str(recipe_path))} --output {shlex.quote(str(folder))}",
            highlight=False,
        )
        raise typer.Exit(130) from None
    print_summary(result)


def _quiet_known_library_warnings() -> None:
    """Silence three warnings every tuning of ``tiny`` prints, which ask nothing of the user:
    transformers' deprecation of ``is_gradient_checkpointing`` (raised inside peft), and peft
    looking on the Hub for a ``tiny`` config while saving an adapter (offline, it cannot)."""
    import warnings

    warnings.filterwarnings("ignore", r".*is_gradient_checkpointing.*", FutureWarning)
    warnings.filterwarnings("ignore", r"Unable to fetch remote file.*", UserWarning)
    warnings.filterwarnings("ignore", r"Could not find a config file in .*", UserWarning)


def print_summary(result: RunResult) -> None:
    """The summary table, the paired comparisons and the report's path."""
    from rich.table import Table

    if result.recipe.kind == "classify-compare":
        _print_classify(result)
        return
    table = Table(
        title=f"{result.recipe.title} — {result.recipe.scorers[0].name}", title_justify="left"
    )
    for name in ("model", "accuracy", "correct", "format invalid", "generation failed", "n"):
        table.add_column(name, justify="left" if name == "model" else "right")
    for ev in result.evaluations:
        s = ev.summary()
        table.add_row(
            s["model"],
            _percent(s["accuracy"]),
            f"{s['correct']}/{s['scored']}",
            str(s["format_invalid"]),
            str(s["generation_failed"]),
            str(s["n"]),
        )
    console.print(table)
    for pair in result.pairs:
        c = pair.comparison
        low, high = c.difference_ci
        console.print(
            f"{pair.a} → {pair.b}: {c.difference * 100:+.1f} pts "
            f"(95% CI {low * 100:+.1f} … {high * 100:+.1f}), fixed {c.fixed}, "
            f"regressed {c.regressed}, still wrong {c.still_wrong}, McNemar p = {c.mcnemar_p:.3g}",
            highlight=False,
        )
    for point in result.curve:
        console.print(
            f"{point.model} tuned on {point.size} rows ({point.seeds} seed(s)): accuracy "
            f"{_percent(point.accuracy)} (95% CI {_percent(point.low)} … {_percent(point.high)})",
            highlight=False,
        )
    console.print(f"report: {result.files['report']}", highlight=False)
    console.print(f"predictions: {result.files['predictions']}", highlight=False)


def _print_classify(result: RunResult) -> None:
    """classify-compare: accuracy by method × training size (the table of the report)."""
    from rich.table import Table

    from tunestudio.experiments.classify_report import accuracy_table

    columns, rows = accuracy_table(result.curve, wrap=True)
    table = Table(
        title=f"{result.recipe.title} — {result.recipe.scorers[0].name} accuracy (95% CI) "
        "by training rows",
        title_justify="left",
    )
    for name in columns:
        table.add_column(name, justify="left" if name == "method" else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(f"report: {result.files['report']}", highlight=False)
    console.print(f"predictions: {result.files['predictions']}", highlight=False)


def _percent(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:.1f}%"
