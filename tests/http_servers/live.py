"""Run an ASGI app on 127.0.0.1 in a background thread, plus scripted faults and a request log.

Tests talk to these servers over real HTTP on the loopback interface, so the clients under test
go through httpx, sockets, chunked transfer and SSE exactly as they would against the real
service.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import uvicorn


@dataclass(frozen=True)
class Fault:
    """What to do to one request: wait ``delay`` seconds, then fail with ``status`` (if set).

    ``code`` is the service's own error code (CLOVA ``status.code``, OpenAI ``error.code``);
    ``retry_after`` is sent as the ``Retry-After`` header. With ``in_stream`` a streamed answer
    starts normally and fails after its first piece, as a generation error would.
    """

    status: int = 0
    code: str | None = None
    message: str = ""
    retry_after: str | None = None
    delay: float = 0.0
    in_stream: bool = False


class Faults:
    """A queue of faults, one taken per request; thread-safe."""

    def __init__(self) -> None:
        self._queue: deque[Fault] = deque()
        self._lock = threading.Lock()

    def add(self, fault: Fault | None = None, *, times: int = 1, **fields: Any) -> None:
        """Apply ``fault`` (or ``Fault(**fields)``) to each of the next ``times`` requests."""
        one = fault or Fault(**fields)
        with self._lock:
            self._queue.extend([one] * times)

    def take(self) -> Fault | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._queue)


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Recorder:
    """Every request the server received, in order; thread-safe."""

    requests: list[Seen] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, seen: Seen) -> None:
        with self._lock:
            self.requests.append(seen)

    def paths(self) -> list[str]:
        with self._lock:
            return [seen.path for seen in self.requests]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    @property
    def last(self) -> Seen:
        with self._lock:
            return self.requests[-1]


class LiveServer:
    """uvicorn serving ``app`` on 127.0.0.1 at a free port, in a daemon thread."""

    def __init__(self, app: Any):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        """Start serving and wait until the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
