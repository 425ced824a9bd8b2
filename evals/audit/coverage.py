"""The coverage audit: which failure categories seen in production the regression set covers.

For each category with a production failure in the window, or with an eval case:

- ``failures``: distinct failing spans in the window (signals ∪ bad labels, see ``query``);
- ``weekly``: those per week, oldest first; weeks are counted back from the end of the window,
  so the last one is the 7 days before ``until`` and the first may be partial;
- ``trend``: the last 4 weeks against the 4 before them, as ``change_pct`` (None when the 4
  before had none) and ``direction``: ``up``/``down`` (a change of at least 10%), ``flat``,
  ``new`` (none before, some now), ``gone`` (some before, none now), ``quiet`` (none in either),
  ``n/a`` (the window is shorter than 8 weeks);
- ``eval_cases``: cases of the current set that cover it;
- ``status``: ``gap`` (failures ≥ ``min_count`` and no eval case), ``rare`` (failures below
  ``min_count`` and no eval case: not flagged), ``covered``, or ``unseen`` (eval cases but no
  failure in the window: the other direction, possibly a fixed failure mode or a stale case).

The JSON form (:meth:`AuditReport.to_json`) is what ``--format json`` prints and what the HTML
report is drawn from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from .query import FailureCount, Window

__all__ = ["AuditReport", "CategoryCoverage", "Trend", "build_report", "trend_of"]

TREND_WEEKS = 4
FLAT_PCT = 10.0


@dataclass(frozen=True)
class Trend:
    last_4_weeks: int | None
    previous_4_weeks: int | None
    change_pct: float | None
    direction: str

    @property
    def arrow(self) -> str:
        return {"up": "↑", "down": "↓", "flat": "→", "new": "↑ new", "gone": "↓ gone", "quiet": "·"}.get(
            self.direction, "–"
        )


def trend_of(weekly: Sequence[int]) -> Trend:
    """Last 4 weeks vs the 4 before; ``n/a`` with fewer than 8 weeks of series."""
    if len(weekly) < 2 * TREND_WEEKS:
        return Trend(None, None, None, "n/a")
    last = sum(weekly[-TREND_WEEKS:])
    previous = sum(weekly[-2 * TREND_WEEKS : -TREND_WEEKS])
    if previous == 0:
        return Trend(last, previous, None, "new" if last else "quiet")
    pct = round((last - previous) / previous * 100.0, 1)
    if last == 0:
        direction = "gone"
    elif pct >= FLAT_PCT:
        direction = "up"
    elif pct <= -FLAT_PCT:
        direction = "down"
    else:
        direction = "flat"
    return Trend(last, previous, pct, direction)


@dataclass(frozen=True)
class CategoryCoverage:
    category: str
    failures: int
    from_signals: int
    from_labels: int
    weekly: list[int]
    trend: Trend
    eval_cases: int
    status: str


@dataclass(frozen=True)
class AuditReport:
    window: Window
    min_count: int
    categories: list[CategoryCoverage]
    unseen_case_ids: dict[str, list[str]]
    eval_cases_total: int

    @property
    def gaps(self) -> list[str]:
        return [c.category for c in self.categories if c.status == "gap"]

    @property
    def production_categories(self) -> list[CategoryCoverage]:
        return [c for c in self.categories if c.failures > 0]

    @property
    def headline(self) -> str:
        seen = len(self.production_categories)
        if not seen:
            return "No production failure in the window."
        gaps = len(self.gaps)
        rare = sum(1 for c in self.categories if c.status == "rare")
        noun = "category" if seen == 1 else "categories"
        if gaps == 0 and rare == 0:
            return f"Every failure category seen in production ({seen}) has an eval case."
        if gaps == 0:
            return (
                f"No failure category with at least {self.min_count} failures lacks an eval case; "
                f"{rare} of {seen} with fewer {'has' if rare == 1 else 'have'} none."
            )
        verb = "has" if gaps == 1 else "have"
        line = f"{gaps} of {seen} failure {noun} seen in production {verb} no eval case."
        if rare:
            verb = "has" if rare == 1 else "have"
            line += f" Of the others, {rare} {verb} no case but fewer than {self.min_count} failures"
            line += ": not flagged."
        return line

    def week_starts(self) -> list[str]:
        weeks = self.window.weeks
        return [_iso(self.window.week_start_ns(weeks - 1 - i)) for i in range(weeks)]

    def to_json(self) -> dict[str, Any]:
        return {
            "window": {
                "since": _iso(self.window.since_ns),
                "until": _iso(self.window.until_ns),
                "weeks": self.window.weeks,
                "week_starts": self.week_starts(),
            },
            "min_count": self.min_count,
            "headline": self.headline,
            "categories": [
                {**{k: v for k, v in asdict(c).items() if k != "trend"}, "trend": asdict(c.trend)}
                for c in self.categories
            ],
            "gaps": self.gaps,
            "unseen_in_production": [
                {"category": c, "eval_cases": len(ids), "case_ids": ids}
                for c, ids in self.unseen_case_ids.items()
            ],
            "eval_cases_total": self.eval_cases_total,
        }


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


_ORDER = {"gap": 0, "covered": 1, "rare": 2, "unseen": 3}


def build_report(
    window: Window,
    failures: Sequence[FailureCount],
    weekly: Mapping[str, list[int]],
    cases: Mapping[str, list[str]],
    *,
    min_count: int = 1,
) -> AuditReport:
    """The audit from what ``query`` read; categories ordered gaps first, then by failures."""
    by_name = {f.category: f for f in failures}
    names = set(by_name) | set(cases)
    rows: list[CategoryCoverage] = []
    for name in names:
        found = by_name.get(name, FailureCount(name, 0, 0, 0))
        series = list(weekly.get(name, [0] * window.weeks))
        n_cases = len(cases.get(name, []))
        if found.failures and not n_cases:
            status = "gap" if found.failures >= min_count else "rare"
        else:
            status = "covered" if found.failures else "unseen"
        rows.append(
            CategoryCoverage(
                name,
                found.failures,
                found.from_signals,
                found.from_labels,
                series,
                trend_of(series),
                n_cases,
                status,
            )
        )
    rows.sort(key=lambda c: (_ORDER[c.status], -c.failures, -c.eval_cases, c.category))
    unseen = {c.category: cases[c.category] for c in rows if c.status == "unseen"}
    total = len({i for ids in cases.values() for i in ids})
    return AuditReport(window, min_count, rows, unseen, total)
