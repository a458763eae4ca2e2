"""Where the store lives and how its URL is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunestudio.config import Settings
from tunestudio.errors import ConfigError
from tunestudio.store.db import database_url, get_engine


def test_default_is_sqlite_under_home(tmp_path: Path) -> None:
    url = database_url(Settings(home=tmp_path))
    assert url == f"sqlite:///{tmp_path / 'tunestudio.db'}"
    get_engine(url)
    assert (tmp_path / "tunestudio.db").exists()


def test_postgres_urls_use_psycopg() -> None:
    url = database_url(Settings(db_url="postgresql://u:p@db:5432/ts"))
    assert url == "postgresql+psycopg://u:p@db:5432/ts"


def test_bad_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot open the store"):
        get_engine("nosuchdb://x")
