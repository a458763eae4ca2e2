"""Run a recipe into a run folder; a rerun into the same folder resumes.

Layout of a run folder::

    recipe.yaml              the recipe as resolved (absolute paths, overrides applied)
    run.json                 datasets with sha256, per-variant summary, wall times, version
    data/                    generated sets and learning-curve samples
    journals/<variant>.jsonl every answered row, written before it counts as done
    outputs/<variant>.csv    the answers, as `tunestudio infer` writes them
    tuning/<variant>/        run_recipe's folder (checkpoints, adapter, result.json)
    embeddings/<name>.npz    classify-compare: the embedded training and test texts
    charts/*.png, report.html, predictions.xlsx

Nothing finished is done twice: answered rows come from the journals (a variant whose rows are
all there does not even load its model), finished tuning runs are reused and unfinished ones
resume from their checkpoints, so a learning curve continues at the size where it stopped.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from tunestudio.errors import ConfigError
from tunestudio.experiments.datasets import prepare_data
from tunestudio.experiments.evaluate import build_scorers
from tunestudio.experiments.kinds import KINDS, Context
from tunestudio.experiments.observer import Observer
from tunestudio.experiments.recipe import Recipe
from tunestudio.experiments.results import RunResult
from tunestudio.ops.ledger import labels

# What a run writes, and so all that --fresh removes: never anything else in the folder.
RUN_ENTRIES = (
    "recipe.yaml",
    "run.json",
    "data",
    "journals",
    "outputs",
    "tuning",
    "embeddings",
    "charts",
    "report.html",
    "predictions.xlsx",
)


def run_experiment(
    recipe: Recipe,
    *,
    where: str = "recipe",
    output: Path | str | None = None,
    fresh: bool = False,
    observer: Observer | None = None,
) -> RunResult:
    """Run ``recipe`` into ``output`` (default: report.dir, else runs/<name>-<timestamp>).

    ``where`` names the recipe in messages (its file). With ``fresh`` the folder's earlier
    results are removed first; otherwise finished work found there is reused.
    """
    from tunestudio.experiments.report import write_report

    observer = observer or Observer()
    scorers = build_scorers(recipe, where)  # a bad scorer option fails before anything is made
    run_dir = _open_folder(recipe, output, fresh)
    started = time.perf_counter()
    test, train = prepare_data(recipe, run_dir)
    _check_group_by(recipe, test.path, where)
    data = [test, *([train] if train else [])]
    result = RunResult(recipe=recipe, run_dir=run_dir, data=data, evaluations=[])
    ctx = Context(recipe, where, run_dir, observer, scorers, test, train, result)
    ledger_run = f"run:{run_dir.name}"
    with labels(run=ledger_run):  # calls through pipelines are summed per run in the ledger
        KINDS[recipe.kind](ctx)
        if recipe.judge is not None:
            from tunestudio.experiments.judging import run_judge

            observer.stage(f"judging with {recipe.judge.model}")
            run_judge(ctx)
    result.costs = _costs(recipe, ledger_run)
    _timings(result, time.perf_counter() - started)
    observer.stage("writing the report")
    version = tunestudio_version()
    write_report(result, version)
    _write_summary(result, version)
    return result


def _costs(recipe: Recipe, ledger_run: str) -> list[dict[str, Any]]:
    """The ledger's sums for this run, when it used a pipeline (other models are not metered)."""
    if not any(model.spec.startswith("pipeline:") for model in recipe.models):
        return []
    from tunestudio.ops.stats import summarize

    return [asdict(row) for row in summarize("model", run=ledger_run)]


def _open_folder(recipe: Recipe, output: Path | str | None, fresh: bool) -> Path:
    """The run folder, made (or cleared with ``fresh``), with the resolved recipe in it."""
    run_dir = run_folder(recipe, output)
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(
            "the output is a file, not a folder",
            where=str(run_dir),
            hint="give --output a folder (new or from an earlier run of this recipe)",
        )
    if fresh:
        clear_run(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_recipe(recipe, run_dir)
    return run_dir


def run_folder(recipe: Recipe, output: Path | str | None) -> Path:
    """Where the run goes: ``output``, else the recipe's report.dir, else a new timestamped one."""
    if output is not None:
        return Path(output).expanduser().resolve()
    if recipe.report.dir is not None:
        return recipe.report.dir.resolve()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return (Path("runs") / f"{_file_safe(recipe.name)}-{stamp}").resolve()


def clear_run(run_dir: Path) -> None:
    """Remove what an earlier run wrote into ``run_dir`` (and only that)."""
    for name in RUN_ENTRIES:
        entry = run_dir / name
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        elif entry.exists() or entry.is_symlink():
            entry.unlink()


def tunestudio_version() -> str:
    """The installed tunestudio version ("unknown" when run from an uninstalled tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tunestudio")
    except PackageNotFoundError:
        return "unknown"


def _write_recipe(recipe: Recipe, run_dir: Path) -> None:
    data = recipe.model_dump(mode="json", exclude_none=True)
    text = "# The recipe of this run, as resolved (paths absolute, overrides applied).\n"
    text += yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    (run_dir / "recipe.yaml").write_text(text, "utf-8")


def _check_group_by(recipe: Recipe, test_path: Path, where: str) -> None:
    if not recipe.group_by:
        return
    from tunestudio.data.table import read_table

    columns = read_table(test_path).columns
    missing = [c for c in recipe.group_by if c not in columns]
    if missing:
        raise ConfigError(
            f"the test set {test_path.name} has no column {', '.join(missing)}",
            where=f"{where}: group_by",
            hint=f"its columns are {', '.join(columns)}",
        )


def _timings(result: RunResult, total: float) -> None:
    for ev in result.evaluations:
        if ev.wall_s:
            result.timings[f"answer {ev.variant.key}"] = ev.wall_s
    for tuning in result.tunings:
        if not tuning.reused:
            result.timings[f"tune {tuning.variant.key}"] = tuning.wall_s
    result.timings["total (this run)"] = total


def _write_summary(result: RunResult, version: str) -> None:
    """``run.json``: what a script needs without parsing the report."""
    summary: dict[str, Any] = {
        "name": result.recipe.name,
        "kind": result.recipe.kind,
        "tunestudio": version,
        "datasets": [d.to_dict() for d in result.data],
        "variants": [
            {
                **ev.summary(),
                "spec": ev.variant.spec,
                "answered_now": ev.answered_now,
                "from_journal": ev.from_journal,
                "predictions": str(ev.path),
            }
            for ev in result.evaluations
        ],
        "tunings": [
            {
                "variant": t.variant.key,
                "reused": t.reused,
                "wall_s": t.wall_s,
                "steps": t.result.steps,
                "final_loss": t.result.final_loss,
                "model_spec": t.result.model_spec,
            }
            for t in result.tunings
        ],
        "pairs": [{"a": p.a, "b": p.b, **p.comparison.to_dict()} for p in result.pairs],
        "curve": [vars(p) for p in result.curve],
        "timings": result.timings,
        "costs": result.costs,
        "files": {k: str(v) for k, v in result.files.items()},
    }
    text = json.dumps(_strict_json(summary), ensure_ascii=False, indent=2, default=str)
    (result.run_dir / "run.json").write_text(text, "utf-8")


def _strict_json(value: Any) -> Any:
    """NaN (an accuracy with nothing to score) as null: JSON has no NaN, and jq would refuse it."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict_json(v) for v in value]
    return value


def _file_safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-") or "run"
