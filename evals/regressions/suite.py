"""Choosing a suite for CI that fits a time budget: at most N cases, every category covered.

``select_suite(cases, max_cases=30, cover_all=True, seed=0)``:

1. the pool: the current set, or its cases in any of ``categories`` when given;
2. with ``cover_all``, greedy set cover of the pool's categories (of ``categories`` when given):
   repeatedly the case that covers the most categories not yet covered; if ``max_cases`` is too
   small for that, PermanentError names the categories left out;
3. the remaining places, up to ``max_cases``, by severity (critical > high > medium > low >
   unset), then recency (the ISO week the case entered the set, newest first), then signal
   diversity (signals not yet in the suite), then a tie-break hashed from ``seed`` and the id.

Every step breaks ties the same way, so the same set, options and seed give the same suite. The
suite is returned in Seq order. Without ``max_cases`` the whole pool is the suite.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from tracesieve.collector.errors import PermanentError

from .record import EvalCase

__all__ = ["Selection", "select_suite", "severity_rank"]

_WEEK_MS = 7 * 24 * 3600 * 1000
_SEVERITY = {
    "critical": 4, "blocker": 4, "sev0": 4, "sev1": 4, "p0": 4,
    "high": 3, "major": 3, "sev2": 3, "p1": 3,
    "medium": 2, "moderate": 2, "sev3": 2, "p2": 2,
    "low": 1, "minor": 1, "sev4": 1, "p3": 1,
}  # fmt: skip


def severity_rank(severity: str) -> int:
    """4 critical … 1 low, 0 unset or unknown."""
    return _SEVERITY.get(severity.strip().lower(), 0)


@dataclass(frozen=True, slots=True)
class Selection:
    cases: list[EvalCase]
    categories: list[str]
    """The categories the suite had to cover (all of the pool's when ``cover_all``)."""
    pool_size: int


def select_suite(
    cases: Sequence[EvalCase],
    *,
    categories: Sequence[str] = (),
    max_cases: int | None = None,
    cover_all: bool = False,
    seed: int = 0,
) -> Selection:
    wanted = set(categories)
    pool = [c for c in cases if not wanted or wanted & set(c.record.categories)]
    universe = {cat for c in pool for cat in c.record.categories}
    if wanted:
        universe &= wanted
    if max_cases is None:
        return Selection(list(pool), sorted(universe), len(pool))
    if max_cases < 1:
        raise PermanentError("--max-cases must be at least 1")
    chosen: list[EvalCase] = []
    remaining = list(pool)
    covered: set[str] = set()
    signals: set[str] = set()

    def take(case: EvalCase) -> None:
        chosen.append(case)
        remaining.remove(case)
        covered.update(case.record.categories)
        signals.update(case.record.signals)

    def rank(case: EvalCase) -> tuple[int, int, int, str]:
        return (
            severity_rank(case.record.severity),
            case.created_at_ms // _WEEK_MS,
            len(set(case.record.signals) - signals),
            hashlib.sha256(f"{seed}:{case.case_id}".encode()).hexdigest(),
        )

    if cover_all:
        while (uncovered := universe - covered) and len(chosen) < max_cases:
            best = max(remaining, key=lambda c: (len(uncovered & set(c.record.categories)), *rank(c)))
            take(best)
        if universe - covered:
            left = ", ".join(sorted(universe - covered))
            raise PermanentError(
                f"{max_cases} cases cannot cover all {len(universe)} categories "
                f"(greedy cover left out: {left}); raise --max-cases"
            )
    while remaining and len(chosen) < max_cases:
        take(max(remaining, key=rank))
    chosen.sort(key=lambda c: c.seq)
    return Selection(chosen, sorted(universe), len(pool))
