"""ISO weeks in UTC, named ``2026-W48``: the unit of the review batches.

A flagged turn belongs to the ISO week of its ``Timestamp`` (event time: the answer span's end,
UTC). A week runs from Monday 00:00 UTC to the next Monday 00:00 UTC (end excluded).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

__all__ = [
    "last_complete_week",
    "next_week",
    "parse_week",
    "previous_week",
    "week_bounds_ns",
    "week_of_ns",
    "week_of_s",
]

_WEEK = re.compile(r"^\s*(\d{4})-?W(\d{1,2})\s*$", re.IGNORECASE)
_NS = 1_000_000_000


def _name(d: date) -> str:
    year, week, _ = d.isocalendar()
    return f"{year:04d}-W{week:02d}"


def _monday(week: str) -> date:
    m = _WEEK.match(week)
    if not m:
        raise ValueError(f"{week!r} is not an ISO week; write it as 2026-W48")
    year, number = int(m.group(1)), int(m.group(2))
    try:
        return date.fromisocalendar(year, number, 1)
    except ValueError:
        raise ValueError(f"{week!r}: {year} has no ISO week {number}") from None


def parse_week(text: str) -> str:
    """``"2026-W48"`` (also ``2026W48``, ``2026-w48``, ``2026-W7``) → ``"2026-W48"``; ValueError else."""
    return _name(_monday(text))


def week_of_s(unix_s: float) -> str:
    return _name(datetime.fromtimestamp(unix_s, UTC).date())


def week_of_ns(unix_ns: int) -> str:
    return week_of_s(unix_ns // _NS) if unix_ns >= 0 else _name(date(1970, 1, 1))


def week_bounds_ns(week: str) -> tuple[int, int]:
    """``[start, end)`` of the week in Unix nanoseconds."""
    start = datetime.combine(_monday(week), datetime.min.time(), UTC)
    start_s = int(start.timestamp())
    return start_s * _NS, (start_s + 7 * 86400) * _NS


def previous_week(week: str) -> str:
    return _name(_monday(week) - timedelta(days=7))


def next_week(week: str) -> str:
    return _name(_monday(week) + timedelta(days=7))


def last_complete_week(now_s: float, grace_s: float = 0.0) -> str:
    """The latest week that ended at least ``grace_s`` before ``now_s``."""
    return previous_week(week_of_s(now_s - grace_s))
