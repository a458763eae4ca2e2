"""Resumable checkpoints, written atomically.

A checkpoint is a directory ``step-00000012/`` holding ``state.pt`` (trainable weights,
optimizer, scheduler, random states, loss history) and ``meta.json`` written last. It is built
in a temporary directory and renamed into place, so a kill mid-save leaves only a temp dir that
is ignored and cleaned up; a directory with ``meta.json`` is always complete.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

META = "meta.json"
STATE = "state.pt"
KEEP = 2  # checkpoints kept; older ones are removed after a newer one is complete


def checkpoint_name(step: int) -> str:
    return f"step-{step:08d}"


def latest_checkpoint(root: Path) -> Path | None:
    """The newest complete checkpoint under ``root`` (by step), or None."""
    if not root.is_dir():
        return None
    complete = [d for d in root.iterdir() if d.name.startswith("step-") and (d / META).exists()]
    return max(complete, key=lambda d: d.name, default=None)


def random_states() -> dict[str, Any]:
    """Python's and torch's random states (dropout draws from torch's)."""
    import torch

    return {"python": random.getstate(), "torch": torch.get_rng_state()}


def restore_random_states(states: dict[str, Any]) -> None:
    import torch

    random.setstate(states["python"])
    torch.set_rng_state(states["torch"])


def save_checkpoint(root: Path, step: int, state: dict[str, Any], meta: dict[str, Any]) -> Path:
    """Write ``state`` (torch-saveable) and ``meta`` (JSON) as checkpoint ``step``; return it."""
    import torch

    root.mkdir(parents=True, exist_ok=True)
    target = root / checkpoint_name(step)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    try:
        torch.save(state, staging / STATE)
        (staging / META).write_text(json.dumps({"step": step, **meta}, indent=2), "utf-8")
        if target.exists():  # an earlier run reached this step too; the new one replaces it
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _prune(root)
    return target


def load_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The state and meta of a checkpoint directory."""
    import torch

    meta = json.loads((path / META).read_text("utf-8"))
    # Our own files, which hold optimizer and RNG states besides tensors.
    state = torch.load(path / STATE, weights_only=False)
    return state, meta


def _prune(root: Path) -> None:
    """Keep the newest KEEP complete checkpoints; drop leftovers of interrupted saves."""
    complete = sorted(
        d for d in root.iterdir() if d.name.startswith("step-") and (d / META).exists()
    )
    for old in complete[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    for leftover in root.glob(".tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
