"""The reports' charts, as inline SVG (no script, no network, safe with any label).

Each function takes plain numbers and labels and returns one ``<svg>`` as Markup:

- :func:`coverage_bars`: per category, production failures (left panel) beside eval cases
  (right panel), each on its own scale; categories with failures and no case in red.
- :func:`sparkline`: weekly counts as a small line, oldest week first.
- :func:`interval_axis`: point estimates with confidence intervals on one axis and a threshold
  line (Cohen's kappa with its bootstrap CI against ``--min-kappa``).
- :func:`confusion_grid`: a 2x2 confusion matrix as coloured cells (agreement green,
  disagreement red, shade by share of cases).
- :func:`rate_pairs`: grouped bars of rates in [0, 1] (the judge's "fine" rate for short vs
  long, hedged vs confident answers, within each human label).
- :func:`diverging_bar`: two counts either side of a centre (lenient left, strict right).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from .svg import svg, tag, text

__all__ = [
    "CoverageBar",
    "Interval",
    "RateGroup",
    "confusion_grid",
    "coverage_bars",
    "diverging_bar",
    "interval_axis",
    "rate_pairs",
    "sparkline",
]

BLUE = "#3b5bdb"
GREEN = "#2f9e44"
RED = "#e03131"
ORANGE = "#f08c00"
GREY = "#868e96"
LIGHT = "#e9ecef"
FONT = {"font_size": 12, "fill": "#212529"}


@dataclass(frozen=True)
class CoverageBar:
    label: str
    failures: int
    eval_cases: int
    gap: bool


def _width(value: float, top: float, span: float) -> float:
    return 0.0 if top <= 0 else max(value / top * span, 1.5 if value > 0 else 0.0)


def coverage_bars(rows: Sequence[CoverageBar]) -> Markup:
    """Two panels sharing the category axis: failures in the window, and eval cases."""
    label_w, panel_w, gutter, row_h, top = 230.0, 250.0, 70.0, 24.0, 30.0
    width = label_w + 2 * panel_w + gutter + 20
    height = top + row_h * max(len(rows), 1) + 10
    left = label_w
    right = label_w + panel_w + gutter
    top_failures = max((r.failures for r in rows), default=0)
    top_cases = max((r.eval_cases for r in rows), default=0)
    parts = [
        text(left, 16, "production failures in the window", **FONT, font_weight="bold"),
        text(right, 16, "eval cases in the current set", **FONT, font_weight="bold"),
    ]
    for i, row in enumerate(rows):
        y = top + i * row_h
        colour = RED if row.gap else BLUE
        shown = row.label if len(row.label) <= 32 else row.label[:31] + "…"
        parts.append(
            text(
                label_w - 8,
                y + 15,
                shown,
                text_anchor="end",
                font_size=12,
                fill=RED if row.gap else "#212529",
                font_weight="bold" if row.gap else None,
            )
        )
        fw = _width(row.failures, top_failures, panel_w - 40)
        parts.append(
            tag("rect", {"x": left, "y": y + 4, "width": fw, "height": 15.0, "rx": 2, "fill": colour})
        )
        parts.append(
            text(
                left + fw + 4,
                y + 16,
                str(row.failures) if row.failures else "none",
                font_size=11,
                fill=GREY if not row.failures else "#212529",
            )
        )
        if row.eval_cases:
            cw = _width(row.eval_cases, top_cases, panel_w - 40)
            parts.append(
                tag("rect", {"x": right, "y": y + 4, "width": cw, "height": 15.0, "rx": 2, "fill": GREEN})
            )
            parts.append(text(right + cw + 4, y + 16, str(row.eval_cases), font_size=11))
        else:
            parts.append(
                text(
                    right,
                    y + 16,
                    "no eval case" if row.gap else "0",
                    font_size=11,
                    fill=RED if row.gap else GREY,
                    font_weight="bold" if row.gap else None,
                )
            )
    axis = {"stroke": "#adb5bd", "stroke_width": 1}
    parts.append(tag("line", {"x1": left, "y1": top - 2, "x2": left, "y2": height - 8, **axis}))
    parts.append(tag("line", {"x1": right, "y1": top - 2, "x2": right, "y2": height - 8, **axis}))
    return svg(width, height, parts, label="production failures and eval cases per category", class_="chart")


def sparkline(
    values: Sequence[int], *, width: float = 130.0, height: float = 26.0, colour: str = BLUE
) -> Markup:
    """Weekly counts, oldest first; the last week is marked with a dot."""
    label = "weekly counts, oldest first: " + ", ".join(str(v) for v in values)
    if not values:
        return svg(width, height, [], label=label, class_="spark")
    top = max(max(values), 1)
    step = (width - 8) / max(len(values) - 1, 1)
    points = [(4 + i * step, height - 4 - v / top * (height - 8)) for i, v in enumerate(values)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    area = f"4,{height - 4:.1f} {path} {points[-1][0]:.1f},{height - 4:.1f}"
    parts = [
        tag("polygon", {"points": area, "fill": colour, "fill_opacity": "0.12"}),
        tag("polyline", {"points": path, "fill": "none", "stroke": colour, "stroke_width": 1.5}),
        tag("circle", {"cx": points[-1][0], "cy": points[-1][1], "r": 2.5, "fill": colour}),
    ]
    return svg(width, height, parts, label=label, class_="spark")


@dataclass(frozen=True)
class Interval:
    label: str
    point: float | None
    low: float | None
    high: float | None
    ok: bool


def interval_axis(rows: Sequence[Interval], *, threshold: float, name: str = "Cohen's κ") -> Markup:
    """One row per estimate: a dot at the point, a bar over the interval, a dashed threshold."""
    label_w, plot_w, row_h, top = 200.0, 440.0, 26.0, 34.0
    lows = [r.low for r in rows if r.low is not None] + [r.point for r in rows if r.point is not None]
    lo_dom = min(-0.2, *(v for v in lows)) if lows else -0.2
    lo_dom = max(-1.0, lo_dom)
    hi_dom = 1.0
    width = label_w + plot_w + 120
    height = top + row_h * max(len(rows), 1) + 26

    def x(v: float) -> float:
        return label_w + (min(max(v, lo_dom), hi_dom) - lo_dom) / (hi_dom - lo_dom) * plot_w

    parts: list[Markup] = [
        text(label_w, 14, f"{name} with its 95% bootstrap interval", **FONT, font_weight="bold")
    ]
    bottom = height - 22
    for tick in (-1.0, -0.5, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        if tick < lo_dom:
            continue
        parts.append(
            tag("line", {"x1": x(tick), "y1": top - 6, "x2": x(tick), "y2": bottom, "stroke": LIGHT})
        )
        parts.append(text(x(tick), bottom + 14, f"{tick:g}", font_size=10, fill=GREY, text_anchor="middle"))
    parts.append(
        tag(
            "line",
            {
                "x1": x(threshold),
                "y1": top - 10,
                "x2": x(threshold),
                "y2": bottom,
                "stroke": RED,
                "stroke_dasharray": "4 3",
                "stroke_width": 1.5,
            },
        )
    )
    parts.append(text(x(threshold) + 4, top - 12, f"trust threshold {threshold:g}", font_size=10, fill=RED))
    for i, row in enumerate(rows):
        y = top + i * row_h + 10
        colour = GREEN if row.ok else RED
        parts.append(
            text(
                label_w - 8,
                y + 4,
                row.label if len(row.label) <= 28 else row.label[:27] + "…",
                text_anchor="end",
                font_size=12,
                fill="#212529",
            )
        )
        if row.point is None:
            parts.append(text(label_w + 6, y + 4, "κ undefined (one class only)", font_size=11, fill=RED))
            continue
        if row.low is not None and row.high is not None:
            parts.append(
                tag(
                    "line",
                    {
                        "x1": x(row.low),
                        "y1": y,
                        "x2": x(row.high),
                        "y2": y,
                        "stroke": colour,
                        "stroke_width": 3,
                        "stroke_linecap": "round",
                        "stroke_opacity": "0.55",
                    },
                )
            )
        parts.append(tag("circle", {"cx": x(row.point), "cy": y, "r": 4.5, "fill": colour}))
        ci = f"  [{row.low:.2f}, {row.high:.2f}]" if row.low is not None and row.high is not None else ""
        parts.append(text(label_w + plot_w + 8, y + 4, f"{row.point:.2f}{ci}", font_size=11, fill=colour))
    return svg(width, height, parts, label=f"{name} per category with confidence intervals", class_="chart")


def confusion_grid(matrix: Sequence[Sequence[int]], labels: Sequence[str], *, title: str) -> Markup:
    """Rows are the human label, columns the judge's; the diagonal is agreement."""
    cell, left, top = 58.0, 78.0, 44.0
    total = sum(sum(r) for r in matrix) or 1
    width = max(left + cell * len(labels) + 10, 210.0)
    title = title if len(title) <= 26 else title[:25] + "…"
    height = top + cell * len(labels) + 10
    parts = [
        text(width / 2, 12, title, font_size=12, font_weight="bold", text_anchor="middle"),
        text(
            left + cell * len(labels) / 2, 28, "judge says →", font_size=10, fill=GREY, text_anchor="middle"
        ),
        text(4, top - 6, "human ↓", font_size=10, fill=GREY),
    ]
    for j, name in enumerate(labels):
        parts.append(text(left + j * cell + cell / 2, top - 6, name, font_size=11, text_anchor="middle"))
    for i, row in enumerate(matrix):
        parts.append(
            text(left - 6, top + i * cell + cell / 2 + 4, labels[i], font_size=11, text_anchor="end")
        )
        for j, count in enumerate(row):
            share = count / total
            colour = GREEN if i == j else RED
            opacity = f"{0.08 + 0.85 * share:.2f}"
            attrs = {
                "x": left + j * cell,
                "y": top + i * cell,
                "width": cell - 2,
                "height": cell - 2,
                "rx": 3,
            }
            parts.append(tag("rect", {**attrs, "fill": colour, "fill_opacity": opacity, "stroke": colour}))
            parts.append(
                text(
                    left + j * cell + cell / 2 - 1,
                    top + i * cell + cell / 2 + 4,
                    str(count),
                    font_size=14,
                    font_weight="bold",
                    text_anchor="middle",
                    fill="#ffffff" if share > 0.5 else "#212529",
                )
            )
    return svg(width, height, parts, label=f"confusion matrix: {title}", class_="grid")


@dataclass(frozen=True)
class RateGroup:
    label: str
    low_name: str
    low_rate: float | None
    high_name: str
    high_rate: float | None


def rate_pairs(groups: Sequence[RateGroup], *, title: str) -> Markup:
    """Per group, two bars of a rate in [0, 1] side by side (e.g. judge "fine" rate, short vs long)."""
    bar_w, gap, group_w, plot_h, top = 74.0, 6.0, 200.0, 120.0, 30.0
    width = max(50 + group_w * max(len(groups), 1), 8 + 8 * len(title))
    height = top + plot_h + 48
    base = top + plot_h
    parts = [text(8, 14, title, **FONT, font_weight="bold")]
    for tick in (0.0, 0.5, 1.0):
        y = base - tick * plot_h
        parts.append(tag("line", {"x1": 40, "y1": y, "x2": width - 6, "y2": y, "stroke": LIGHT}))
        parts.append(text(34, y + 4, f"{tick:.0%}", font_size=10, fill=GREY, text_anchor="end"))
    for g, group in enumerate(groups):
        x0 = 50 + g * group_w
        for k, (name, rate, colour) in enumerate(
            ((group.low_name, group.low_rate, BLUE), (group.high_name, group.high_rate, ORANGE))
        ):
            x = x0 + k * (bar_w + gap)
            if rate is None:
                parts.append(
                    text(x + bar_w / 2, base - 4, "n/a", font_size=10, fill=GREY, text_anchor="middle")
                )
            else:
                h = max(rate * plot_h, 1.0)
                parts.append(
                    tag("rect", {"x": x, "y": base - h, "width": bar_w, "height": h, "fill": colour, "rx": 2})
                )
                parts.append(
                    text(x + bar_w / 2, base - h - 4, f"{rate:.0%}", font_size=10, text_anchor="middle")
                )
            parts.append(text(x + bar_w / 2, base + 13, name, font_size=10, text_anchor="middle", fill=GREY))
        parts.append(text(x0 + bar_w + gap / 2, base + 30, group.label, font_size=11, text_anchor="middle"))
    return svg(width, height, parts, label=title, class_="chart")


def diverging_bar(left: int, right: int, *, scale: int, width: float = 180.0) -> Markup:
    """``left`` (too lenient, red) and ``right`` (too strict, orange) from a centre line."""
    half, height = width / 2, 18.0
    top = max(scale, 1)
    lw, rw = _width(left, top, half - 22), _width(right, top, half - 22)
    parts = [
        tag("rect", {"x": half - lw, "y": 3, "width": lw, "height": 12.0, "fill": RED}),
        tag("rect", {"x": half, "y": 3, "width": rw, "height": 12.0, "fill": ORANGE}),
        tag("line", {"x1": half, "y1": 0, "x2": half, "y2": height, "stroke": GREY}),
        text(half - lw - 3, 13, str(left), font_size=10, text_anchor="end"),
        text(half + rw + 3, 13, str(right), font_size=10),
    ]
    return svg(width, height, parts, label=f"{left} too lenient, {right} too strict", class_="spark")
