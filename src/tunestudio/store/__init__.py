"""The store: one SQLAlchemy schema (jobs, events, checkpoints) on SQLite or PostgreSQL."""

from tunestudio.store.db import database_url, get_engine, session_scope
from tunestudio.store.schema import Base, CheckpointRow, EventRow, JobRow

__all__ = [
    "Base",
    "CheckpointRow",
    "EventRow",
    "JobRow",
    "database_url",
    "get_engine",
    "session_scope",
]
