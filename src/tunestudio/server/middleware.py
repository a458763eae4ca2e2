"""Plain ASGI middleware: request ids with the last-resort error catcher, and the body limit.

Plain ASGI rather than ``BaseHTTPMiddleware``: it adds microseconds, not a task per request, and
does not buffer streamed answers. The body limit is ours rather than Starlette's
``RequestBodyLimitMiddleware`` because that one answers 413 in plain text, replacing whatever
the app answered, so clients would not get their dialect's envelope (OpenAI's error object,
CLOVA's 41300).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tunestudio.server.errors import ApiError, BodyTooLarge, ErrorKind

log = logging.getLogger("tunestudio.server")

REQUEST_ID_HEADERS = (b"x-request-id", b"x-ncp-clovastudio-request-id")
MAX_ID_LENGTH = 200

# (path, error, request id) -> the response in the path's dialect
ErrorRenderer = Callable[[str, ApiError, str], Response]


def request_id(scope: Scope) -> str:
    """The id of the request in ``scope`` (set by :class:`RequestContextMiddleware`)."""
    return str(scope.get("state", {}).get("request_id", ""))


class RequestContextMiddleware:
    """Gives every request an id and catches what no exception handler did.

    The id is the caller's ``X-Request-Id`` (or CLOVA's ``X-NCP-CLOVASTUDIO-REQUEST-ID``) when it
    sent a sane one, else a new UUID; it is echoed under the header(s) the caller used, plus
    ``X-Request-Id``, and kept in ``request.state.request_id``. An unexpected exception is logged
    once with the id, and answered 500 in the path's dialect without a traceback.
    """

    def __init__(self, app: ASGIApp, render: ErrorRenderer) -> None:
        self.app = app
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid, echo = _incoming_id(scope)
        scope.setdefault("state", {})["request_id"] = rid
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name in echo:
                    headers[name] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("request %s (%s %s) failed", rid, scope["method"], scope["path"])
            if started:
                raise  # the answer is on its way; the server can only drop the connection
            error = ApiError(f"internal server error (request id {rid})", kind=ErrorKind.INTERNAL)
            await self.render(scope["path"], error, rid)(scope, receive, send_with_id)


def _incoming_id(scope: Scope) -> tuple[str, list[str]]:
    """The caller's request id (or a new one) and the header names to echo it under."""
    found, echo = None, ["x-request-id"]
    for name, value in scope["headers"]:
        if name in REQUEST_ID_HEADERS:
            text = value.decode("latin-1").strip()
            if 0 < len(text) <= MAX_ID_LENGTH and text.isprintable():
                found = found or text
                if name.decode() not in echo:
                    echo.append(name.decode())
    return found or uuid.uuid4().hex, echo


class BodyTooLargeHTTP(HTTPException):
    """Raised from ``receive`` when a body without (or with a false) Content-Length runs over.

    An HTTPException, so FastAPI passes it on to the app's handlers (which render the
    dialect's 413) instead of turning it into "error parsing the body".
    """

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=BodyTooLarge(limit).text)
        self.limit = limit


class BodyLimitMiddleware:
    """Refuses request bodies over ``limit`` bytes with 413 in the path's dialect.

    A declared Content-Length over the limit is answered at once, before the app runs; a body
    that turns out longer while it is read raises :class:`BodyTooLargeHTTP`.
    """

    def __init__(self, app: ASGIApp, limit: int, render: ErrorRenderer) -> None:
        self.app = app
        self.limit = limit
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _content_length(scope) > self.limit:
            response = self.render(scope["path"], BodyTooLarge(self.limit), request_id(scope))
            await response(scope, receive, send)
            return
        seen = 0

        async def receive_limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLargeHTTP(self.limit)
            return message

        await self.app(scope, receive_limited, send)


def _content_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0
