"""OpenAI's error envelope: ``{"error": {"message", "type", "param", "code"}}``.

Types and codes follow what OpenAI itself answers (``invalid_request_error``,
``invalid_api_key``, ``model_not_found``, ``context_length_exceeded``, ``rate_limit_exceeded``),
so clients that branch on them keep working; the HTTP status decides which exception the
``openai`` SDK raises. An over-long prompt gets vLLM's wording, which clients (ours included)
recognise.
"""

from __future__ import annotations

import math

from starlette.responses import JSONResponse, Response

from tunestudio.server.errors import ApiError, ContextOverflow, ErrorKind

INVALID = "invalid_request_error"
TYPES_AND_CODES: dict[ErrorKind, tuple[str, str | None]] = {
    ErrorKind.INVALID_REQUEST: (INVALID, None),
    ErrorKind.UNSUPPORTED_PARAMETER: (INVALID, "unsupported_parameter"),
    ErrorKind.CONTEXT_LENGTH: (INVALID, "context_length_exceeded"),
    ErrorKind.MODEL_NOT_FOUND: (INVALID, "model_not_found"),
    ErrorKind.MODEL_NOT_READY: (INVALID, "model_not_ready"),
    ErrorKind.UNSUPPORTED_FOR_MODEL: (INVALID, "model_not_supported"),
    ErrorKind.NOT_FOUND: (INVALID, "not_found"),
    ErrorKind.METHOD_NOT_ALLOWED: (INVALID, "method_not_allowed"),
    ErrorKind.MISSING_CREDENTIALS: (INVALID, "missing_api_key"),
    ErrorKind.INVALID_CREDENTIALS: (INVALID, "invalid_api_key"),
    ErrorKind.INVALID_SIGNATURE: (INVALID, "invalid_signature"),
    ErrorKind.TOKEN_EXPIRED: (INVALID, "token_expired"),
    ErrorKind.FORBIDDEN: ("permission_error", "insufficient_scope"),
    ErrorKind.RATE_LIMITED: ("requests", "rate_limit_exceeded"),
    ErrorKind.BODY_TOO_LARGE: (INVALID, "request_too_large"),
    ErrorKind.UNAVAILABLE: ("server_error", "model_unavailable"),
    ErrorKind.INTERNAL: ("server_error", "internal_error"),
}


def render_error(error: ApiError, request_id: str) -> Response:
    """The error as OpenAI answers it, with ``Retry-After`` on 429."""
    kind, code = TYPES_AND_CODES[error.kind]
    body = {"error": {"message": message(error), "type": kind, "param": error.param, "code": code}}
    headers = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    return JSONResponse(body, status_code=error.status, headers=headers)


def message(error: ApiError) -> str:
    """The client-facing text; context overflows in vLLM's (and OpenAI's) words."""
    if isinstance(error, ContextOverflow):
        total = error.prompt_tokens + error.max_tokens
        return (
            f"This model's maximum context length is {error.limit} tokens. However, you "
            f"requested {total} tokens ({error.prompt_tokens} in the messages, "
            f"{error.max_tokens} in the completion). Please reduce the length of the messages "
            "or completion."
        )
    return error.text
