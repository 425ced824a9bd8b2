"""Reading a week's flagged turns from the store into a :class:`WeekSample`.

The scan reads ``flagged_spans FINAL`` (each turn's latest version) for the week, in pages of
:data:`PAGE_ROWS` in the table's order (keyset pagination, so a page costs the same at the end
as at the start), and offers every row to the same reservoir code the stream feeds: the result
equals the live one. It reads only what the sampler keeps (ids, score, categories, and the
first characters of the question), not the turns' content.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracesieve.evals.store import EvalStore
from tracesieve.processors.sampling import SIGNATURE_CHARS, FlaggedTurn, WeekSample

from .weeks import week_bounds_ns

__all__ = ["PAGE_ROWS", "Progress", "count_week", "scan_week"]

PAGE_ROWS = 5000

Progress = Callable[[int, int], None]
"""``progress(done, total)``, called after each page."""

_RANGE = (
    "Timestamp >= fromUnixTimestamp64Nano({start:Int64}) AND Timestamp < fromUnixTimestamp64Nano({end:Int64})"
)


async def count_week(store: EvalStore, week: str) -> int:
    """Flagged turns stored for the week."""
    start, end = week_bounds_ns(week)
    rows = await store.select(
        f"SELECT count() AS n FROM flagged_spans FINAL WHERE {_RANGE}", {"start": start, "end": end}
    )
    return int(rows[0]["n"]) if rows else 0


async def scan_week(
    store: EvalStore,
    week: str,
    into: WeekSample,
    progress: Progress | None = None,
) -> WeekSample:
    """Offer every flagged turn of ``week`` to ``into`` (which may already hold live ones)."""
    start, end = week_bounds_ns(week)
    total = await count_week(store, week) if progress is not None else 0
    done = 0
    after: tuple[str, str, str] | None = None
    while True:
        params: dict[str, Any] = {"start": start, "end": end, "limit": PAGE_ROWS, "chars": SIGNATURE_CHARS}
        where = _RANGE
        if after is not None:
            where += " AND (SessionId, TraceId, SpanId) > ({s:String}, {t:String}, {p:String})"
            params.update(s=after[0], t=after[1], p=after[2])
        rows = await store.select(
            "SELECT SessionId, TraceId, SpanId, toUnixTimestamp64Nano(Timestamp) AS ts, FlagScore, "
            "Categories, substringUTF8(UserMessage, 1, {chars:UInt32}) AS question "
            f"FROM flagged_spans FINAL WHERE {where} "
            "ORDER BY SessionId, TraceId, SpanId LIMIT {limit:UInt32}",
            params,
        )
        for row in rows:
            into.offer(turn_from_row(row))
        done += len(rows)
        if progress is not None:
            progress(done, max(total, done))
        if len(rows) < PAGE_ROWS:
            return into
        last = rows[-1]
        after = (last["SessionId"], last["TraceId"], last["SpanId"])


def turn_from_row(row: dict[str, Any]) -> FlaggedTurn:
    return FlaggedTurn.of(
        row["TraceId"],
        row["SpanId"],
        row["SessionId"],
        int(row["ts"]),
        float(row["FlagScore"]),
        list(row["Categories"]),
        row["question"] or "",
    )
