"""Queued tuning jobs, run by the server process itself (``serve`` without ``--no-worker``).

A daemon thread runs :class:`tunestudio.tuning.worker.Worker` jobs one at a time, each in its
own child process as ``tunestudio tune worker`` does. On shutdown the thread stops taking
jobs. A job still training when the server exits behaves as under a stopped ``tune worker``:
the child sees its parent gone, saves a checkpoint, and the next worker resumes the job once
its heartbeat goes stale.
"""

from __future__ import annotations

import logging
import threading

from tunestudio.tuning.worker import Worker

log = logging.getLogger("tunestudio.server")


class BackgroundWorker:
    """Runs ``worker.run_once()`` in a loop on a daemon thread until :meth:`stop`; between
    looks at an empty queue it waits ``worker.poll_every`` seconds."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tuning-worker", daemon=True)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        """Start taking jobs."""
        log.info("tuning worker %s started", self.worker.worker_id)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Take no new job; wait up to ``timeout`` s for the thread (a running job goes on
        until the process exits, then resumes elsewhere)."""
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning(
                "a tuning job is still running; it checkpoints when the server exits and "
                "resumes on the next worker"
            )

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self.worker.run_once()
            except Exception:  # a store hiccup must not end the loop for good
                log.exception(
                    "the tuning worker failed; retrying in %.0f s", self.worker.poll_every
                )
                job = None
            if job is not None:
                log.info("tuning job %s ended %s", job.id, job.status)
            else:
                self._stop.wait(self.worker.poll_every)
