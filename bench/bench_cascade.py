"""Cascade and router vs always-the-large-model, on the inquiry test set: cost and accuracy.

The experiment of the LLMOps issue. ``--cheap`` is the tuned small model, ``--large`` the
more accurate, pricier one; both answer every row of a *dev* set (fresh inquiries from the
generator, held-out wordings, none equal or near-equal to a train or test text), which picks
the cascade's confidence threshold and fills the router's history — the test rows never
decide anything. Then, on examples/inquiry/test.csv, through real ``pipeline`` stages with a
real ledger:

* cheap-only and large-only (the baseline: always the large model),
* cascade [cheap → large], gates = the 15 labels + ``min_confidence`` chosen on dev,
* router [cheap, large], kNN (k = 10) over ``hash-ko`` embeddings of the dev requests.

Costs are summed from the ledger at the configured prices (per 1,000 tokens; the defaults are
assumptions, see --prices). Prints one table and the ratios against the goal (cost ≤ 30 % of
large-only at ≥ 99 % of its accuracy).

    .venv/bin/python bench/bench_cascade.py --cheap 'hf:<tiny>@<adapter>' --large '<spec>'
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunestudio.data.generators.inquiries import generate_inquiries
from tunestudio.data.table import read_table
from tunestudio.evaluation.normalize import match_step
from tunestudio.models.base import Backend
from tunestudio.ops.ledger import CALL, Ledger, labels
from tunestudio.ops.pipeline import PipelineSpec, build_pipeline
from tunestudio.ops.router_history import History
from tunestudio.store.db import get_engine, session_scope
from tunestudio.store.schema import LedgerRow
from tunestudio.types import ChatResult, GenParams, Message

REPO = Path(__file__).resolve().parents[1]
PARAMS = GenParams(max_tokens=24)
GOAL_COST, GOAL_ACCURACY = 0.30, 0.99


@dataclass
class Rows:
    """Conversations with their expected answers."""

    conversations: list[list[Message]]
    expected: list[str]


@dataclass
class Outcome:
    """One configuration's numbers on the test set."""

    name: str
    accuracy: float
    cost: float
    seconds: float
    detail: str = ""


def test_rows(path: Path) -> Rows:
    table = read_table(path)
    conversations = [
        [Message("system", r["system"]), Message("user", r["user"])] for r in table.rows
    ]
    return Rows(conversations, [r["expected"] for r in table.rows])


def dev_rows(count: int, avoid: list[str]) -> Rows:
    generated = generate_inquiries(count, seed=1, split="test", avoid=avoid)
    return Rows([c.messages()[:-1] for c in generated], [c.turns[0].assistant for c in generated])


def correct(results: list[ChatResult], rows: Rows) -> list[bool]:
    """Exact match as ``eval score`` counts it (near misses such as a copula count)."""
    return [
        match_step(r.content, e) is not None for r, e in zip(results, rows.expected, strict=True)
    ]


def confidence(result: ChatResult) -> float:
    """exp(mean token log-prob): the ``min_confidence`` gate's measure."""
    scores = result.logprobs or (-math.inf,)
    return math.exp(sum(scores) / len(scores))


def pick_threshold(cheap: list[ChatResult], ok_cheap: list[bool], ok_large: list[bool]) -> float:
    """The lowest confidence floor whose simulated cascade keeps ≥ 99 % of large's accuracy on
    dev (fewest escalations); label-gate failures always escalate."""
    target = GOAL_ACCURACY * sum(ok_large)
    floors = sorted({round(confidence(r), 4) for r in cheap} | {0.0})
    for floor in floors:
        kept = [confidence(r) >= floor for r in cheap]
        right = sum(c if k else lg for k, c, lg in zip(kept, ok_cheap, ok_large, strict=True))
        if right >= target:
            return floor
    return 1.0


def ledger_cost(ledger: Ledger, run: str) -> tuple[float, Counter[str]]:
    """The run's summed cost, and its calls per model, read back from the store."""
    from sqlalchemy import select

    ledger.flush()
    with session_scope(get_engine(ledger.url)) as session:
        rows = session.scalars(select(LedgerRow).where(LedgerRow.run == run)).all()
        cost = sum(r.cost for r in rows)
        calls = Counter(r.model for r in rows if r.outcome == CALL)
    return cost, calls


def pipeline(spec: dict[str, Any], ledger: Ledger, home: Path) -> Backend:
    parsed = PipelineSpec.model_validate(spec)
    return build_pipeline(parsed, base_dir=home, where="bench", name="bench", ledger=ledger)


def run(name: str, backend: Backend, rows: Rows, ledger: Ledger) -> tuple[Outcome, Any]:
    start = time.perf_counter()
    with labels(run=name):
        results = backend.chat_batch(rows.conversations, PARAMS)
    seconds = time.perf_counter() - start
    ok = correct(results, rows)
    cost, calls = ledger_cost(ledger, name)
    detail = ", ".join(f"{m}: {n}" for m, n in sorted(calls.items()))
    return Outcome(name, sum(ok) / len(ok), cost, seconds, detail), results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cheap", required=True, help="spec of the tuned small model")
    parser.add_argument("--large", required=True, help="spec of the larger model")
    parser.add_argument("--test", type=Path, default=REPO / "examples/inquiry/test.csv")
    parser.add_argument("--dev-rows", type=int, default=150)
    parser.add_argument("--embedder", default="hash-ko", help="the router's embedder spec")
    parser.add_argument(
        "--prices",
        default="0.125,0.5,1.25,5.0",
        help="cheap in,out,large in,out per 1k tokens (assumed: large = 10 × cheap)",
    )
    args = parser.parse_args()
    ci, co, li, lo = (float(v) for v in args.prices.split(","))
    prices = {
        args.cheap: {"input_per_1k": ci, "output_per_1k": co},
        args.large: {"input_per_1k": li, "output_per_1k": lo},
    }
    home = Path(tempfile.mkdtemp(prefix="bench-cascade-"))
    ledger = Ledger(f"sqlite:///{home / 'ledger.db'}", pipeline="bench")
    test = test_rows(args.test)
    train = [str(r["Text"]) for r in read_table(REPO / "examples/inquiry/train.csv").rows]
    dev = dev_rows(args.dev_rows, avoid=train + [c[-1].content for c in test.conversations])

    # Dev: both models, once each; decides the threshold and the router's history.
    cheap = pipeline({"model": args.cheap, "prices": prices}, ledger, home)
    large = pipeline({"model": args.large, "prices": prices}, ledger, home)
    with labels(run="dev"):
        dev_cheap = cheap.chat_batch(dev.conversations, GenParams(max_tokens=24, logprobs=True))
        dev_large = large.chat_batch(dev.conversations, PARAMS)
    ok_cheap, ok_large = correct(dev_cheap, dev), correct(dev_large, dev)
    floor = pick_threshold(dev_cheap, ok_cheap, ok_large)
    history = History(home / "router.sqlite")
    history.add([c[-1].content for c in dev.conversations], [0 if ok else 1 for ok in ok_cheap])

    outcomes = []
    for name, backend in (("cheap only", cheap), ("large only", large)):
        outcomes.append(run(name, backend, test, ledger)[0])
    cheap.close()
    large.close()
    gates: dict[str, Any] = {"labels_from": str(REPO / "examples/inquiry/train.csv")}
    if floor > 0:  # 0: the labels alone keep large's accuracy on dev
        gates["min_confidence"] = floor
    cascade = pipeline(
        {
            "prices": prices,
            "pipeline": [{"cascade": {"models": [args.cheap, args.large], "gates": gates}}],
        },
        ledger,
        home,
    )
    outcome, _ = run("cascade", cascade, test, ledger)
    stats = cascade.inner.stats()  # type: ignore[attr-defined]
    cascade.close()
    escalated = stats["answered_by"][args.large] / len(test.expected)
    rejects = stats["gates"].get(args.cheap, {}).get("reject_rate", {})
    outcome.detail += f"; escalated {escalated:.0%}; rejects " + ", ".join(
        f"{g} {r:.0%}" for g, r in rejects.items()
    )
    outcomes.append(outcome)
    router_options = {
        "models": [args.cheap, args.large],
        "embedder": args.embedder,
        "history": str(home / "router.sqlite"),
        "k": 10,
    }
    router = pipeline({"prices": prices, "pipeline": [{"router": router_options}]}, ledger, home)
    outcomes.append(run("router", router, test, ledger)[0])
    router.close()
    report(outcomes, args, floor, dev, ok_cheap, ok_large)


def report(
    outcomes: list[Outcome],
    args: argparse.Namespace,
    floor: float,
    dev: Rows,
    ok_cheap: list[bool],
    ok_large: list[bool],
) -> None:
    n = len(dev.expected)
    print(f"cheap = {args.cheap}\nlarge = {args.large}\nprices per 1k (in,out): {args.prices}")
    print(
        f"dev ({n} generated rows): cheap {sum(ok_cheap) / n:.1%}, large {sum(ok_large) / n:.1%};"
        f" min_confidence chosen on dev = {floor:.4f}"
    )
    print(f"\n{'configuration':<12} {'accuracy':>9} {'cost':>10} {'seconds':>8}  calls")
    for o in outcomes:
        print(f"{o.name:<12} {o.accuracy:>9.1%} {o.cost:>10.4f} {o.seconds:>8.1f}  {o.detail}")
    large = next(o for o in outcomes if o.name == "large only")
    for o in outcomes:
        if o.name in ("cascade", "router"):
            cost = o.cost / large.cost if large.cost else float("nan")
            acc = o.accuracy / large.accuracy if large.accuracy else float("nan")
            verdict = "meets" if cost <= GOAL_COST and acc >= GOAL_ACCURACY else "misses"
            print(
                f"{o.name}: cost {cost:.1%} of large-only (goal ≤ {GOAL_COST:.0%}), accuracy "
                f"{acc:.1%} of large-only (goal ≥ {GOAL_ACCURACY:.0%}) → {verdict} the goal"
            )


if __name__ == "__main__":
    main()
