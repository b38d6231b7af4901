"""The hand-built SVG charts: well-formed XML, marks where the data put them, labels escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from examengine.rendering.charts import (
    Chart,
    Curve,
    HLine,
    Points,
    VLine,
    curve_table,
    nice_ticks,
    render_chart,
)

SVG = "{http://www.w3.org/2000/svg}"


def test_nice_ticks_are_round_and_cover_the_range():
    assert nice_ticks(-4, 4, 8) == [-4, -3, -2, -1, 0, 1, 2, 3, 4]
    assert nice_ticks(0, 1, 5) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0, 18.7, 5) == [0, 5, 10, 15]


def test_a_chart_is_valid_svg_with_its_marks_placed_and_its_labels_escaped():
    ch = Chart("答对<概率>", "能力 θ", "P", (-4.0, 4.0), (0.0, 1.0),
               curves=[Curve("模型 & 曲线", [-4.0, 0.0, 4.0], [0.0, 0.5, 1.0])],
               points=[Points("实际", [-2.0, 2.0], [0.25, 0.75], notes=["甲", "乙"], low=[0.1, 0.6], high=[0.4, 0.9])],
               vlines=[VLine(1.0, "中级 1.00")], hlines=[HLine(0.5, "一半")], css_id="c1")
    root = ET.fromstring(str(render_chart(ch)))
    assert root.get("id") == "c1" and root.find(f"{SVG}title").text == "答对<概率>"
    left, top, pw, ph = 56, 46, 640 - 56 - 16, 320 - 46 - 44
    dots = [g for g in root.iter(f"{SVG}g") if "observed" in g.get("class", "")]
    assert [(g.get("data-x"), g.get("data-y")) for g in dots] == [("-2", "0.25"), ("2", "0.75")]
    circle = dots[0].find(f"{SVG}circle")
    assert float(circle.get("cx")) == round(left + 2 / 8 * pw, 1)
    assert float(circle.get("cy")) == round(top + ph - 0.25 * ph, 1)
    cut = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "cut")
    assert cut.get("data-theta") == "1" and float(cut.find(f"{SVG}line").get("x1")) == round(left + 5 / 8 * pw, 1)
    line = root.find(f"{SVG}polyline")
    assert line.get("points").split()[1] == f"{left + pw / 2:.1f},{top + ph / 2:.1f}"
    assert "模型 &amp; 曲线" in str(render_chart(ch))


def test_a_charts_data_table_reads_each_curve_at_the_x_ticks():
    import math

    grid = [-4 + 0.1 * k for k in range(81)]
    icc = [1 / (1 + math.exp(-1.2 * (t - 0.5))) for t in grid]
    ch = Chart("特征<曲线>", "能力 θ", "P", (-4.0, 4.0), curves=[Curve("模型", grid, icc),
                                                           Curve("另一条 & 线", grid, [0.5] * 81)], css_id="icc")
    root = ET.fromstring(str(curve_table(ch)))
    assert root.tag == "details" and root.get("id") == "icc-data" and "特征<曲线>" in root.find("summary").text
    assert [th.text for th in root.iter("th") if th.get("scope") == "col"] == ["能力 θ", "模型", "另一条 & 线"]
    rows = root.find("table/tbody").findall("tr")
    assert [r.find("th").text for r in rows] == ["-4", "-3", "-2", "-1", "0", "1", "2", "3", "4"]
    p_at_1 = 1 / (1 + math.exp(-1.2 * 0.5))  # 3PL-free logistic at θ = 1
    assert rows[5].findall("td")[0].text == f"{p_at_1:.3f}" and rows[5].findall("td")[1].text == "0.500"
    assert str(curve_table(Chart("空", "x", "y", (0, 1)))) == ""
