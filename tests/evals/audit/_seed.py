"""A store with production failures across weeks, labels and a regression set, for the audit.

Used in-process (``seed(dsn, database)``, through the ``audit_store`` fixture) and by the CLI
test in a subprocess with a data folder of its own (``python _seed.py DATA_DIR``).

The window ends at UNTIL (a Monday); counts are per distinct span:

| category | failures | weekly (weeks ago: spans) | eval cases | status |
| --- | --- | --- | --- | --- |
| retrieval | 8 (two signals on each span) | 0..7: 1 each | 0 | gap, flat |
| XSS (a custom category) | 1 (a bad label) | 3: 1 | 0 | gap |
| refusal | 1 | 2: 1 | 0 (its only case is retired) | gap (rare with --min-count 2) |
| hallucination | 6 (+1 bad label on one of those spans) | 0: 3, 1: 2, 5: 1 | 2 | covered, up +400% |
| latency | 0 in the window (one 100 days before) | | 1 | unseen |
| error | 0 | | 0 (its only case has a newer version) | not listed |
| truncation | 0 (only a label that was bad, then fine) | | 0 | not listed |
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tracesieve.evals.ids import review_case_id
from tracesieve.evals.store import DirectEvalStore
from tracesieve.sinks.clickhouse.store import connect

UNTIL = "2026-03-02T00:00:00Z"
UNTIL_NS = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp()) * 10**9
DAY_NS = 86_400 * 10**9
WEEK_NS = 7 * DAY_NS
XSS = "<img src=x onerror=alert(1)>"

SIGNAL_COLUMNS = [
    "Timestamp",
    "SessionId",
    "TraceId",
    "SpanId",
    "Signal",
    "Category",
    "Score",
    "Evidence",
    "DetectedAt",
]


def at(weeks_ago: int) -> int:
    """A time inside the week ``weeks_ago`` weeks before UNTIL (0 = the last week)."""
    return UNTIL_NS - weeks_ago * WEEK_NS - 2 * DAY_NS


def _signal(trace: str, span: str, signal: str, category: str, ts: int) -> list[Any]:
    return [ts, f"s-{trace}", trace, span, signal, category, 0.9, "{}", ts // 10**6]


def signal_rows() -> list[list[Any]]:
    rows = []
    for week in range(8):
        trace = f"{0xA0 + week:032x}"
        rows.append(_signal(trace, "00000000000000aa", "empty_retrieval", "retrieval", at(week)))
        rows.append(_signal(trace, "00000000000000aa", "low_retrieval_confidence", "retrieval", at(week)))
    for i, week in enumerate([0, 0, 0, 1, 1, 5]):
        rows.append(
            _signal(f"{0xB0 + i:032x}", "00000000000000bb", "ungrounded_answer", "hallucination", at(week))
        )
    rows.append(_signal(f"{0xC0:032x}", "00000000000000cc", "refusal", "refusal", at(2)))
    rows.append(
        _signal(f"{0xD0:032x}", "00000000000000dd", "latency_outlier", "latency", UNTIL_NS - 100 * DAY_NS)
    )
    return rows


def _label(trace: str, span: str, verdict: str, categories: list[str], at_ms: int) -> dict[str, Any]:
    return {
        "LabelId": f"l-{trace[-4:]}-{at_ms}",
        "CaseId": review_case_id(trace, span),
        "TraceId": trace,
        "SpanId": span,
        "Verdict": verdict,
        "Categories": categories,
        "Reviewer": "ana",
        "LabelledAt": at_ms,
    }


def label_rows() -> list[dict[str, Any]]:
    confirmed = f"{0xB0:032x}"  # a hallucination span with a signal: counted once
    custom = f"{0xE0:032x}"
    changed = f"{0xF0:032x}"
    return [
        _label(confirmed, "00000000000000bb", "bad", ["hallucination"], UNTIL_NS // 10**6 - 1000),
        _label(custom, "00000000000000ee", "bad", [XSS], UNTIL_NS // 10**6 - 900),
        _label(changed, "00000000000000ff", "bad", ["truncation"], UNTIL_NS // 10**6 - 800),
        _label(changed, "00000000000000ff", "fine", ["truncation"], UNTIL_NS // 10**6 - 700),
    ]


def batch_rows() -> list[dict[str, Any]]:
    """The custom-category case was sampled in week 3: its failure time is the turn's."""
    trace, span = f"{0xE0:032x}", "00000000000000ee"
    return [
        {
            "BatchId": "b1",
            "CaseId": review_case_id(trace, span),
            "TraceId": trace,
            "SpanId": span,
            "Timestamp": at(3),
            "OutputText": "an answer",
        }
    ]


def eval_case_rows() -> list[dict[str, Any]]:
    def case(
        seq: int, case_id: str, categories: list[str], lineage: str = "", status: str = "active"
    ) -> dict[str, Any]:
        return {
            "Seq": seq,
            "CaseId": case_id,
            "Lineage": lineage or case_id,
            "Supersedes": lineage,  # each lineage here has two versions: the second supersedes the first
            "Status": status,
            "Categories": categories,
            "Input": f"question {seq}",
        }

    return [
        case(1, "case-a", ["hallucination"]),
        case(2, "case-b", ["latency"]),
        case(3, "case-c", ["error"]),
        case(4, "case-d", ["hallucination"], lineage="case-c"),  # a new version: error no longer covered
        case(5, "case-e", ["refusal"]),
        case(6, "case-f", ["refusal"], lineage="case-e", status="retired"),  # retired: refusal stays a gap
    ]


async def seed(dsn: str, database: str) -> None:
    store = DirectEvalStore(dsn, database)
    await store.open()
    try:
        client = connect(dsn)
        try:
            client.insert(f"{database}.signals", signal_rows(), column_names=SIGNAL_COLUMNS)
        finally:
            client.close()
        await store.insert("labels", label_rows())
        await store.insert("review_batches", batch_rows())
        await store.insert("eval_cases", eval_case_rows())
    finally:
        await store.aclose()


if __name__ == "__main__":
    data_dir = Path(sys.argv[1]).resolve()
    asyncio.run(seed(f"chdb://{data_dir / 'chdb'}", "tracesieve"))
