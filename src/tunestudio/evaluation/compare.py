"""Paired comparison of two runs on the same test set: flips, McNemar's test, a bootstrap CI.

Both runs answered the same items, so the fair question is per item: which wrong answers did the
second run fix, which right ones did it break? McNemar's exact test looks only at those discordant
items (``fixed`` vs ``regressed``); the 95% interval of the accuracy difference comes from a paired
bootstrap (items resampled with both runs' verdicts kept together).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from tunestudio.errors import DataError

FLIP_FIXED = "fixed"
FLIP_REGRESSED = "regressed"
FLIP_STILL_WRONG = "still_wrong"
FLIP_BOTH_RIGHT = "both_right"
FLIP_SKIPPED = "skipped"


@dataclass(frozen=True)
class PairedComparison:
    """Run A (before) against run B (after) on the same items."""

    n: int  # items both runs have a verdict for
    skipped: int  # items left out: either verdict is None
    a_correct: int
    b_correct: int
    fixed: int  # A wrong → B right
    regressed: int  # A right → B wrong
    still_wrong: int
    both_right: int
    accuracy_a: float
    accuracy_b: float
    difference: float  # accuracy_b − accuracy_a
    difference_ci: tuple[float, float]  # 95% paired bootstrap interval
    mcnemar_p: float  # exact two-sided; 1.0 when no item changed

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (the interval as a two-item list)."""
        out = asdict(self)
        out["difference_ci"] = list(self.difference_ci)
        return out


def flip(a: int | None, b: int | None) -> str:
    """The flip class of one item: fixed, regressed, still_wrong, both_right or skipped."""
    if a is None or b is None:
        return FLIP_SKIPPED
    if a and b:
        return FLIP_BOTH_RIGHT
    if b:
        return FLIP_FIXED
    return FLIP_REGRESSED if a else FLIP_STILL_WRONG


def paired(
    a: Sequence[int | None], b: Sequence[int | None], *, n_boot: int = 2000, seed: int = 0
) -> PairedComparison:
    """Compare two runs' per-item ``match`` values (1, 0, or None = not scored)."""
    if len(a) != len(b):
        raise DataError(
            f"the two runs have {len(a)} and {len(b)} items",
            hint="compare two runs of the same test set, row for row",
        )
    flips = [flip(x, y) for x, y in zip(a, b, strict=True)]
    counts = {
        name: flips.count(name)
        for name in (FLIP_FIXED, FLIP_REGRESSED, FLIP_STILL_WRONG, FLIP_BOTH_RIGHT)
    }
    n = len(flips) - flips.count(FLIP_SKIPPED)
    a_correct = counts[FLIP_BOTH_RIGHT] + counts[FLIP_REGRESSED]
    b_correct = counts[FLIP_BOTH_RIGHT] + counts[FLIP_FIXED]
    nan = math.nan
    return PairedComparison(
        n=n,
        skipped=len(flips) - n,
        a_correct=a_correct,
        b_correct=b_correct,
        fixed=counts[FLIP_FIXED],
        regressed=counts[FLIP_REGRESSED],
        still_wrong=counts[FLIP_STILL_WRONG],
        both_right=counts[FLIP_BOTH_RIGHT],
        accuracy_a=a_correct / n if n else nan,
        accuracy_b=b_correct / n if n else nan,
        difference=(b_correct - a_correct) / n if n else nan,
        difference_ci=bootstrap_ci(counts[FLIP_FIXED], counts[FLIP_REGRESSED], n, n_boot, seed),
        mcnemar_p=mcnemar_exact(counts[FLIP_FIXED], counts[FLIP_REGRESSED]),
    )


def mcnemar_exact(fixed: int, regressed: int) -> float:
    """Exact two-sided McNemar p-value: a binomial test of ``fixed`` among the changed items."""
    from scipy.stats import binomtest

    changed = fixed + regressed
    if changed == 0:
        return 1.0
    return float(binomtest(fixed, changed, 0.5, alternative="two-sided").pvalue)


def bootstrap_ci(
    fixed: int, regressed: int, n: int, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of the accuracy difference under a paired bootstrap of ``n`` items.

    Each item's difference is +1 (fixed), −1 (regressed) or 0, so resampling ``n`` items with
    replacement is exactly a multinomial draw of those three counts: the same distribution as
    resampling rows, in O(n_boot) instead of O(n_boot × n).
    """
    import numpy as np

    if n == 0 or n_boot < 1:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    same = max(0.0, 1 - (fixed + regressed) / n)  # never a float-rounding −1e-17
    draws = rng.multinomial(n, [fixed / n, regressed / n, same], size=n_boot)
    differences = (draws[:, 0] - draws[:, 1]) / n
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(differences, [tail, 100 - tail])
    return (float(low), float(high))
