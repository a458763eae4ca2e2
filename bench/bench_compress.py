"""Prompt compression on the inquiry test set with a long system prompt: size against accuracy.

The model is ``tiny`` LoRA-tuned on examples/inquiry/tune.yaml (trained here on first run into
``$TUNESTUDIO_HOME/bench/compress-tuned``, ~1 min, and reused after; or pass ``--model``). Each
of the 100 rows of examples/inquiry/test.csv is answered

1. with its own short system prompt (the task as tuned: the reference accuracy), then
2. with examples/inquiry/long_system_prompt.txt (the same rules plus a ~1,000-token
   policy/FAQ appendix) uncompressed — the baseline, measured in this process — and
3. with that long prompt compressed to each target ratio by each method (tokens, sentences,
   both), the query being the row's question.

For each it prints the achieved ratio (compressed / original system-prompt tokens, in the
model's own tokenizer), exact-match accuracy, accuracy retention against the uncompressed
long prompt and against the short prompt, and milliseconds per compression: the first call,
which analyses the prompt, and the mean of the rest, which reuse that analysis (the token
method's result depends on the prompt alone, so it is served whole from the cache). Kiwi and
scikit-learn are loaded before the timings, once, and that load is printed on its own.

    .venv/bin/python bench/bench_compress.py [--model SPEC] [--rows 100]

The issue asks for the achieved ratio and the accuracy retention at each ratio; it sets no
number. No assertions.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from tunestudio.config import Settings
from tunestudio.data.table import read_table
from tunestudio.models import Backend, load_backend
from tunestudio.ops.compress import Compressor, Method, token_measure
from tunestudio.types import GenParams, Message

ROOT = Path(__file__).resolve().parents[1]
INQUIRY = ROOT / "examples" / "inquiry"
PARAMS = GenParams(max_tokens=24, temperature=0.0)
RATIOS = (0.8, 0.6, 0.4, 0.25)
METHODS: tuple[Method, ...] = ("tokens", "sentences", "both")


@dataclass
class Row:
    system: str
    user: str
    expected: str


@dataclass
class Outcome:
    label: str
    ratio: float
    accuracy: float
    first_ms: float = 0.0
    mean_ms: float = 0.0


def tuned_model() -> str:
    """The spec of tiny tuned on the inquiry set, trained on first use."""
    from tunestudio.tuning.recipe import run_recipe
    from tunestudio.tuning.spec import load_spec

    out_dir = Settings.from_env().home_dir / "bench" / "compress-tuned"
    adapter = out_dir / "adapter"
    if not (adapter / "adapter_config.json").exists():
        print(f"training tiny on {INQUIRY / 'tune.yaml'} into {out_dir} (about a minute)")
        run_recipe(load_spec(INQUIRY / "tune.yaml"), out_dir)
    return f"hf:{adapter}"


def read_rows(limit: int) -> list[Row]:
    table = read_table(INQUIRY / "test.csv")
    return [Row(str(r["system"]), str(r["user"]), str(r["expected"])) for r in table.rows][:limit]


_answered: dict[tuple[str, ...], float] = {}


def accuracy(model: Backend, systems: list[str], rows: list[Row]) -> float:
    """Exact-match accuracy with these system prompts; prompts already answered are not rerun
    (the token method gives the same prompt at every ratio below its floor)."""
    key = tuple(systems)
    if key not in _answered:
        _answered[key] = _run(model, systems, rows)
    return _answered[key]


def _run(model: Backend, systems: list[str], rows: list[Row]) -> float:
    conversations = [
        [Message("system", system), Message("user", row.user)]
        for system, row in zip(systems, rows, strict=True)
    ]
    results = model.chat_batch(conversations, PARAMS)
    hits = sum(r.content.strip() == row.expected for r, row in zip(results, rows, strict=True))
    return hits / len(rows)


def compressed_run(
    model: Backend, long_prompt: str, rows: list[Row], method: Method, ratio: float
) -> Outcome:
    compressor = Compressor(target_ratio=ratio, method=method, measure=token_measure(model))
    systems, ratios, times = [], [], []
    for row in rows:
        started = time.perf_counter()
        result = compressor.compress(long_prompt, row.user)
        times.append((time.perf_counter() - started) * 1000)
        systems.append(result.text)
        ratios.append(result.ratio)
    rest = times[1:] or times
    return Outcome(
        f"{method} {ratio:.2f}",
        statistics.fmean(ratios),
        accuracy(model, systems, rows),
        times[0],
        statistics.fmean(rest),
    )


def print_table(outcomes: list[Outcome], baseline: Outcome, short: Outcome) -> None:
    print(
        f"{'run':<16} {'ratio':>6} {'accuracy':>8} {'vs long':>8} {'vs short':>8} "
        f"{'first ms':>9} {'mean ms':>8}"
    )
    for o in outcomes:
        vs_long = o.accuracy / baseline.accuracy if baseline.accuracy else float("nan")
        vs_short = o.accuracy / short.accuracy if short.accuracy else float("nan")
        print(
            f"{o.label:<16} {o.ratio:>6.3f} {o.accuracy:>8.1%} {vs_long:>8.2f} {vs_short:>8.2f} "
            f"{o.first_ms:>9.1f} {o.mean_ms:>8.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a model that knows the task (default: tuned tiny)")
    parser.add_argument("--rows", type=int, default=100)
    args = parser.parse_args()
    model = load_backend(args.model or tuned_model())
    rows = read_rows(args.rows)
    long_prompt = (INQUIRY / "long_system_prompt.txt").read_text(encoding="utf-8")
    measure = token_measure(model)
    print(
        f"model {model.name}; context {model.capabilities.context_length} tokens; "
        f"system prompt {measure(rows[0].system)} tokens short, {measure(long_prompt)} long"
    )
    started = time.perf_counter()  # Kiwi and scikit-learn load once per process: not per text
    Compressor(target_ratio=0.5, method="both").compress(rows[0].system, rows[0].user)
    print(f"loading Kiwi and scikit-learn: {time.perf_counter() - started:.1f} s (once)")
    short_ratio = measure(rows[0].system) / measure(long_prompt)
    short = Outcome("short prompt", short_ratio, accuracy(model, [r.system for r in rows], rows))
    baseline = Outcome("long 1.00", 1.0, accuracy(model, [long_prompt] * len(rows), rows))
    outcomes = [short, baseline]
    for method in METHODS:
        for ratio in RATIOS:
            outcomes.append(compressed_run(model, long_prompt, rows, method, ratio))
    print_table(outcomes, baseline, short)
    print("baseline: the uncompressed long prompt, in this process; issue goal: report the")
    print("achieved ratio and accuracy retention at each ratio (no numeric target)")
    model.close()


if __name__ == "__main__":
    main()
