"""Server fixtures: the real app (build_app) over a random Llama, on a real loopback port.

The model is built once per session (seconds); each test gets its own app, store (its own
TUNESTUDIO_HOME) and uvicorn server, so keys and rate limits never leak between tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.model_fixtures import build_random_llama
from tests.server.live_app import MODEL, LiveApp
from tunestudio.config import Settings
from tunestudio.server import ModelEntry, ServerConfig, build_app


@pytest.fixture(scope="session")
def llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_random_llama(tmp_path_factory.mktemp("server-llama"))


@pytest.fixture
def config(llama_dir: Path) -> ServerConfig:
    """One model, ``fixture``, and no in-process tuning worker."""
    return ServerConfig(models=[ModelEntry(name=MODEL, spec=f"hf:{llama_dir}")], worker=False)


@pytest.fixture
def start(config: ServerConfig) -> Iterator[Callable[..., LiveApp]]:
    """``start(config=None, **build_app options)`` runs a server until the test ends."""
    running: list[LiveApp] = []

    def run(cfg: ServerConfig | None = None, **options: Any) -> LiveApp:
        ssl = {k: options.pop(k) for k in ("ssl_certfile", "ssl_keyfile") if k in options}
        live = LiveApp(build_app(cfg or config, **options), **ssl).__enter__()
        running.append(live)
        return live

    yield run
    for live in reversed(running):
        live.__exit__()


@pytest.fixture
def live(start: Callable[..., LiveApp]) -> LiveApp:
    return start()


@pytest.fixture(scope="module")
def shared_live(llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """One server for a whole module of tests that change nothing (its own store and home).

    It saves loading and warming the model for every test; tests that create keys or need
    their own config use ``start`` instead.
    """
    cfg = ServerConfig(models=[ModelEntry(name=MODEL, spec=f"hf:{llama_dir}")], worker=False)
    settings = Settings(home=tmp_path_factory.mktemp("shared-home"))
    with LiveApp(build_app(cfg, settings=settings)) as live:
        yield live
