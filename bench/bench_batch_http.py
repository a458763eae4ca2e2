"""Batch inference over HTTP: run_batch at --concurrency 16 vs the seeds' one-row-at-a-time loop.

A local OpenAI-compatible server (uvicorn on 127.0.0.1, in this process) answers every call
after 200 ms, like a remote API whose latency dominates. Both runs use the real ``openai:``
backend over real HTTP, on the same rows; the baseline is the cookbook loop (one call per row,
waiting for each answer), the contender ``run_batch`` with a journal.

    .venv/bin/python bench/bench_batch_http.py [--rows 64] [--concurrency 16] [--latency 0.2]

Prints rows/s for each and the ratio (goal ≥ 12×). No assertions: numbers go to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from tunestudio.inference import run_batch
from tunestudio.models import Backend, load_backend
from tunestudio.types import GenParams, Message


def slow_openai_app(latency_s: float) -> FastAPI:
    """An OpenAI-compatible chat endpoint that answers deterministically after ``latency_s``."""
    app = FastAPI()
    app.state.calls = 0

    @app.post("/v1/chat/completions")
    async def complete(body: dict[str, Any]) -> dict[str, Any]:
        app.state.calls += 1
        await asyncio.sleep(latency_s)
        question = body["messages"][-1]["content"]
        answer = f"분류: {len(question) % 15}"
        return {
            "id": f"bench-{app.state.calls}",
            "object": "chat.completion",
            "model": body.get("model", "bench"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": len(question), "completion_tokens": len(answer)},
        }

    return app


class Server:
    """uvicorn in a daemon thread on a free loopback port."""

    def __init__(self, app: FastAPI):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> Server:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def make_rows(count: int) -> list[list[Message]]:
    system = Message("system", "고객 문의를 15개 카테고리 중 하나로 분류하세요.")
    return [
        [system, Message("user", f"{i}번 문의: 결제 내역이 두 번 찍혔어요")] for i in range(count)
    ]


def seeds_loop(backend: Backend, rows: list[list[Message]], params: GenParams) -> list[str]:
    """The cookbook's loop: one request per row, each waiting for the last."""
    return [backend.chat(messages, params).content for messages in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per call")
    args = parser.parse_args()
    rows, params = make_rows(args.rows), GenParams(max_tokens=16)
    app = slow_openai_app(args.latency)
    with Server(app) as server:
        backend = load_backend(f"openai:http://127.0.0.1:{server.port}/v1#bench")
        backend.chat(rows[0], params)  # warm up: connection pool, imports
        start = time.perf_counter()
        baseline = seeds_loop(backend, rows, params)
        seq_s = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as tmp:
            result = run_batch(
                backend,
                rows,
                params=params,
                journal_path=Path(tmp) / "bench.journal.jsonl",
                concurrency=args.concurrency,
            )
        backend.close()
    same = sum(a == r.content for a, r in zip(baseline, result.rows, strict=True))
    seq_rate, conc_rate = args.rows / seq_s, result.rows_per_s
    print(f"rows: {args.rows}, server latency {args.latency * 1000:.0f} ms per call")
    print(f"sequential (seeds' loop):         {seq_s:6.2f} s  {seq_rate:7.2f} rows/s")
    print(
        f"run_batch --concurrency {args.concurrency:<3}:    {result.wall_s:6.2f} s  "
        f"{conc_rate:7.2f} rows/s  ({result.failed} failed)"
    )
    print(f"speed-up: {conc_rate / seq_rate:.1f}x (goal >= 12x); same answers: {same}/{args.rows}")
    print(f"server calls: {app.state.calls} (1 warm-up + {args.rows} + {args.rows})")


if __name__ == "__main__":
    main()
