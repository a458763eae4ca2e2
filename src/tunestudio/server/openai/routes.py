"""The OpenAI dialect's routes, under ``/v1`` and again under ``/v1/openai`` (CLOVA's prefix).

Handlers translate only: wire → core (``to_core``), the served model answers, core → wire
(``from_core`` or the SSE encoder). Errors are raised, and rendered by this dialect's envelope.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from tunestudio.models.base import StreamChunk
from tunestudio.server.auth import require
from tunestudio.server.dialects import Dialect
from tunestudio.server.errors import ModelNotFound, to_api_error
from tunestudio.server.keystore import Scope
from tunestudio.server.openai.embeddings import EmbeddingList, embeddings
from tunestudio.server.openai.envelope import render_error
from tunestudio.server.openai.protocol import (
    ChatCompletion,
    ChatCompletionRequest,
    CoreChat,
    ErrorResponse,
    ModelList,
    ModelObject,
)
from tunestudio.server.openai.sse import DONE, ChunkEncoder
from tunestudio.server.registry import ModelCard
from tunestudio.server.served import ServedModel
from tunestudio.server.state import server_state

PREFIXES = ("/v1", "/v1/openai")
JSON = "application/json"
# Streams must reach the client as they are written: no caching, no proxy buffering (nginx).
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in {
        400: "invalid or unsupported request field; context length exceeded",
        401: "missing, invalid or revoked API key",
        403: "the key lacks the chat scope",
        404: "unknown model, or one of the wrong kind (chat vs embedding)",
        413: "request body too large",
        429: "rate limit exceeded (Retry-After)",
        503: "the model cannot be loaded or its API failed",
    }.items()
}
router = APIRouter(dependencies=[Depends(require(Scope.CHAT))], responses=ERRORS)


async def chat_completions(request: Request, body: ChatCompletionRequest) -> Response:
    """Answer a chat, as one JSON completion or as ``data:`` chunks (``stream: true``)."""
    state = server_state(request)
    chat = body.to_core(state.config.default_max_tokens)
    served = await state.registry.get(body.model)
    if chat.stream:
        return await _stream(served, chat, body.model)
    result = await served.chat(chat.messages, chat.params, fit=chat.fit)
    completion = ChatCompletion.from_core(result, model=body.model)
    return Response(completion.model_dump_json(), media_type=JSON)


async def list_models(request: Request) -> ModelList:
    """The served models, then the SUCCEEDED tuning jobs (by job id)."""
    cards = await run_in_threadpool(server_state(request).registry.list_models)
    return ModelList(data=[_model_object(card) for card in cards])


async def retrieve_model(request: Request, model: str) -> ModelObject:
    """One model by name; 404 in OpenAI's envelope when it is not served."""
    registry = server_state(request).registry
    for card in await run_in_threadpool(registry.list_models):
        if card.id == model:
            return _model_object(card)
    raise ModelNotFound(model, registry.names)


async def _stream(served: ServedModel, chat: CoreChat, model: str) -> Response:
    """Start the stream before answering 200, so early failures get a proper status."""
    pieces = served.stream(chat.messages, chat.params, fit=chat.fit)
    try:
        first: StreamChunk | None = await anext(pieces)
    except StopAsyncIteration:
        first = None
    encoder = ChunkEncoder(model, include_usage=chat.include_usage)
    return StreamingResponse(
        _events(encoder, first, pieces),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


async def _events(
    encoder: ChunkEncoder, first: StreamChunk | None, pieces: AsyncGenerator[StreamChunk, None]
) -> AsyncIterator[bytes]:
    try:
        yield encoder.start()
        if first is not None:
            yield encoder.piece(first)
        async for piece in pieces:
            yield encoder.piece(piece)
    except Exception as exc:  # after the 200: report in the stream, as vLLM does
        yield encoder.error(to_api_error(exc))  # (which logs what is not a known error)
    finally:
        await pieces.aclose()
    yield DONE


def _model_object(card: ModelCard) -> ModelObject:
    owner = "tunestudio-tuning" if card.source == "job" else "tunestudio"
    return ModelObject(id=card.id, created=int(card.created.timestamp()), owned_by=owner)


for _prefix in PREFIXES:
    router.add_api_route(
        f"{_prefix}/chat/completions",
        chat_completions,
        methods=["POST"],
        responses={200: {"model": ChatCompletion, "description": "JSON, or SSE when streaming"}},
    )
    router.add_api_route(f"{_prefix}/models", list_models, methods=["GET"])
    router.add_api_route(f"{_prefix}/models/{{model:path}}", retrieve_model, methods=["GET"])
    router.add_api_route(
        f"{_prefix}/embeddings", embeddings, methods=["POST"], response_model=EmbeddingList
    )

OPENAI = Dialect(
    name="openai",
    router=router,
    prefixes=(
        "/v1/chat/completions",
        "/v1/models",
        "/v1/embeddings",
        "/v1/openai/",
    ),
    render_error=render_error,
)
