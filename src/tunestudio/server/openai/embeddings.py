"""OpenAI's ``POST /v1/embeddings`` (and ``/v1/openai/embeddings``) over a served embedder.

As CLOVA Studio's OpenAI-compatible API does (clova-studio-api.md §7): ``input`` is a string or
a list of strings, ``encoding_format`` is ``float`` or ``base64`` (little-endian float32
bytes, what the ``openai`` SDK asks for by default and decodes itself), and ``dimensions`` is
accepted only when it equals the model's own size. Token-id inputs are refused: the ids of
another tokenizer would mean nothing to this model.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

import numpy as np
from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from tunestudio.server.errors import InvalidRequest, UnsupportedParameter
from tunestudio.server.state import server_state

MAX_INPUTS = 2048  # OpenAI's limit on inputs per request


class EmbeddingRequest(BaseModel):
    """The request body; unknown fields (``user``, …) are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: str = Field(default="float", description="'float' or 'base64'.")
    dimensions: int | None = Field(default=None, description="Only the model's own size.")

    def texts(self) -> list[str]:
        """The inputs as a list of non-empty strings (InvalidRequest otherwise)."""
        items: list[Any] = [self.input] if isinstance(self.input, str) else list(self.input)
        if not items:
            raise InvalidRequest("input must not be empty", param="input")
        if len(items) > MAX_INPUTS:
            raise InvalidRequest(
                f"input has {len(items)} items; at most {MAX_INPUTS} per request",
                param="input",
                hint="split the inputs over several requests",
            )
        for index, item in enumerate(items):
            if not isinstance(item, str):
                raise UnsupportedParameter(
                    "token-id input is not supported",
                    param=f"input.{index}",
                    hint="send the text itself",
                )
            if not item.strip():
                where = _param(index, self.input)
                raise InvalidRequest(
                    f"{where} is an empty string", param=where, hint="send text to embed"
                )
        return items

    def check_format(self, dimensions: int) -> None:
        """Refuse encodings and sizes this server does not produce."""
        if self.encoding_format not in ("float", "base64"):
            raise UnsupportedParameter(
                f"encoding_format {self.encoding_format!r} is not supported",
                param="encoding_format",
                hint="pass encoding_format='float' or 'base64'",
            )
        if self.dimensions is not None and self.dimensions != dimensions:
            raise UnsupportedParameter(
                f"dimensions {self.dimensions} is not supported by {self.model!r}; "
                f"its vectors have {dimensions}",
                param="dimensions",
                hint=f"leave dimensions out, or send {dimensions}",
            )


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    """The response body."""

    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage


async def embeddings(request: Request, body: EmbeddingRequest) -> Response:
    """One unit-length vector per input, in order, with the tokens they took."""
    texts = body.texts()
    served = await server_state(request).registry.get_embedder(body.model)
    body.check_format(served.dimensions)
    vectors, counts = await served.embed(texts)
    tokens = sum(counts)
    answer = EmbeddingList(
        data=[
            Embedding(index=i, embedding=_encode(v, body.encoding_format))
            for i, v in enumerate(vectors)
        ],
        model=body.model,
        usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens),
    )
    return Response(answer.model_dump_json(), media_type="application/json")


def _param(index: int, value: object) -> str:
    return "input" if isinstance(value, str) else f"input.{index}"


def _encode(vector: list[float], encoding_format: str) -> list[float] | str:
    if encoding_format == "float":
        return vector
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
