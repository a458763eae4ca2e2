"""Gateway overhead on a cache miss: what a pipeline's stages add to a model call.

    .venv/bin/python bench/bench_gateway.py [--calls 2000] [--rounds 5]

The model is an instant stand-in (it answers at once and counts tokens by characters), so
everything measured is the gateway's own work; it is metered in the ledger as every model a
pipeline loads is. Each call asks a new question, so every cache misses: the exact cache hashes
the request, looks it up and stores the answer (SQLite under a temporary data dir); the semantic
cache embeds the question (hash-ko), searches its index and stores the vector; the window counts
the turns. Baseline, in the same process and the same rounds: the stand-in called directly.
Goal (issue): gateway overhead on a miss <= 1 ms p50.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tunestudio.config import Settings
from tunestudio.models.base import Backend, BaseBackend, Capabilities
from tunestudio.ops.ledger import Ledger, Metered, Prices
from tunestudio.ops.pipeline import StageContext, wrap
from tunestudio.types import ChatResult, GenParams, Message, Usage

SYSTEM = "고객 문의를 15개 카테고리 중 하나로 분류하세요. 카테고리 이름만 답하세요."
PARAMS = GenParams(max_tokens=16, temperature=0.0)
STACKS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "window": [("window", {"context_length": 4096})],
    "exact_cache": [("exact_cache", {})],
    "semantic_cache": [("semantic_cache", {})],
    "window → exact → semantic": [
        ("window", {"context_length": 4096}),
        ("exact_cache", {}),
        ("semantic_cache", {}),
    ],
}


class Instant(BaseBackend):
    """Answers at once; tokens are counted as characters / 2."""

    def __init__(self) -> None:
        super().__init__("instant", Capabilities(context_length=4096))

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        return ChatResult("결제 문의", Usage(self.count_tokens(messages), 3), model="instant")

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m.content) for m in messages) // 2 + 4 * len(messages)


def build(stack: list[tuple[str, dict[str, Any]]], home: Path) -> Backend:
    """The stages of ``stack`` (outermost first) around the metered stand-in."""
    context = StageContext(
        where="bench",
        base_dir=home,
        settings=Settings(home=home),
        ledger=Ledger(pipeline="bench"),
        prices=Prices(),
        pipeline_name="bench",
    )
    backend = wrap(Metered(Instant(), context.ledger, context.prices), stack, context)
    assert backend is not None
    return backend


def questions(count: int, offset: int) -> list[list[Message]]:
    """New questions (a miss every time), realistic in length and wording."""
    topics = ["결제 내역", "배송 조회", "환불 요청", "비밀번호 변경", "쿠폰 사용", "회원 탈퇴"]
    return [
        [
            Message("system", SYSTEM),
            Message(
                "user",
                f"{topics[i % 6]} 관련해서 문의드립니다. 주문번호 {offset + i}번 확인 부탁드려요.",
            ),
        ]
        for i in range(count)
    ]


def timed(call: Callable[[list[Message]], object], rows: list[list[Message]]) -> list[float]:
    times = []
    for messages in rows:
        start = time.perf_counter()
        call(messages)
        times.append(time.perf_counter() - start)
    return times


def gateway_call(gateway: Backend) -> Callable[[list[Message]], object]:
    return lambda messages: gateway.chat(messages, PARAMS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per side per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(
        f"load average {os.getloadavg()[0]:.1f}; {args.calls} calls per side per round, "
        f"{args.rounds} rounds, every call a miss"
    )
    print(f"{'pipeline':<28} {'p50 ms':>8} {'p95 ms':>8} {'overhead p50':>13} {'p95':>8}")
    direct = Instant()
    with tempfile.TemporaryDirectory() as tmp:
        for name, stack in STACKS.items():
            home = Path(tmp) / name.replace(" ", "_")
            home.mkdir()
            gateway = build(stack, home)
            gateway.chat(questions(1, -1)[0], PARAMS)  # load the embedder, open the store
            base: list[float] = []
            through: list[float] = []
            for round_ in range(args.rounds):
                rows = questions(args.calls, (round_ + 1) * 1_000_000)
                base += timed(lambda m: direct.chat(m, PARAMS), rows)
                through += timed(gateway_call(gateway), rows)
            gateway.close()
            b50, b95 = _pct(base)
            g50, g95 = _pct(through)
            print(f"{name:<28} {g50:8.3f} {g95:8.3f} {g50 - b50:13.3f} {g95 - b95:8.3f}")
    print(f"{'direct (baseline)':<28} {b50:8.3f} {b95:8.3f}")
    print("goal: gateway overhead on a miss <= 1 ms p50")


def _pct(values: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[94] * 1000


if __name__ == "__main__":
    sys.exit(main())
