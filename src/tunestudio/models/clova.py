"""``clova:<model>`` and ``clova-task:<taskId>``: the CLOVA Studio REST API.

``clova:HCX-003`` and ``clova:HCX-DASH-001`` use chat v1 (``/v1/chat-completions/{model}``);
HCX-005, HCX-DASH-002, HCX-007 and any newer name use chat v3. ``clova-task:<taskId>`` calls a
tuned model at ``/v2/tasks/{taskId}/chat-completions`` with the v1 body, as CLOVA Studio's own
"코드 보기" does. Streaming is real (SSE ``token``/``result``/``error``/``signal`` events), and
``count_tokens`` asks CLOVA's chat tokenizer (``/{v1|v3}/api-tools/chat-tokenize/{model}``),
summing its per-message counts.

Options (keyword arguments of ``load_backend``):

* ``base_url`` — API host; default ``$CLOVASTUDIO_BASE_URL``, else
  ``https://clovastudio.stream.ntruss.com`` (with the access-token flow: the token host).
* ``app`` — ``testapp`` or ``serviceapp``: the path prefix keys from before 2025-07 need.
* ``api_version`` — ``v1``/``v3`` for ``clova:``; ``v1``/``v2``/``v3`` for ``clova-task:``
  (default ``v2``; a ``v3`` task takes the v3 body).
* credentials — ``api_key``, ``legacy_api_key`` + ``apigw_api_key``, ``client_id`` +
  ``client_secret``; by default from the environment or the keys file
  (see :mod:`tunestudio.models.keys` for the variable names).
* ``token_url`` — the access-token endpoint; default ``$CLOVASTUDIO_TOKEN_URL``, else
  ``https://api-hyperclova.navercorp.com/v1/auth/token``.
* ``tokenizer_model`` — whose chat tokenizer counts tokens for a task (default HCX-003;
  HCX-005 for v3 tasks).
* ``thinking_effort`` — HCX-007 only: ``none``, ``low``, ``medium`` or ``high``; ``max_tokens``
  then bounds reasoning and answer together.
* ``request_id`` — a fixed ``X-NCP-CLOVASTUDIO-REQUEST-ID``; by default each call gets a fresh
  uuid4 hex (the same one across that call's retries, so CLOVA support can trace it).
* ``timeout`` (seconds, default 120), ``retry`` (a :class:`RetryPolicy`), ``max_retries``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import uuid
from collections.abc import Iterator, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tunestudio.config import validate_model
from tunestudio.errors import ConfigError, ModelUnavailableError
from tunestudio.models.base import BaseBackend, Capabilities, StreamChunk
from tunestudio.models.clova_auth import DEFAULT_TOKEN_URL, AccessTokenAuth, build_auth
from tunestudio.models.clova_errors import clova_error, error_for_code
from tunestudio.models.clova_wire import (
    api_version_for,
    chat_result,
    content_of,
    context_length,
    count_from_tokenize,
    request_body,
)
from tunestudio.models.http import DEFAULT_TIMEOUT, HttpClient, RetryPolicy
from tunestudio.models.keys import clova_keys
from tunestudio.models.registry import ModelSpec
from tunestudio.models.sse import SSEEvent
from tunestudio.types import ChatResult, GenParams, Message

DEFAULT_BASE_URL = "https://clovastudio.stream.ntruss.com"


class ClovaOptions(BaseModel):
    """What ``load_backend("clova:…", **options)`` accepts."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    base_url: str | None = Field(None, description="API host (CLOVASTUDIO_BASE_URL)")
    app: Literal["testapp", "serviceapp"] | None = Field(None, description="legacy path prefix")
    api_version: Literal["v1", "v2", "v3"] | None = Field(None, description="chat API version")
    api_key: SecretStr | None = Field(None, description="Bearer key nv-…")
    legacy_api_key: SecretStr | None = Field(None, description="X-NCP-CLOVASTUDIO-API-KEY")
    apigw_api_key: SecretStr | None = Field(None, description="X-NCP-APIGW-API-KEY")
    client_id: SecretStr | None = Field(None, description="access-token flow client id")
    client_secret: SecretStr | None = Field(None, description="access-token flow secret")
    token_url: str | None = Field(None, description="access-token endpoint")
    tokenizer_model: str | None = Field(None, description="chat tokenizer for a task")
    thinking_effort: Literal["none", "low", "medium", "high"] | None = None
    request_id: str | None = Field(None, description="fixed X-NCP-CLOVASTUDIO-REQUEST-ID")
    timeout: float = Field(DEFAULT_TIMEOUT, gt=0, description="seconds to wait for an answer")
    retry: RetryPolicy | None = Field(None, description="retry policy")
    max_retries: int | None = Field(None, ge=0, description="retries after a failed call")


class ClovaBackend(BaseBackend):
    """A CLOVA Studio chat model or tuned task. Safe to call from many threads at once."""

    def __init__(
        self,
        name: str,
        *,
        model: str,
        wire: str,
        chat_path: str,
        tokenize_path: str,
        http: HttpClient,
        auth: httpx.Auth,
        auth_description: str,
        options: ClovaOptions,
    ):
        capabilities = Capabilities(
            streaming=True,
            concurrent=True,
            exact_token_count=True,
            context_length=context_length(model),
        )
        super().__init__(name, capabilities)
        self.model = model
        self.wire = wire  # "v1" or "v3": the body and answer format (a /v2 task speaks v1)
        self._chat_path = chat_path
        self._tokenize_path = tokenize_path
        self._http = http
        self._auth = auth
        self._auth_description = auth_description
        self._options = options

    @property
    def base_url(self) -> str:
        """The API host this backend calls."""
        return self._http.base_url

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        """Answer one conversation with one POST."""
        data = self._http.post_json(
            self._chat_path,
            self._body(messages, params),
            headers=self._headers(),
            check=self._check,
        )
        return chat_result(self.wire, data["result"], self.name)

    def stream(
        self, messages: Sequence[Message], params: GenParams = GenParams()
    ) -> Iterator[StreamChunk]:
        """Answer piece by piece from the SSE stream; the last chunk has the usage."""
        events = self._http.stream_sse(
            self._chat_path, self._body(messages, params), headers=self._headers()
        )
        with contextlib.closing(events):
            yield from self._chunks(events)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Tokens of these messages by CLOVA's own chat tokenizer (the sum of its counts)."""
        body = {"messages": [m.to_dict() for m in messages]}
        data = self._http.post_json(
            self._tokenize_path, body, headers=self._headers(), check=self._check
        )
        return count_from_tokenize(data["result"])

    def close(self) -> None:
        """Close the connection pools; safe to call more than once."""
        self._http.close()
        if isinstance(self._auth, AccessTokenAuth):
            self._auth.close()

    def _body(self, messages: Sequence[Message], params: GenParams) -> dict[str, Any]:
        return request_body(
            self.wire,
            messages,
            params,
            model=self.model,
            where=self.name,
            thinking_effort=self._options.thinking_effort,
        )

    def _headers(self) -> dict[str, str]:
        return {"X-NCP-CLOVASTUDIO-REQUEST-ID": self._options.request_id or uuid.uuid4().hex}

    def _check(self, data: Any) -> None:
        """Raise the typed error when the envelope reports a failure despite HTTP 200."""
        status = data.get("status") if isinstance(data, dict) else None
        if isinstance(status, dict) and not str(status.get("code", "2")).startswith("2"):
            raise self._code_error(str(status["code"]), str(status.get("message", "")))
        if not isinstance(data, dict) or not isinstance(data.get("result"), dict):
            raise ModelUnavailableError(
                "CLOVA Studio answered without a result",
                where=self.name,
                hint="try again; if it persists, check the base URL",
            )

    def _code_error(self, code: str, message: str) -> Exception:
        status = int(code[:3]) if len(code) == 5 and code.isdigit() else 500
        return error_for_code(
            code, message, http_status=status, where=self.name, auth=self._auth_description
        )

    def _chunks(self, events: Iterator[SSEEvent]) -> Iterator[StreamChunk]:
        """token events → deltas; the result event → the final chunk; error → typed error."""
        sent = ""
        for event in events:
            if event.event == "token":
                delta = content_of(event.json())
                if delta:
                    sent += delta
                    yield StreamChunk(delta)
            elif event.event == "result":
                result = chat_result(self.wire, event.json(), self.name)
                # The result repeats the whole answer; pass on any part no token event carried.
                rest = result.content[len(sent) :] if result.content.startswith(sent) else ""
                yield StreamChunk(rest, finish_reason=result.finish_reason, usage=result.usage)
                for _ in events:  # drain to the end (the signal) so the connection is reused
                    pass
                return
            elif event.event == "error":
                status = event.json().get("status") or {}
                raise self._code_error(str(status.get("code", "")), str(status.get("message", "")))
            elif event.event == "signal":
                break
        raise ModelUnavailableError(
            "the stream ended before CLOVA Studio sent the result",
            where=self.name,
            hint="the answer was cut short; run the request again",
        )


def load_clova(spec: ModelSpec, **options: Any) -> ClovaBackend:
    """Load ``clova:<model>`` or ``clova-task:<taskId>``; see the module docs for options.

    Options set to None count as not given; an unknown option is a ConfigError naming it.
    """
    options = {key: value for key, value in options.items() if value is not None}
    name = spec.raw or f"{spec.kind}:{spec.target}"
    opts = validate_model(ClovaOptions, options, f"options of {name}")
    keys = clova_keys(options)
    token_url = opts.token_url or os.environ.get("CLOVASTUDIO_TOKEN_URL") or DEFAULT_TOKEN_URL
    auth, auth_description = build_auth(keys, token_url=token_url, where=name, timeout=opts.timeout)
    model, wire, chat_path, tokenize_path = _paths(spec, opts, name)
    policy = opts.retry or RetryPolicy()
    if opts.max_retries is not None:
        policy = dataclasses.replace(policy, max_retries=opts.max_retries)
    http = HttpClient(
        _base_url(opts, token_url if isinstance(auth, AccessTokenAuth) else None),
        where=name,
        error_mapper=lambda response: clova_error(response, where=name, auth=auth_description),
        auth=auth,
        timeout=opts.timeout,
        policy=policy,
    )
    return ClovaBackend(
        name,
        model=model,
        wire=wire,
        chat_path=chat_path,
        tokenize_path=tokenize_path,
        http=http,
        auth=auth,
        auth_description=auth_description,
        options=opts,
    )


def _paths(spec: ModelSpec, opts: ClovaOptions, name: str) -> tuple[str, str, str, str]:
    """(model, wire format, chat path, tokenizer path) for a spec."""
    prefix = f"/{opts.app}" if opts.app else ""
    if spec.kind == "clova-task":
        version = opts.api_version or "v2"
        wire = "v3" if version == "v3" else "v1"
        tokenizer = opts.tokenizer_model or ("HCX-005" if wire == "v3" else "HCX-003")
        chat = f"{prefix}/{version}/tasks/{spec.target}/chat-completions"
        return spec.target, wire, chat, f"{prefix}/{wire}/api-tools/chat-tokenize/{tokenizer}"
    if opts.api_version == "v2":
        raise ConfigError(
            "api_version v2 exists only for tuned tasks",
            where=f"options of {name}",
            hint="use api_version v1 (HCX-003, HCX-DASH-001) or v3 (HCX-005 and newer), "
            "or name a tuned task as clova-task:<taskId>",
        )
    wire = api_version_for(spec.target, opts.api_version)
    chat = f"{prefix}/{wire}/chat-completions/{spec.target}"
    return spec.target, wire, chat, f"{prefix}/{wire}/api-tools/chat-tokenize/{spec.target}"


def _base_url(opts: ClovaOptions, token_url: str | None) -> str:
    if opts.base_url or os.environ.get("CLOVASTUDIO_BASE_URL"):
        return opts.base_url or os.environ["CLOVASTUDIO_BASE_URL"]
    if token_url:  # tokens from api-hyperclova are good on that host
        parts = urlsplit(token_url)
        return f"{parts.scheme}://{parts.netloc}"
    return DEFAULT_BASE_URL
