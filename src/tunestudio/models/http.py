"""The HTTP client every remote backend shares: one ``httpx.Client``, timeouts and retries.

What is retried: HTTP 429, 408 and 5xx answers (more exactly, any answer the backend's error
mapper turns into :class:`ModelRateLimitError` or :class:`ModelUnavailableError`), timeouts and
connection errors. Everything else (a bad request, a refused key, a prompt that is too long)
fails at once, because sending it again cannot help.

How long to wait: the server's ``Retry-After`` when it sends one (seconds or an HTTP date),
otherwise exponential backoff with "full jitter" (a random wait between 0 and
``base_delay * 2**attempt``, capped at ``max_delay``), which spreads the retries of many
concurrent callers instead of having them hit the server again in lockstep. A call gives up
after ``max_retries`` retries or when waiting any longer would pass ``max_wait`` seconds in
total, and the error it raises says so.

Credentials travel in headers set by an ``httpx.Auth``; nothing here logs headers or bodies.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr

from tunestudio.errors import (
    ModelAuthError,
    ModelError,
    ModelRateLimitError,
    ModelRequestError,
    ModelUnavailableError,
)
from tunestudio.models.sse import SSEEvent, iter_sse

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_TIMEOUT = 120.0  # seconds for one answer: long generations on a busy server take a while
CONNECT_TIMEOUT = 10.0  # an unreachable host should fail fast and be retried

# 5xx answers that say the server cannot do this at all, rather than cannot do it now
NOT_RETRIED_5XX = (501, 505)

# Turns a failed response (body already read) into the error to raise or retry.
ErrorMapper = Callable[[httpx.Response], ModelError]


def _full_jitter(cap: float) -> float:
    return random.uniform(0.0, cap)


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before sending a failed request again.

    ``sleep`` and ``jitter`` are injectable so tests can measure the waits without waiting.
    """

    max_retries: int = 4
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_wait: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    jitter: Callable[[float], float] = field(default=_full_jitter, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0 = the first try)."""
        if retry_after is not None:
            return max(0.0, retry_after)
        return self.jitter(min(self.max_delay, self.base_delay * 2**attempt))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def error_for_status(
    status: int,
    message: str,
    *,
    where: str,
    retry_after: float | None = None,
    hints: Mapping[str, str],
) -> ModelError:
    """A typed error for an HTTP status, when the body says nothing more specific.

    ``hints`` gives the service's advice by kind: ``auth``, ``rate``, ``unavailable``,
    ``not_found``, ``request``.
    """
    if status in (401, 403):
        return ModelAuthError(message, where=where, hint=hints.get("auth"))
    if status == 429:
        return ModelRateLimitError(
            message, retry_after=retry_after, where=where, hint=hints.get("rate")
        )
    if status == 408 or (status >= 500 and status not in NOT_RETRIED_5XX):
        return ModelUnavailableError(message, where=where, hint=hints.get("unavailable"))
    if status == 404:
        return ModelRequestError(message, where=where, hint=hints.get("not_found"))
    return ModelRequestError(message, where=where, hint=hints.get("request"))


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <key>``; the key stays a ``SecretStr`` until the header is set."""

    def __init__(self, key: SecretStr):
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._key.get_secret_value()}"
        yield request


class _RetryableFailure(Exception):
    """One failed attempt worth repeating, with the server's ``Retry-After`` if it sent one."""

    def __init__(self, error: ModelError, retry_after: float | None = None):
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after


def _is_retryable(error: ModelError) -> bool:
    return isinstance(error, (ModelRateLimitError, ModelUnavailableError))


class HttpClient:
    """JSON and SSE over one connection pool, with the retry policy applied to every call.

    ``where`` (the backend's spec string) goes into every error so a batch log says which model
    failed. ``error_mapper`` reads a failed response and returns the service's typed error.
    """

    def __init__(
        self,
        base_url: str,
        *,
        where: str,
        error_mapper: ErrorMapper,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        policy: RetryPolicy | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.where = where
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self._map_error = error_mapper
        self._client = httpx.Client(
            base_url=self.base_url,
            auth=auth,
            headers=dict(headers or {}),
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)),
        )

    def post_json(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        headers: Mapping[str, str] | None = None,
        check: Callable[[Any], None] | None = None,
    ) -> Any:
        """POST a JSON body and return the decoded JSON answer, retrying what can be retried.

        ``check`` inspects a successful answer and raises a :class:`ModelError` when the body
        reports a failure (CLOVA can put an error code in an HTTP 200 envelope); retryable
        errors raised by it are retried like failed responses.
        """

        def attempt() -> Any:
            request = self._client.build_request("POST", path, json=body, headers=headers)
            data = self._decode(self._send(request, stream=False), path)
            if check is not None:
                try:
                    check(data)
                except ModelError as exc:
                    if _is_retryable(exc):
                        raise _RetryableFailure(exc) from None
                    raise
            return data

        return self._with_retries(attempt)

    def get_json(self, path: str, *, headers: Mapping[str, str] | None = None) -> Any:
        """GET a JSON document, retrying what can be retried."""

        def attempt() -> Any:
            request = self._client.build_request("GET", path, headers=headers)
            return self._decode(self._send(request, stream=False), path)

        return self._with_retries(attempt)

    def stream_sse(
        self, path: str, body: Mapping[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> Generator[SSEEvent, None, None]:
        """POST a JSON body and yield the server-sent events of the answer.

        Opening the stream is retried like any call; once events have arrived, a broken stream
        raises :class:`ModelUnavailableError`, because the part already yielded cannot be
        taken back.
        """
        sse_headers = {"Accept": "text/event-stream", **(headers or {})}

        def attempt() -> httpx.Response:
            request = self._client.build_request("POST", path, json=body, headers=sse_headers)
            return self._expect_events(self._send(request, stream=True), path)

        response = self._with_retries(attempt)
        try:
            yield from iter_sse(response.iter_bytes())
        except httpx.TimeoutException:
            raise self._timeout_error("the stream stalled") from None
        except httpx.TransportError as exc:
            raise ModelUnavailableError(
                f"the stream broke off: {exc}",
                where=self.where,
                hint="the answer was cut short; run the request again",
            ) from None
        finally:
            response.close()

    def close(self) -> None:
        """Close the connection pool. Safe to call more than once."""
        self._client.close()

    def _send(self, request: httpx.Request, *, stream: bool) -> httpx.Response:
        """Send once; a failed answer becomes a typed error (wrapped when worth retrying)."""
        started = time.perf_counter()
        try:
            response = self._client.send(request, stream=stream)
        except httpx.TimeoutException:
            raise _RetryableFailure(self._timeout_error("no answer")) from None
        except httpx.TransportError as exc:
            error = ModelUnavailableError(
                f"could not reach {self.base_url}: {exc}",
                where=self.where,
                hint="check the base URL and that the server is running and reachable",
            )
            raise _RetryableFailure(error) from None
        except ModelError as exc:  # raised by an auth flow, e.g. while fetching a token
            if _is_retryable(exc):
                raise _RetryableFailure(exc) from None
            raise
        log.debug(
            "%s %s -> %d in %.0f ms (request id %s)",
            request.method,
            request.url.path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
            request.headers.get("X-NCP-CLOVASTUDIO-REQUEST-ID", "-"),
        )
        if response.is_success:
            return response
        try:
            response.read()
        finally:
            response.close()
        failed = self._map_error(response)
        if _is_retryable(failed):
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise _RetryableFailure(failed, retry_after)
        raise failed

    def _expect_events(self, response: httpx.Response, path: str) -> httpx.Response:
        """The response, if it is an event stream; otherwise an error quoting what came back."""
        kind = response.headers.get("Content-Type", "")
        if kind.startswith("text/event-stream"):
            return response
        try:
            text = response.read().decode("utf-8", errors="replace").strip()[:200]
        finally:
            response.close()
        raise ModelRequestError(
            f"asked to stream, the server answered {path} with {kind or 'no content type'}: {text}",
            where=self.where,
            hint=f"check that {self.base_url} is a server that streams (for CLOVA Studio: "
            "https://clovastudio.stream.ntruss.com, not the apigw host)",
        )

    def _decode(self, response: httpx.Response, path: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise ModelRequestError(
                f"the server answered {path} with something that is not JSON",
                where=self.where,
                hint=f"check that {self.base_url} is the API's base URL",
            ) from None

    def _timeout_error(self, what: str) -> ModelUnavailableError:
        return ModelUnavailableError(
            f"{what} within {self.timeout:g} s from {self.base_url}",
            where=self.where,
            hint="the server is slow or overloaded; try again later or raise the timeout "
            "(option timeout=<seconds>)",
        )

    def _with_retries(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` until it succeeds, fails for good, or the policy gives up."""
        waited = 0.0
        for number in itertools.count():
            try:
                return attempt()
            except _RetryableFailure as failure:
                delay = self.policy.delay(number, failure.retry_after)
                if number >= self.policy.max_retries or waited + delay > self.policy.max_wait:
                    raise _gave_up(failure, number + 1, waited) from None
                # INFO, not WARNING: a throttled batch would bury its progress bar in warnings.
                log.info(
                    "%s: %s; retry %d of %d in %.1f s",
                    self.where,
                    failure.error.message,
                    number + 1,
                    self.policy.max_retries,
                    delay,
                )
                self.policy.sleep(delay)
                waited += delay
        raise AssertionError("unreachable")  # pragma: no cover  (itertools.count never ends)


def _gave_up(failure: _RetryableFailure, attempts: int, waited: float) -> ModelError:
    """The error for a call that kept failing: the last failure, plus how hard we tried."""
    error = failure.error
    tried = f"{error.message} (gave up after {attempts} attempt{'s' if attempts > 1 else ''}"
    tried += f", {waited:.1f} s of waiting)"
    if isinstance(error, ModelRateLimitError):
        return ModelRateLimitError(
            tried,
            retry_after=failure.retry_after or error.retry_after,
            where=error.where,
            hint=error.hint
            or "send fewer requests at once (e.g. a lower --concurrency) or try again later",
        )
    return ModelUnavailableError(
        tried,
        where=error.where,
        hint=error.hint or "the server keeps failing; check its status and try again later",
    )
