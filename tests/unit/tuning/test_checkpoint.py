"""Checkpoints are complete or invisible, and only the newest few are kept."""

from __future__ import annotations

from pathlib import Path

import torch

from tunestudio.tuning.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint


def test_save_load_and_latest(tmp_path: Path) -> None:
    root = tmp_path / "checkpoints"
    assert latest_checkpoint(root) is None
    save_checkpoint(root, 3, {"w": torch.ones(2)}, {"epoch": 1})
    path = save_checkpoint(root, 12, {"w": torch.full((2,), 5.0)}, {"epoch": 2})
    assert latest_checkpoint(root) == path
    state, meta = load_checkpoint(path)
    assert torch.equal(state["w"], torch.full((2,), 5.0))
    assert meta == {"step": 12, "epoch": 2}


def test_half_written_checkpoints_are_ignored_and_old_ones_pruned(tmp_path: Path) -> None:
    root = tmp_path / "checkpoints"
    save_checkpoint(root, 1, {}, {})
    # a kill mid-save leaves a temp dir, or a step dir without meta.json: neither counts
    (root / ".tmp-abc").mkdir()
    (root / "step-00000099").mkdir()
    assert latest_checkpoint(root) == root / "step-00000001"
    save_checkpoint(root, 2, {}, {})
    save_checkpoint(root, 3, {}, {})
    names = sorted(p.name for p in root.iterdir())
    assert names == ["step-00000002", "step-00000003", "step-00000099"]
