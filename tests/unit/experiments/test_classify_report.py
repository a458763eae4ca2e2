"""The classify-compare accuracy table: a row per method, a column per training size."""

from __future__ import annotations

import math

from tunestudio.experiments.classify_report import accuracy_table
from tunestudio.experiments.results import CurvePoint


def test_untuned_models_fill_their_own_column_and_sizes_are_in_order() -> None:
    points = [
        CurvePoint("tiny (system prompt)", 0, 1, 100, 0.0, 0.0, 0.0),
        CurvePoint("kNN hash-ko k=5", 200, 2, 200, 0.53, 0.44, 0.62),
        CurvePoint("kNN hash-ko k=5", 50, 2, 200, 0.39, 0.31, 0.47),
        CurvePoint("tiny tuned (system prompt)", 200, 1, 100, math.nan, math.nan, math.nan),
    ]
    columns, rows = accuracy_table(points)
    assert columns == ["method", "untuned", "50", "200"]
    assert rows == [
        ["tiny (system prompt)", "0.0%", "", ""],
        ["kNN hash-ko k=5", "", "39.0% (31.0–47.0)", "53.0% (44.0–62.0)"],
        ["tiny tuned (system prompt)", "", "", "–"],
    ]
    _, wrapped = accuracy_table(points, wrap=True)
    assert wrapped[1][2] == "39.0%\n31–47"


def test_without_untuned_points_there_is_no_untuned_column() -> None:
    columns, rows = accuracy_table([CurvePoint("kNN a k=1", 10, 1, 9, 1.0, 1.0, 1.0)])
    assert columns == ["method", "10"] and rows == [["kNN a k=1", "100.0%"]]
