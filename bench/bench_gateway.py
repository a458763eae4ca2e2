"""Gateway overhead on a cache miss: what a pipeline's stages add to a model call.

    .venv/bin/python bench/bench_gateway.py [--entries 10000] [--calls 1000] [--rounds 3]
        [--questions generated|template]

The model is an instant stand-in (it answers at once and counts tokens by characters), so
everything measured is the gateway's own work; it is metered in the ledger as every model a
pipeline loads is. Each cache is first filled with ``--entries`` answered questions (its store
and the semantic cache's index hold that many); then every measured call asks a new question,
so every cache misses: the exact cache hashes the request, looks it up and queues the answer
for its store (SQLite under a temporary data dir); the semantic cache embeds the question
(hash-ko), searches its index, checks the near matches with its guard and queues the vector;
the window counts the turns. Baseline, in the same process and the same rounds: the stand-in
called directly.

Questions: ``generated`` (default) are customer inquiries from the generator behind
examples/inquiry (all distinct, 46 characters on average); ``template`` are near-identical
ones where only an order number differs, the semantic cache's worst case: every stored
question is a near match that the guard has to refuse. Each pipeline gets its own questions,
so none profits from another's cached morphological analyses.
What is timed is each call minus the time spent inside the stand-in: the gateway's own work.
Calls follow each other at once, so the background writes of one miss (the cache stores'
writer, the ledger's) run during the next call and are charged to it.
Goal (issue): gateway overhead on a miss <= 1 ms p50.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
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
    """Answers at once; tokens are counted as characters / 2. Counts its calls and the time
    spent inside them."""

    def __init__(self) -> None:
        super().__init__("instant", Capabilities(context_length=4096))
        self.calls = 0
        self.seconds = 0.0

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        start = time.perf_counter()
        self.calls += 1
        result = ChatResult("결제 문의", Usage(self.count_tokens(messages), 3), model="instant")
        self.seconds += time.perf_counter() - start
        return result

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m.content) for m in messages) // 2 + 4 * len(messages)


def build(stack: list[tuple[str, dict[str, Any]]], home: Path) -> tuple[Backend, Instant]:
    """The stages of ``stack`` (outermost first) around a metered stand-in, and the stand-in."""
    context = StageContext(
        where="bench",
        base_dir=home,
        settings=Settings(home=home),
        ledger=Ledger(pipeline="bench"),
        prices=Prices(),
        pipeline_name="bench",
    )
    model = Instant()
    backend = wrap(Metered(model, context.ledger, context.prices), stack, context)
    assert backend is not None
    return backend, model


def template_questions(count: int, offset: int) -> list[str]:
    """Near-identical questions: only the topic (of six) and an order number differ."""
    topics = ["결제 내역", "배송 조회", "환불 요청", "비밀번호 변경", "쿠폰 사용", "회원 탈퇴"]
    return [
        f"{topics[i % 6]} 관련해서 문의드립니다. 주문번호 {offset + i}번 확인 부탁드려요."
        for i in range(count)
    ]


def generated_questions(count: int) -> list[str]:
    """Distinct customer inquiries from the data generator (realistic wording and length)."""
    from tunestudio.data.generators.inquiries import generate_inquiries

    texts = list(dict.fromkeys(c.turns[0].user for c in generate_inquiries(count, seed=7)))
    if len(texts) < count:
        raise SystemExit(f"the generator gave {len(texts)} distinct questions, {count} needed")
    return texts[:count]


def conversations(texts: list[str]) -> list[list[Message]]:
    return [[Message("system", SYSTEM), Message("user", text)] for text in texts]


def fill(gateway: Backend, rows: list[list[Message]]) -> None:
    """Answer ``rows`` through the gateway in batches, so its caches hold them."""
    for start in range(0, len(rows), 500):
        gateway.chat_batch(rows[start : start + 500], PARAMS)


def timed(
    call: Callable[[list[Message]], object], rows: list[list[Message]], model: Instant
) -> tuple[list[float], list[bool]]:
    """Each call's seconds outside the model (the whole call minus the time inside the
    stand-in's ``chat``), and whether it reached the model (a miss)."""
    times, missed = [], []
    for messages in rows:
        calls, inside = model.calls, model.seconds
        start = time.perf_counter()
        call(messages)
        times.append(time.perf_counter() - start - (model.seconds - inside))
        missed.append(model.calls > calls)
    return times, missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=10_000, help="answers cached first")
    parser.add_argument("--calls", type=int, default=1000, help="calls per side per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--questions", choices=("generated", "template"), default="generated")
    args = parser.parse_args()
    per_stack = args.entries + args.calls * args.rounds
    if args.questions == "generated":
        texts = generated_questions(per_stack * len(STACKS))
    else:
        texts = template_questions(per_stack * len(STACKS), 0)
    print(
        f"load average {os.getloadavg()[0]:.1f}; {args.questions} questions; caches filled with "
        f"{args.entries} questions first; {args.calls} new questions per side per round, "
        f"{args.rounds} rounds; misses timed"
    )
    print(f"{'time outside the model, ms':<28} {'p50':>8} {'p95':>8}")
    direct = Instant()  # its time outside the model: a method call
    hits = 0
    missed_texts: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for number, (name, stack) in enumerate(STACKS.items()):
            home = Path(tmp) / name.replace(" ", "_")
            home.mkdir()
            gateway, model = build(stack, home)
            own = conversations(texts[number * per_stack : (number + 1) * per_stack])
            fill(gateway, own[: args.entries])
            base: list[float] = []
            through: list[float] = []
            for round_ in range(args.rounds):
                start = args.entries + round_ * args.calls
                rows = own[start : start + args.calls]
                base += timed(partial(direct.chat, params=PARAMS), rows, direct)[0]
                times, missed = timed(partial(gateway.chat, params=PARAMS), rows, model)
                through += [t for t, miss in zip(times, missed, strict=True) if miss]
                hits += missed.count(False)
                if "semantic" in name:
                    missed_texts += [m[-1].content for m, x in zip(rows, missed, strict=True) if x]
            gateway.close()
            b50, b95 = _pct(base)
            g50, g95 = _pct(through)
            print(f"{name:<28} {g50:8.3f} {g95:8.3f}")
    print(f"{'direct (baseline)':<28} {b50:8.3f} {b95:8.3f}")
    k50, k95 = _pct(analysis_times(missed_texts))
    print(
        f"{'Kiwi analysis of a missed q.':<28} {k50:8.3f} {k95:8.3f}   (part of the semantic cache)"
    )
    if hits:  # a generated question can mean the same as one cached: that is a hit, not timed
        print(f"({hits} calls were semantic-cache hits and are not in the miss times)")
    print("goal: gateway overhead on a miss <= 1 ms p50")


def analysis_times(texts: list[str]) -> list[float]:
    """Seconds Kiwi takes to analyse each question once (the semantic cache's embedder and
    guard share one analysis per question): the part of a semantic miss that is not the
    cache's own code."""
    from tunestudio.korean import kiwi

    analyser = kiwi()
    times = []
    for text in texts:
        start = time.perf_counter()
        analyser.tokenize(text)
        times.append(time.perf_counter() - start)
    return times


def _pct(values: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[94] * 1000


if __name__ == "__main__":
    main()
