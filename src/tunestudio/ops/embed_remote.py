"""Embedders over HTTP: CLOVA Studio's embedding API and any OpenAI-compatible ``/embeddings``.

``clova-embed:<model>`` — ``POST {host}/v1/api-tools/embedding/v2`` (bge-m3, 1024-d) for
``clova-embed:v2``, ``/v1/api-tools/embedding/{model}`` for the v1 models ``clir-emb-dolphin``
and ``clir-sts-dolphin``. One text per call (the API takes no list), so a batch is sent as
``concurrency`` calls at a time. Credentials, hosts and retries are the chat backend's (the
same keys file, ``CLOVASTUDIO_*`` variables and error mapping: see
:mod:`tunestudio.models.clova`). ``count_tokens`` asks ``…/embedding/v2/tokenize`` (v2) or
reads ``inputTokens`` of an embedding call (v1, which has no tokenizer endpoint).

``openai:<base_url>#<model>`` — ``POST {base_url}/embeddings`` with ``encoding_format:
float``, up to ``batch_size`` texts per call. The protocol has no tokenizer, so
``count_tokens`` is the same estimate the OpenAI chat backend uses.

Both learn their vector length from the first answer (``dimensions`` asks once if nothing
was embedded yet) and L2-normalise what comes back, so vectors are unit length even from a
server that does not normalise.
"""

from __future__ import annotations

import dataclasses
import math
import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tunestudio.config import validate_model
from tunestudio.errors import ModelError, ModelUnavailableError
from tunestudio.models.clova import DEFAULT_BASE_URL
from tunestudio.models.clova_auth import DEFAULT_TOKEN_URL, AccessTokenAuth, build_auth
from tunestudio.models.clova_errors import clova_error, error_for_code
from tunestudio.models.http import DEFAULT_TIMEOUT, BearerAuth, HttpClient, RetryPolicy
from tunestudio.models.keys import clova_keys, openai_keys
from tunestudio.models.openai_compat import _error_message, estimate_tokens, openai_error

CLOVA_EMBED_MODELS = ("v2", "clir-emb-dolphin", "clir-sts-dolphin")
PROBE_TEXT = "dimensions"  # embedded once when the length is asked before any embedding


class RemoteOptions(BaseModel):
    """Options both remote embedders take."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    api_key: SecretStr | None = Field(None, description="Bearer key")
    timeout: float = Field(DEFAULT_TIMEOUT, gt=0, description="seconds to wait for an answer")
    max_retries: int | None = Field(None, ge=0, description="retries after a failed call")
    retry: RetryPolicy | None = Field(None, description="retry policy")


class ClovaEmbedOptions(RemoteOptions):
    """What ``load_embedder("clova-embed:…", **options)`` accepts."""

    base_url: str | None = Field(None, description="API host (CLOVASTUDIO_BASE_URL)")
    app: Literal["testapp", "serviceapp"] | None = Field(None, description="legacy path prefix")
    legacy_api_key: SecretStr | None = Field(None, description="X-NCP-CLOVASTUDIO-API-KEY")
    apigw_api_key: SecretStr | None = Field(None, description="X-NCP-APIGW-API-KEY")
    client_id: SecretStr | None = Field(None, description="access-token flow client id")
    client_secret: SecretStr | None = Field(None, description="access-token flow secret")
    token_url: str | None = Field(None, description="access-token endpoint")
    concurrency: int = Field(4, ge=1, le=64, description="calls in flight for a batch")


class OpenAIEmbedOptions(RemoteOptions):
    """What ``load_embedder("openai:…", **options)`` accepts."""

    batch_size: int = Field(64, ge=1, description="texts per request")
    dimensions: int | None = Field(None, gt=0, description="ask for shorter vectors (OpenAI v3)")


class _RemoteEmbedder(ABC):
    """The shared part: the name, the HTTP client, the learned length, normalising."""

    def __init__(self, name: str, http: HttpClient) -> None:
        self._name = name
        self._http = http
        self._dimensions: int | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimensions(self) -> int:
        if self._dimensions is None:
            self.embed([PROBE_TEXT])
        assert self._dimensions is not None
        return self._dimensions

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text, in order."""

    def close(self) -> None:
        """Close the connection pool; safe to call more than once."""
        self._http.close()

    def _unit(self, vector: Any) -> list[float]:
        """The vector, checked and L2-normalised; its length is learned from the first one."""
        if not isinstance(vector, list) or not vector:
            raise ModelUnavailableError(
                "the server answered without an embedding vector",
                where=self._name,
                hint="check that the base URL is an embedding API",
            )
        if self._dimensions is None:
            self._dimensions = len(vector)
        elif len(vector) != self._dimensions:
            raise ModelUnavailableError(
                f"the server sent a {len(vector)}-long vector after {self._dimensions}-long ones",
                where=self._name,
                hint="the model behind the URL changed; load the embedder again",
            )
        norm = math.sqrt(math.fsum(float(x) * float(x) for x in vector))
        return [float(x) / norm for x in vector] if norm else [float(x) for x in vector]


class ClovaEmbedder(_RemoteEmbedder):
    """CLOVA Studio's embedding API: one text per call, ``concurrency`` calls at a time."""

    def __init__(
        self,
        name: str,
        http: HttpClient,
        *,
        path: str,
        tokenize_path: str | None,
        auth: httpx.Auth,
        auth_description: str,
        concurrency: int,
    ) -> None:
        super().__init__(name, http)
        self._path = path
        self._tokenize_path = tokenize_path
        self._auth = auth
        self._auth_description = auth_description
        self._concurrency = concurrency

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text, in order."""
        return [self._unit(result["embedding"]) for result in self._each(self._path, texts)]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text by CLOVA's own count (the tokenizer, or an embedding call for v1)."""
        if self._tokenize_path is None:
            return [int(result["inputTokens"]) for result in self._each(self._path, texts)]
        return [int(result["numTokens"]) for result in self._each(self._tokenize_path, texts)]

    def close(self) -> None:
        """Close the connection pools; safe to call more than once."""
        super().close()
        if isinstance(self._auth, AccessTokenAuth):
            self._auth.close()

    def _each(self, path: str, texts: Sequence[str]) -> list[dict[str, Any]]:
        """The ``result`` of one call per text; calls overlap, results keep the texts' order."""

        def call(text: str) -> dict[str, Any]:
            headers = {"X-NCP-CLOVASTUDIO-REQUEST-ID": uuid.uuid4().hex}
            data = self._http.post_json(path, {"text": text}, headers=headers, check=self._check)
            result: dict[str, Any] = data["result"]
            return result

        if len(texts) <= 1:
            return [call(text) for text in texts]
        with ThreadPoolExecutor(min(self._concurrency, len(texts))) as pool:
            return list(pool.map(call, texts))

    def _check(self, data: Any) -> None:
        """Raise the typed error when the envelope reports a failure despite HTTP 200."""
        status = data.get("status") if isinstance(data, dict) else None
        if isinstance(status, dict) and not str(status.get("code", "2")).startswith("2"):
            code = str(status["code"])
            raise error_for_code(
                code,
                str(status.get("message", "")),
                http_status=int(code[:3]) if code[:3].isdigit() else 500,
                where=self._name,
                auth=self._auth_description,
            )
        if not isinstance(data, dict) or not isinstance(data.get("result"), dict):
            raise ModelUnavailableError(
                "CLOVA Studio answered without a result",
                where=self._name,
                hint="try again; if it persists, check the base URL",
            )


class OpenAIEmbedder(_RemoteEmbedder):
    """``POST {base_url}/embeddings``, ``batch_size`` texts per request."""

    def __init__(self, name: str, http: HttpClient, *, model: str, options: OpenAIEmbedOptions):
        super().__init__(name, http)
        self._model = model
        self._options = options

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text, in order (the answer's ``index`` decides)."""
        size = self._options.batch_size
        vectors: list[list[float]] = []
        for start in range(0, len(texts), size):
            vectors.extend(self._embed_batch(list(texts[start : start + size])))
        return vectors

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """An estimate (the protocol has no tokenizer): see ``openai_compat.estimate_tokens``."""
        return [estimate_tokens(text) for text in texts]

    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        body: dict[str, Any] = {"model": self._model, "input": texts, "encoding_format": "float"}
        if self._options.dimensions is not None:
            body["dimensions"] = self._options.dimensions
        data = self._http.post_json("/embeddings", body)
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list) or len(items) != len(texts):
            raise ModelUnavailableError(
                f"asked for {len(texts)} embeddings, the server sent "
                f"{len(items) if isinstance(items, list) else 'none'}",
                where=self._name,
                hint="check that the base URL is an OpenAI-compatible server with /embeddings",
            )
        ordered = sorted(items, key=lambda item: int(item.get("index", 0)))
        return [self._unit(item.get("embedding")) for item in ordered]


def load_clova_embedder(name: str, model: str, **options: Any) -> ClovaEmbedder:
    """``clova-embed:<v2|clir-emb-dolphin|clir-sts-dolphin>`` (see the module docs)."""
    if model not in CLOVA_EMBED_MODELS:
        raise ModelError(
            f"{name}: CLOVA Studio has no embedding model {model!r}",
            where=name,
            hint="use clova-embed:v2 (bge-m3), clova-embed:clir-emb-dolphin or "
            "clova-embed:clir-sts-dolphin",
        )
    opts = validate_model(ClovaEmbedOptions, options, f"options of {name}")
    token_url = opts.token_url or os.environ.get("CLOVASTUDIO_TOKEN_URL") or DEFAULT_TOKEN_URL
    auth, described = build_auth(
        clova_keys(options), token_url=token_url, where=name, timeout=opts.timeout
    )
    token_host = token_url if isinstance(auth, AccessTokenAuth) else None
    http = _client(
        _clova_base_url(opts.base_url, token_host),
        name,
        lambda response: clova_error(response, where=name, auth=described),
        auth,
        opts,
    )
    prefix = f"/{opts.app}" if opts.app else ""
    path = f"{prefix}/v1/api-tools/embedding/{model}"
    tokenize = f"{path}/tokenize" if model == "v2" else None
    return ClovaEmbedder(
        name,
        http,
        path=path,
        tokenize_path=tokenize,
        auth=auth,
        auth_description=described,
        concurrency=opts.concurrency,
    )


def load_openai_embedder(name: str, base_url: str, model: str, **options: Any) -> OpenAIEmbedder:
    """``openai:<base_url>#<model>`` as an embedder (see the module docs)."""
    opts = validate_model(OpenAIEmbedOptions, options, f"options of {name}")
    key = openai_keys(options).api_key

    def error_mapper(response: httpx.Response) -> ModelError:
        message, code = _error_message(response.content)
        return openai_error(response.status_code, message, code, where=name)

    http = _client(base_url, name, error_mapper, BearerAuth(key) if key else None, opts)
    return OpenAIEmbedder(name, http, model=model, options=opts)


def _client(
    base_url: str,
    name: str,
    error_mapper: Callable[[httpx.Response], ModelError],
    auth: httpx.Auth | None,
    opts: RemoteOptions,
) -> HttpClient:
    policy = opts.retry or RetryPolicy()
    if opts.max_retries is not None:
        policy = dataclasses.replace(policy, max_retries=opts.max_retries)
    return HttpClient(
        base_url,
        where=name,
        error_mapper=error_mapper,
        auth=auth,
        timeout=opts.timeout,
        policy=policy,
    )


def _clova_base_url(option: str | None, token_url: str | None) -> str:
    """The option, else ``$CLOVASTUDIO_BASE_URL``, else the token host, else the default."""
    if option or os.environ.get("CLOVASTUDIO_BASE_URL"):
        return option or os.environ["CLOVASTUDIO_BASE_URL"]
    if token_url:  # tokens from api-hyperclova are good on that host only
        parts = httpx.URL(token_url)
        return f"{parts.scheme}://{parts.netloc.decode()}"
    return DEFAULT_BASE_URL
