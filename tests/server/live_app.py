"""Run a built server app with uvicorn on a free 127.0.0.1 port, lifespan included.

Unlike ``tests.http_servers.live.LiveServer`` (which serves stand-in apps without lifespan),
this runs the app's lifespan, so the tuning worker starts and models are closed at stop.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import openai
import uvicorn

MODEL = "fixture"  # the name the test servers serve their model under


class LiveApp:
    """uvicorn serving ``app`` in a daemon thread; ``url`` is its base URL (http or https)."""

    def __init__(
        self, app: Any, *, ssl_certfile: Path | None = None, ssl_keyfile: Path | None = None
    ) -> None:
        self.app = app
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.scheme = "https" if ssl_certfile else "http"
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=2,
            ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
            ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveApp:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=20)
        self._sock.close()


def sdk(
    live: LiveApp, api_key: str = "unused", prefix: str = "/v1", **options: Any
) -> openai.OpenAI:
    """The official SDK pointed at ``live`` (no retries, so errors surface at once)."""
    return openai.OpenAI(
        base_url=live.url + prefix, api_key=api_key, max_retries=0, timeout=60, **options
    )
