"""Reading review batches and their labels from the store, for the page and the terminal.

A batch is the rows of ``review_batches`` with one ``BatchId`` (one per case, by ``Position``);
a case's current label is its latest ``labels`` row by ``LabelledAt``, whichever batch it was
saved from (the same turn has the same case id everywhere). Progress is the number of the
batch's cases that have a label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from tracesieve.collector.errors import PermanentError
from tracesieve.evals.store import EvalStore

from .model import (
    BUILTIN_CATEGORIES,
    SIGNAL_CATEGORIES,
    BatchSummary,
    BatchView,
    CaseView,
    LabelOut,
    SignalView,
)

__all__ = ["case_rows", "known_categories", "label_out", "latest_labels", "list_batches", "load_batch"]

_LIST_SQL = """
SELECT b.BatchId AS BatchId, any(b.Week) AS Week, toUnixTimestamp64Milli(min(b.CreatedAt)) AS CreatedAt,
       uniqExact(b.Position) AS Total,
       uniqExactIf(b.Position, l.CaseId != '') AS Labelled,
       uniqExactIf(b.Position, l.Verdict = 'bad') AS Bad
FROM review_batches AS b
LEFT JOIN (SELECT CaseId, argMax(Verdict, LabelledAt) AS Verdict FROM labels GROUP BY CaseId) AS l
    ON b.CaseId = l.CaseId
{where}
GROUP BY b.BatchId
ORDER BY CreatedAt DESC, BatchId DESC
"""

_CASES_SQL = """
SELECT Position, CaseId, Category, Week, toUnixTimestamp64Milli(CreatedAt) AS CreatedAt, Timestamp,
       SessionId, TraceId, SpanId, ServiceName, UserId, TurnIndex, FlagScore, Signals, Categories,
       Evidence, Model, UserMessage, OutputText, InputMessages, RetrievedDocuments, SessionContext,
       ClusterSize, ClusterExamples
FROM review_batches
WHERE BatchId = {batch:String}
ORDER BY Position
LIMIT 1 BY Position
"""

_LABELS_SQL = """
SELECT LabelId, CaseId, BatchId, Verdict, Categories, Expected, Criteria, Notes, Severity, Reviewer,
       toUnixTimestamp64Milli(LabelledAt) AS LabelledAt
FROM labels
WHERE has({ids:Array(String)}, CaseId)
ORDER BY CaseId, LabelledAt DESC, LabelId DESC
LIMIT 1 BY CaseId
"""

# Scores and categories of signals whose evidence lacks them (feedback joined after the fact).
_SIGNALS_SQL = """
SELECT TraceId, Signal, max(Score) AS Score, any(Category) AS Category
FROM signals FINAL
WHERE has({traces:Array(String)}, TraceId)
GROUP BY TraceId, Signal
"""

_CATEGORIES_SQL = "SELECT DISTINCT arrayJoin(Categories) AS Category FROM labels ORDER BY Category"


async def list_batches(store: EvalStore, batch_id: str | None = None) -> list[BatchSummary]:
    """Every batch (or the one named), newest first, with its progress."""
    where, params = ("WHERE b.BatchId = {batch:String}", {"batch": batch_id}) if batch_id else ("", {})
    rows = await store.select(_LIST_SQL.format(where=where), params)
    return [
        BatchSummary(
            batch_id=r["BatchId"],
            week=r["Week"],
            created_at=int(r["CreatedAt"]),
            total=int(r["Total"]),
            labelled=int(r["Labelled"]),
            bad=int(r["Bad"]),
        )
        for r in rows
    ]


async def case_rows(store: EvalStore, batch_id: str) -> list[dict[str, Any]]:
    """The batch's rows by position; PermanentError when there is no such batch."""
    rows = await store.select(_CASES_SQL, {"batch": batch_id})
    if not rows:
        raise PermanentError(f"no review batch {batch_id!r}")
    return rows


async def latest_labels(store: EvalStore, case_ids: Sequence[str]) -> dict[str, LabelOut]:
    """The current label of each of ``case_ids`` that has one."""
    if not case_ids:
        return {}
    rows = await store.select(_LABELS_SQL, {"ids": list(case_ids)})
    return {r["CaseId"]: label_out(r) for r in rows}


async def known_categories(store: EvalStore) -> list[str]:
    """The built-in categories, then every other category a label has used (alphabetically)."""
    used = [r["Category"] for r in await store.select(_CATEGORIES_SQL)]
    return [*BUILTIN_CATEGORIES, *(c for c in used if c and c not in BUILTIN_CATEGORIES)]


async def load_batch(store: EvalStore, batch_id: str) -> BatchView:
    """The batch with its cases, their current labels and where to resume."""
    rows = await case_rows(store, batch_id)
    labels = await latest_labels(store, [r["CaseId"] for r in rows])
    fallback = await _signal_rows(store, sorted({r["TraceId"] for r in rows}))
    cases = [_case(r, labels.get(r["CaseId"]), fallback) for r in rows]
    labelled = sum(1 for c in cases if c.label is not None)
    resume_at = next((i for i, c in enumerate(cases) if c.label is None), 0)
    categories = await known_categories(store)
    categories += sorted({c.category for c in cases if c.category and c.category not in categories})
    return BatchView(
        batch_id=batch_id,
        week=rows[0]["Week"],
        created_at=min(int(r["CreatedAt"]) for r in rows),
        total=len(cases),
        labelled=labelled,
        bad=sum(1 for c in cases if c.label is not None and c.label.verdict == "bad"),
        resume_at=resume_at,
        cases=cases,
        categories=categories,
    )


def label_out(r: dict[str, Any]) -> LabelOut:
    return LabelOut(
        label_id=r["LabelId"],
        case_id=r["CaseId"],
        batch_id=r["BatchId"],
        verdict=r["Verdict"],
        categories=list(r["Categories"]),
        expected=r["Expected"],
        criteria=r["Criteria"],
        notes=r["Notes"],
        severity=r["Severity"],
        reviewer=r["Reviewer"],
        labelled_at=int(r["LabelledAt"]),
    )


async def _signal_rows(store: EvalStore, traces: list[str]) -> dict[tuple[str, str], dict[str, Any]]:
    if not traces:
        return {}
    rows = await store.select(_SIGNALS_SQL, {"traces": traces})
    return {(r["TraceId"], r["Signal"]): r for r in rows}


def _json(text: Any, default: Any) -> Any:
    """A JSON column's value; the raw text when it is not JSON (shown as is, never dropped)."""
    if not isinstance(text, str):
        return default if text is None else text
    if not text.strip():
        return default
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value in (None, "", {}) else [value]


def _case(
    r: dict[str, Any], label: LabelOut | None, fallback: dict[tuple[str, str], dict[str, Any]]
) -> CaseView:
    evidence = _json(r["Evidence"], {})
    if not isinstance(evidence, dict):
        evidence = {"": evidence}
    signals = []
    for name in [*r["Signals"], *(k for k in evidence if k not in r["Signals"])]:
        detail = evidence.get(name)
        stored = fallback.get((r["TraceId"], name), {})
        score = detail.get("score") if isinstance(detail, dict) else None
        if not isinstance(score, int | float):
            score = stored.get("Score")
        signals.append(
            SignalView(
                signal=name,
                category=str(
                    (detail.get("category") if isinstance(detail, dict) else None)
                    or stored.get("Category")
                    or SIGNAL_CATEGORIES.get(name, "")
                ),
                score=float(score) if isinstance(score, int | float) else None,
                evidence=detail,
            )
        )
    signals.sort(key=lambda s: -(s.score or 0.0))
    return CaseView(
        position=int(r["Position"]),
        case_id=r["CaseId"],
        category=r["Category"],
        timestamp=str(r["Timestamp"]),
        session_id=r["SessionId"],
        trace_id=r["TraceId"],
        span_id=r["SpanId"],
        service_name=r["ServiceName"],
        user_id=r["UserId"],
        turn_index=int(r["TurnIndex"]),
        flag_score=float(r["FlagScore"]),
        model=r["Model"],
        signals=signals,
        user_message=r["UserMessage"],
        output_text=r["OutputText"],
        input_messages=_json(r["InputMessages"], []),
        retrieved_documents=_as_list(_json(r["RetrievedDocuments"], [])),
        session_context=_as_list(_json(r["SessionContext"], [])),
        cluster_size=int(r["ClusterSize"]),
        cluster_examples=_as_list(_json(r["ClusterExamples"], [])),
        label=label,
    )
