"""Shared fixtures. Tests never download anything: data and models are built here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets its own TUNESTUDIO_HOME so no state leaks between tests."""
    monkeypatch.setenv("TUNESTUDIO_HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("COLUMNS", "200")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
