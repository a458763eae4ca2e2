"""What every request handler reaches through ``request.app.state.server``."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from tunestudio.server.auth import Authenticator
from tunestudio.server.config import ServerConfig
from tunestudio.server.dialects import Dialect, dialect_for
from tunestudio.server.keystore import KeyStore
from tunestudio.server.registry import ModelRegistry
from tunestudio.server.worker import BackgroundWorker
from tunestudio.tuning.jobs import JobStore


@dataclass
class ServerState:
    """The server's shared parts: config, models, keys and auth, jobs, dialects, worker."""

    config: ServerConfig
    registry: ModelRegistry
    keys: KeyStore
    auth: Authenticator
    jobs: JobStore
    dialects: tuple[Dialect, ...]
    worker: BackgroundWorker | None = None  # set while the app runs queued tuning jobs

    def dialect_for(self, path: str) -> Dialect:
        """The dialect that owns ``path`` (and renders its errors)."""
        return dialect_for(path, self.dialects)


def server_state(request: Request) -> ServerState:
    """The ServerState of the app serving ``request``."""
    state: ServerState = request.app.state.server
    return state
