"""Rendering the audit and calibration reports as one self-contained HTML page each.

Input is the command's JSON form (what ``--format json`` prints), so a report can also be
drawn later from saved JSON. The jinja2 environment autoescapes everything: category names,
judge names and answers come from production traffic and reviewers. Charts are inline SVG built
by :mod:`.charts`; the page loads nothing (no script, no stylesheet link, no font, no image URL).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from .charts import (
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
from .templates import TEMPLATES

__all__ = ["render_audit", "render_calibration", "write_report"]

_ENV = jinja2.Environment(
    loader=jinja2.DictLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

_ARROWS = {"up": "↑", "down": "↓", "flat": "→", "new": "↑", "gone": "↓", "quiet": "·"}
_STATUS = {
    "gap": "gap",
    "covered": "covered",
    "rare": "rare (below --min-count)",
    "unseen": "not seen in window",
}


def render_audit(data: Mapping[str, Any]) -> str:
    """The coverage audit page: headline, a bar chart per category (failures vs eval cases,
    gaps in red), and a table with a weekly sparkline and the trend per category."""
    categories = data["categories"]
    bars = coverage_bars(
        [CoverageBar(c["category"], c["failures"], c["eval_cases"], c["status"] == "gap") for c in categories]
    )
    sparks = [
        sparkline(c["weekly"], colour="#e03131" if c["status"] == "gap" else "#3b5bdb") for c in categories
    ]
    return _ENV.get_template("audit.html").render(
        data=data, bars=bars, sparks=sparks, arrows=_ARROWS, status_names=_STATUS
    )


def render_calibration(data: Mapping[str, Any]) -> str:
    """The judge calibration page: κ with intervals on an axis, a confusion grid per group, the
    direction of disagreement per group, and the length and hedging bias charts."""
    groups = [{**data["overall"], "category": "overall"}, *data["categories"]]
    threshold = float(data["settings"]["min_kappa"])
    forest = interval_axis(
        [
            Interval(
                g["category"],
                g["kappa"],
                g["kappa_ci"][0] if g["kappa_ci"] else None,
                g["kappa_ci"][1] if g["kappa_ci"] else None,
                bool(g["trusted"]),
            )
            for g in groups
        ],
        threshold=threshold,
    )
    grids = [
        confusion_grid(
            g["confusion"]["matrix"], g["confusion"]["labels"], title=f"{g['category']} (n={g['n']})"
        )
        for g in groups
    ]
    scale = max(
        (max(g["disagreement"]["too_lenient"], g["disagreement"]["too_strict"]) for g in groups), default=1
    )
    diverging = [
        diverging_bar(g["disagreement"]["too_lenient"], g["disagreement"]["too_strict"], scale=scale)
        for g in groups
    ]
    biases = [{"data": b, "chart": _bias_chart(b)} for b in data["bias"].values()]
    return _ENV.get_template("calibration.html").render(
        data=data, groups=groups, forest=forest, grids=grids, diverging=diverging, biases=biases
    )


def _bias_chart(bias: Mapping[str, Any]) -> Markup:
    groups = [
        RateGroup(
            f"human: {s['human']} (n={s['n']})",
            s["low_name"],
            s["low_fine_rate"],
            s["high_name"],
            s["high_fine_rate"],
        )
        for s in bias["strata"]
    ]
    return rate_pairs(groups, title=f"judge says fine, by {bias['feature']}, per human label")


def write_report(path: Path, html: str) -> None:
    """Writes a rendered report (making its folder) and says where on stderr."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    print(f"HTML report: {path}", file=sys.stderr)
