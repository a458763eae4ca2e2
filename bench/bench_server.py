"""Server overhead: a chat call through ``tunestudio serve``'s app vs the same backend in-process.

The backend answers instantly (it is defined here and does no work), so every microsecond
measured over HTTP is the server's: HTTP parsing, the request-id and body-limit middleware,
authentication against the store, pydantic validation, the hop to a worker thread, the model
semaphore and JSON encoding. The app is the real ``build_app`` run by uvicorn as ``serve`` runs
it (access log on, sent to /dev/null), in its own process so client and server do not share a
GIL; the client uses a bare keep-alive ``http.client`` connection to add as little as possible.

    .venv/bin/python bench/bench_server.py [--requests 2000] [--rounds 5] [--concurrency 16]

Prints p50/p95 latency in-process and over HTTP (open, and with an API key), the difference
(goal: p50 <= 1 ms, p95 <= 3 ms), and requests/s at --concurrency with an async httpx client
against the in-process rate. The two sides run in alternating rounds so a busy spell on the
machine hits both. No assertions: the numbers go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from tunestudio.config import Settings
from tunestudio.models.base import BaseBackend, Capabilities
from tunestudio.types import ChatResult, GenParams, Message, Usage

BODY = {
    "model": "bench",
    "messages": [
        {"role": "system", "content": "고객 문의를 15개 카테고리 중 하나로 분류하세요."},
        {"role": "user", "content": "결제 내역이 두 번 찍혔어요. 환불은 언제 되나요?"},
    ],
    "max_tokens": 1,
    "temperature": 0,
}


class Instant(BaseBackend):
    """A local-model stand-in that answers at once (not concurrent: the semaphore path)."""

    def __init__(self, name: str) -> None:
        super().__init__(name, Capabilities(concurrent=False))

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        return ChatResult("결제", Usage(len(messages[-1].content), 1), "stop", self.name)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m.content) for m in messages)


def serve(port: int, home: str, access_log: bool) -> None:
    """The server process: build_app over Instant, run by uvicorn like `tunestudio serve`."""
    import uvicorn

    from tunestudio.server import ServerConfig, build_app

    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 — the access log goes here
    config = ServerConfig(models={"bench": "tiny"}, worker=False)
    app = build_app(config, settings=Settings(home=Path(home)), loader=lambda s, **_: Instant(s))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="info", access_log=access_log)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_up(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


def in_process(backend: Instant, count: int) -> list[float]:
    """Latencies (s) of ``count`` calls the way the CLI makes them: wire body -> chat."""
    from tunestudio.server.openai.protocol import ChatCompletionRequest

    out = []
    for _ in range(count):
        start = time.perf_counter()
        chat = ChatCompletionRequest.model_validate(BODY).to_core(512)
        backend.chat(chat.messages, chat.params)
        out.append(time.perf_counter() - start)
    return out


def over_http(
    conn: http.client.HTTPConnection, count: int, key: str | None, path: str = "chat"
) -> list[float]:
    """Latencies (s) of ``count`` sequential requests on one keep-alive connection: chat
    POSTs, or (``path="healthz"``) the bare GET that runs no auth and no model."""
    payload = json.dumps(BODY).encode()
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    method, url = ("POST", "/v1/chat/completions") if path == "chat" else ("GET", "/healthz")
    out = []
    for _ in range(count):
        start = time.perf_counter()
        conn.request(method, url, payload if method == "POST" else None, headers)
        response = conn.getresponse()
        data = response.read()
        out.append(time.perf_counter() - start)
        if response.status != 200:
            raise SystemExit(f"HTTP {response.status}: {data[:200]!r}")
    return out


def threaded_throughput(port: int, total: int, concurrency: int, key: str | None) -> float:
    """Requests per second from ``concurrency`` threads, each with a keep-alive connection."""

    def lane() -> None:
        over_http(http.client.HTTPConnection("127.0.0.1", port), total // concurrency, key)

    threads = [threading.Thread(target=lane) for _ in range(concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (total // concurrency) * concurrency / (time.perf_counter() - start)


async def throughput(port: int, total: int, concurrency: int, key: str | None) -> float:
    """Requests per second with ``concurrency`` requests in flight (async httpx client)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, headers=headers
    ) as client:
        queue = iter(range(total))

        async def lane() -> None:
            for _ in queue:
                response = await client.post("/v1/chat/completions", json=BODY)
                response.raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(concurrency)))
        return total / (time.perf_counter() - start)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000


def measure(port: int, key: str | None, args: argparse.Namespace) -> dict[str, list[float]]:
    """Alternating rounds of in-process and HTTP calls; all latencies of each side."""
    backend = Instant("bench")
    conn = http.client.HTTPConnection("127.0.0.1", port)
    over_http(conn, 200, key)  # warm up: connection, imports, thread pool
    in_process(backend, 200)
    sides: dict[str, list[float]] = {"in-process": [], "http": [], "healthz": []}
    per_round = args.requests // args.rounds
    for _ in range(args.rounds):
        sides["in-process"] += in_process(backend, per_round)
        sides["http"] += over_http(conn, per_round, key)
        sides["healthz"] += over_http(conn, per_round, None, "healthz")
    conn.close()
    return sides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="serve without uvicorn's access log (serve keeps it on)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        port = free_port()
        server = multiprocessing.get_context("spawn").Process(
            target=serve, args=(port, home, args.access_log)
        )
        server.start()
        try:
            wait_up(port)
            report(port, home, args)
        finally:
            server.terminate()
            server.join(10)


def report(port: int, home: str, args: argparse.Namespace) -> None:
    from tunestudio.server.keystore import KeyStore
    from tunestudio.store.db import database_url, get_engine

    log = "on" if args.access_log else "off"
    print(
        f"load average {os.getloadavg()[0]:.1f}; {args.requests} requests per side; "
        f"access log {log}"
    )
    print(f"{'':36}{'p50 ms':>9}{'p95 ms':>9}{'overhead p50':>14}{'p95':>8}")
    key = None
    for label in ("open (no keys)", "API key (store lookup)"):
        if label.startswith("API"):
            store = KeyStore(get_engine(database_url(Settings(home=Path(home)))))
            key = store.create("bench", rate_limit=0).key
        sides = measure(port, key, args)
        base50, base95 = pct(sides["in-process"], 50), pct(sides["in-process"], 95)
        http50, http95 = pct(sides["http"], 50), pct(sides["http"], 95)
        floor50, floor95 = pct(sides["healthz"], 50), pct(sides["healthz"], 95)
        print(f"{'in-process':36}{base50:9.3f}{base95:9.3f}")
        print(
            f"{'over HTTP, ' + label:36}{http50:9.3f}{http95:9.3f}"
            f"{http50 - base50:14.3f}{http95 - base95:8.3f}   (goal <= 1 / <= 3 ms)"
        )
        print(f"{'  same server, GET /healthz (floor)':36}{floor50:9.3f}{floor95:9.3f}")
    backend, n = Instant("bench"), args.requests
    start = time.perf_counter()
    in_process(backend, n)
    local_rate = n / (time.perf_counter() - start)
    rate = asyncio.run(throughput(port, n, args.concurrency, key))
    threaded = threaded_throughput(port, n, args.concurrency, key)
    print(f"requests/s with {args.concurrency} in flight (with key):")
    print(f"  async httpx client     {rate:8,.0f}   (ratio to in-process {rate / local_rate:.4f})")
    print(f"  threads x http.client  {threaded:8,.0f}   (ratio {threaded / local_rate:.4f})")
    print(f"  in-process calls       {local_rate:8,.0f}")


if __name__ == "__main__":
    main()
