"""CLOVA Studio's chat tools: the chat tokenizer (v1 and v3) and the sliding window.

* ``POST /{v1|v3}/api-tools/chat-tokenize/{model}`` counts each message's tokens with the
  served model's own tokenizer (clova-studio-api.md §10.1–§10.2). A message's ``count`` is what
  it adds to the conversation's count, so the counts sum to the tokens of the whole prompt as
  the model sees it (chat template included). v1 answers ``{role, content, count}`` per
  message; v3 answers the content as a list of text parts, each with its ``count``.
* ``POST /v1/api-tools/sliding/chat-messages/{model}`` trims a conversation to fit
  (§10.5) with :func:`tunestudio.ops.window.trim_to_fit`, the same code as the ``window``
  pipeline stage: the system message is kept, the oldest whole turns (a user message and the
  answers and tool results after it) are dropped until prompt + ``maxTokens`` fits the model's
  context window, and the last turn is always kept; if even that does not fit, 40003.

Both also answer with a trailing ``/{appId}`` segment, as the paths of older keys carried one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.params import Depends
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from tunestudio.ops.window import trim_to_fit
from tunestudio.server.clova.envelope import ok
from tunestudio.server.clova.protocol import ChatMessage, to_messages
from tunestudio.server.served import ServedModel
from tunestudio.server.state import server_state
from tunestudio.types import Message

# The window the CLOVA guide documents for the sliding window, used for models whose own
# context length is unknown (remote OpenAI-compatible servers).
DOC_WINDOW = 4096


class TokenizeRequest(BaseModel):
    """``POST /{v1|v3}/api-tools/chat-tokenize/{model}``."""

    model_config = ConfigDict(extra="ignore")
    messages: list[ChatMessage] = Field(min_length=1)


class SlidingRequest(BaseModel):
    """``POST /v1/api-tools/sliding/chat-messages/{model}``."""

    model_config = ConfigDict(extra="ignore")
    messages: list[ChatMessage] = Field(min_length=1)
    maxTokens: int = Field(gt=0, le=4096, description="The answer budget of the next chat call.")


async def tokenize_v1(request: Request, model: str, body: TokenizeRequest) -> Response:
    """Per-message token counts, v1 shape."""
    messages = to_messages(body.messages, "v1")
    counts = await _counts(await server_state(request).registry.get(model), messages)
    return ok({"messages": [_v1_counted(m, n) for m, n in zip(messages, counts, strict=True)]})


async def tokenize_v3(request: Request, model: str, body: TokenizeRequest) -> Response:
    """Per-message token counts, v3 shape (content as text parts)."""
    messages = to_messages(body.messages, "v3")
    counts = await _counts(await server_state(request).registry.get(model), messages)
    return ok({"messages": [_v3_counted(m, n) for m, n in zip(messages, counts, strict=True)]})


async def sliding(request: Request, model: str, body: SlidingRequest) -> Response:
    """The conversation with its oldest turns dropped until it fits with ``maxTokens``."""
    served = await server_state(request).registry.get(model)
    messages = to_messages(body.messages, "v1")
    limit = served.backend.capabilities.context_length or DOC_WINDOW
    trimmed = await to_thread.run_sync(
        trim_to_fit, messages, served.backend.count_tokens, limit, body.maxTokens
    )
    return ok({"messages": [{"role": m.role, "content": m.content} for m in trimmed.messages]})


async def _counts(served: ServedModel, messages: list[Message]) -> list[int]:
    """What each message adds to the prompt's token count (the counts sum to the whole)."""
    counts, before = [], 0
    for end in range(1, len(messages) + 1):
        total = await served.count_tokens(messages[:end])
        counts.append(total - before)
        before = total
    return counts


def _v1_counted(message: Message, count: int) -> dict[str, Any]:
    return {"role": message.role, "content": message.content, "count": count}


def _v3_counted(message: Message, count: int) -> dict[str, Any]:
    part = {"type": "text", "text": message.content, "count": count}
    return {"role": message.role, "content": [part]}


def add_routes(
    router: APIRouter, prefix: str, *, dependencies: Sequence[Depends], include_in_schema: bool
) -> None:
    """The tool routes under ``prefix``, each also with a trailing ``/{app_id}``."""
    paths = (
        ("/v1/api-tools/chat-tokenize/{model}", tokenize_v1),
        ("/v3/api-tools/chat-tokenize/{model}", tokenize_v3),
        ("/v1/api-tools/sliding/chat-messages/{model}", sliding),
    )
    for path, handler in paths:
        for suffix, shown in (("", include_in_schema), ("/{app_id}", False)):
            router.add_api_route(
                prefix + path + suffix,
                handler,
                methods=["POST"],
                dependencies=list(dependencies),
                include_in_schema=shown,
            )
