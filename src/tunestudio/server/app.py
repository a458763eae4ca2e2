"""``build_app``: the FastAPI app that serves every configured model in every dialect.

Layers, outermost first: request ids and the last-resort error catcher, the body size limit
(:mod:`.middleware`), exception handlers that render each error in the envelope of the
dialect owning the path, then the dialects' routers. Models load lazily and are closed, and the
in-process tuning worker stopped, when the app shuts down (its lifespan).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException
from starlette.responses import Response

from tunestudio.config import Settings
from tunestudio.errors import ConfigError, TuneStudioError
from tunestudio.models.registry import load_backend
from tunestudio.server.auth import Authenticator
from tunestudio.server.clova.routes import CLOVA
from tunestudio.server.config import ServerConfig
from tunestudio.server.dialects import Dialect
from tunestudio.server.errors import ApiError, BodyTooLarge, ErrorKind, to_api_error
from tunestudio.server.iam import IamKeyStore
from tunestudio.server.keystore import KeyStore
from tunestudio.server.middleware import (
    BodyLimitMiddleware,
    ErrorRenderer,
    RequestContextMiddleware,
    request_id,
)
from tunestudio.server.openai.routes import OPENAI
from tunestudio.server.registry import Loader, ModelRegistry
from tunestudio.server.state import ServerState
from tunestudio.server.worker import BackgroundWorker
from tunestudio.store.db import database_url, get_engine
from tunestudio.tuning.jobs import JobStore
from tunestudio.tuning.worker import Worker

# Every dialect the server speaks; errors on paths no dialect owns use the first one's envelope.
DIALECTS: tuple[Dialect, ...] = (OPENAI, CLOVA)


def build_app(
    config: ServerConfig,
    *,
    settings: Settings | None = None,
    worker: Worker | None = None,
    loader: Loader = load_backend,
) -> FastAPI:
    """The server app for ``config``; the store is the one ``settings`` (or the env) names.

    With ``config.worker`` the app runs queued tuning jobs while it serves (``worker``, when
    given, is the Worker to use: tests pass one with a stand-in recipe).
    """
    engine = get_engine(database_url(settings))
    jobs, keys = JobStore(engine), KeyStore(engine)
    state = ServerState(
        config=config,
        registry=ModelRegistry(config, jobs, loader=loader),
        keys=keys,
        auth=Authenticator(
            keys,
            allow_open=config.loopback,
            token_ttl=config.access_token_ttl,
            iam=IamKeyStore(keys, settings),  # the master key file under the same home
        ),
        jobs=jobs,
        dialects=DIALECTS,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if config.worker:
            state.worker = BackgroundWorker(worker or Worker(store=jobs))
            state.worker.start()
        try:
            yield
        finally:
            if state.worker is not None:
                await to_thread.run_sync(state.worker.stop)
            await to_thread.run_sync(state.registry.close)

    app = FastAPI(
        title="tunestudio",
        summary="OpenAI-compatible API over tunestudio's models",
        lifespan=lifespan,
    )
    app.state.server = state
    _install_error_handlers(app, state)
    render = _renderer(state)
    # Added last = outermost: every answer, the body limit's 413 included, gets a request id.
    app.add_middleware(BodyLimitMiddleware, limit=config.max_body_bytes, render=render)
    app.add_middleware(RequestContextMiddleware, render=render)
    for dialect in DIALECTS:
        app.include_router(dialect.router)
    app.add_api_route("/healthz", _healthz, methods=["GET"], include_in_schema=False)
    app.openapi = lambda: _honest_openapi(app)  # type: ignore[method-assign]
    return app


def _honest_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema without the 422 it adds to every operation with a body or parameters:
    this server answers invalid requests with 400 in the dialect's envelope (documented by
    each router), never 422."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
        app.openapi_schema = schema
    return app.openapi_schema


def _renderer(state: ServerState) -> ErrorRenderer:
    def render(path: str, error: ApiError, rid: str) -> Response:
        return state.dialect_for(path).render_error(error, rid)

    return render


def _install_error_handlers(app: FastAPI, state: ServerState) -> None:
    limit = state.config.max_body_bytes

    async def handle(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            exc = _routing_error(request, exc, limit)
        dialect = state.dialect_for(request.url.path)
        return dialect.render_error(to_api_error(exc), request_id(request.scope))

    for kind in (TuneStudioError, RequestValidationError, HTTPException):
        app.add_exception_handler(kind, handle)


def _routing_error(request: Request, exc: HTTPException, limit: int) -> Exception:
    """Starlette's bare 404/405/413 in words that say what to do."""
    where = f"{request.method} {request.url.path}"
    if exc.status_code == 404 and exc.detail == "Not Found":
        return ApiError(
            f"there is no endpoint {where}",
            kind=ErrorKind.NOT_FOUND,
            hint="the OpenAI API is under /v1 (e.g. POST /v1/chat/completions, GET /v1/models); "
            "CLOVA Studio's under /v1 and /v3 (e.g. POST /v3/chat-completions/{model})",
        )
    if exc.status_code == 405:
        return ApiError(f"{where} is not allowed here", kind=ErrorKind.METHOD_NOT_ALLOWED)
    if exc.status_code == 413:
        return BodyTooLarge(limit)
    return exc


def check_bind(config: ServerConfig, keys: KeyStore) -> None:
    """Refuse to listen beyond loopback while no API key is active (ConfigError)."""
    if config.loopback or keys.has_active_keys():
        return
    raise ConfigError(
        f"refusing to listen on {config.host} without an API key: anyone who can reach this "
        "machine could use its models",
        where="--host",
        hint="create a key first (`tunestudio keys create --name my-app`), "
        "or listen on 127.0.0.1 only",
    )


async def _healthz(request: Request) -> dict[str, Any]:
    state: ServerState = request.app.state.server
    return {"status": "ok", "models": state.registry.names}
