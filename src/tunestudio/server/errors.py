"""The server's errors, named by kind so each dialect can render them in its own envelope.

Routes and the auth layer raise :class:`ApiError` subclasses; core code raises the
:class:`~tunestudio.errors.TuneStudioError` tree. :func:`to_api_error` turns either (and any
framework error) into one ``ApiError`` with an HTTP status and a kind; the OpenAI dialect maps
the kind to ``{"error": {type, code}}``, the CLOVA dialect to its five-digit ``status.code``.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from tunestudio.errors import (
    ConfigError,
    ContextLengthError,
    DataError,
    ModelAuthError,
    ModelError,
    ModelRateLimitError,
    ModelRequestError,
    ModelUnavailableError,
    TuneStudioError,
)

log = logging.getLogger("tunestudio.server")


class ErrorKind(StrEnum):
    """What went wrong, independent of any dialect's wording."""

    INVALID_REQUEST = "invalid_request"
    UNSUPPORTED_PARAMETER = "unsupported_parameter"
    CONTEXT_LENGTH = "context_length"
    MODEL_NOT_FOUND = "model_not_found"
    MODEL_NOT_READY = "model_not_ready"
    UNSUPPORTED_FOR_MODEL = "unsupported_for_model"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    MISSING_CREDENTIALS = "missing_credentials"
    INVALID_CREDENTIALS = "invalid_credentials"
    INVALID_SIGNATURE = "invalid_signature"
    TOKEN_EXPIRED = "token_expired"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    BODY_TOO_LARGE = "body_too_large"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


STATUS: dict[ErrorKind, int] = {
    ErrorKind.INVALID_REQUEST: 400,
    ErrorKind.UNSUPPORTED_PARAMETER: 400,
    ErrorKind.CONTEXT_LENGTH: 400,
    ErrorKind.MODEL_NOT_FOUND: 404,
    ErrorKind.MODEL_NOT_READY: 400,
    ErrorKind.UNSUPPORTED_FOR_MODEL: 404,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.METHOD_NOT_ALLOWED: 405,
    ErrorKind.MISSING_CREDENTIALS: 401,
    ErrorKind.INVALID_CREDENTIALS: 401,
    ErrorKind.INVALID_SIGNATURE: 401,
    ErrorKind.TOKEN_EXPIRED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.BODY_TOO_LARGE: 413,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.INTERNAL: 500,
}


class ApiError(TuneStudioError):
    """An error answered to an API client: a kind (hence an HTTP status) and a message.

    ``param`` names the request field at fault (``messages.1.content``); ``retry_after`` is
    seconds, sent as ``Retry-After``.
    """

    kind = ErrorKind.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind | None = None,
        param: str | None = None,
        retry_after: float | None = None,
        where: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, where=where, hint=hint)
        if kind is not None:
            self.kind = kind
        self.param = param
        self.retry_after = retry_after

    @property
    def status(self) -> int:
        """The HTTP status this error is answered with."""
        return STATUS[self.kind]

    @property
    def text(self) -> str:
        """One line for the client: where, what, and the hint."""
        text = f"{self.where}: {self.message}" if self.where else self.message
        return f"{text} (hint: {self.hint})" if self.hint else text


class InvalidRequest(ApiError):
    """A request field is malformed or out of range (400)."""

    kind = ErrorKind.INVALID_REQUEST


class UnsupportedParameter(ApiError):
    """A known field this server does not implement, set to a value that would matter (400)."""

    kind = ErrorKind.UNSUPPORTED_PARAMETER


class ContextOverflow(ApiError):
    """The prompt plus the answer's budget does not fit the model's context window (400)."""

    kind = ErrorKind.CONTEXT_LENGTH

    def __init__(self, limit: int, prompt_tokens: int, max_tokens: int) -> None:
        super().__init__(
            f"the prompt ({prompt_tokens} tokens) plus max_tokens ({max_tokens}) exceeds the "
            f"context window of {limit} tokens",
            hint="shorten the conversation or lower max_tokens",
        )
        self.limit, self.prompt_tokens, self.max_tokens = limit, prompt_tokens, max_tokens


class ModelNotFound(ApiError):
    """No served model or finished tuning job has this name (404)."""

    kind = ErrorKind.MODEL_NOT_FOUND

    def __init__(self, name: str, known: list[str]) -> None:
        served = ", ".join(known) if known else "none"
        super().__init__(
            f"the model {name!r} does not exist",
            param="model",
            hint=f"served models: {served}; a SUCCEEDED tuning job is served by its job id",
        )
        self.name = name


class ModelUnavailable(ApiError):
    """The model exists but cannot answer now: it failed to load or its API is down (503)."""

    kind = ErrorKind.UNAVAILABLE


class AuthError(ApiError):
    """Base of the authentication and authorization failures."""

    kind = ErrorKind.INVALID_CREDENTIALS


class MissingCredentials(AuthError):
    """No API key or access token was sent (401)."""

    kind = ErrorKind.MISSING_CREDENTIALS


class InvalidCredentials(AuthError):
    """The key, token or client secret is unknown, revoked or malformed (401)."""

    kind = ErrorKind.INVALID_CREDENTIALS


class InvalidSignature(AuthError):
    """An NCP IAM signature is missing a part, stale or does not match (401; CLOVA 40101)."""

    kind = ErrorKind.INVALID_SIGNATURE


class TokenExpired(AuthError):
    """The access token was valid once but has expired (401; CLOVA 40103)."""

    kind = ErrorKind.TOKEN_EXPIRED


class ScopeForbidden(AuthError):
    """The key is valid but lacks the scope this endpoint needs (403)."""

    kind = ErrorKind.FORBIDDEN


class RateLimited(AuthError):
    """The key spent its requests for now; ``retry_after`` says when one is free (429)."""

    kind = ErrorKind.RATE_LIMITED


class BodyTooLarge(ApiError):
    """The request body is over the server's limit (413; CLOVA 41300)."""

    kind = ErrorKind.BODY_TOO_LARGE

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the request body is larger than this server's limit of {limit} bytes",
            hint="send less (split the batch), or raise max_body_bytes in the server config",
        )
        self.limit = limit


def to_api_error(exc: BaseException) -> ApiError:
    """Classify any exception raised while answering a request as one ApiError."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RequestValidationError):
        return _validation_error(exc)
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    if isinstance(exc, TuneStudioError):
        return _core_error(exc)
    log.error("internal error while answering a request", exc_info=exc)
    return ApiError("internal server error", kind=ErrorKind.INTERNAL)


def _core_error(exc: TuneStudioError) -> ApiError:
    """Core errors: the request's fault (4xx) or the model's (503); ours otherwise (500)."""
    kind, retry_after = ErrorKind.INTERNAL, None
    if isinstance(exc, ContextLengthError):
        kind = ErrorKind.CONTEXT_LENGTH
    elif isinstance(exc, ModelRequestError | DataError | ConfigError):
        kind = ErrorKind.INVALID_REQUEST
    elif isinstance(exc, ModelRateLimitError):
        kind, retry_after = ErrorKind.RATE_LIMITED, exc.retry_after
    elif isinstance(exc, ModelAuthError | ModelUnavailableError | ModelError):
        # A refused upstream key is the server's configuration, not the client's fault.
        kind = ErrorKind.UNAVAILABLE
    else:
        log.error("unexpected error while answering a request", exc_info=exc)
    return ApiError(exc.message, kind=kind, where=exc.where, hint=exc.hint, retry_after=retry_after)


def _validation_error(exc: RequestValidationError) -> ApiError:
    """Pydantic's complaints about the body, every one of them, with the first as ``param``."""
    problems, params = [], []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ()) if part != "body"]
        if err.get("type") == "json_invalid":
            problems.append(f"the body is not valid JSON ({err.get('ctx', {}).get('error', '')})")
            continue
        field = ".".join(loc) or "body"
        params.append(field)
        problems.append(f"{field}: {err.get('msg', 'invalid value')}")
    return InvalidRequest("; ".join(problems) or "invalid request", param=next(iter(params), None))


def _http_error(exc: HTTPException) -> ApiError:
    kinds = {404: ErrorKind.NOT_FOUND, 405: ErrorKind.METHOD_NOT_ALLOWED}
    kind = kinds.get(exc.status_code)
    if kind is None:
        kind = ErrorKind.INVALID_REQUEST if exc.status_code < 500 else ErrorKind.INTERNAL
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return ApiError(detail, kind=kind)
