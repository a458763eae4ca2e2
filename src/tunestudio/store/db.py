"""Engines and sessions from a URL: a SQLite file under the data dir, or PostgreSQL by URL.

Tables are created on first use, so a fresh ``TUNESTUDIO_HOME`` needs no setup step.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session

from tunestudio.config import Settings
from tunestudio.errors import ConfigError
from tunestudio.store.schema import Base

_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()


def database_url(settings: Settings | None = None) -> str:
    """The store's SQLAlchemy URL: ``TUNESTUDIO_DB_URL``, else ``$TUNESTUDIO_HOME/tunestudio.db``."""
    settings = settings or Settings.from_env()
    if settings.db_url:
        url = settings.db_url
        # psycopg (v3) is the driver we ship; plain "postgresql://" would ask for psycopg2.
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url
    home = settings.home_dir
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'tunestudio.db'}"


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL per process, with the tables created on first use."""
    url = url or database_url()
    with _LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = _create(url)
            _ENGINES[url] = engine
        return engine


def dispose_engines() -> None:
    """Close every pooled connection (used after fork and by tests)."""
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back if it raises."""
    with Session(engine or get_engine(), expire_on_commit=False) as session, session.begin():
        yield session


def _create(url: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
        Base.metadata.create_all(engine)
    except (ArgumentError, OperationalError, ImportError) as exc:
        raise ConfigError(
            f"cannot open the store: {exc}",
            where="TUNESTUDIO_DB_URL" if not url.startswith("sqlite") else url,
            hint="check the URL, e.g. postgresql://user:password@host:5432/tunestudio, "
            "and that the server is running; unset TUNESTUDIO_DB_URL to use the SQLite file",
        ) from exc
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (tune status, logs --follow) run while a child writes events;
    # busy_timeout makes concurrent writers wait instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
