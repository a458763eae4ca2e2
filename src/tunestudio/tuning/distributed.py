"""Data-parallel training: launch the recipe on N processes and run it inside each of them.

The parent side (:func:`launch`) starts ``torchrun --standalone --nproc_per_node N`` (or
``accelerate launch --config_file $TUNESTUDIO_ACCELERATE_CONFIG``) on this module. Rank 0 writes
the recipe's events as JSON lines into a channel folder that the parent tails and forwards to
``on_event``; the parent answers ``should_stop()`` by creating a stop file that every rank polls.
An error in a rank is written as JSON and raised again in the parent as the same error class.

Inside a rank, :class:`Parallel` is what the recipe needs from ``accelerate``: the DDP-wrapped
model, sums across ranks, and barriers around the saves that only rank 0 makes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunestudio import errors
from tunestudio.tuning.errors import TuningCanceled, TuningError
from tunestudio.tuning.result import read_result

if TYPE_CHECKING:
    import torch

    from tunestudio.tuning.recipe import OnEvent
    from tunestudio.tuning.result import RecipeResult
    from tunestudio.tuning.spec import TuneSpec

CONFIG_ENV = "TUNESTUDIO_ACCELERATE_CONFIG"
PARENT_ENV = "TUNESTUDIO_PARENT_PID"
EVENTS, STOP, SPEC = "events.jsonl", "stop", "spec.json"
POLL_SECONDS = 0.2


@dataclass
class Parallel:
    """This process's place among the data-parallel ranks; one process alone by default."""

    rank: int = 0
    world: int = 1
    accelerator: Any = None

    @property
    def main(self) -> bool:
        """Rank 0 saves checkpoints and outputs and reports events."""
        return self.rank == 0

    def prepare(self, model: Any, optimizer: Any) -> tuple[Any, Any]:
        """The model to train through (DDP-wrapped when distributed) and the optimizer."""
        if self.accelerator is None:
            return model, optimizer
        wrapped, prepared = self.accelerator.prepare(model, optimizer)
        return wrapped, prepared

    def sum(self, *values: float) -> list[float]:
        """``values`` summed over all ranks (as float64, so token counts stay exact)."""
        if self.world == 1:
            return list(values)
        import torch

        tensor = torch.tensor(values, dtype=torch.float64, device=self.accelerator.device)
        return [float(v) for v in self.accelerator.reduce(tensor, reduction="sum").tolist()]

    def any(self, flag: bool) -> bool:
        """True on every rank when it is true on one, so all ranks stop at the same step."""
        return self.sum(float(flag))[0] > 0

    def backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``, through accelerate when distributed (as its plugins expect)."""
        if self.accelerator is None:
            loss.backward()
        else:
            self.accelerator.backward(loss)

    def barrier(self) -> None:
        if self.accelerator is not None:
            self.accelerator.wait_for_everyone()

    def no_sync(self, model: Any, skip: bool) -> contextlib.AbstractContextManager[Any]:
        """Skip the gradient all-reduce on micro-batches before the last of an update."""
        if self.accelerator is None or not skip:
            return contextlib.nullcontext()
        return self.accelerator.no_sync(model)

    def gather(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        """Every rank's ``item``, in rank order."""
        if self.world == 1:
            return [item]
        import torch.distributed as dist

        items: list[Any] = [None] * self.world
        dist.all_gather_object(items, item)
        return items


def inside_launch() -> bool:
    """True in a process started by torchrun / accelerate launch."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def rank_parallel() -> Parallel:
    """Join the process group of this launch through accelerate (gloo on CPU, NCCL on GPUs)."""
    import torch
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    return Parallel(accelerator.process_index, accelerator.num_processes, accelerator)


def device_of(par: Parallel) -> torch.device | None:
    """The device accelerate gave this rank, or None to let the recipe choose."""
    return par.accelerator.device if par.accelerator is not None else None


def launch(
    spec: TuneSpec, out_dir: Path, emit: OnEvent, should_stop: Callable[[], bool]
) -> RecipeResult:
    """Run the recipe on ``spec.num_processes`` ranks; forward events; raise their errors."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(".dist-*"):  # left by a launcher that was killed
        shutil.rmtree(stale, ignore_errors=True)
    channel = Path(tempfile.mkdtemp(prefix=".dist-", dir=out_dir))
    try:
        (channel / SPEC).write_text(spec.model_dump_json(), "utf-8")
        env = os.environ | {PARENT_ENV: str(os.getpid())}
        with (channel / "launch.log").open("wb") as log:
            process = subprocess.Popen(
                _command(spec.num_processes, channel, out_dir),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
            try:
                _follow(process, channel, emit, should_stop)
            finally:
                if process.poll() is None:  # we are being interrupted ourselves
                    process.terminate()
                    process.wait()
        _raise_failure(channel, process.returncode)
    finally:
        shutil.rmtree(channel, ignore_errors=True)
    return read_result(out_dir)


def _command(processes: int, channel: Path, out_dir: Path) -> list[str]:
    """torchrun on one machine, or accelerate launch with the user's config file."""
    target = ["-m", __name__, str(channel), str(out_dir)]
    config = os.environ.get(CONFIG_ENV)
    if config:
        # The file decides the layout (machines, processes, FSDP / DeepSpeed).
        launcher = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", config]
        return launcher + target
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    return [*torchrun, f"--nproc_per_node={processes}", *target]


def _follow(
    process: subprocess.Popen[bytes],
    channel: Path,
    emit: OnEvent,
    should_stop: Callable[[], bool],
) -> None:
    """Forward rank 0's events until the launch ends; turn should_stop() into the stop file."""
    events, offset = channel / EVENTS, 0
    while True:
        done = process.poll() is not None
        offset = _forward(events, offset, emit)
        if done:
            return
        if not (channel / STOP).exists() and should_stop():
            (channel / STOP).touch()
        time.sleep(POLL_SECONDS)


def _forward(events: Path, offset: int, emit: OnEvent) -> int:
    """Emit the complete lines written since ``offset``; return the new offset."""
    if not events.exists():
        return offset
    with events.open("rb") as handle:
        handle.seek(offset)
        chunk = handle.read()
    complete = chunk[: chunk.rfind(b"\n") + 1]
    for line in complete.decode("utf-8").splitlines():
        record = json.loads(line)
        emit(record["kind"], record["data"])
    return offset + len(complete)


def _raise_failure(channel: Path, returncode: int) -> None:
    """Raise the first rank's error again here; a crash without one becomes a TuningError."""
    reports = sorted(channel.glob("error-*.json"))
    if reports:
        raise _rebuild(json.loads(reports[0].read_text("utf-8")))
    if returncode != 0:
        log = (channel / "launch.log").read_text("utf-8", errors="replace")
        tail = "\n".join(log.strip().splitlines()[-15:])
        raise TuningError(
            f"data-parallel training exited with code {returncode}:\n{tail}",
            hint="run with num_processes=1 to see the error directly",
        )


def _rebuild(report: dict[str, Any]) -> errors.TuneStudioError:
    if report["type"] == "TuningCanceled":
        return TuningCanceled(report["step"], report["where"])
    kinds = {"TuningError": TuningError, "ConfigError": errors.ConfigError}
    kind = kinds.get(report["type"], TuningError)
    return kind(report["message"], where=report["where"], hint=report["hint"])


def _writer(path: Path) -> OnEvent:
    """An on_event that appends JSON lines (flushed at once, so the parent sees them live)."""

    def write(kind: str, data: dict[str, Any]) -> None:
        line = json.dumps({"kind": kind, "data": data}, ensure_ascii=False, default=str)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    return write


def _stop_requested(channel: Path) -> Callable[[], bool]:
    """Stop when the parent asks, or when the parent is gone (killed worker: save and exit)."""
    parent = int(os.environ.get(PARENT_ENV, "0"))

    def check() -> bool:
        return (channel / STOP).exists() or (parent > 0 and not _alive(parent))

    return check


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _reported(channel: Path, rank: int) -> Iterator[None]:
    """Write a TuneStudioError as error-<rank>.json for the parent, then exit non-zero."""
    try:
        yield
    except errors.TuneStudioError as exc:
        report: dict[str, Any] = exc.to_dict()
        report["step"] = exc.step if isinstance(exc, TuningCanceled) else 0
        (channel / f"error-{rank}.json").write_text(json.dumps(report), "utf-8")
        raise SystemExit(1) from exc


def main(argv: list[str] | None = None) -> None:
    """Entry point of one rank: ``python -m tunestudio.tuning.distributed CHANNEL OUT_DIR``."""
    from tunestudio.tuning.recipe import train_here
    from tunestudio.tuning.spec import TuneSpec

    channel, out_dir = (Path(arg) for arg in (argv or sys.argv[1:]))
    spec = TuneSpec.model_validate_json((channel / SPEC).read_text("utf-8"))
    par = rank_parallel()
    emit: OnEvent = _writer(channel / EVENTS) if par.main else (lambda kind, data: None)
    with _reported(channel, par.rank):
        train_here(spec, out_dir, emit, _stop_requested(channel), par)
    par.accelerator.end_training()


if __name__ == "__main__":
    main()
