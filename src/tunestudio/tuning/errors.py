"""Errors of a tuning run. The worker stores their message and hint as the job's failureReason."""

from __future__ import annotations

from tunestudio.errors import TuneStudioError


class TuningError(TuneStudioError):
    """Training could not run or finish (out of memory, a model the recipe cannot tune, …)."""


class TuningCanceled(TuneStudioError):
    """``should_stop()`` asked the run to stop; a checkpoint was saved first, so it can resume."""

    exit_code = 130

    def __init__(self, step: int, checkpoint: str | None) -> None:
        super().__init__(
            f"tuning stopped at step {step} on request",
            where=checkpoint,
            hint="run the same job again to resume from this checkpoint",
        )
        self.step = step
        self.checkpoint = checkpoint
