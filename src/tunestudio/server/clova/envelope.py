"""CLOVA Studio's envelope: ``{"status": {"code", "message"}, "result": …}``.

Every answer, success or failure, carries a five-digit ``status.code`` string; failures use the
HTTP status the code's first three digits spell, as CLOVA Studio does (clova-studio-api.md §3.2).
Each :class:`ErrorKind` maps to its documented code. Two codes have no kind of their own and
are told apart by the error's class: 40004 "Text empty" (:class:`TextEmpty`) and 40084
"Unsupported API for model" (an UNSUPPORTED_FOR_MODEL kind). CLOVA documents no code for an
unavailable model; 50300 is used, which CLOVA clients read by its HTTP status, 503.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from tunestudio.server.errors import ApiError, ErrorKind, InvalidRequest

OK = {"code": "20000", "message": "OK"}

# kind -> (HTTP status, status.code, CLOVA's own words for it)
CODES: dict[ErrorKind, tuple[int, str, str]] = {
    ErrorKind.INVALID_REQUEST: (400, "40001", "Invalid parameter"),
    ErrorKind.UNSUPPORTED_PARAMETER: (400, "40002", "Unsupported parameter"),
    ErrorKind.CONTEXT_LENGTH: (400, "40003", "Context length exceeded"),
    ErrorKind.MODEL_NOT_FOUND: (400, "40080", "Model not found"),
    ErrorKind.MODEL_NOT_READY: (404, "40400", "Not found"),
    ErrorKind.UNSUPPORTED_FOR_MODEL: (400, "40084", "Unsupported API for model"),
    ErrorKind.NOT_FOUND: (404, "40400", "Not found"),
    ErrorKind.METHOD_NOT_ALLOWED: (405, "40500", "Method not allowed"),
    ErrorKind.MISSING_CREDENTIALS: (401, "40100", "Unauthorized"),
    ErrorKind.INVALID_CREDENTIALS: (401, "40104", "Invalid key"),
    ErrorKind.INVALID_SIGNATURE: (401, "40101", "Invalid signature"),
    ErrorKind.TOKEN_EXPIRED: (401, "40103", "Access token expired"),
    ErrorKind.FORBIDDEN: (403, "40300", "Forbidden"),
    ErrorKind.RATE_LIMITED: (429, "42901", "Too many requests - rate exceeded"),
    ErrorKind.BODY_TOO_LARGE: (413, "41300", "Request body size exceeded"),
    ErrorKind.UNAVAILABLE: (503, "50300", "Service unavailable"),
    ErrorKind.INTERNAL: (500, "50000", "Internal server error"),
}
TEXT_EMPTY = (400, "40004", "Text empty")


class Status(BaseModel):
    """``status``: a five-digit code (a string) and a message."""

    code: str
    message: str


class ErrorResponse(BaseModel):
    """The error envelope, for the API's schema."""

    status: Status


class TextEmpty(InvalidRequest):
    """A message that must carry text has none (CLOVA 40004 "Text empty")."""


def status_of(error: ApiError) -> tuple[int, dict[str, str]]:
    """The HTTP status and the ``status`` object CLOVA Studio answers ``error`` with."""
    http, code, title = TEXT_EMPTY if isinstance(error, TextEmpty) else CODES[error.kind]
    return http, {"code": code, "message": f"{title}: {error.text}"}


def render_error(error: ApiError, request_id: str) -> Response:
    """The error in CLOVA's envelope, with ``Retry-After`` (whole seconds) on 429."""
    http, status = status_of(error)
    headers = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    return JSONResponse({"status": status}, status_code=http, headers=headers)


def ok(result: Any) -> Response:
    """A success: ``{"status": {"code": "20000", "message": "OK"}, "result": result}``."""
    return JSONResponse({"status": OK, "result": result})
