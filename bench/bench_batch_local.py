"""Local batch inference: batched generation vs the seeds' one-row-at-a-time loop.

The same built-in ``tiny`` model and the same rows (examples/inquiry/test.csv): the baseline is
the cookbook loop (one generation call per row), the contender ``run_batch`` driving the model's
``chat_batch`` with batches of ``--batch-size`` rows (and a journal, as ``tunestudio infer``
does). Greedy decoding, so the answers can be compared row by row.

    .venv/bin/python bench/bench_batch_local.py [--input examples/inquiry/test.csv]
        [--batch-size 64] [--max-tokens 32] [--repeat 3] [--system TEXT]

Prints rows/s for each (best of ``--repeat`` runs, taken in turns) and the ratio (goal ≥ 5×),
in wall-clock time and in this process's CPU time (the steadier of the two on a shared host).
No assertions: numbers go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tunestudio.inference import read_batch_input, run_batch
from tunestudio.models import Backend, load_backend
from tunestudio.types import GenParams, Message

REPO = Path(__file__).resolve().parents[1]


def seeds_loop(backend: Backend, rows: list[list[Message]], params: GenParams) -> list[str]:
    """The cookbook's loop: one generation call per row."""
    return [backend.chat(messages, params).content for messages in rows]


def batched(
    backend: Backend, rows: list[list[Message]], params: GenParams, batch_size: int
) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        result = run_batch(
            backend,
            rows,
            params=params,
            batch_size=batch_size,
            journal_path=Path(tmp) / "bench.journal.jsonl",
        )
    if result.failed:
        raise SystemExit(f"{result.failed} rows failed: {result.rows[0].error}")
    return [r.content for r in result.rows]


def load_rows(path: Path, system: str | None) -> tuple[list[list[Message]], str]:
    """The test set's conversations (``system`` replaces their system prompt, "" drops it);
    without the file, 100 rows of the same generator."""
    if not path.exists():
        from tunestudio.data.formats import save_dataset
        from tunestudio.data.generators.inquiries import generate_inquiries

        path = save_dataset(
            generate_inquiries(100, split="test"),
            Path(tempfile.mkdtemp()) / "test.csv",
            "testset",
        )
    return read_batch_input(path, system=system).conversations, path.name


@dataclass
class Timing:
    wall_s: float = float("inf")
    cpu_s: float = float("inf")  # this process's CPU time, all threads: steadier on a busy host
    answers: list[str] = field(default_factory=list)


def best_times(runs: list[Callable[[], list[str]]], repeat: int) -> list[Timing]:
    """The fastest of ``repeat`` runs of each, taken in turns so that a busy spell on the
    machine slows both sides rather than one."""
    best = [Timing() for _ in runs]
    for _ in range(repeat):
        for i, run in enumerate(runs):
            wall, cpu = time.perf_counter(), time.process_time()
            answers = run()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if wall < best[i].wall_s:
                best[i].wall_s, best[i].answers = wall, answers
            best[i].cpu_s = min(best[i].cpu_s, cpu)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=REPO / "examples/inquiry/test.csv")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--system", help="replace every row's system prompt ('' drops it)")
    args = parser.parse_args()
    rows, source = load_rows(args.input, args.system)
    params = GenParams(max_tokens=args.max_tokens)
    backend = load_backend("tiny", max_batch_size=args.batch_size)
    backend.chat(rows[0], params)  # warm up: first-call allocations, lazy imports
    one, many = best_times(
        [
            lambda: seeds_loop(backend, rows, params),
            lambda: batched(backend, rows, params, args.batch_size),
        ],
        args.repeat,
    )
    n = len(rows)
    prompt = sum(backend.count_tokens(r) for r in rows) / n
    backend.close()
    same = sum(a == b for a, b in zip(one.answers, many.answers, strict=True))
    print(
        f"model: tiny, rows: {n} from {source}, {prompt:.0f} prompt tokens per row, "
        f"max_tokens {args.max_tokens}"
    )
    for label, t in (
        ("one row at a time (seeds' loop)", one),
        (f"run_batch --batch-size {args.batch_size}", many),
    ):
        print(
            f"{label:<32} {t.wall_s:6.2f} s  {n / t.wall_s:6.1f} rows/s   "
            f"cpu {t.cpu_s:6.2f} s  {n / t.cpu_s:6.1f} rows/cpu-s"
        )
    print(
        f"speed-up: {one.wall_s / many.wall_s:.1f}x wall-clock (goal >= 5x), "
        f"{one.cpu_s / many.cpu_s:.1f}x CPU time; same answers: {same}/{n}"
    )


if __name__ == "__main__":
    main()
