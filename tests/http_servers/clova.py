"""A CLOVA Studio stand-in: the chat v1/v3, tuned-task, chat-tokenize and token endpoints.

It answers with any Backend, checks credentials the way the real service does (Bearer keys,
the legacy header pair, access tokens from ``/v1/auth/token`` that can be made to expire), and
speaks the wire format of docs/research clova-studio-api.md §2–§6 and §10: the
``{"status", "result"}`` envelope, camelCase fields, SSE ``token``/``result``/``signal`` events.
Faults scripted on ``faults`` are applied to chat and tokenizer calls.
"""

from __future__ import annotations

import base64
import json
import random
import re
import threading
import time
import uuid
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from tests.http_servers.live import Fault, Faults, Recorder, Seen
from tunestudio.errors import ContextLengthError, ModelRequestError
from tunestudio.models.base import Backend
from tunestudio.types import ChatResult, GenParams, Message, Usage

V1_MODELS = {"HCX-003", "HCX-DASH-001"}
V3_MODELS = {"HCX-005", "HCX-DASH-002", "HCX-007"}
_PREFIX = r"(?:/(?:testapp|serviceapp))?"
CHAT = re.compile(rf"^{_PREFIX}/(v1|v3)/chat-completions/([^/]+)$")
TASK = re.compile(rf"^{_PREFIX}/(v1|v2|v3)/tasks/([^/]+)/chat-completions$")
TOKENIZE = re.compile(rf"^{_PREFIX}/(v1|v3)/api-tools/chat-tokenize/([^/]+)(?:/[^/]+)?$")
MESSAGES = {
    "40001": "Invalid parameter",
    "40003": "Context length exceeded",
    "40004": "Text empty",
    "40080": "Model not found",
    "40084": "Unsupported API for model",
    "40100": "Unauthorized",
    "40103": "Access token expired",
    "40104": "Invalid key",
    "40400": "Not found",
    "42901": "Too many requests - rate exceeded",
    "50000": "Internal server error",
    "50300": "Service unavailable",
}


class BadRequest(Exception):
    """A request the real service refuses: HTTP status + CLOVA code."""

    def __init__(self, http: int, code: str, message: str = ""):
        super().__init__(message or MESSAGES.get(code, ""))
        self.http, self.code = http, code


def envelope(code: str, message: str, result: Any = None, http: int = 200) -> JSONResponse:
    body: dict[str, Any] = {"status": {"code": code, "message": message}}
    if result is not None:
        body["result"] = result
    return JSONResponse(body, status_code=http)


class TokenStore:
    """Access tokens issued by ``/v1/auth/token``; ``expire_all`` makes them answer 40103."""

    def __init__(self) -> None:
        self._valid: set[str] = set()
        self._expired: set[str] = set()
        self._lock = threading.Lock()
        self.issued = 0

    def existing_or_new(self) -> str:
        with self._lock:
            if self._valid:
                return next(iter(self._valid))
            token = f"tok-{uuid.uuid4().hex}"
            self._valid.add(token)
            self.issued += 1
            return token

    def expire_all(self) -> None:
        with self._lock:
            self._expired |= self._valid
            self._valid.clear()

    def state(self, token: str) -> str:
        with self._lock:
            return "valid" if token in self._valid else "expired" if token in self._expired else ""


class ClovaServer:
    """The FastAPI app in ``.app``; credentials the server accepts are given up front."""

    def __init__(
        self,
        backend: Backend,
        *,
        bearer_keys: tuple[str, ...] = (),
        legacy_pairs: tuple[tuple[str, str], ...] = (),
        clients: dict[str, str] | None = None,
        tasks: tuple[str, ...] = (),
    ):
        self.backend = backend
        self.bearer_keys = set(bearer_keys)
        self.legacy_pairs = set(legacy_pairs)
        self.clients = dict(clients or {})
        self.tasks = set(tasks)
        self.tokens = TokenStore()
        self.faults = Faults()
        self.seen = Recorder()
        self.app = FastAPI()
        self.app.add_api_route("/v1/auth/token", self._token, methods=["GET"])
        self.app.add_api_route("/{path:path}", self._dispatch, methods=["POST"])

    async def _token(self, request: Request) -> Response:
        self.seen.add(Seen("GET", request.url.path, dict(request.headers), None))
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            client_id, secret = "", ""
        if scheme != "Basic" or self.clients.get(client_id) != secret or not client_id:
            return envelope("40100", MESSAGES["40100"], http=401)
        return envelope("20000", "OK", {"accessToken": self.tokens.existing_or_new()})

    async def _dispatch(self, path: str, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return envelope("40000", "Bad request", http=400)
        headers = dict(request.headers)
        self.seen.add(Seen("POST", request.url.path, headers, body))
        try:
            self._authorize(headers)
            fault = self.faults.take()
            if refusal := await run_in_threadpool(refuse, fault):
                return refusal
            return await self._route(request.url.path, body, headers, fault)
        except BadRequest as exc:
            return envelope(exc.code, str(exc), http=exc.http)

    async def _route(
        self, path: str, body: Any, headers: dict[str, str], fault: Fault | None
    ) -> Response:
        stream = "text/event-stream" in headers.get("accept", "")
        if match := CHAT.match(path):
            version, model = match.groups()
            if model not in V1_MODELS | V3_MODELS:
                raise BadRequest(400, "40080")
            if (model in V1_MODELS) != (version == "v1"):
                raise BadRequest(400, "40084")
            return await self._chat(version, body, stream, fault)
        if match := TASK.match(path):
            version, task = match.groups()
            if task not in self.tasks:
                raise BadRequest(404, "40400")
            return await self._chat("v3" if version == "v3" else "v1", body, stream, fault)
        if match := TOKENIZE.match(path):
            return await run_in_threadpool(self._tokenize, match.group(1), body)
        raise BadRequest(404, "40400")

    def _authorize(self, headers: dict[str, str]) -> None:
        scheme, _, credential = headers.get("authorization", "").partition(" ")
        if scheme == "Bearer":
            if credential in self.bearer_keys or self.tokens.state(credential) == "valid":
                return
            if self.tokens.state(credential) == "expired":
                raise BadRequest(401, "40103")
            raise BadRequest(401, "40104")
        pair = (headers.get("x-ncp-clovastudio-api-key"), headers.get("x-ncp-apigw-api-key"))
        if all(pair):
            if pair in self.legacy_pairs:
                return
            raise BadRequest(401, "40104")
        raise BadRequest(401, "40100")

    async def _chat(
        self, wire: str, body: dict[str, Any], stream: bool, fault: Fault | None
    ) -> Response:
        messages = to_messages(body)
        params, seed = to_params(wire, body)
        await run_in_threadpool(self._check_context, messages, params)
        if stream:
            events = self._events(wire, messages, params, seed, fault)
            return StreamingResponse(events, media_type="text/event-stream; charset=utf-8")
        result = await run_in_threadpool(self._answer, messages, params)
        return envelope("20000", "OK", result_body(wire, result, seed))

    def _check_context(self, messages: list[Message], params: GenParams) -> None:
        # The real service refuses an over-long prompt before it starts streaming.
        limit = self.backend.capabilities.context_length
        if limit and self.backend.count_tokens(messages) + params.max_tokens > limit:
            raise BadRequest(400, "40003")

    def _answer(self, messages: list[Message], params: GenParams) -> ChatResult:
        try:
            return self.backend.chat(messages, params)
        except ContextLengthError as exc:
            raise BadRequest(400, "40003") from exc
        except ModelRequestError as exc:
            raise BadRequest(400, "40001", exc.message) from exc

    def _events(
        self,
        wire: str,
        messages: list[Message],
        params: GenParams,
        seed: int,
        fault: Fault | None,
    ) -> Iterator[str]:
        """token events, then result (the whole answer and usage), then signal [DONE]."""
        sep = " " if wire == "v1" else ""  # real examples use both "data: x" and "data:x"
        text, final = "", None
        try:
            for chunk in self.backend.stream(messages, params):
                if text and fault is not None and fault.in_stream:
                    code = fault.code or "50000"
                    status = {"code": code, "message": fault.message or MESSAGES.get(code, "")}
                    yield sse("error", {"status": status}, sep)
                    return
                if chunk.delta:
                    text += chunk.delta
                    token: dict[str, Any] = {
                        "message": {"role": "assistant", "content": chunk.delta}
                    }
                    if wire == "v3":
                        token |= {"finishReason": None, "seed": seed, "usage": None}
                    yield sse("token", token, sep)
                if chunk.finish_reason is not None:
                    final = chunk
        except (ContextLengthError, ModelRequestError) as exc:
            code = "40003" if isinstance(exc, ContextLengthError) else "40001"
            yield sse("error", {"status": {"code": code, "message": exc.message}}, sep)
            return
        usage = final.usage if final and final.usage else Usage()
        result = ChatResult(text, usage, (final.finish_reason if final else None) or "stop")
        yield sse("result", result_body(wire, result, seed), sep)
        yield sse("signal", {"data": "[DONE]"}, sep)

    def _tokenize(self, version: str, body: dict[str, Any]) -> Response:
        # Each message's count is what it adds to the conversation's count, so the counts add up
        # to exactly what the backend counts for the whole conversation.
        messages = to_messages(body)
        totals = [self.backend.count_tokens(messages[: i + 1]) for i in range(len(messages))]
        counts = [totals[0]] + [after - before for before, after in pairwise(totals)]
        counted = []
        for message, count in zip(messages, counts, strict=True):
            if version == "v1":
                counted.append({"role": message.role, "content": message.content, "count": count})
            else:
                part = {"type": "text", "text": message.content, "count": count}
                counted.append({"role": message.role, "content": [part]})
        return envelope("20000", "OK", {"messages": counted})


def refuse(fault: Fault | None) -> Response | None:
    """Wait as the fault says, then the error answer it asks for (None: carry on)."""
    if fault is None:
        return None
    time.sleep(fault.delay)
    if not fault.status or fault.in_stream:
        return None
    code = fault.code or f"{fault.status}00"
    response = envelope(code, fault.message or MESSAGES.get(code, ""), http=fault.status)
    if fault.retry_after is not None:
        response.headers["Retry-After"] = fault.retry_after
    return response


def sse(event: str, data: dict[str, Any], sep: str) -> str:
    payload = json.dumps(data, ensure_ascii=False)
    return f"id:{sep}{uuid.uuid4()}\nevent:{sep}{event}\ndata:{sep}{payload}\n\n"


def to_messages(body: dict[str, Any]) -> list[Message]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest(400, "40001", "Invalid parameter: messages")
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(part.get("text", "") for part in content)
        if not content and message.get("role") != "assistant":
            raise BadRequest(400, "40004")
        out.append(Message(message["role"], content or ""))
    return out


def _field(
    body: dict[str, Any], name: str, default: float, low: float, high: float, open_low: bool
) -> Any:
    value = body.get(name, default)
    if (
        not isinstance(value, (int, float))
        or value > high
        or value < low
        or (open_low and value == low)
    ):
        raise BadRequest(400, "40001", f"Invalid parameter: {name}")
    return value


def to_params(wire: str, body: dict[str, Any]) -> tuple[GenParams, int]:
    """CLOVA's fields and defaults (§4.2, §5.2) as GenParams; also the seed to report."""
    v1 = wire == "v1"
    temperature = _field(body, "temperature", 0.5, 0, 1, open_low=v1)
    top_p = _field(body, "topP", 0.8, 0, 1, open_low=True)
    top_k = _field(body, "topK", 0, 0, 128, open_low=False)
    if v1:
        # v1's repeatPenalty is on a 0–10 scale (default 5); map it onto the HF scale.
        penalty = 1 + _field(body, "repeatPenalty", 5.0, 0, 10, open_low=True) / 50
        stop = body.get("stopBefore") or []
        max_tokens = _field(body, "maxTokens", 100, 0, 4096, open_low=True)
    else:
        penalty = _field(body, "repetitionPenalty", 1.1, 0, 2, open_low=True)
        stop = body.get("stop") or []
        if "maxTokens" in body and "maxCompletionTokens" in body:
            raise BadRequest(400, "40001", "Invalid parameter: maxTokens, maxCompletionTokens")
        name = "maxCompletionTokens" if "maxCompletionTokens" in body else "maxTokens"
        max_tokens = _field(body, name, 100, 1, 32768, open_low=False)
    # seed 0 (the default) means "pick one"; the answer reports the seed used.
    seed = int(_field(body, "seed", 0, 0, 4_294_967_295, open_low=False))
    seed = seed or random.randint(1, 4_294_967_295)
    params = GenParams(
        max_tokens=int(max_tokens),
        temperature=float(temperature),
        top_p=float(top_p),
        top_k=int(top_k),
        repetition_penalty=float(penalty),
        stop=tuple(stop),
        seed=seed,
    )
    return params, seed


def result_body(wire: str, result: ChatResult, seed: int) -> dict[str, Any]:
    message = {"role": "assistant", "content": result.content}
    if wire == "v1":
        return {
            "message": message,
            "stopReason": "length" if result.finish_reason == "length" else "stop_before",
            "inputLength": result.usage.input_tokens,
            "outputLength": result.usage.output_tokens,
            "seed": seed,
        }
    usage = result.usage
    return {
        "message": message,
        "finishReason": result.finish_reason,
        "created": int(time.time()),
        "seed": seed,
        "usage": {
            "promptTokens": usage.input_tokens,
            "completionTokens": usage.output_tokens,
            "totalTokens": usage.total_tokens,
        },
    }
