"""Local batch inference: batched generation vs the seeds' one-row-at-a-time loop.

The same built-in ``tiny`` model and the same rows (examples/inquiry/test.csv): the baseline is
the cookbook loop (one generation call per row), the contender ``run_batch`` driving the model's
``chat_batch`` with batches of ``--batch-size`` rows (and a journal, as ``tunestudio infer``
does). Greedy decoding, so the answers can be compared row by row.

Both run on the backend as ``load_backend("tiny")`` gives it, shared-prefix KV cache on; the
loop benefits from it too (a system prompt repeated across calls is read once). Each side also
runs with ``prefix_cache=False`` (every prompt read whole), and every timed run starts with an
empty prefix cache, as a new process would.

    .venv/bin/python bench/bench_batch_local.py [--input examples/inquiry/test.csv]
        [--batch-size 64] [--max-tokens 32] [--repeat 3] [--system TEXT] [--threads N]

Prints rows/s for each (best of ``--repeat`` runs, taken in turns) and the ratios (goal ≥ 5×),
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
    cold(backend)
    return [backend.chat(messages, params).content for messages in rows]


def batched(
    backend: Backend, rows: list[list[Message]], params: GenParams, batch_size: int
) -> list[str]:
    cold(backend)
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


def cold(backend: Backend) -> None:
    """Empty the backend's prefix cache, so that no run profits from the one before it."""
    cache = getattr(backend, "prefix_cache", None)
    if cache is not None:
        cache.clear()


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
    parser.add_argument(
        "--threads", type=int, help="torch threads (default: torch's own choice, all cores)"
    )
    args = parser.parse_args()
    if args.threads:
        import torch

        # On a busy shared host, threads that wait for each other's cores slow both sides
        # many-fold; one thread gives steadier numbers there.
        torch.set_num_threads(args.threads)
    rows, source = load_rows(args.input, args.system)
    params = GenParams(max_tokens=args.max_tokens)
    default = load_backend("tiny", max_batch_size=args.batch_size)
    plain = load_backend("tiny", max_batch_size=args.batch_size, prefix_cache=False)
    for backend in (default, plain):
        backend.chat(rows[0], params)  # warm up: first-call allocations, lazy imports
    labels = [
        "one row at a time (seeds' loop)",
        f"run_batch --batch-size {args.batch_size}",
        "  loop, prefix_cache=False",
        "  run_batch, prefix_cache=False",
    ]
    timings = best_times(
        [
            lambda: seeds_loop(default, rows, params),
            lambda: batched(default, rows, params, args.batch_size),
            lambda: seeds_loop(plain, rows, params),
            lambda: batched(plain, rows, params, args.batch_size),
        ],
        args.repeat,
    )
    n = len(rows)
    prompt = sum(default.count_tokens(r) for r in rows) / n
    default.close()
    plain.close()
    report(labels, timings, n, f"{prompt:.0f} prompt tokens per row", source, args.max_tokens)


def report(
    labels: list[str], timings: list[Timing], n: int, prompt: str, source: str, max_tokens: int
) -> None:
    """Print each side's rows/s, the speed-ups and whether every side gave the same answers."""
    import torch

    print(
        f"model: tiny, rows: {n} from {source}, {prompt}, max_tokens {max_tokens}, "
        f"torch threads {torch.get_num_threads()}"
    )
    for label, t in zip(labels, timings, strict=True):
        print(
            f"{label:<32} {t.wall_s:6.2f} s  {n / t.wall_s:6.1f} rows/s   "
            f"cpu {t.cpu_s:6.2f} s  {n / t.cpu_s:6.1f} rows/cpu-s"
        )
    loop, batch, plain_loop, plain_batch = timings
    reference = plain_loop.answers  # transformers' own generate(), one whole prompt at a time
    same = min(sum(a == b for a, b in zip(t.answers, reference, strict=True)) for t in timings)
    print(
        f"speed-up: {loop.wall_s / batch.wall_s:.1f}x wall-clock (goal >= 5x), "
        f"{loop.cpu_s / batch.cpu_s:.1f}x CPU time; "
        f"over the loop without prefix cache {plain_loop.wall_s / batch.wall_s:.1f}x; "
        f"without prefix cache on either side {plain_loop.wall_s / plain_batch.wall_s:.1f}x"
    )
    print(f"same answers: {same}/{n} (every run vs the loop without prefix cache)")


if __name__ == "__main__":
    main()
