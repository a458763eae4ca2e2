"""A stand-in for tuning/recipe.py that honours the recipe interface, for worker tests.

It "trains" for ``spec.epochs`` steps of STANDIN_STEP_SECONDS each, checkpoints atomically
every ``spec.checkpoint_every`` steps, resumes from its newest checkpoint, and logs every step
with its pid so a test can prove no two processes ever trained the same job at once (an
exclusive flock on the job's out_dir is held while it runs).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunestudio.errors import ConfigError, TuneStudioError
from tunestudio.tuning.spec import TuneSpec


class StandinCanceled(TuneStudioError):
    """Raised when should_stop() says so, after a checkpoint."""


@dataclass
class StandinResult:
    model_spec: str
    adapter_path: Path
    merged_path: Path | None
    dataset_sha256: str
    labels: list[str] | None


def run_recipe(
    spec: TuneSpec,
    out_dir: Path,
    *,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> StandinResult:
    emit = on_event or (lambda kind, data: None)
    stop = should_stop or (lambda: False)
    if spec.name == "bad-lr":
        raise ConfigError("learning_rate 0.5 is far too high", where="learning_rate", hint="1e-4")
    lock = open(out_dir / "run.lock", "w")  # noqa: SIM115 — held for the whole run
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if another run holds it
    total, seconds = spec.epochs, float(os.environ.get("STANDIN_STEP_SECONDS", "0.05"))
    emit(
        "prepared",
        {
            "dataRows": 10,
            "numOfTokens": 1234,
            "totalTrainSteps": total,
            "totalTrainEpochs": 1,
            "taskType": "GENERATION",
            "labels": None,
        },
    )
    step = _latest_checkpoint(out_dir)
    if step:
        emit("resumed", {"step": step})
    log = out_dir / "steps.log"
    while step < total:
        if stop():
            _checkpoint(out_dir, step, emit)
            raise StandinCanceled(f"stopped at step {step}")
        with log.open("a") as fh:
            fh.write(f"start {os.getpid()} {step + 1} {time.time()}\n")
        time.sleep(seconds)
        if spec.name == "crash" and step + 1 == 2:
            raise RuntimeError("CUDA error: device-side assert triggered")
        step += 1
        with log.open("a") as fh:
            fh.write(f"end {os.getpid()} {step} {time.time()}\n")
        emit(
            "step",
            {
                "currStep": step,
                "currEpoch": 1,
                "trainLoss": 2.0 / step,
                "learningRate": 1e-4,
                "tokensPerSecond": 100.0,
                "elapsedSeconds": 0.0,
            },
        )
        if step % spec.checkpoint_every == 0:
            _checkpoint(out_dir, step, emit)
    adapter = out_dir / "adapter"
    adapter.mkdir(exist_ok=True)
    emit("done", {"adapterPath": str(adapter), "mergedPath": None, "modelSpec": f"hf:{adapter}"})
    return StandinResult(f"hf:{adapter}", adapter, None, "0" * 64, None)


def _latest_checkpoint(out_dir: Path) -> int:
    steps = [int(p.name.split("-")[1]) for p in (out_dir / "checkpoints").glob("step-*")]
    return max(steps, default=0)


def _checkpoint(out_dir: Path, step: int, emit: Callable[[str, dict[str, Any]], None]) -> None:
    final = out_dir / "checkpoints" / f"step-{step}"
    if step == 0 or final.exists():
        return
    tmp = out_dir / "checkpoints" / f".tmp-{step}"
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "state.json").write_text(json.dumps({"step": step}))
    tmp.rename(final)
    emit("checkpoint", {"step": step, "path": str(final)})
