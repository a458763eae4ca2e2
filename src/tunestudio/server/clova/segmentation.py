"""CLOVA Studio's segmentation tool, ``POST /v1/api-tools/segmentation`` (§10.6).

The request and response are CLOVA's: ``text``, ``alpha``, ``segCnt``, ``postProcess``,
``postProcessMaxSize``, ``postProcessMinSize`` → ``result{topicSeg, span, inputTokens}``. The
work is :func:`tunestudio.ops.segment.segment` (its docstring says how it differs from CLOVA's
model): paragraphs by sentence-embedding similarity when an embedding model is served, else by
blank lines and sizes. ``inputTokens`` counts the embedding model's tokens when one is served,
else Kiwi's morphemes. Also answers with a trailing ``/{app_id}``.
"""

from __future__ import annotations

from collections.abc import Sequence

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.params import Depends
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.responses import Response

from tunestudio.ops.segment import AUTO_ALPHA, Segmentation, segment
from tunestudio.server.clova.embedding import default_embedder
from tunestudio.server.clova.envelope import TextEmpty, ok
from tunestudio.server.errors import InvalidRequest
from tunestudio.server.state import server_state


class SegmentationRequest(BaseModel):
    """CLOVA's fields and defaults; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")
    text: str = Field(max_length=120_000, description="The text, 1..120,000 characters.")
    alpha: float = Field(default=0.0, description="-100 (auto) or -1.5..1.5; higher: more.")
    segCnt: int = Field(default=-1, description="-1 (auto) or the number of paragraphs (≥ 1).")
    postProcess: bool = Field(default=False, description="Split/merge paragraphs to a size.")
    postProcessMaxSize: int = Field(default=1000, ge=1, description="Largest paragraph (chars).")
    postProcessMinSize: int = Field(default=300, ge=-1, description="Smallest (chars); -1 auto.")

    @model_validator(mode="after")
    def _ranges(self) -> SegmentationRequest:
        if self.alpha != AUTO_ALPHA and not -1.5 <= self.alpha <= 1.5:
            raise ValueError("alpha must be -100 (auto) or between -1.5 and 1.5")
        if self.segCnt != -1 and self.segCnt < 1:
            raise ValueError("segCnt must be -1 (auto) or at least 1")
        if self.postProcessMinSize > self.postProcessMaxSize:
            raise ValueError("postProcessMinSize must not exceed postProcessMaxSize")
        return self


async def segmentation(request: Request, body: SegmentationRequest) -> Response:
    """The text's paragraphs as lists of sentences, with their sentence indices."""
    if not body.text.strip():
        raise TextEmpty("text is empty", param="text", hint="send the text to segment")
    embedder = None
    if server_state(request).registry.has_embedder():
        embedder = await default_embedder(request)
    found: Segmentation = await to_thread.run_sync(
        lambda: segment(
            body.text,
            alpha=body.alpha,
            seg_count=body.segCnt,
            post_process=body.postProcess,
            max_size=body.postProcessMaxSize,
            min_size=body.postProcessMinSize,
            embed=embedder.embedder.embed if embedder is not None else None,
        )
    )
    if not found.sentences:
        raise InvalidRequest("the text has no sentences", param="text")
    if embedder is not None:
        tokens = sum(await embedder.count_tokens([s.text for s in found.sentences]))
    else:
        tokens = sum(s.morphemes for s in found.sentences)
    return ok({"topicSeg": found.paragraphs, "span": found.spans, "inputTokens": tokens})


def add_routes(
    router: APIRouter, prefix: str, *, dependencies: Sequence[Depends], include_in_schema: bool
) -> None:
    """The route under ``prefix``, also with a trailing ``/{app_id}``."""
    for suffix, shown in (("", include_in_schema), ("/{app_id}", False)):
        router.add_api_route(
            f"{prefix}/v1/api-tools/segmentation{suffix}",
            segmentation,
            methods=["POST"],
            dependencies=list(dependencies),
            include_in_schema=shown,
        )
