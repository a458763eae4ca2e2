"""The sliding window: trim a 1,000-turn Korean conversation, token-exact, vs naive recounting.

Both trim the same conversation with the same exact counter (the ``tiny`` model's tokenizer
and chat template, the counter the ``window`` stage uses) and must keep the same messages:

* baseline — what the CLOVA sliding endpoint did before: count the whole window, drop the
  oldest turn, count again, until it fits (O(turns²) tokenizer work);
* contender — :func:`tunestudio.ops.window.trim_to_fit`: each turn counted once, newest first,
  only as far as the window reaches, then two exact counts of the chosen window.

Two windows: tiny's own 2,048-token context and an 8,192-token one (the same real tokenizer).
``max_tokens`` is 256. The goal (issue "The LLMOps layer"): trimming 1,000 turns takes
milliseconds — timed on a 1,000-turn conversation. The baseline recounts ~n windows of ~n
turns, minutes at 1,000 turns, so the ratio is measured on a 200-turn conversation
(``--naive-turns``), where both run on the same input and must keep the same messages.

    .venv/bin/python bench/bench_window.py [--turns 1000] [--naive-turns 200] [--runs 30]

The first run builds ``tiny`` into $TUNESTUDIO_HOME (about a minute). No assertions: numbers go
to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

from tunestudio.models import load_backend
from tunestudio.ops.window import Trimmed, split_turns, trim_to_fit
from tunestudio.types import Message

MAX_TOKENS = 256
QUESTIONS = [
    "주문한 상품이 아직 도착하지 않았어요. 배송 조회를 해 주실 수 있나요?",
    "환불 신청을 했는데 언제 입금되는지 알고 싶습니다.",
    "사이즈가 맞지 않아서 한 치수 큰 것으로 교환하고 싶어요.",
    "결제할 때 쿠폰이 적용되지 않습니다. 어떻게 해야 하나요?",
]
ANSWER = "확인해 보니 주문하신 상품은 현재 처리 중이며, 영업일 기준 2~3일 안에 완료될 예정입니다."

Counter = Callable[[Sequence[Message]], int]


def conversation(turns: int) -> list[Message]:
    """A system prompt, ``turns`` answered Korean turns, and the question being asked."""
    messages = [
        Message("system", "당신은 쇼핑몰 고객센터 상담원입니다. 친절하고 정확하게 답하세요.")
    ]
    for i in range(turns):
        messages.append(Message("user", f"{i + 1}번째 문의: {QUESTIONS[i % len(QUESTIONS)]}"))
        messages.append(Message("assistant", f"{i + 1}번째 답변: {ANSWER}"))
    messages.append(Message("user", "마지막으로, 영수증을 이메일로 다시 받을 수 있을까요?"))
    return messages


def naive_trim(messages: Sequence[Message], count: Counter, context: int) -> Trimmed:
    """The baseline: recount the whole window after every dropped turn."""
    system, turns = split_turns(messages)
    dropped = 0
    while True:
        window = system + [m for turn in turns[dropped:] for m in turn]
        tokens = count(window)
        if tokens + MAX_TOKENS <= context or dropped == len(turns) - 1:
            return Trimmed(window, dropped, tokens)
        dropped += 1


def timed(trim: Callable[[], Trimmed], runs: int) -> tuple[list[float], Trimmed]:
    """Milliseconds of each run, and the last result."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = trim()
        times.append((time.perf_counter() - start) * 1000)
    assert result is not None
    return times, result


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def goal(messages: list[Message], count: Counter, context: int, runs: int) -> None:
    """trim_to_fit on the long conversation: p50/p95 against the goal."""
    times, kept = timed(lambda: trim_to_fit(messages, count, context, MAX_TOKENS), runs)
    p50, p95 = statistics.median(times), percentile(times, 95)
    print(
        f"  {len(split_turns(messages)[1])} turns -> kept {len(kept.messages)} messages "
        f"({kept.prompt_tokens} tokens), dropped {kept.dropped_turns} turns\n"
        f"    trim_to_fit  p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  ({runs} runs)   "
        f"goal: milliseconds (under a second) -> {'met' if p95 < 1000 else 'NOT met'}"
    )


def ratio(messages: list[Message], count: Counter, context: int, runs: int) -> None:
    """trim_to_fit against the naive recount on the same conversation."""
    fast_ms, fast = timed(lambda: trim_to_fit(messages, count, context, MAX_TOKENS), runs)
    naive_ms, naive = timed(lambda: naive_trim(messages, count, context), 1)
    if fast.messages != naive.messages:
        raise SystemExit(f"context {context}: the two trims disagree")
    p50, base = statistics.median(fast_ms), naive_ms[0]
    print(
        f"  {len(split_turns(messages)[1])} turns, same input: naive recount {base:9.1f} ms, "
        f"trim_to_fit p50 {p50:6.1f} ms -> {base / p50:,.0f}x faster"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--naive-turns", type=int, default=200)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    model = load_backend("tiny")
    long, short = conversation(args.turns), conversation(args.naive_turns)
    total = model.count_tokens(long)
    print(f"{args.turns} turns = {len(long)} messages = {total} tokens (tiny's tokenizer)")
    try:
        for context in (model.capabilities.context_length or 2048, 8192):
            print(f"context {context}, max_tokens {MAX_TOKENS}:")
            goal(long, model.count_tokens, context, args.runs)
            ratio(short, model.count_tokens, context, args.runs)
    finally:
        model.close()


if __name__ == "__main__":
    main()
