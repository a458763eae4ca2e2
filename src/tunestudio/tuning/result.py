"""What a finished run leaves behind: ``result.json`` and ``loss_history.jsonl``, and reading them.

Rank 0 of a data-parallel run writes them; the launching process reads them back as the
RecipeResult, so one and N processes return the same thing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunestudio.tuning.dataset import Prepared
from tunestudio.tuning.spec import TuneSpec

RESULT, HISTORY = "result.json", "loss_history.jsonl"


@dataclass
class RecipeResult:
    """What a finished run produced; ``model_spec`` can be loaded and chatted with at once."""

    model_spec: str
    adapter_path: Path
    merged_path: Path | None
    dataset_sha256: str
    labels: list[str]
    loss_history: list[dict[str, Any]] = field(default_factory=list)
    steps: int = 0
    final_loss: float | None = None


def write_result(
    spec: TuneSpec,
    out_dir: Path,
    prepared: Prepared,
    history: list[dict[str, Any]],
    paths: tuple[Path, Path | None],
    processes: list[dict[str, Any]],
) -> dict[str, Any]:
    """Write result.json and loss_history.jsonl; return the summary written as result.json.

    ``paths`` are the model-spec directory and the merged one (or None); ``processes`` holds
    each rank's number, pid and tokens trained, which shows that every rank took part.
    """
    main_path, merged_path = paths
    lines = "".join(json.dumps(entry, ensure_ascii=False) + "\n" for entry in history)
    (out_dir / HISTORY).write_text(lines, "utf-8")
    summary = {
        "modelSpec": f"hf:{main_path}",
        "adapterPath": str(main_path),
        "mergedPath": str(merged_path) if merged_path else None,
        "datasetSha256": prepared.sha256,
        "taskType": prepared.task_type,
        "labels": prepared.labels,
        "steps": history[-1]["currStep"] if history else 0,
        "finalLoss": history[-1]["trainLoss"] if history else None,
        "method": spec.method,
        "numProcesses": len(processes),
        "processes": processes,
    }
    (out_dir / RESULT).write_text(json.dumps(summary, ensure_ascii=False, indent=2), "utf-8")
    return summary


def read_result(out_dir: Path) -> RecipeResult:
    """The RecipeResult of a finished run in ``out_dir``."""
    summary = json.loads((out_dir / RESULT).read_text("utf-8"))
    lines = (out_dir / HISTORY).read_text("utf-8").splitlines()
    merged = summary["mergedPath"]
    return RecipeResult(
        model_spec=summary["modelSpec"],
        adapter_path=Path(summary["adapterPath"]),
        merged_path=Path(merged) if merged else None,
        dataset_sha256=summary["datasetSha256"],
        labels=summary["labels"],
        loss_history=[json.loads(line) for line in lines],
        steps=summary["steps"],
        final_loss=summary["finalLoss"],
    )
