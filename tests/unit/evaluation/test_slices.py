"""Slicing scores by metadata, and drawing the slices as bars or heatmaps."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from matplotlib.image import imread

from tunestudio import charts
from tunestudio.errors import ConfigError
from tunestudio.evaluation.slices import heatmap, pooled, slice_table

META = [
    {"skill": "요약", "domain": "금융", "difficulty": 1},
    {"skill": "요약", "domain": "금융", "difficulty": 10},
    {"skill": "요약", "domain": "의료", "difficulty": 2.0},
    {"skill": "분류", "domain": "금융", "difficulty": 2},
    {"skill": "분류", "domain": "금융", "difficulty": 1},
    {"skill": "분류", "domain": "의료", "difficulty": float("nan")},
]
SCORES: list[float | None] = [8, 6, None, 3, 5, 9]


def test_means_and_counts_per_combination_with_missing_values_counted_apart() -> None:
    table = slice_table(SCORES, META, ["skill", "domain"])
    assert table == [
        {"skill": "분류", "domain": "금융", "mean": 4.0, "n": 2, "missing": 0},
        {"skill": "분류", "domain": "의료", "mean": 9.0, "n": 1, "missing": 0},
        {"skill": "요약", "domain": "금융", "mean": 7.0, "n": 2, "missing": 0},
        {"skill": "요약", "domain": "의료", "mean": None, "n": 0, "missing": 1},
    ]


def test_numbers_sort_numerically_and_empty_cells_form_their_own_group() -> None:
    table = slice_table(SCORES, META, ["difficulty"])
    assert [row["difficulty"] for row in table] == ["1", "2", "10", "(빈 값)"]
    assert [row["mean"] for row in table] == [6.5, 3.0, 6.0, 9.0]


def test_pooling_weights_each_mean_by_its_count() -> None:
    table = slice_table(SCORES, META, ["skill", "domain", "difficulty"])
    assert pooled(table, ["skill"]) == [
        {"skill": "분류", "mean": pytest.approx(17 / 3), "n": 3, "missing": 0},
        {"skill": "요약", "mean": 7.0, "n": 2, "missing": 1},
    ]


def test_an_unknown_column_is_named_with_the_ones_there_are() -> None:
    with pytest.raises(ConfigError) as caught:
        slice_table(SCORES, META, ["skill", "도메인"])
    assert "'도메인'" in caught.value.message and caught.value.where == "--by"
    assert caught.value.hint == "있는 열: difficulty, domain, skill"
    with pytest.raises(ConfigError, match="1 to 3 columns, not 4"):
        slice_table(SCORES, META, ["skill", "domain", "difficulty", "skill"])


def test_one_column_draws_bars_labelled_with_mean_and_n() -> None:
    fig = heatmap(slice_table(SCORES, META, ["skill"]), ["skill"], title="점수")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.texts] == ["5.67 (n=3)", "7.00 (n=2)"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["분류", "요약"]


def test_two_columns_draw_a_heatmap_with_mean_and_n_in_every_cell(tmp_path: Path) -> None:
    table = slice_table(SCORES, META, ["skill", "domain"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = heatmap(table, ["skill", "domain"], title="심사 점수", vmin=1, vmax=10)
        path = charts.save_png(fig, tmp_path / "heatmap.png")
    assert not [w for w in caught if "missing from font" in str(w.message)]
    ax, colorbar = fig.axes
    assert [t.get_text() for t in ax.texts] == ["4.00\nn=2", "9.00\nn=1", "7.00\nn=2", "–"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["금융", "의료"]
    assert ax.get_ylabel() == "skill" and colorbar.get_ylabel() == "평균"
    assert imread(path).std() > 0.05


def test_three_columns_draw_the_first_two_pooled_beside_bars_of_the_third() -> None:
    table = slice_table(SCORES, META, ["skill", "domain", "difficulty"])
    fig = heatmap(table, ["skill", "domain", "difficulty"], title="t", vmin=1, vmax=10)
    grid, bars, _ = fig.axes
    assert grid.get_title(loc="left") == "skill × domain (difficulty 전체)"
    assert [t.get_text() for t in grid.texts] == ["4.00\nn=2", "9.00\nn=1", "7.00\nn=2", "–"]
    assert [t.get_text() for t in bars.get_yticklabels()] == ["1", "2", "10", "(빈 값)"]
