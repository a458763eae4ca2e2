"""What a run reports while it works: stages, inference progress, tuning events.

The runner is library code and prints nothing; it tells an :class:`Observer`. The base class
stays silent (tests, scripts); the CLI's subclass draws rich progress bars.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tunestudio.inference.batch import BatchProgress

OnEvent = Callable[[str, dict[str, Any]], None]


class Observer:
    """Hears a run's progress. Override what you want to show; the defaults do nothing."""

    def stage(self, message: str) -> None:
        """A step of the run begins (``evaluating tiny``, ``tuning tiny-n100-s0``…)."""

    def note(self, message: str) -> None:
        """Something worth telling the user that is not an error (a reused result…)."""

    @contextmanager
    def inference(self, key: str, total: int) -> Iterator[Callable[[BatchProgress], None]]:
        """Wraps one variant's batch run; yields the callback run_batch reports to."""
        yield lambda progress: None

    @contextmanager
    def tuning(self, key: str) -> Iterator[OnEvent]:
        """Wraps one tuning run; yields the ``on_event`` callback for run_recipe."""
        yield lambda kind, data: None
