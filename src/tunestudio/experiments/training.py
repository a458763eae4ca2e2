"""Tune one variant through the one recipe, or take the finished run an earlier attempt left.

``tuning/<key>/`` is run_recipe's output folder. A finished run there (``result.json`` next to
the same ``tune_spec.json``) is reused as it is; an unfinished one resumes from its newest
checkpoint inside run_recipe. A folder tuned with other settings is refused rather than mixed:
its tuned model may already have answered the test set, and those answers would be kept.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tunestudio.errors import ConfigError
from tunestudio.experiments.datasets import DataFile
from tunestudio.experiments.observer import Observer
from tunestudio.experiments.results import Tuning, Variant
from tunestudio.tuning.spec import TuneSpec

SPEC_FILE, RESULT_FILE, TIMING_FILE = "tune_spec.json", "result.json", "timing.json"


def tune(
    base: Variant,
    key: str,
    spec: TuneSpec,
    data: DataFile,
    run_dir: Path,
    observer: Observer,
    *,
    size: int | None = None,
    seed: int | None = None,
) -> Tuning:
    """Tune ``base`` with ``spec`` into ``tuning/<key>/``; the tuned variant is named ``key``."""
    from tunestudio.tuning.recipe import run_recipe
    from tunestudio.tuning.result import read_result

    out_dir = run_dir / "tuning" / key
    reused = _check_earlier(out_dir, spec)
    if reused:
        result = read_result(out_dir)
        if result.dataset_sha256 != data.sha256:
            raise ConfigError(
                f"the training data {data.path} changed since this folder's model was tuned",
                where=str(out_dir),
                hint="rerun with --fresh to start over, or give another --output",
            )
        wall = _read_wall(out_dir)
        observer.note(f"{key}: tuned by an earlier run ({out_dir}), reused")
    else:
        with observer.tuning(key) as on_event:
            started = time.perf_counter()
            result = run_recipe(spec, out_dir, on_event=on_event)
            wall = time.perf_counter() - started
        (out_dir / TIMING_FILE).write_text(json.dumps({"wall_s": wall}), "utf-8")
    variant = Variant(
        key=key,
        model=base.model,
        spec=result.model_spec,
        system=base.system,
        tuned=True,
        size=size,
        seed=seed,
    )
    return Tuning(variant, spec, data, result, out_dir, wall, reused)


def _check_earlier(out_dir: Path, spec: TuneSpec) -> bool:
    """True when ``out_dir`` holds a finished run of ``spec``; raise if it holds another's."""
    saved = out_dir / SPEC_FILE
    if not saved.exists():
        return False
    earlier: dict[str, Any] = json.loads(saved.read_text("utf-8"))
    wanted: dict[str, Any] = json.loads(spec.model_dump_json())
    if earlier != wanted:
        changed = sorted(
            k for k in wanted.keys() | earlier.keys() if earlier.get(k) != wanted.get(k)
        )
        raise ConfigError(
            f"this run folder was tuned with other settings ({', '.join(changed)} differ)",
            where=str(out_dir),
            hint="rerun with --fresh to start over, or give another --output",
        )
    return (out_dir / RESULT_FILE).exists()


def _read_wall(out_dir: Path) -> float:
    try:
        return float(json.loads((out_dir / TIMING_FILE).read_text("utf-8"))["wall_s"])
    except (OSError, ValueError, KeyError):
        return 0.0
