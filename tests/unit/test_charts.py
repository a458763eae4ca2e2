from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.image import imread
from matplotlib.patches import Rectangle

from tunestudio import charts


def _texts(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_korean_labels_render_with_no_missing_glyphs(tmp_path: Path) -> None:
    fig = charts.figure(6, 3)
    ax = fig.add_subplot()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        charts.barh(ax, ["배송 문의", "환불 요청", "쿠폰/할인"], [12, 7, 3], title="레이블 분포")
        path = charts.save_png(fig, tmp_path / "nested" / "labels.png")
    assert not [w for w in caught if "missing from font" in str(w.message)]
    assert ax.get_title(loc="left") == "레이블 분포"
    image = imread(path)
    assert image.shape[1] == 6 * 150  # savefig.dpi of the shared style
    assert image.std() > 0.05


def test_bars_carry_their_values_and_the_first_item_is_on_top() -> None:
    ax = charts.figure().add_subplot()
    charts.barh(ax, ["a", "b"], [1200, 3], title="t")
    assert _texts(ax) == ["1,200", "3"]
    assert ax.yaxis_inverted()
    ax = charts.figure().add_subplot()
    charts.barh(ax, ["a", "b"], [4, 2], title="t", value_labels=["4 (67%)", "2 (33%)"])
    assert _texts(ax) == ["4 (67%)", "2 (33%)"]
    ax = charts.figure().add_subplot()
    charts.bar(ax, ["base", "tuned"], [0.61, 0.875], title="accuracy", value_format="{:.1%}")
    assert _texts(ax) == ["61.0%", "87.5%"]


def test_histogram_marks_mean_and_p95_and_uses_whole_number_bins() -> None:
    ax = charts.figure().add_subplot()
    charts.histogram(ax, [1, 2, 2, 3, 3, 3, 10], title="t", xlabel="characters")
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == ["mean 3.4", "p95 8"]
    edges = sorted({round(p.get_x(), 6) for p in ax.patches if isinstance(p, Rectangle)})
    assert edges == list(np.arange(0.5, 10.5, 1.0))  # one bin per length 1..10


def test_wide_ranges_are_capped_to_a_readable_number_of_bins() -> None:
    ax = charts.figure().add_subplot()
    charts.histogram(ax, list(range(0, 100_000, 7)), title="t", xlabel="x")
    assert 5 <= len(ax.patches) <= 50


def test_empty_data_says_so_instead_of_an_empty_frame() -> None:
    ax = charts.figure().add_subplot()
    charts.histogram(ax, [], title="t", xlabel="x")
    assert _texts(ax) == ["no data"]


def test_long_labels_are_shortened_to_one_line() -> None:
    assert charts.short_label("짧은 레이블") == "짧은 레이블"
    long = charts.short_label("아주 긴 레이블이\n여러 줄에 걸쳐 있고 계속 이어지는 경우입니다", 12)
    assert long == "아주 긴 레이블이 여…" and len(long) == 12
