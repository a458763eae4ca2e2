"""The one tuning recipe: validate the data, tokenize with assistant-only labels, train, save.

Read it top to bottom: :func:`run_recipe` prepares everything, :class:`_Run` trains with a plain
torch loop (AdamW, linear warmup and decay, gradient accumulation, clipping), checkpoints
atomically and resumes from the newest complete checkpoint. Variants (LoRA or full, packing,
merge) are TuneSpec values, not copies of this file.

The data order is a function of (seed, epoch) and the random states are checkpointed, so a run
that is stopped and resumed ends with the same weights and losses as one that never stopped.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunestudio.errors import ConfigError
from tunestudio.tuning.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    random_states,
    restore_random_states,
    save_checkpoint,
)
from tunestudio.tuning.dataset import Prepared, tokenize_split, validate_and_read
from tunestudio.tuning.errors import TuningCanceled, TuningError
from tunestudio.tuning.model import (
    load_base,
    load_trainable_state,
    make_trainable,
    save_model,
    trainable_state,
)
from tunestudio.tuning.packing import collate, plan_rows
from tunestudio.tuning.spec import TuneSpec
from tunestudio.tuning.tokenize import IGNORE, Example

if TYPE_CHECKING:
    import torch

__all__ = ["RecipeResult", "TuningCanceled", "TuningError", "run_recipe"]

OnEvent = Callable[[str, dict[str, Any]], None]
OOM_HINT = "lower batch_size (raise grad_accum to keep the effective batch) or max_length"


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


def run_recipe(
    spec: TuneSpec,
    out_dir: Path,
    *,
    on_event: OnEvent | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RecipeResult:
    """Tune ``spec.model`` on ``spec.data`` into ``out_dir``, resuming a stopped run there.

    Raises DatasetInvalidError before any training when the data has errors, ConfigError for a
    bad setting, TuningError (out of memory, …) and TuningCanceled when ``should_stop()`` says so.
    """
    import torch

    from tunestudio.models.hf_load import pick_device

    emit: OnEvent = on_event or (lambda kind, data: None)
    out_dir = Path(out_dir)
    _check_spec(spec)
    prepared = validate_and_read(spec)
    torch.manual_seed(spec.seed)  # LoRA's initial weights and the first dropout masks
    random.seed(spec.seed)
    model, tokenizer, base_ref = load_base(spec, pick_device(None))
    _check_length(spec, model)
    tokenize_split(prepared, tokenizer, spec)
    model = make_trainable(model, spec, base_ref)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tune_spec.json").write_text(spec.model_dump_json(indent=2), "utf-8")
    run = _Run(spec, model, prepared, tokenizer.pad_token_id, out_dir, emit)
    try:
        run.train(should_stop or (lambda: False))
    except torch.OutOfMemoryError as exc:
        raise TuningError("out of memory while training", hint=OOM_HINT) from exc
    except RuntimeError as exc:
        if "memory" not in str(exc).lower():
            raise
        raise TuningError(f"out of memory while training: {exc}", hint=OOM_HINT) from exc
    main_path, merged_path = save_model(model, tokenizer, out_dir, spec)
    return _finish(spec, out_dir, prepared, run, main_path, merged_path, emit)


def _check_spec(spec: TuneSpec) -> None:
    """Settings pydantic cannot judge alone."""
    if spec.num_processes > 1:
        raise ConfigError(
            f"num_processes={spec.num_processes}: data-parallel training is not available yet",
            where="num_processes",
            hint="use num_processes=1",
        )
    if not spec.data.is_file():
        raise ConfigError(
            f"dataset not found: {spec.data}", where="data", hint="give the path of the data file"
        )


def _check_length(spec: TuneSpec, model: Any) -> None:
    limit = getattr(model.config, "max_position_embeddings", None)
    if limit is not None and spec.max_length > limit:
        raise ConfigError(
            f"max_length={spec.max_length} exceeds the model's context of {limit} tokens",
            where="max_length",
            hint=f"use max_length ≤ {limit}",
        )


class _Run:
    """The training loop and its resumable state."""

    def __init__(
        self,
        spec: TuneSpec,
        model: Any,
        prepared: Prepared,
        pad_id: int,
        out_dir: Path,
        emit: OnEvent,
    ) -> None:
        import torch
        from transformers import get_linear_schedule_with_warmup

        self.spec, self.model, self.prepared, self.pad_id = spec, model, prepared, pad_id
        self.emit, self.checkpoints = emit, out_dir / "checkpoints"
        self.rows = plan_rows(prepared.train, spec.max_length, spec.packing)
        batches = math.ceil(len(self.rows) / spec.batch_size)
        self.updates_per_epoch = math.ceil(batches / spec.grad_accum)
        self.total_steps = self.updates_per_epoch * spec.epochs
        params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            params, lr=spec.learning_rate, weight_decay=spec.weight_decay
        )
        warmup = round(spec.warmup_ratio * self.total_steps)
        self.scheduler = get_linear_schedule_with_warmup(self.optimizer, warmup, self.total_steps)
        self.step = 0
        self.history: list[dict[str, Any]] = []

    def train(self, should_stop: Callable[[], bool]) -> None:
        """Run (or resume) every update; checkpoint on schedule and when asked to stop."""
        self._emit_prepared()
        self._resume()
        self.model.train()
        started, tokens = time.perf_counter(), 0
        while self.step < self.total_steps:
            if should_stop():
                raise TuningCanceled(self.step, str(self._save()))
            loss, seen = self._update(self._update_batches(self.step))
            self.step += 1
            tokens += seen
            elapsed = time.perf_counter() - started
            self._record(loss, tokens / max(elapsed, 1e-9), elapsed)
            if self.step % self.spec.checkpoint_every == 0 and self.step < self.total_steps:
                self._evaluate()
                self._save()
        if not self.history or "evalLoss" not in self.history[-1]:
            self._evaluate()

    def _emit_prepared(self) -> None:
        data = {
            "dataRows": self.prepared.data_rows,
            "numOfTokens": sum(len(e.input_ids) for e in self.prepared.train),
            "totalTrainSteps": self.total_steps,
            "totalTrainEpochs": self.spec.epochs,
            "taskType": self.prepared.task_type,
            "trainRows": len(self.prepared.train),
            "evalRows": len(self.prepared.eval),
            "packedRows": len(self.rows),
            "truncatedRows": self.prepared.truncated,
        }
        if self.prepared.task_type == "CLASSIFICATION":
            data["labels"] = self.prepared.labels
        self.emit("prepared", data)

    def _update_batches(self, step: int) -> list[list[list[Example]]]:
        """The micro-batches of update ``step``: rows shuffled by (seed, epoch), then chunked."""
        import torch

        epoch, index = divmod(step, self.updates_per_epoch)
        generator = torch.Generator().manual_seed(self.spec.seed * 1000 + epoch)
        order = torch.randperm(len(self.rows), generator=generator).tolist()
        size = self.spec.batch_size
        first = index * self.spec.grad_accum
        batches = []
        for b in range(first, first + self.spec.grad_accum):
            chunk = order[b * size : (b + 1) * size]
            if chunk:
                batches.append([[self.prepared.train[i] for i in self.rows[r]] for r in chunk])
        return batches

    def _update(self, batches: list[list[list[Example]]]) -> tuple[float, int]:
        """One optimizer update over micro-batches; loss is the mean over all target tokens."""
        import torch

        targets = sum(
            e.target_tokens - (e.labels[0] != IGNORE) for b in batches for r in b for e in r
        )
        total, seen = 0.0, 0
        for rows in batches:
            tensors = collate(rows, self.pad_id)
            loss_sum = self._loss_sum(tensors)
            (loss_sum / max(targets, 1)).backward()
            total += loss_sum.item()
            seen += sum(len(e.input_ids) for r in rows for e in r)
        params = [p for p in self.model.parameters() if p.requires_grad]
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return total / max(targets, 1), seen

    def _loss_sum(self, tensors: dict[str, torch.Tensor | None]) -> torch.Tensor:
        """Summed next-token cross-entropy over the labelled positions of one batch."""
        import torch

        device = self.model.device
        moved = {k: v.to(device) if v is not None else None for k, v in tensors.items()}
        labels = moved.pop("labels")
        assert labels is not None
        logits = self.model(**moved, use_cache=False).logits
        return torch.nn.functional.cross_entropy(
            logits[:, :-1].flatten(0, 1).float(),
            labels[:, 1:].flatten(),
            ignore_index=IGNORE,
            reduction="sum",
        )

    def _record(self, loss: float, tokens_per_second: float, elapsed: float) -> None:
        entry = {
            "currStep": self.step,
            "currEpoch": math.ceil(self.step / self.updates_per_epoch),
            "trainLoss": round(loss, 6),
            "learningRate": self.scheduler.get_last_lr()[0],
        }
        self.history.append(entry)
        self.emit(
            "step",
            {**entry, "tokensPerSecond": round(tokens_per_second, 1), "elapsedSeconds": elapsed},
        )

    def _evaluate(self) -> None:
        """Mean loss on the held-out examples (when there are any), recorded and emitted."""
        import torch

        if not self.prepared.eval:
            return
        self.model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for start in range(0, len(self.prepared.eval), self.spec.batch_size):
                chunk = self.prepared.eval[start : start + self.spec.batch_size]
                total += self._loss_sum(collate([[e] for e in chunk], self.pad_id)).item()
                count += sum(e.target_tokens - (e.labels[0] != IGNORE) for e in chunk)
        self.model.train()
        loss = total / max(count, 1)
        if self.history:
            self.history[-1]["evalLoss"] = round(loss, 6)
        self.emit("eval", {"step": self.step, "evalLoss": loss})

    def _save(self) -> Path:
        state = {
            "weights": trainable_state(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "random": random_states(),
            "history": self.history,
        }
        meta = {
            "epoch": math.ceil(self.step / self.updates_per_epoch),
            "totalSteps": self.total_steps,
        }
        path = save_checkpoint(self.checkpoints, self.step, state, meta)
        self.emit("checkpoint", {"step": self.step, "path": str(path)})
        return path

    def _resume(self) -> None:
        """Continue from the newest complete checkpoint, if one exists."""
        path = latest_checkpoint(self.checkpoints)
        if path is None:
            return
        state, meta = load_checkpoint(path)
        if meta.get("totalSteps") != self.total_steps:
            raise TuningError(
                f"the checkpoint {path} belongs to a run with different settings or data",
                where=str(path),
                hint="use a new output folder, or delete its checkpoints/ to start over",
            )
        load_trainable_state(self.model, state["weights"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        restore_random_states(state["random"])
        self.history = state["history"]
        self.step = int(meta["step"])
        self.emit("resumed", {"step": self.step})


def _finish(
    spec: TuneSpec,
    out_dir: Path,
    prepared: Prepared,
    run: _Run,
    main_path: Path,
    merged_path: Path | None,
    emit: OnEvent,
) -> RecipeResult:
    """Write result.json and loss_history.jsonl, emit "done", and return the result."""
    history = run.history
    final = history[-1]["trainLoss"] if history else None
    result = RecipeResult(
        model_spec=f"hf:{main_path}",
        adapter_path=main_path,
        merged_path=merged_path,
        dataset_sha256=prepared.sha256,
        labels=prepared.labels,
        loss_history=history,
        steps=run.step,
        final_loss=final,
    )
    lines = "".join(json.dumps(entry, ensure_ascii=False) + "\n" for entry in history)
    (out_dir / "loss_history.jsonl").write_text(lines, "utf-8")
    summary = {
        "modelSpec": result.model_spec,
        "adapterPath": str(main_path),
        "mergedPath": str(merged_path) if merged_path else None,
        "datasetSha256": prepared.sha256,
        "taskType": prepared.task_type,
        "labels": prepared.labels,
        "steps": run.step,
        "finalLoss": final,
        "method": spec.method,
    }
    (out_dir / "result.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), "utf-8")
    emit(
        "done",
        {
            "adapterPath": str(main_path),
            "mergedPath": summary["mergedPath"],
            "modelSpec": result.model_spec,
        },
    )
    return result
