"""What the coverage audit reads from the store: production failures and the regression set.

- **A production failure** of category C is a span with a signal of category C
  (``signals FINAL``), or a review case whose current label (latest ``LabelledAt``) is ``bad``
  and names C. The two are merged per (trace/span, category), so a signal a reviewer confirmed
  counts once. Its time is the signal's ``Timestamp`` (event time), or for a label the
  sampled turn's ``Timestamp`` in ``review_batches`` (its ``LabelledAt`` when it was never in a
  batch, e.g. an incident). Bad labels without a category count nowhere.
- **The current regression set** is, as migration 0005 defines it, per ``Lineage`` the row
  with the highest ``Seq`` when its ``Status`` is ``active`` (a retired case covers nothing).
  A case covers each category in its ``Categories``.

Counts are distinct spans (failures) and distinct cases; the window is [since, until).
"""

from __future__ import annotations

from dataclasses import dataclass

from tracesieve.evals.store import EvalStore

__all__ = ["FailureCount", "Window", "current_eval_cases", "failure_counts", "weekly_failures"]

WEEK_NS = 7 * 86_400 * 10**9

_FAILURES = """
SELECT Category, Source, Item, Ts FROM (
    SELECT Category, 'signal' AS Source, concat(TraceId, '/', SpanId) AS Item,
           toUnixTimestamp64Nano(Timestamp) AS Ts
    FROM signals FINAL
    WHERE Timestamp >= fromUnixTimestamp64Nano({since:Int64})
      AND Timestamp < fromUnixTimestamp64Nano({until:Int64}) AND Category != ''
    UNION ALL
    SELECT arrayJoin(l.Categories) AS Category, 'label' AS Source,
           if(l.TraceId != '', concat(l.TraceId, '/', l.SpanId), l.CaseId) AS Item,
           if(b.Ts > 0, b.Ts, l.LabelledNs) AS Ts
    FROM (
        SELECT CaseId, argMax(Verdict, LabelledAt) AS Verdict, argMax(Categories, LabelledAt) AS Categories,
               argMax(TraceId, LabelledAt) AS TraceId, argMax(SpanId, LabelledAt) AS SpanId,
               toInt64(toUnixTimestamp64Milli(max(LabelledAt))) * 1000000 AS LabelledNs
        FROM labels GROUP BY CaseId
    ) AS l
    LEFT JOIN (
        SELECT CaseId, toUnixTimestamp64Nano(min(Timestamp)) AS Ts FROM review_batches GROUP BY CaseId
    ) AS b ON l.CaseId = b.CaseId
    WHERE l.Verdict = 'bad'
) WHERE Ts >= {since:Int64} AND Ts < {until:Int64} AND Category != ''
"""


@dataclass(frozen=True)
class Window:
    """[since_ns, until_ns), split into weeks counted back from ``until_ns``."""

    since_ns: int
    until_ns: int

    @property
    def weeks(self) -> int:
        return max(1, -(-(self.until_ns - self.since_ns) // WEEK_NS))

    def week_start_ns(self, weeks_ago: int) -> int:
        return max(self.since_ns, self.until_ns - (weeks_ago + 1) * WEEK_NS)

    def params(self) -> dict[str, int]:
        return {"since": self.since_ns, "until": self.until_ns, "week": WEEK_NS}


@dataclass(frozen=True)
class FailureCount:
    category: str
    failures: int
    from_signals: int
    from_labels: int


async def failure_counts(store: EvalStore, window: Window) -> list[FailureCount]:
    """Per category seen in the window: distinct failing spans, and how many each source saw."""
    rows = await store.select(
        f"SELECT Category, uniqExact(Item) AS n, uniqExactIf(Item, Source = 'signal') AS s, "
        f"uniqExactIf(Item, Source = 'label') AS l FROM ({_FAILURES}) GROUP BY Category",
        window.params(),
    )
    return [FailureCount(str(r["Category"]), int(r["n"]), int(r["s"]), int(r["l"])) for r in rows]


async def weekly_failures(store: EvalStore, window: Window) -> dict[str, list[int]]:
    """Per category, distinct failing spans per week, oldest week first (``window.weeks`` long)."""
    rows = await store.select(
        "SELECT Category, intDiv({until:Int64} - 1 - Ts, {week:Int64}) AS WeeksAgo, uniqExact(Item) AS n "
        f"FROM ({_FAILURES}) GROUP BY Category, WeeksAgo",
        window.params(),
    )
    weeks = window.weeks
    series: dict[str, list[int]] = {}
    for r in rows:
        counts = series.setdefault(str(r["Category"]), [0] * weeks)
        ago = int(r["WeeksAgo"])
        if 0 <= ago < weeks:
            counts[weeks - 1 - ago] += int(r["n"])
    return series


async def current_eval_cases(store: EvalStore) -> dict[str, list[str]]:
    """Per category, the ids of the current regression set's cases that cover it (sorted)."""
    rows = await store.select(
        "SELECT arrayJoin(Categories) AS Category, groupUniqArray(CaseId) AS Ids FROM eval_cases "
        "WHERE Seq IN (SELECT max(Seq) FROM eval_cases GROUP BY Lineage) AND Status = 'active' "
        "GROUP BY Category"
    )
    return {str(r["Category"]): sorted(str(i) for i in r["Ids"]) for r in rows if r["Category"]}
