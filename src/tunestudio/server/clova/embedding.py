"""CLOVA Studio's embedding v2 tool over the served embedding model (clova-studio-api.md §10.9).

``POST /v1/api-tools/embedding/v2`` takes ``{"text"}`` (one text per call) and answers
``result{embedding, inputTokens}``; ``…/embedding/v2/tokenize`` (§10.3) answers
``result{numTokens}``. The model is the one CLOVA's tools use: the embedding model served as
``bge-m3``, else the first one configured with ``kind: embedding``. Both paths also answer
with a trailing slash (CLOVA's own curl example has one) and with a trailing ``/{app_id}``.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request
from fastapi.params import Depends
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from tunestudio.server.clova.envelope import TextEmpty, ok
from tunestudio.server.embedder import ServedEmbedder
from tunestudio.server.state import server_state

MAX_CHARS = 120_000  # far above bge-m3's 8,192 tokens; longer texts are truncated to the model


class EmbeddingV2Request(BaseModel):
    """``{"text": "..."}``; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")
    text: str = Field(max_length=MAX_CHARS, description="The text to embed.")

    def checked(self) -> str:
        if not self.text.strip():
            raise TextEmpty("text is empty", param="text", hint="send the text to embed")
        return self.text


async def default_embedder(request: Request) -> ServedEmbedder:
    """The embedding model CLOVA's tools use (40084 with a hint when none is served)."""
    registry = server_state(request).registry
    return await registry.get_embedder(registry.default_embedder())


async def embed_v2(request: Request, body: EmbeddingV2Request) -> Response:
    """The text's unit-length vector and the tokens it took."""
    text = body.checked()
    vectors, counts = await (await default_embedder(request)).embed([text])
    return ok({"embedding": vectors[0], "inputTokens": counts[0]})


async def tokenize_v2(request: Request, body: EmbeddingV2Request) -> Response:
    """The number of tokens the embedding model reads from the text."""
    counts = await (await default_embedder(request)).count_tokens([body.checked()])
    return ok({"numTokens": counts[0]})


def add_routes(
    router: APIRouter, prefix: str, *, dependencies: Sequence[Depends], include_in_schema: bool
) -> None:
    """The routes under ``prefix``; tokenize first, so ``/{app_id}`` cannot swallow it."""
    base = f"{prefix}/v1/api-tools/embedding/v2"
    routes = (
        (f"{base}/tokenize", tokenize_v2, include_in_schema),
        (f"{base}/tokenize/{{app_id}}", tokenize_v2, False),
        (base, embed_v2, include_in_schema),
        (f"{base}/", embed_v2, False),
        (f"{base}/{{app_id}}", embed_v2, False),
    )
    for path, handler, shown in routes:
        router.add_api_route(
            path,
            handler,
            methods=["POST"],
            dependencies=list(dependencies),
            include_in_schema=shown,
        )
