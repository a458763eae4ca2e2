"""``openai:<base_url>#<model>``: any server speaking the OpenAI Chat Completions protocol.

vLLM, Ollama, OpenAI itself and CLOVA Studio's ``/v1/openai`` all take ``POST
{base_url}/chat/completions``; this backend speaks that protocol over httpx (no SDK needed) with
the same retry rules as every remote backend.

Parameters: ``temperature``, ``top_p``, ``max_tokens``, ``stop``, ``seed`` are standard.
``top_k`` and ``repetition_penalty`` are not; vLLM and CLOVA accept them as extra fields, so they
are sent only when they differ from "off" (0 and 1.0) and a plain OpenAI server never sees them.
``max_tokens`` is the field vLLM, Ollama and CLOVA read; OpenAI's reasoning models want
``max_completion_tokens`` instead (option ``max_tokens_field``).

Streams ask for ``stream_options: {"include_usage": true}`` so the last chunk carries the usage;
CLOVA's ``/v1/openai`` refuses that field, so it is left out for ``*.ntruss.com`` hosts (option
``stream_usage``), and a stream that ends without usage gets estimated counts.

``count_tokens`` is an estimate, because the protocol has no tokenizer endpoint: 3 tokens per
message for the chat format plus 3 to prime the answer, one token per 4 ASCII characters and one
per other character (a Hangul syllable is about one token in common multilingual vocabularies).
``capabilities.exact_token_count`` is therefore False.

Options: ``api_key`` (default ``$OPENAI_API_KEY`` or the keys file; none is sent when there is
none), ``timeout``, ``retry``, ``max_retries``, ``max_tokens_field``, ``stream_usage``,
``context_length``, ``extra_body`` (a dict merged into every request body).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
from collections.abc import Iterator, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tunestudio.config import validate_model
from tunestudio.errors import ContextLengthError, ModelError, ModelUnavailableError
from tunestudio.models.base import BaseBackend, Capabilities, StreamChunk
from tunestudio.models.http import (
    DEFAULT_TIMEOUT,
    BearerAuth,
    HttpClient,
    RetryPolicy,
    error_for_status,
)
from tunestudio.models.keys import openai_keys
from tunestudio.models.registry import ModelSpec
from tunestudio.models.sse import SSEEvent
from tunestudio.types import ChatResult, GenParams, Message, Usage

TOKENS_PER_MESSAGE = 3
TOKENS_TO_PRIME_ANSWER = 3
CONTEXT_WORDS = ("context length", "context_length", "maximum context", "too many tokens")


class OpenAIOptions(BaseModel):
    """What ``load_backend("openai:…", **options)`` accepts."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    api_key: SecretStr | None = Field(None, description="Bearer key (OPENAI_API_KEY)")
    timeout: float = Field(DEFAULT_TIMEOUT, gt=0, description="seconds to wait for an answer")
    retry: RetryPolicy | None = Field(None, description="retry policy")
    max_retries: int | None = Field(None, ge=0, description="retries after a failed call")
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    stream_usage: bool | None = Field(None, description="ask for usage in streams (auto)")
    context_length: int | None = Field(None, gt=0, description="the model's context window")
    extra_body: dict[str, Any] = Field(default_factory=dict, description="extra request fields")


def estimate_tokens(text: str) -> int:
    """A rough token count: one per 4 ASCII characters, one per other character."""
    ascii_chars = sum(1 for char in text if char.isascii())
    return math.ceil(ascii_chars / 4) + (len(text) - ascii_chars)


class OpenAIBackend(BaseBackend):
    """A model behind an OpenAI-compatible URL. Safe to call from many threads at once."""

    def __init__(self, name: str, *, model: str, http: HttpClient, options: OpenAIOptions):
        capabilities = Capabilities(
            streaming=True, concurrent=True, context_length=options.context_length
        )
        super().__init__(name, capabilities)
        self.model = model
        self._http = http
        self._options = options
        host = urlsplit(http.base_url).hostname or ""
        self._stream_usage = (
            options.stream_usage
            if options.stream_usage is not None
            else not host.endswith("ntruss.com")
        )

    @property
    def base_url(self) -> str:
        """The server's base URL (``…/v1``)."""
        return self._http.base_url

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        """Answer one conversation with one POST to ``/chat/completions``."""
        data = self._http.post_json("/chat/completions", self.request_body(messages, params))
        choices = data.get("choices") if isinstance(data, dict) else None
        if not choices:
            raise ModelUnavailableError(
                "the server answered without choices",
                where=self.name,
                hint="check that the base URL points at an OpenAI-compatible API (often …/v1)",
            )
        choice = choices[0]
        content = (choice.get("message") or {}).get("content") or ""
        return ChatResult(
            content=content,
            usage=self._usage(data.get("usage"), messages, content),
            finish_reason=choice.get("finish_reason") or "stop",
            model=self.name,
        )

    def stream(
        self, messages: Sequence[Message], params: GenParams = GenParams()
    ) -> Iterator[StreamChunk]:
        """Answer piece by piece from ``data:`` chunks until ``[DONE]``."""
        events = self._http.stream_sse(
            "/chat/completions", self.request_body(messages, params, stream=True)
        )
        with contextlib.closing(events):
            yield from self._chunks(events, messages)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """An estimate (see the module docs): the protocol has no tokenizer endpoint."""
        text_tokens = sum(estimate_tokens(m.content) for m in messages)
        return text_tokens + TOKENS_PER_MESSAGE * len(messages) + TOKENS_TO_PRIME_ANSWER

    def close(self) -> None:
        """Close the connection pool; safe to call more than once."""
        self._http.close()

    def request_body(
        self, messages: Sequence[Message], params: GenParams, *, stream: bool = False
    ) -> dict[str, Any]:
        """The JSON body this backend sends for one call."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [m.to_dict() for m in messages],
            "temperature": params.temperature,
            "top_p": params.top_p,
            self._options.max_tokens_field: params.max_tokens,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        if params.top_k > 0:
            body["top_k"] = params.top_k
        if params.repetition_penalty != 1.0:
            body["repetition_penalty"] = params.repetition_penalty
        if stream:
            body["stream"] = True
            if self._stream_usage:
                body["stream_options"] = {"include_usage": True}
        return {**body, **self._options.extra_body}

    def _usage(self, usage: Any, messages: Sequence[Message], content: str) -> Usage:
        if isinstance(usage, dict) and "prompt_tokens" in usage:
            return Usage(int(usage["prompt_tokens"]), int(usage.get("completion_tokens") or 0))
        return Usage(self.count_tokens(messages), estimate_tokens(content))

    def _chunks(
        self, events: Iterator[SSEEvent], messages: Sequence[Message]
    ) -> Iterator[StreamChunk]:
        finish, usage, text = None, None, []
        for event in events:
            if event.data.strip() == "[DONE]":
                break
            data = event.json()
            if isinstance(data.get("error"), dict):
                raise self._stream_error(data["error"])
            usage = data.get("usage") or usage
            for choice in data.get("choices") or []:
                delta = (choice.get("delta") or {}).get("content") or ""
                finish = choice.get("finish_reason") or finish
                if delta:
                    text.append(delta)
                    yield StreamChunk(delta)
        if finish is None:
            raise ModelUnavailableError(
                "the stream ended before the server said why the answer stopped",
                where=self.name,
                hint="the answer was cut short; run the request again",
            )
        yield StreamChunk(
            "", finish_reason=finish, usage=self._usage(usage, messages, "".join(text))
        )

    def _stream_error(self, error: dict[str, Any]) -> ModelError:
        code = error.get("code")
        status = code if isinstance(code, int) else 500
        return openai_error(status, str(error.get("message") or error), code, where=self.name)


def openai_error(status: int, message: str, code: object, *, where: str) -> ModelError:
    """The typed error for a failed OpenAI-compatible call."""
    text = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    if status == 400 and (
        code == "context_length_exceeded" or any(w in message.lower() for w in CONTEXT_WORDS)
    ):
        return ContextLengthError(
            text, where=where, hint="shorten the conversation or lower max_tokens"
        )
    hints = {
        "auth": "set OPENAI_API_KEY (or the api_key option, or openai.api_key in the keys file) "
        "to a key this server accepts",
        "rate": "the server is limiting requests; send fewer at once (a lower --concurrency)",
        "unavailable": "the server failed or is overloaded; check that it is healthy",
        "not_found": "check the base URL (it usually ends in /v1) and the model name; "
        "GET <base_url>/models lists the models the server has",
        "request": "the server refused the request; its message says which field is wrong",
    }
    return error_for_status(status, text, where=where, hints=hints)


def _error_message(body: bytes) -> tuple[str, object]:
    """The message and code of an error body: OpenAI, old vLLM, FastAPI or plain text."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace").strip()[:200], None
    if not isinstance(data, dict):
        return str(data)[:200], None
    part: dict[str, Any] = data["error"] if isinstance(data.get("error"), dict) else data
    message = part.get("message") or part.get("detail") or part.get("error") or ""
    return str(message)[:500], part.get("code")


def load_openai(spec: ModelSpec, **options: Any) -> OpenAIBackend:
    """Load ``openai:<base_url>#<model>``; see the module docs for options.

    Options set to None count as not given; an unknown option is a ConfigError naming it.
    """
    options = {key: value for key, value in options.items() if value is not None}
    name = spec.raw or f"openai:{spec.target}#{spec.model}"
    opts = validate_model(OpenAIOptions, options, f"options of {name}")
    keys = openai_keys(options)
    policy = opts.retry or RetryPolicy()
    if opts.max_retries is not None:
        policy = dataclasses.replace(policy, max_retries=opts.max_retries)

    def error_mapper(response: httpx.Response) -> ModelError:
        message, code = _error_message(response.content)
        return openai_error(response.status_code, message, code, where=name)

    http = HttpClient(
        spec.target,
        where=name,
        error_mapper=error_mapper,
        auth=BearerAuth(keys.api_key) if keys.api_key else None,
        timeout=opts.timeout,
        policy=policy,
    )
    return OpenAIBackend(name, model=spec.model or "", http=http, options=opts)
