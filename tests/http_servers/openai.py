"""An OpenAI-compatible server (the vLLM flavour) answering with any Backend.

``POST /v1/chat/completions`` (JSON or SSE ``data:`` chunks ending ``data: [DONE]``, usage in a
last chunk when ``stream_options.include_usage`` is set) and ``GET /v1/models``. Errors use
OpenAI's ``{"error": {...}}`` body; an over-long prompt gets vLLM's "maximum context length"
message. ``latency`` adds a fixed delay to every call (for concurrency benchmarks); faults
scripted on ``faults`` are applied to chat calls.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from tests.http_servers.live import Fault, Faults, Recorder, Seen
from tunestudio.errors import ContextLengthError, ModelRequestError
from tunestudio.models.base import Backend
from tunestudio.types import ChatResult, GenParams, Message


class OpenAIError(Exception):
    def __init__(self, status: int, message: str, code: Any = None, kind: str = "BadRequestError"):
        super().__init__(message)
        self.status, self.code, self.kind = status, code if code is not None else status, kind

    def response(self) -> JSONResponse:
        error = {"message": str(self), "type": self.kind, "param": None, "code": self.code}
        return JSONResponse({"error": error}, status_code=self.status)


class OpenAIServer:
    """The FastAPI app in ``.app`` serves ``backend`` under the name ``model``."""

    def __init__(
        self,
        backend: Backend,
        *,
        model: str = "fixture",
        api_key: str | None = None,
        latency: float = 0.0,
    ):
        self.backend = backend
        self.model = model
        self.api_key = api_key
        self.latency = latency
        self.faults = Faults()
        self.seen = Recorder()
        self.app = FastAPI()
        self.app.add_api_route("/v1/chat/completions", self._chat, methods=["POST"])
        self.app.add_api_route("/v1/models", self._models, methods=["GET"])

    async def _models(self) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": self.model, "object": "model"}]}

    async def _chat(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return OpenAIError(400, "the body is not JSON").response()
        self.seen.add(Seen("POST", request.url.path, dict(request.headers), body))
        try:
            self._authorize(request.headers.get("authorization", ""))
            fault = self.faults.take()
            if refusal := await run_in_threadpool(self._delay_or_fault, fault):
                return refusal
            if body.get("model") != self.model:
                raise OpenAIError(404, f"The model `{body.get('model')}` does not exist.")
            messages = [Message(m["role"], m["content"]) for m in body.get("messages", [])]
            params = to_params(body)
            await run_in_threadpool(self._check_context, messages, params)
            if body.get("stream"):
                usage = bool((body.get("stream_options") or {}).get("include_usage"))
                chunks = self._chunks(messages, params, usage, fault)
                return StreamingResponse(chunks, media_type="text/event-stream")
            result = await run_in_threadpool(self._answer, messages, params)
            return JSONResponse(completion(self.model, result))
        except OpenAIError as exc:
            return exc.response()

    def _authorize(self, header: str) -> None:
        if self.api_key is not None and header != f"Bearer {self.api_key}":
            raise OpenAIError(
                401, "Incorrect API key provided.", "invalid_api_key", "invalid_request_error"
            )

    def _delay_or_fault(self, fault: Fault | None) -> Response | None:
        time.sleep(self.latency)
        if fault is None:
            return None
        time.sleep(fault.delay)
        if not fault.status or fault.in_stream:
            return None
        response = OpenAIError(
            fault.status, fault.message or "injected fault", fault.code
        ).response()
        if fault.retry_after is not None:
            response.headers["Retry-After"] = fault.retry_after
        return response

    def _check_context(self, messages: list[Message], params: GenParams) -> None:
        limit = self.backend.capabilities.context_length
        prompt = self.backend.count_tokens(messages)
        if limit and prompt + params.max_tokens > limit:
            raise OpenAIError(
                400,
                f"This model's maximum context length is {limit} tokens. However, you requested "
                f"{prompt + params.max_tokens} tokens ({prompt} in the messages, "
                f"{params.max_tokens} in the completion). Please reduce the length of the "
                "messages or completion.",
            )

    def _answer(self, messages: list[Message], params: GenParams) -> ChatResult:
        try:
            return self.backend.chat(messages, params)
        except ContextLengthError as exc:
            raise OpenAIError(400, exc.message) from exc
        except ModelRequestError as exc:
            raise OpenAIError(400, exc.message) from exc

    def _chunks(
        self, messages: list[Message], params: GenParams, usage: bool, fault: Fault | None
    ) -> Iterator[str]:
        """A role chunk, content deltas, the finish chunk, the usage chunk, then [DONE]."""
        head = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model,
        }

        def event(choices: list[dict[str, Any]], **extra: Any) -> str:
            data = {**head, "choices": choices, **extra}
            return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

        def choice(delta: dict[str, str], finish: str | None = None) -> list[dict[str, Any]]:
            return [{"index": 0, "delta": delta, "finish_reason": finish}]

        yield event(choice({"role": "assistant", "content": ""}))
        sent = False
        for piece in self.backend.stream(messages, params):
            if sent and fault is not None and fault.in_stream:  # vLLM reports late errors so
                error = {"message": fault.message or "generation failed", "code": fault.status}
                yield f"data: {json.dumps({'error': error})}\n\n"
                return
            if piece.delta:
                sent = True
                yield event(choice({"content": piece.delta}))
            if piece.finish_reason is not None:
                yield event(choice({}, piece.finish_reason))
                if usage and piece.usage is not None:
                    counts = usage_body(piece.usage.input_tokens, piece.usage.output_tokens)
                    yield event([], usage=counts)
        yield "data: [DONE]\n\n"


def to_params(body: dict[str, Any]) -> GenParams:
    """OpenAI fields (and vLLM's extras) as GenParams; defaults as OpenAI documents them."""
    stop = body.get("stop") or ()
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or 256
    top_k = body.get("top_k", 0)
    return GenParams(
        max_tokens=int(max_tokens),
        temperature=float(body.get("temperature", 1.0)),
        top_p=float(body.get("top_p", 1.0)),
        top_k=0 if top_k in (None, -1) else int(top_k),
        repetition_penalty=float(body.get("repetition_penalty", 1.0)),
        stop=(stop,) if isinstance(stop, str) else tuple(stop),
        seed=body.get("seed"),
    )


def usage_body(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def completion(model: str, result: ChatResult) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.content},
                "finish_reason": result.finish_reason,
            }
        ],
        "usage": usage_body(result.usage.input_tokens, result.usage.output_tokens),
    }
