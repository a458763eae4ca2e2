"""The shared HTTP client: retries, Retry-After, timeouts, SSE parsing — over real HTTP."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from tests.http_servers import Faults, LiveServer, Recorder, Seen
from tunestudio.errors import (
    ModelError,
    ModelRateLimitError,
    ModelRequestError,
    ModelUnavailableError,
)
from tunestudio.models.http import HttpClient, RetryPolicy, error_for_status, parse_retry_after
from tunestudio.models.sse import SSEEvent, iter_lines, iter_sse

HINTS = {"rate": "slow down", "unavailable": "try later", "request": "fix the request"}
NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=timezone.utc)


class EchoServer:
    """Echoes JSON bodies at /echo and streams three SSE events at /events, with faults."""

    def __init__(self) -> None:
        self.faults = Faults()
        self.seen = Recorder()
        self.app = FastAPI()
        self.app.add_api_route("/echo", self._echo, methods=["POST"])
        self.app.add_api_route("/events", self._events, methods=["POST"])
        self.app.add_api_route("/page", self._page, methods=["POST"])

    async def _fault(self, request: Request) -> Response | None:
        body = await request.json()
        self.seen.add(Seen("POST", request.url.path, dict(request.headers), body))
        fault = self.faults.take()
        if fault is None:
            return None
        await run_in_threadpool(time.sleep, fault.delay)
        if not fault.status:
            return None
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        return JSONResponse({"error": fault.message}, fault.status, headers=headers)

    async def _echo(self, request: Request) -> Response:
        return await self._fault(request) or JSONResponse({"echo": await request.json()})

    async def _page(self, request: Request) -> Response:
        return Response("<html>a web page, not an API</html>", media_type="text/html")

    async def _events(self, request: Request) -> Response:
        if refusal := await self._fault(request):
            return refusal

        def events() -> Iterator[str]:
            for i, word in enumerate(["하나", "둘", "셋"]):
                yield f"id: {i}\nevent: token\ndata: {json.dumps({'text': word})}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")


@pytest.fixture(scope="module")
def echo() -> Iterator[tuple[EchoServer, str]]:
    server = EchoServer()
    with LiveServer(server.app) as live:
        yield server, live.url


@pytest.fixture
def server(echo: tuple[EchoServer, str]) -> EchoServer:
    echo[0].faults.clear()
    echo[0].seen.clear()
    return echo[0]


def _map(response: httpx.Response) -> ModelError:
    return error_for_status(
        response.status_code, f"HTTP {response.status_code}", where="test", hints=HINTS
    )


def client(url: str, sleeps: list[float], **policy: Any) -> HttpClient:
    """A client whose waits are recorded instead of slept; jitter returns the cap."""
    fields = {"max_retries": 3, "sleep": sleeps.append, "jitter": lambda cap: cap, **policy}
    timeout = fields.pop("timeout", 5.0)
    return HttpClient(
        url, where="test", error_mapper=_map, timeout=timeout, policy=RetryPolicy(**fields)
    )


# --- Retry-After and backoff ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("-2", 0.0),
        ("0", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_retry_after_in_seconds(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


def test_retry_after_as_http_date() -> None:
    assert parse_retry_after(format_datetime(NOW + timedelta(seconds=10), usegmt=True), NOW) == 10
    assert parse_retry_after(format_datetime(NOW - timedelta(seconds=10), usegmt=True), NOW) == 0


def test_backoff_doubles_up_to_the_cap_and_honours_retry_after() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=3.0, jitter=lambda cap: cap)
    assert [policy.delay(n) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.delay(4, retry_after=7.0) == 7.0


def test_full_jitter_stays_between_zero_and_the_cap() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    waits = [policy.delay(3) for _ in range(200)]
    assert all(0 <= wait <= 8.0 for wait in waits)
    assert len(set(waits)) > 100  # random, so concurrent callers do not retry in lockstep


# --- retries over real HTTP -----------------------------------------------------------------


def test_429_waits_as_long_as_retry_after_says(server: EchoServer, echo: Any) -> None:
    server.faults.add(status=429, retry_after="2", times=2)
    sleeps: list[float] = []
    assert client(echo[1], sleeps).post_json("/echo", {"q": "안녕"}) == {"echo": {"q": "안녕"}}
    assert sleeps == [2.0, 2.0]
    assert len(server.seen.requests) == 3


def test_429_with_an_http_date(server: EchoServer, echo: Any) -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    server.faults.add(status=429, retry_after=format_datetime(when, usegmt=True))
    sleeps: list[float] = []
    client(echo[1], sleeps).post_json("/echo", {})
    assert len(sleeps) == 1 and 27 <= sleeps[0] <= 30


def test_503_is_retried_with_backoff_then_succeeds(server: EchoServer, echo: Any) -> None:
    server.faults.add(status=503, times=2)
    sleeps: list[float] = []
    assert client(echo[1], sleeps, base_delay=0.25).post_json("/echo", {"n": 1})["echo"] == {"n": 1}
    assert sleeps == [0.25, 0.5]


def test_400_is_not_retried(server: EchoServer, echo: Any) -> None:
    server.faults.add(status=400)
    sleeps: list[float] = []
    with pytest.raises(ModelRequestError) as caught:
        client(echo[1], sleeps).post_json("/echo", {})
    assert caught.value.hint == "fix the request"
    assert sleeps == [] and len(server.seen.requests) == 1


def test_501_is_not_retried(server: EchoServer, echo: Any) -> None:
    server.faults.add(status=501)
    with pytest.raises(ModelRequestError):
        client(echo[1], []).post_json("/echo", {})
    assert len(server.seen.requests) == 1


def test_an_answer_that_is_not_json_points_at_the_base_url(echo: Any) -> None:
    with pytest.raises(ModelRequestError, match="not JSON") as caught:
        client(echo[1], []).post_json("/page", {})
    assert "base URL" in (caught.value.hint or "")


def test_a_timeout_is_retried(server: EchoServer, echo: Any) -> None:
    server.faults.add(delay=1.0)
    sleeps: list[float] = []
    assert client(echo[1], sleeps, timeout=0.3).post_json("/echo", {"x": 1}) == {"echo": {"x": 1}}
    # One timeout at least (more only if this machine is too busy to answer within 0.3 s).
    assert sleeps and len(server.seen.requests) == len(sleeps) + 1


def test_exhausted_rate_limit_keeps_the_type_retry_after_and_hint(
    server: EchoServer, echo: Any
) -> None:
    server.faults.add(status=429, retry_after="1", times=5)
    sleeps: list[float] = []
    with pytest.raises(ModelRateLimitError) as caught:
        client(echo[1], sleeps, max_retries=2).post_json("/echo", {})
    assert caught.value.retry_after == 1.0
    assert "gave up after 3 attempts" in caught.value.message
    assert caught.value.hint == "slow down"
    assert sleeps == [1.0, 1.0]


def test_exhausted_server_errors_raise_unavailable(server: EchoServer, echo: Any) -> None:
    server.faults.add(status=500, times=5)
    with pytest.raises(ModelUnavailableError, match="gave up after 2 attempts") as caught:
        client(echo[1], [], max_retries=1).post_json("/echo", {})
    assert caught.value.hint == "try later"


def test_a_retry_after_beyond_max_wait_gives_up_at_once(server: EchoServer, echo: Any) -> None:
    server.faults.add(status=429, retry_after="600")
    sleeps: list[float] = []
    with pytest.raises(ModelRateLimitError) as caught:
        client(echo[1], sleeps, max_wait=60).post_json("/echo", {})
    assert sleeps == [] and caught.value.retry_after == 600


def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as sock:  # a port nobody listens on once the socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps: list[float] = []
    with pytest.raises(ModelUnavailableError) as caught:
        client(f"http://127.0.0.1:{port}", sleeps, max_retries=2).post_json("/echo", {})
    assert f"could not reach http://127.0.0.1:{port}" in caught.value.message
    assert "gave up after 3 attempts" in caught.value.message
    assert "server is running" in (caught.value.hint or "")
    assert len(sleeps) == 2


def test_check_can_turn_a_200_into_a_retried_failure(server: EchoServer, echo: Any) -> None:
    calls: list[int] = []

    def check(data: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ModelUnavailableError("busy inside a 200", where="test")

    sleeps: list[float] = []
    client(echo[1], sleeps).post_json("/echo", {}, check=check)
    assert len(calls) == 2 and len(sleeps) == 1


def test_opening_a_stream_is_retried_and_events_arrive_in_order(
    server: EchoServer, echo: Any
) -> None:
    server.faults.add(status=503)
    sleeps: list[float] = []
    events = list(client(echo[1], sleeps).stream_sse("/events", {}))
    assert [e.json()["text"] for e in events] == ["하나", "둘", "셋"]
    assert [e.event for e in events] == ["token"] * 3 and events[0].id == "0"
    assert server.seen.last.headers["accept"] == "text/event-stream"
    assert len(sleeps) == 1


def test_a_json_answer_to_a_stream_request_says_the_host_does_not_stream(echo: Any) -> None:
    with pytest.raises(ModelRequestError, match="application/json") as caught:
        list(client(echo[1], []).stream_sse("/echo", {"q": 1}))
    assert "streams" in (caught.value.hint or "")


def test_close_is_idempotent(echo: Any) -> None:
    http = client(echo[1], [])
    http.close()
    http.close()


# --- SSE parsing ----------------------------------------------------------------------------


def test_sse_rejoins_hangul_split_across_chunks() -> None:
    raw = 'event: token\ndata: {"t": "안녕"}\n\n'.encode()
    cut = raw.index("안".encode()) + 1  # in the middle of the syllable's three bytes
    events = list(iter_sse([raw[:cut], raw[cut:]]))
    assert events == [SSEEvent('{"t": "안녕"}', "token")]


def test_sse_handles_crlf_split_across_chunks_and_bare_cr() -> None:
    assert list(iter_lines([b"a\r", b"\nb\rc\n"])) == ["a", "b", "c"]
    assert list(iter_lines([b"last line without newline"])) == ["last line without newline"]


def test_sse_keeps_unicode_line_separators_inside_data() -> None:
    raw = 'data: {"t": "a\u2028b"}\n\n'.encode()
    assert [e.json()["t"] for e in iter_sse([raw])] == ["a\u2028b"]


def test_sse_fields_comments_multiline_data_and_a_final_event_without_blank_line() -> None:
    raw = (
        b": keep-alive comment\n"
        b"id:7\nevent:result\ndata:first\ndata: second\nretry: 100\n\n"
        b"\n"  # a blank line with nothing pending dispatches nothing
        b"data: [DONE]"
    )
    assert list(iter_sse([raw])) == [
        SSEEvent("first\nsecond", "result", "7"),
        SSEEvent("[DONE]", "message", "7"),
    ]
