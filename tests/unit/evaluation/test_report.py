"""The generic report writers: a self-contained HTML page (escaped text, embedded PNG) and a
prediction workbook (grouped header, frozen panes, coloured match cells, safe text)."""

from __future__ import annotations

import base64
import math
from pathlib import Path

from openpyxl import load_workbook

from tunestudio.evaluation.report import (
    ChartBlock,
    Report,
    Section,
    TableBlock,
    TextBlock,
    format_cell,
    write_html,
)
from tunestudio.evaluation.report_xlsx import Column, Sheet, write_workbook


def _png(path: Path) -> Path:
    from tunestudio.charts import bar, figure, save_png

    fig = figure(3, 2)
    bar(fig.add_subplot(), ["튜닝 전", "튜닝 후"], [0.73, 0.97], title="정확도")
    return save_png(fig, path)


def test_the_page_embeds_charts_and_escapes_text(tmp_path: Path) -> None:
    png = _png(tmp_path / "chart.png")
    report = Report(
        title="문의 분류 <before/after>",
        sections=[
            Section(
                "Summary",
                [
                    TableBlock(
                        "t", ["model", "accuracy"], [["tiny & co", 0.5], ["<b>x</b>", math.nan]]
                    ),
                    ChartBlock("chart", png, note="a note"),
                ],
            ),
            Section("Recipe", [TextBlock("kind: compare\nname: 한국어", code=True)]),
        ],
        footer="tunestudio 0.1.0",
    )
    html = write_html(report, tmp_path / "out" / "report.html").read_text("utf-8")
    encoded = base64.b64encode(png.read_bytes()).decode("ascii")
    assert f'src="data:image/png;base64,{encoded}"' in html
    assert "문의 분류 &lt;before/after&gt;" in html
    assert "tiny &amp; co" in html and "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert '<td class="num">0.500</td>' in html and '<td class="num">–</td>' in html
    assert '<a href="#summary">Summary</a>' in html and 'id="recipe"' in html
    assert "<pre>kind: compare\nname: 한국어</pre>" in html
    assert 'src="http' not in html and "<link" not in html  # nothing outside the file


def test_cells_are_formatted_for_people() -> None:
    assert [format_cell(v) for v in (None, True, 1234, 0.12345, math.nan, "x")] == [
        "–",
        "yes",
        "1,234",
        "0.123",
        "–",
        "x",
    ]
    assert format_cell(2.5, 1) == "2.5"


def test_the_workbook_groups_columns_freezes_the_header_and_colours_matches(
    tmp_path: Path,
) -> None:
    columns = [
        Column("input", kind="long"),
        Column("answer", "before", "long"),
        Column("match", "before", "match"),
        Column("answer", "after", "long"),
        Column("match", "after", "match"),
    ]
    rows = [
        ["환불은 언제 되나요", "=SUM(A1)", 0, "결제", 1],
        ["bad\x00char", "x" * 40_000, None, "", math.nan],
    ]
    path = write_workbook(
        tmp_path / "p.xlsx",
        [
            Sheet("predictions", columns, rows),
            Sheet("a:b/c" * 10, [Column("n", kind="percent")], [[0.5]]),
        ],
    )
    book = load_workbook(path)
    sheet = book["predictions"]
    assert [c.value for c in sheet[1]] == [None, "before", None, "after", None]
    assert [str(r) for r in sheet.merged_cells.ranges] == ["B1:C1", "D1:E1"]
    assert [c.value for c in sheet[2]] == ["input", "answer", "match", "answer", "match"]
    assert sheet.freeze_panes == "A3"
    assert sheet["B3"].value == "=SUM(A1)" and sheet["B3"].data_type == "s"  # never a formula
    assert sheet["C3"].fill.fgColor.rgb.endswith("FFC7CE")
    assert sheet["E3"].fill.fgColor.rgb.endswith("C6EFCE")
    assert sheet["A4"].value == "badchar" and len(sheet["B4"].value) == 32_767
    assert sheet["C4"].value is None and sheet["E4"].value is None
    assert sheet.column_dimensions["B"].width == 48
    other = book.worksheets[1]
    assert len(other.title) <= 31 and ":" not in other.title and "/" not in other.title
    assert other["A2"].number_format == "0.0%" and other.freeze_panes == "A2"
