"""Tuning jobs: the state machine, atomic claiming, heartbeats and the event log.

WAIT → RUNNING → SUCCEEDED | FAILED | CANCELED (and WAIT → CANCELED). Every change of state is
one conditional UPDATE checked by its row count, so two workers (threads, processes or
machines; SQLite or PostgreSQL) can never both take, or both finish, the same job.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import IntegrityError

from tunestudio.config import Settings
from tunestudio.errors import TuneStudioError
from tunestudio.store import CheckpointRow, EventRow, JobRow, get_engine, session_scope
from tunestudio.store.schema import utcnow
from tunestudio.tuning.spec import TuneSpec

ID_ALPHABET = string.ascii_lowercase + string.digits
ID_LENGTH = 8
# statusInfo keys as CLOVA Studio names them (plus lossDiff and hint, which are ours).
STATUS_INFO_KEYS = (
    "label",
    "dataRows",
    "numOfTokens",
    "currStep",
    "totalTrainSteps",
    "currEpoch",
    "totalTrainEpochs",
    "estimatedTime",
    "trainLoss",
    "lossDiff",
    "sendWeightSuccess",
    "failureReason",
    "message",
    "hint",
    "endDatetime",
)


class JobStatus(StrEnum):
    """Where a job is in its life; the names are CLOVA Studio's (CANCELED is ours)."""

    WAIT = "WAIT"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})
# The legal predecessors of each state: the WHERE clause of every transition.
ALLOWED_FROM: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.RUNNING: frozenset({JobStatus.WAIT}),
    JobStatus.SUCCEEDED: frozenset({JobStatus.RUNNING}),
    JobStatus.FAILED: frozenset({JobStatus.RUNNING}),
    JobStatus.CANCELED: frozenset({JobStatus.WAIT, JobStatus.RUNNING}),
}


class JobNotFoundError(TuneStudioError):
    """No job has this id."""


class JobStateError(TuneStudioError):
    """A transition the state machine does not allow (e.g. a finished job started again)."""


@dataclass(frozen=True)
class Job:
    """A snapshot of one job as the store holds it."""

    id: str
    name: str
    model: str
    method: str
    task_type: str | None
    spec: TuneSpec
    out_dir: Path
    status: JobStatus
    status_info: dict[str, Any]
    result: dict[str, Any] | None
    worker_id: str | None
    heartbeat_at: datetime | None
    cancel_requested: bool
    attempts: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    ended_at: datetime | None

    @classmethod
    def from_row(cls, row: JobRow) -> Job:
        info = {key: None for key in STATUS_INFO_KEYS} | dict(row.status_info or {})
        return cls(
            id=row.id,
            name=row.name,
            model=row.model,
            method=row.method,
            task_type=row.task_type,
            spec=TuneSpec.model_validate(row.spec),
            out_dir=Path(row.out_dir),
            status=JobStatus(row.status),
            status_info=info,
            result=row.result,
            worker_id=row.worker_id,
            heartbeat_at=row.heartbeat_at,
            cancel_requested=row.cancel_requested,
            attempts=row.attempts,
            created_at=row.created_at,
            updated_at=row.updated_at,
            started_at=row.started_at,
            ended_at=row.ended_at,
        )


@dataclass(frozen=True)
class Event:
    """One entry of a job's log."""

    id: int
    job_id: str
    kind: str
    data: dict[str, Any]
    created_at: datetime


class JobStore:
    """Jobs, events and checkpoints in the store (one engine; safe to share across threads)."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine or get_engine()

    # -- creating and reading -------------------------------------------------------------

    def create(self, spec: TuneSpec, *, jobs_dir: Path | None = None) -> Job:
        """Queue a job (status WAIT); its outputs go to ``jobs_dir/<id>/``."""
        jobs_dir = jobs_dir or Settings.from_env().home_dir / "jobs"
        spec = spec.model_copy(update={"data": spec.data.expanduser().resolve()})
        for _ in range(5):
            job_id = new_job_id()
            row = JobRow(
                id=job_id,
                name=spec.job_name,
                model=spec.model,
                method=spec.method,
                task_type=spec.task_type,
                spec=spec.model_dump(mode="json"),
                out_dir=str(jobs_dir / job_id),
                status=JobStatus.WAIT,
                status_info={},
            )
            try:
                with session_scope(self.engine) as session:
                    session.add(row)
                    session.flush()  # the job row first: events refer to it
                    session.add(EventRow(job_id=job_id, kind="created", data={"name": row.name}))
            except IntegrityError:  # an id collision: 36**8 makes this rare; draw again
                continue
            return self.get(job_id)
        raise TuneStudioError("could not draw a free job id", hint="try again")

    def get(self, job_id: str) -> Job:
        """The job with this id, or JobNotFoundError."""
        with session_scope(self.engine) as session:
            row = session.get(JobRow, job_id)
            if row is None:
                raise JobNotFoundError(
                    f"no tuning job with id {job_id!r}",
                    hint="`tunestudio tune list` shows every job and its id",
                )
            return Job.from_row(row)

    def list_jobs(self, *, status: JobStatus | None = None, limit: int | None = None) -> list[Job]:
        """Jobs, newest first."""
        query = select(JobRow).order_by(JobRow.created_at.desc(), JobRow.id)
        if status is not None:
            query = query.where(JobRow.status == status)
        if limit is not None:
            query = query.limit(limit)
        with session_scope(self.engine) as session:
            return [Job.from_row(row) for row in session.scalars(query)]

    # -- claiming and heartbeats ----------------------------------------------------------

    def claim(self, job_id: str, worker_id: str, *, stale_after: float) -> bool:
        """Take one job for ``worker_id``: WAIT, or RUNNING with a heartbeat older than
        ``stale_after`` seconds (its worker died). True when this caller won it."""
        now = utcnow()
        stale_before = now - timedelta(seconds=stale_after)
        stmt = (
            update(JobRow)
            .where(JobRow.id == job_id)
            .where(
                or_(
                    JobRow.status == JobStatus.WAIT,
                    (JobRow.status == JobStatus.RUNNING) & (JobRow.heartbeat_at < stale_before),
                )
            )
            .values(
                status=JobStatus.RUNNING,
                worker_id=worker_id,
                heartbeat_at=now,
                updated_at=now,
                attempts=JobRow.attempts + 1,
            )
        )
        with session_scope(self.engine) as session:
            won = session.execute(stmt).rowcount == 1  # type: ignore[attr-defined]
            if won:
                row = session.get(JobRow, job_id)
                assert row is not None
                if row.started_at is None:
                    row.started_at = now
                kind = "claimed" if row.attempts == 1 else "reclaimed"
                data = {"workerId": worker_id, "attempt": row.attempts}
                session.add(EventRow(job_id=job_id, kind=kind, data=data))
            return won

    def claim_next(self, worker_id: str, *, stale_after: float) -> Job | None:
        """Claim the oldest claimable job (abandoned RUNNING ones first), or None."""
        stale_before = utcnow() - timedelta(seconds=stale_after)
        abandoned = (JobRow.status == JobStatus.RUNNING) & (JobRow.heartbeat_at < stale_before)
        query = (
            select(JobRow.id)
            .where(or_(JobRow.status == JobStatus.WAIT, abandoned))
            .order_by(JobRow.status.desc(), JobRow.created_at)  # "WAIT" > "RUNNING"
            .limit(20)
        )
        with session_scope(self.engine) as session:
            candidates = list(session.scalars(query))
        for job_id in candidates:
            if self.claim(job_id, worker_id, stale_after=stale_after):
                return self.get(job_id)
        return None

    def heartbeat(self, job_id: str, worker_id: str) -> bool:
        """Record that ``worker_id`` is alive; False when the job is no longer its own."""
        now = utcnow()
        stmt = (
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.worker_id == worker_id)
            .where(JobRow.status == JobStatus.RUNNING)
            .values(heartbeat_at=now)
        )
        with session_scope(self.engine) as session:
            return session.execute(stmt).rowcount == 1  # type: ignore[attr-defined]

    # -- transitions ----------------------------------------------------------------------

    def finish(
        self,
        job_id: str,
        status: JobStatus,
        *,
        worker_id: str | None,
        info: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
    ) -> Job:
        """Move a job to SUCCEEDED, FAILED or CANCELED; refused unless the move is legal and
        (for a RUNNING job) ``worker_id`` still owns it."""
        if status not in FINISHED:
            raise JobStateError(f"{status} is not a final state", hint="use claim() to start")
        now = utcnow()
        with session_scope(self.engine) as session:
            row = self._locked_row(session, job_id)
            current = JobStatus(row.status)
            owner_ok = current != JobStatus.RUNNING or worker_id in (None, row.worker_id)
            if current not in ALLOWED_FROM[status] or not owner_ok:
                raise _illegal(job_id, current, status, row.worker_id, worker_id)
            row.status = status
            row.status_info = (
                dict(row.status_info or {}) | (info or {}) | {"endDatetime": now.isoformat()}
            )
            if result is not None:
                row.result = result
            row.ended_at = row.updated_at = now
            session.add(EventRow(job_id=job_id, kind=status.lower(), data=info or {}))
        return self.get(job_id)

    def request_cancel(self, job_id: str, *, stale_after: float = 60.0) -> Job:
        """Cancel a job: a WAIT job (or one whose worker died) at once, a running one when
        its training loop next checks (it saves a checkpoint first)."""
        job = self.get(job_id)
        if job.status.finished:
            raise JobStateError(
                f"job {job_id} already ended ({job.status}); there is nothing to cancel"
            )
        stale = job.heartbeat_at is None or (
            utcnow() - job.heartbeat_at > timedelta(seconds=stale_after)
        )
        if job.status == JobStatus.WAIT or stale:
            try:
                return self.finish(job_id, JobStatus.CANCELED, worker_id=job.worker_id)
            except JobStateError:  # a worker took it in the meantime: ask it to stop instead
                pass
        with session_scope(self.engine) as session:
            row = self._locked_row(session, job_id)
            row.cancel_requested = True
            session.add(EventRow(job_id=job_id, kind="cancel_requested", data={}))
        return self.get(job_id)

    # -- events, progress and checkpoints -------------------------------------------------

    def add_event(self, job_id: str, kind: str, data: dict[str, Any] | None = None) -> None:
        """Append one event to the job's log."""
        with session_scope(self.engine) as session:
            session.add(EventRow(job_id=job_id, kind=kind, data=data or {}))

    def record(
        self,
        job_id: str,
        kind: str,
        data: dict[str, Any],
        info: dict[str, Any] | None = None,
    ) -> None:
        """Append an event and merge ``info`` into statusInfo in one transaction."""
        with session_scope(self.engine) as session:
            session.add(EventRow(job_id=job_id, kind=kind, data=data))
            if kind == "checkpoint":
                step, path = int(data.get("step", 0)), str(data.get("path", ""))
                session.add(CheckpointRow(job_id=job_id, step=step, path=path))
            if info:
                row = self._locked_row(session, job_id)
                row.status_info = dict(row.status_info or {}) | info
                row.updated_at = utcnow()

    def events(self, job_id: str, *, after: int = 0, limit: int | None = None) -> list[Event]:
        """The job's events with id > ``after``, oldest first."""
        query = (
            select(EventRow)
            .where(EventRow.job_id == job_id, EventRow.id > after)
            .order_by(EventRow.id)
        )
        if limit is not None:
            query = query.limit(limit)
        with session_scope(self.engine) as session:
            return [
                Event(r.id, r.job_id, r.kind, dict(r.data or {}), r.created_at)
                for r in session.scalars(query)
            ]

    def checkpoints(self, job_id: str) -> list[tuple[int, str]]:
        """(step, path) of every checkpoint the job reported, oldest first."""
        query = (
            select(CheckpointRow.step, CheckpointRow.path)
            .where(CheckpointRow.job_id == job_id)
            .order_by(CheckpointRow.id)
        )
        with session_scope(self.engine) as session:
            return [(step, path) for step, path in session.execute(query)]

    def _locked_row(self, session: Any, job_id: str) -> JobRow:
        # FOR UPDATE on PostgreSQL; SQLite ignores it (its writers are serialised anyway).
        row = session.scalars(
            select(JobRow).where(JobRow.id == job_id).with_for_update()
        ).one_or_none()
        if row is None:
            raise JobNotFoundError(
                f"no tuning job with id {job_id!r}",
                hint="`tunestudio tune list` shows every job and its id",
            )
        return row


def new_job_id() -> str:
    """A job id like CLOVA Studio's: 8 lowercase letters and digits."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def _illegal(
    job_id: str,
    current: JobStatus,
    target: JobStatus,
    owner: str | None,
    worker_id: str | None,
) -> JobStateError:
    if current == JobStatus.RUNNING and target in ALLOWED_FROM and owner != worker_id:
        return JobStateError(
            f"job {job_id} is now run by worker {owner}, not {worker_id}",
            hint="this worker lost the job (its heartbeat went stale); the other worker ends it",
        )
    allowed = ", ".join(sorted(ALLOWED_FROM[target]))
    return JobStateError(
        f"job {job_id} is {current}; it cannot become {target} (only from {allowed})"
    )
