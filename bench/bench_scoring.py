"""Scoring costs: the paired bootstrap, and how long kiwi takes to be ready.

1. ``tunestudio.evaluation.compare.bootstrap_ci`` draws the three counts (fixed, regressed,
   unchanged) from a multinomial; the baseline resamples the item rows themselves with numpy,
   as a textbook paired bootstrap does. Same n, same number of resamples; both intervals are
   printed to show they agree.
2. The evaluation analyser is ``Kiwi(load_typo_dict=False, load_multi_dict=False)``; the baseline
   is ``Kiwi()`` with every dictionary. Each is built and runs its first analysis (when kiwi
   really loads its model) in this process, lean first so the baseline pays no warm-up for it.

    .venv/bin/python bench/bench_scoring.py [--items 10000] [--boot 2000]

Prints seconds for each and the ratios. No assertions.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from tunestudio.evaluation.compare import bootstrap_ci

T = TypeVar("T")


def row_bootstrap(
    fixed: int, regressed: int, n: int, n_boot: int, seed: int
) -> tuple[float, float]:
    """The textbook paired bootstrap: resample item indices, average the per-item difference."""
    d = np.zeros(n)
    d[:fixed] = 1
    d[fixed : fixed + regressed] = -1
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for start in range(0, n_boot, 100):  # in chunks: n_boot × n indices at once can be GBs
        stop = min(start + 100, n_boot)
        means[start:stop] = d[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def timed(function: Callable[..., T], *args: Any) -> tuple[float, T]:
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def kiwi_ready(**options: bool) -> None:
    from kiwipiepy import Kiwi

    Kiwi(**options).tokenize("네이버밴드 계정입니다.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--boot", type=int, default=2000)
    args = parser.parse_args()
    n = args.items
    fixed, regressed = n // 10, n // 50
    rows_s, rows_ci = timed(row_bootstrap, fixed, regressed, n, args.boot, 0)
    multi_s, multi_ci = timed(bootstrap_ci, fixed, regressed, n, args.boot, 0)
    print(f"paired bootstrap, n={n}, {args.boot} resamples")
    print(
        f"  rows resampled (baseline)  {rows_s:8.3f} s  CI [{rows_ci[0]:+.4f}, {rows_ci[1]:+.4f}]"
    )
    print(
        f"  multinomial counts         {multi_s:8.3f} s  CI [{multi_ci[0]:+.4f}, {multi_ci[1]:+.4f}]"
    )
    print(f"  ratio                      {rows_s / multi_s:8.0f}× faster")
    lean_s, _ = timed(lambda: kiwi_ready(load_typo_dict=False, load_multi_dict=False))
    full_s, _ = timed(kiwi_ready)
    print("kiwi: build + first analysis")
    print(f"  every dictionary (baseline) {full_s:7.2f} s")
    print(f"  no typo / multi-word dicts  {lean_s:7.2f} s")
    print(f"  ratio                       {full_s / lean_s:7.1f}× faster")


if __name__ == "__main__":
    main()
