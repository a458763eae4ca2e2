"""The one tuning recipe: validate the data, tokenize with assistant-only labels, train, save.

Read it top to bottom: :func:`run_recipe` prepares everything, :class:`_Run` trains with a plain
torch loop (AdamW, linear warmup and decay, gradient accumulation, clipping), checkpoints
atomically and resumes from the newest complete checkpoint. How a batch is laid out and its loss
computed (logits only where there are labels; packing without padding) is in forward.py.
Variants (LoRA or full, packing, merge) are TuneSpec values, not copies of this file.

The data order is a function of (seed, epoch) and the random states are checkpointed, so a run
that is stopped and resumed ends with the same weights and losses as one that never stopped.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tunestudio.errors import ConfigError
from tunestudio.tuning.checkpoint import (
    checkpoint_name,
    latest_checkpoint,
    load_checkpoint,
    random_states,
    restore_random_states,
    save_checkpoint,
)
from tunestudio.tuning.dataset import Prepared, tokenize_split, validate_and_read
from tunestudio.tuning.distributed import Parallel, device_of
from tunestudio.tuning.errors import TuningCanceled, TuningError
from tunestudio.tuning.forward import Forward
from tunestudio.tuning.model import (
    load_base,
    load_trainable_state,
    make_trainable,
    save_model,
    trainable_state,
)
from tunestudio.tuning.packing import collate, plan_rows
from tunestudio.tuning.result import RecipeResult, read_result, write_result
from tunestudio.tuning.spec import TuneSpec
from tunestudio.tuning.tokenize import Example

__all__ = ["RecipeResult", "TuningCanceled", "TuningError", "run_recipe"]

OnEvent = Callable[[str, dict[str, Any]], None]
OOM_HINT = "lower batch_size (raise grad_accum to keep the effective batch) or max_length"


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
    With ``spec.num_processes > 1`` it launches that many data-parallel ranks (see distributed.py).
    """
    from tunestudio.tuning import distributed

    emit: OnEvent = on_event or (lambda kind, data: None)
    stop = should_stop or (lambda: False)
    out_dir = Path(out_dir)
    _check_spec(spec)
    if spec.num_processes == 1:
        return train_here(spec, out_dir, emit, stop, Parallel())
    if distributed.inside_launch():  # started by torchrun / accelerate launch ourselves
        par = distributed.rank_parallel()
        return train_here(spec, out_dir, emit if par.main else lambda k, d: None, stop, par)
    validate_and_read(spec)  # block on bad data here, before any process starts
    return distributed.launch(spec, out_dir, emit, stop)


def train_here(
    spec: TuneSpec, out_dir: Path, emit: OnEvent, should_stop: Callable[[], bool], par: Parallel
) -> RecipeResult:
    """The recipe in this process, as one of ``par.world`` data-parallel ranks."""
    import torch

    from tunestudio.models.hf_load import pick_device

    _check_spec(spec)
    prepared = validate_and_read(spec)
    torch.manual_seed(spec.seed)  # LoRA's initial weights and the first dropout masks
    random.seed(spec.seed)
    model, tokenizer, base_ref = load_base(spec, device_of(par) or pick_device(None))
    _check_length(spec, model)
    tokenize_split(prepared, tokenizer, spec)
    model = make_trainable(model, spec, base_ref)
    if par.main:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "tune_spec.json").write_text(spec.model_dump_json(indent=2), "utf-8")
    run = _Run(spec, model, prepared, tokenizer.pad_token_id, out_dir, emit, par)
    try:
        run.train(should_stop)
    except torch.OutOfMemoryError as exc:
        raise TuningError("out of memory while training", hint=OOM_HINT) from exc
    except RuntimeError as exc:
        if "memory" not in str(exc).lower():
            raise
        raise TuningError(f"out of memory while training: {exc}", hint=OOM_HINT) from exc
    finally:
        run.forward.restore()
    processes = par.gather({"rank": par.rank, "pid": os.getpid(), "tokens": run.tokens})
    if not par.main:  # rank 0 writes the outputs; the others wait until they are complete
        par.barrier()
        return read_result(out_dir)
    paths = save_model(model, tokenizer, out_dir, spec)
    result = _finish(spec, out_dir, prepared, run, paths, emit, processes)
    par.barrier()
    return result


def _check_spec(spec: TuneSpec) -> None:
    """Settings pydantic cannot judge alone."""
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
        par: Parallel,
    ) -> None:
        import torch
        from transformers import get_linear_schedule_with_warmup

        self.spec, self.model, self.prepared, self.pad_id = spec, model, prepared, pad_id
        self.emit, self.checkpoints, self.par = emit, out_dir / "checkpoints", par
        self.rows = plan_rows(prepared.train, spec.max_length, spec.packing)
        self.forward = Forward(model, spec.packing, spec.max_length)
        # Each rank gets every world-th row (padded like DistributedSampler), so an update
        # covers batch_size × num_processes × grad_accum rows.
        batches = math.ceil(math.ceil(len(self.rows) / par.world) / spec.batch_size)
        self.updates_per_epoch = math.ceil(batches / spec.grad_accum)
        self.total_steps = self.updates_per_epoch * spec.epochs
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            self.params,
            lr=spec.learning_rate,
            weight_decay=spec.weight_decay,
            # one kernel for all tensors instead of a loop over them (as Trainer's default)
            fused=all(p.device.type in ("cpu", "cuda") for p in self.params),
        )
        warmup = round(spec.warmup_ratio * self.total_steps)
        self.scheduler = get_linear_schedule_with_warmup(self.optimizer, warmup, self.total_steps)
        # The scheduler stays ours: accelerate's wrapper would step it once per process.
        self.trainer, self.optimizer = par.prepare(model, self.optimizer)
        self.step, self.tokens = 0, 0
        self.history: list[dict[str, Any]] = []

    def train(self, should_stop: Callable[[], bool]) -> None:
        """Run (or resume) every update; checkpoint on schedule and when asked to stop."""
        self._emit_prepared()
        self._resume()
        self.model.train()
        started, tokens = time.perf_counter(), 0
        while self.step < self.total_steps:
            if self.par.any(should_stop()):  # every rank stops at the same step
                raise TuningCanceled(self.step, str(self._save()))
            loss, seen = self._update(self._update_batches(self.step))
            self.step += 1
            self.tokens += seen
            seen = int(self.par.sum(seen)[0])
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
            "numProcesses": self.par.world,
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
        world = self.par.world
        order = (order * world)[: math.ceil(len(order) / world) * world][self.par.rank :: world]
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

        local = sum(e.loss_tokens for b in batches for r in b for e in r)
        # DDP averages gradients over ranks; scaling by world makes it the global token mean.
        targets = max(self.par.sum(local)[0], 1) / self.par.world
        total, seen = 0.0, 0
        for i, rows in enumerate(batches):
            with self.par.no_sync(self.trainer, skip=i < len(batches) - 1):
                batch = self.forward.collate(rows, self.pad_id)
                loss_sum = self.forward.loss_sum(self.trainer, batch)
                self.par.backward(loss_sum / targets)
            total += loss_sum.item()
            seen += sum(len(e.input_ids) for r in rows for e in r)
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return self.par.sum(total)[0] / (targets * self.par.world), seen

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
                batch = collate([[e] for e in chunk], self.pad_id)
                total += self.forward.loss_sum(self.model, batch).item()
                count += sum(e.loss_tokens for e in chunk)
        self.model.train()
        loss = total / max(count, 1)
        if self.history:
            self.history[-1]["evalLoss"] = round(loss, 6)
        self.emit("eval", {"step": self.step, "evalLoss": loss})

    def _save(self) -> Path:
        """Rank 0 writes the checkpoint while the other ranks wait for it."""
        self.par.barrier()
        if not self.par.main:
            self.par.barrier()
            return self.checkpoints / checkpoint_name(self.step)
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
            "numProcesses": self.par.world,
        }
        path = save_checkpoint(self.checkpoints, self.step, state, meta)
        self.emit("checkpoint", {"step": self.step, "path": str(path)})
        self.par.barrier()
        return path

    def _resume(self) -> None:
        """Continue from the newest complete checkpoint, if one exists."""
        path = latest_checkpoint(self.checkpoints)
        if path is None:
            return
        state, meta = load_checkpoint(path)
        settings = (meta.get("totalSteps"), meta.get("numProcesses", 1))
        if settings != (self.total_steps, self.par.world):
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
    paths: tuple[Path, Path | None],
    emit: OnEvent,
    processes: list[dict[str, Any]],
) -> RecipeResult:
    """Write result.json and loss_history.jsonl, emit "done", and return the result."""
    summary = write_result(spec, out_dir, prepared, run.history, paths, processes)
    emit("done", {k: summary[k] for k in ("adapterPath", "mergedPath", "modelSpec")})
    return read_result(out_dir)
