"""Paired comparison: flip counts, exact McNemar and the paired bootstrap, against known values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tunestudio.errors import DataError
from tunestudio.evaluation.compare import bootstrap_ci, flip, mcnemar_exact, paired


def runs(
    fixed: int, regressed: int, still_wrong: int, both_right: int
) -> tuple[list[int], list[int]]:
    a = [0] * fixed + [1] * regressed + [0] * still_wrong + [1] * both_right
    b = [1] * fixed + [0] * regressed + [0] * still_wrong + [1] * both_right
    return a, b


def test_counts_and_accuracies() -> None:
    a, b = runs(fixed=10, regressed=2, still_wrong=3, both_right=85)
    result = paired(a, b)
    assert (result.n, result.fixed, result.regressed, result.still_wrong, result.both_right) == (
        100,
        10,
        2,
        3,
        85,
    )
    assert result.a_correct == 87 and result.b_correct == 95
    assert result.accuracy_a == pytest.approx(0.87) and result.accuracy_b == pytest.approx(0.95)
    assert result.difference == pytest.approx(0.08)


def test_mcnemar_exact_matches_the_binomial_tail() -> None:
    # b=10, c=2: 2 * P(X <= 2 | n=12, p=1/2) = 2 * (1 + 12 + 66) / 4096 = 0.03857…
    assert mcnemar_exact(10, 2) == pytest.approx(2 * 79 / 4096)
    assert mcnemar_exact(10, 2) == pytest.approx(0.0386, abs=1e-4)
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)


def test_bootstrap_interval_is_seeded_and_matches_row_resampling() -> None:
    low, high = bootstrap_ci(10, 2, 100, n_boot=4000, seed=1)
    assert (low, high) == bootstrap_ci(10, 2, 100, n_boot=4000, seed=1)
    assert low < 0.08 < high and low > 0 and high < 0.2
    # The multinomial shortcut has the distribution of resampling the rows themselves.
    d = np.array([1] * 10 + [-1] * 2 + [0] * 88)
    rng = np.random.default_rng(7)
    rows = d[rng.integers(0, 100, size=(4000, 100))].mean(axis=1)
    ref_low, ref_high = np.percentile(rows, [2.5, 97.5])
    assert low == pytest.approx(ref_low, abs=0.015) and high == pytest.approx(ref_high, abs=0.015)


def test_unchanged_runs_have_a_zero_interval_and_p_one() -> None:
    result = paired([1, 0, 1], [1, 0, 1])
    assert result.difference == 0 and result.difference_ci == (0.0, 0.0)
    assert result.mcnemar_p == 1.0


def test_unscored_rows_are_skipped() -> None:
    result = paired([1, None, 0, 1], [1, 1, None, 0])
    assert result.skipped == 2 and result.n == 2 and result.regressed == 1
    assert [flip(1, None), flip(0, 1), flip(1, 0), flip(0, 0), flip(1, 1)] == [
        "skipped",
        "fixed",
        "regressed",
        "still_wrong",
        "both_right",
    ]


def test_nothing_to_compare_gives_nan_not_a_crash() -> None:
    result = paired([None], [1])
    assert result.n == 0 and math.isnan(result.accuracy_a) and math.isnan(result.difference_ci[0])
    assert result.to_dict()["difference_ci"] == list(result.difference_ci)


def test_runs_of_different_length_are_refused() -> None:
    with pytest.raises(DataError, match="3 and 2 items"):
        paired([1, 0, 1], [1, 0])
