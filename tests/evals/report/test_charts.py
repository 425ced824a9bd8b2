"""The reports' SVG: safe with any label, and drawing what it is given."""

from __future__ import annotations

import re

from markupsafe import Markup
from tracesieve.evals.report.charts import (
    CoverageBar,
    Interval,
    RateGroup,
    confusion_grid,
    coverage_bars,
    diverging_bar,
    interval_axis,
    rate_pairs,
    sparkline,
)
from tracesieve.evals.report.svg import tag, text

EVIL = '"><script>alert(1)</script><img src=x onerror=alert(1)>'


def test_text_and_attributes_are_escaped_and_markup_children_kept() -> None:
    inner = text(1.5, 2, EVIL)
    outer = tag("g", {"class_": EVIL, "stroke_width": 2}, inner)
    assert "<script" not in outer and "<img" not in outer
    assert 'class="&#34;&gt;&lt;script&gt;' in outer
    assert 'stroke-width="2"' in outer
    assert outer.count("<text") == 1  # the child tag is kept as markup, not escaped
    assert isinstance(outer, Markup)


def test_every_chart_escapes_its_labels() -> None:
    charts = [
        coverage_bars([CoverageBar(EVIL, 3, 0, True), CoverageBar("ok", 1, 2, False)]),
        interval_axis(
            [Interval(EVIL, 0.5, 0.3, 0.7, False), Interval("x", None, None, None, False)], threshold=0.6
        ),
        confusion_grid([[1, 2], [3, 4]], ["bad", "fine"], title=EVIL),
        rate_pairs([RateGroup(EVIL, EVIL, 0.2, "long", None)], title=EVIL),
        sparkline([0, 1, 5]),
        diverging_bar(3, 1, scale=3),
    ]
    for chart in charts:
        assert chart.startswith("<svg") and chart.endswith("</svg>")
        assert "<script" not in chart and "<img" not in chart
        assert not re.search(r"https?://", chart)


def test_coverage_bars_mark_gaps_in_red_and_scale_each_panel() -> None:
    chart = coverage_bars([CoverageBar("retrieval", 10, 0, True), CoverageBar("hallucination", 5, 4, False)])
    assert chart.count("no eval case") == 1
    widths = [float(w) for w in re.findall(r'<rect x="\d+(?:\.\d+)?" y="[\d.]+" width="([\d.]+)"', chart)]
    # failures 10 and 5 on one scale, eval cases 4 on its own: the largest of each fills its panel.
    assert widths[0] == 2 * widths[1] and widths[2] == widths[0]
    assert 'fill="#e03131"' in chart


def test_sparkline_and_interval_titles_carry_the_numbers() -> None:
    assert "<title>weekly counts, oldest first: 0, 1, 5</title>" in sparkline([0, 1, 5])
    axis = interval_axis([Interval("overall", 0.74, 0.62, 0.84, True)], threshold=0.6)
    assert "0.74  [0.62, 0.84]" in axis and "trust threshold 0.6" in axis
    assert "κ undefined" in interval_axis([Interval("x", None, None, None, False)], threshold=0.6)
