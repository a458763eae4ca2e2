"""Learning-curve statistics: the crossed bootstrap interval and error probability by group."""

from __future__ import annotations

import math

import pytest

from tunestudio.errors import ConfigError
from tunestudio.experiments.curve import check_columns, curve_point, group_points, sort_values


def test_a_point_is_the_mean_over_seeds_and_rows_with_an_interval_around_it() -> None:
    runs = [[1, 1, 0, 1] * 10, [1, 0, 0, 1] * 10]
    point = curve_point("m", 100, runs)
    assert (point.seeds, point.n) == (2, 80)
    assert point.accuracy == pytest.approx(5 / 8)
    assert point.low < point.accuracy < point.high
    # Two seeds at 75% and 50%: resampling seeds makes the interval cover both of them.
    assert point.low < 0.5 and point.high > 0.75
    assert point.low > 0.3 and point.high < 0.9
    assert point.error == pytest.approx(3 / 8)


def test_more_disagreement_between_seeds_widens_the_interval() -> None:
    agree = curve_point("m", 10, [[1, 0] * 20, [1, 0] * 20])
    differ = curve_point("m", 10, [[1] * 40, [0] * 40])
    assert agree.accuracy == differ.accuracy == 0.5
    assert (differ.high - differ.low) > (agree.high - agree.low)


def test_unscored_rows_are_left_out_and_no_scored_row_gives_nan() -> None:
    point = curve_point("m", 10, [[1, None, 0, None]])
    assert (point.n, point.accuracy) == (2, 0.5)
    assert math.isnan(curve_point("m", 10, [[None, None]]).accuracy)


def test_error_probability_by_group_pools_the_seeds_and_sorts_numbers() -> None:
    meta = [{"n": "10"}, {"n": "2"}, {"n": "10"}, {"n": 2.0}]
    points = group_points("n", meta, [[1, 0, 0, 1], [0, 0, 1, 1]], variant="m n=50", size=50)
    assert [(p.value, p.n, p.error) for p in points] == [("2", 4, 0.5), ("10", 4, 0.5)]
    assert all(p.variant == "m n=50" and p.size == 50 for p in points)
    assert sort_values(["b", "a"]) == ["a", "b"]


def test_a_missing_group_column_is_named_with_the_ones_there_are() -> None:
    with pytest.raises(ConfigError) as info:
        check_columns(["n_countries"], [{"skill": "x"}], "recipe.yaml: group_by")
    assert "n_countries" in info.value.message and "skill" in (info.value.hint or "")
