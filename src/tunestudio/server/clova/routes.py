"""The CLOVA Studio dialect's routes: chat v1 and v3, tuned tasks, the access-token flow,
(from :mod:`.tools`) the chat tokenizer and the sliding window, (from :mod:`.embedding` and
:mod:`.segmentation`) embedding v2 and segmentation, and (from :mod:`.tuning`) the tuning API.

Every path is served bare (``/v3/chat-completions/HCX-005``, as CLOVA documents it since
2025-07) and under the ``/testapp`` and ``/serviceapp`` prefixes that older keys used
(clova-studio-api.md §1.2). Streaming is chosen by ``Accept: text/event-stream``, not by a
body field. Handlers translate only: wire → core (``to_core``), the served model answers,
core → wire (``from_core`` or the SSE encoder); errors are raised and rendered by
:mod:`.envelope`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from tunestudio.models.base import StreamChunk
from tunestudio.models.clova_wire import V1_MODELS, V3_MODELS
from tunestudio.server.auth import basic_credentials, require
from tunestudio.server.clova import embedding, segmentation, tools, tuning
from tunestudio.server.clova.envelope import ErrorResponse, ok, render_error
from tunestudio.server.clova.protocol import CoreChat, V1Request, V1Result, V3Request, V3Result
from tunestudio.server.clova.sse import MEDIA_TYPE, EventEncoder
from tunestudio.server.dialects import Dialect
from tunestudio.server.errors import ApiError, ErrorKind, to_api_error
from tunestudio.server.keystore import Scope
from tunestudio.server.served import ServedModel
from tunestudio.server.state import server_state
from tunestudio.store.schema import utcnow

APP_PREFIXES = ("", "/testapp", "/serviceapp")
# Streams must reach the client as they are written: no caching, no proxy buffering (nginx).
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
CHAT = [Depends(require(Scope.CHAT))]
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in {
        400: "40001 invalid field, 40002 unsupported field, 40003 context length exceeded, "
        "40004 text empty, 40080 model not found, 40084 unsupported API for model",
        401: "40100 no credentials, 40101 invalid or stale IAM signature, "
        "40103 access token expired, 40104 invalid key",
        403: "40300 the key lacks the chat (or, for tuning, the tune) scope",
        404: "40400 no such task, or (for chat) the task has not SUCCEEDED",
        413: "41300 request body too large",
        429: "42901 rate limit exceeded (Retry-After)",
        503: "50300 the model cannot be loaded or its API failed",
    }.items()
}
VERSION_HINT = (
    "HCX-003 and HCX-DASH-001 use /v1/chat-completions; "
    "HCX-005, HCX-DASH-002 and HCX-007 use /v3/chat-completions"
)


async def chat_v3(request: Request, model: str, body: V3Request) -> Response:
    """Chat v3 with a served model: one JSON answer, or SSE events."""
    _check_version(model, "v3")
    state = server_state(request)
    chat = body.to_core(state.config.default_max_tokens)
    return await _answer(request, await state.registry.get(model), chat, "v3")


async def chat_v1(request: Request, model: str, body: V1Request) -> Response:
    """Chat v1 with a served model: one JSON answer, or SSE events."""
    _check_version(model, "v1")
    chat = body.to_core()
    return await _answer(request, await server_state(request).registry.get(model), chat, "v1")


async def task_v3(
    request: Request, task_id: Annotated[str, Path(alias="taskId")], body: V3Request
) -> Response:
    """Chat v3 with a tuned model: a SUCCEEDED tuning job, by its id."""
    chat = body.to_core(server_state(request).config.default_max_tokens)
    return await _answer(request, await _task(request, task_id), chat, "v3")


async def task_v1(
    request: Request, task_id: Annotated[str, Path(alias="taskId")], body: V1Request
) -> Response:
    """Chat v1 (on ``/v1/tasks`` and ``/v2/tasks``) with a SUCCEEDED tuning job, by its id."""
    return await _answer(request, await _task(request, task_id), body.to_core(), "v1")


async def access_token(
    request: Request, existing: bool = Query(False, alias="existingToken")
) -> Response:
    """``GET /v1/auth/token`` with ``Authorization: Basic base64(client_id:client_secret)``.

    Tokens are stored only as digests, so an issued token cannot be handed out again:
    ``existingToken=true`` is accepted, and a new token is issued either way.
    """
    client_id, secret = basic_credentials(request.headers)
    auth = server_state(request).auth
    token, expires_at = await run_in_threadpool(auth.issue_access_token, client_id, secret)
    seconds = max(0, int((expires_at - utcnow()).total_seconds()))
    result = {
        "accessToken": token,
        "tokenType": "Bearer",
        "expiresIn": seconds,
        "expiresAt": expires_at.isoformat(),
    }
    return ok(result)


def _check_version(model: str, version: str) -> None:
    """CLOVA's own model names answer on one chat version only (40084 on the other)."""
    name = model.upper()
    if (version == "v1" and name in V3_MODELS) or (version == "v3" and name in V1_MODELS):
        raise ApiError(
            f"{model} is not served on chat {version}",
            kind=ErrorKind.UNSUPPORTED_FOR_MODEL,
            param="model",
            hint=VERSION_HINT,
        )


async def _task(request: Request, task_id: str) -> ServedModel:
    """The tuned model of task ``task_id``; 40400 when there is none or it has not SUCCEEDED."""
    try:
        return await server_state(request).registry.get(task_id)
    except ApiError as exc:
        if exc.kind == ErrorKind.MODEL_NOT_FOUND:
            raise ApiError(
                f"there is no tuning task {task_id!r}",
                kind=ErrorKind.NOT_FOUND,
                param="taskId",
                hint="a task is a tuning job's id (`tunestudio tune list`); only SUCCEEDED "
                "tasks answer",
            ) from None
        raise  # not ready (40400 with the job's status), or could not load (50300)


async def _answer(request: Request, served: ServedModel, chat: CoreChat, version: str) -> Response:
    if "text/event-stream" in request.headers.get("accept", ""):
        return await _stream(served, chat, version)
    result = await served.chat(chat.messages, chat.params, fit=chat.fit)
    body: V1Result | V3Result
    if version == "v1":
        body = V1Result.from_core(result, seed=chat.seed)
    else:
        body = V3Result.from_core(result, seed=chat.seed)
    return ok(body.model_dump())


async def _stream(served: ServedModel, chat: CoreChat, version: str) -> Response:
    """Start the stream before answering 200, so early failures (40003) get a proper status."""
    pieces = served.stream(chat.messages, chat.params, fit=chat.fit)
    try:
        first: StreamChunk | None = await anext(pieces)
    except StopAsyncIteration:
        first = None
    encoder = EventEncoder(version, seed=chat.seed)
    return StreamingResponse(
        _events(encoder, first, pieces), media_type=MEDIA_TYPE, headers=SSE_HEADERS
    )


async def _events(
    encoder: EventEncoder, first: StreamChunk | None, pieces: AsyncGenerator[StreamChunk, None]
) -> AsyncIterator[bytes]:
    try:
        if first is not None:
            yield encoder.piece(first)
        async for piece in pieces:
            yield encoder.piece(piece)
    except Exception as exc:  # after the 200: report it in the stream, as CLOVA does
        yield encoder.error(to_api_error(exc))  # (which logs what is not a known error)
    finally:
        await pieces.aclose()


def _routes(router: APIRouter, prefix: str) -> None:
    shown = prefix == ""  # the prefixed copies stay out of the OpenAPI schema
    chats = (
        ("/v3/chat-completions/{model}", chat_v3),
        ("/v1/chat-completions/{model}", chat_v1),
        ("/v3/tasks/{taskId}/chat-completions", task_v3),
        ("/v2/tasks/{taskId}/chat-completions", task_v1),
        ("/v1/tasks/{taskId}/chat-completions", task_v1),
    )
    for path, handler in chats:
        router.add_api_route(
            prefix + path, handler, methods=["POST"], dependencies=CHAT, include_in_schema=shown
        )
    router.add_api_route(
        f"{prefix}/v1/auth/token", access_token, methods=["GET"], include_in_schema=shown
    )
    for module in (tools, embedding, segmentation):
        module.add_routes(router, prefix, dependencies=CHAT, include_in_schema=shown)


def _router() -> APIRouter:
    router = APIRouter(responses=ERRORS)
    for prefix in APP_PREFIXES:
        _routes(router, prefix)
    tuning.add_routes(router)  # /tuning/v2/tasks and /v2/tasks (no app prefixes)
    return router


# The paths whose errors CLOVA's envelope renders: all of /v2 and /v3 (no other dialect uses
# them), and CLOVA's paths under /v1, which it shares with the OpenAI dialect.
PREFIXES: tuple[str, ...] = (
    "/tuning/",
    "/testapp/",
    "/serviceapp/",
    "/v2/",
    "/v3/",
    "/v1/chat-completions/",
    "/v1/tasks/",
    "/v1/auth/token",
    "/v1/api-tools/",
)
CLOVA = Dialect(name="clova", router=_router(), prefixes=PREFIXES, render_error=render_error)
