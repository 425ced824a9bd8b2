"""Promotion: every review case whose current label is ``bad`` becomes an eval case.

``store.call("regressions.promote:promote", {"case_ids": [...]})`` (``{}``: every labelled case;
the review page calls it after each bad label, ``tracesieve regressions sync`` with ``{}``).
For each case:

- its current label is its latest ``labels`` row (by ``LabelledAt``, then ``LabelId``);
- its content is the ``review_batches`` row of the label's batch (else the latest batch row for
  the case, else the flagged turn in ``flagged_spans``);
- no version yet: append one; the current version was built from the same label content
  (input, context, documents, answer, expected, criteria, categories, severity, signals: the
  ``fingerprint`` kept in its provenance) : nothing; otherwise append a new version that
  supersedes it, keeping the incident id and free tags set with ``regressions tag`` (the new
  label's categories and severity win) and active again if it had been retired.

A case relabelled ``fine`` stays in the set (nothing leaves it): the result lists such cases
under ``labelled_fine`` so that a person can retire them. Returns JSON counts and ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from tracesieve.collector.errors import PermanentError
from tracesieve.evals.json_columns import json_column
from tracesieve.evals.store import EvalStore, store_op

from .chain import append, read_cases
from .record import ACTIVE, CaseRecord, EvalCase, canonical_json

__all__ = ["build_record", "promote"]

_LABELS = (
    "SELECT CaseId, LabelId, Verdict, BatchId, SessionId, TraceId, SpanId, Categories, Expected, Criteria, "
    "Notes, Severity, Reviewer, toUnixTimestamp64Milli(LabelledAt) AS LabelledAt "
    "FROM labels WHERE empty({ids:Array(String)}) OR has({ids:Array(String)}, CaseId) "
    "ORDER BY CaseId, LabelledAt DESC, LabelId DESC LIMIT 1 BY CaseId"
)
_TURN = (
    "toUnixTimestamp64Nano(Timestamp) AS TimestampNs, SessionId, TraceId, SpanId, ServiceName, UserId, "
    "TurnIndex, FlagScore, Signals, Categories, Evidence, Model, UserMessage, OutputText, "
    "RetrievedDocuments, SessionContext"
)
_BATCH_ROWS = (
    f"SELECT CaseId, BatchId, Week, Position, ClusterSize, Category, "
    f"toUnixTimestamp64Milli(CreatedAt) AS CreatedAt, {_TURN} "
    "FROM review_batches WHERE has({ids:Array(String)}, CaseId) ORDER BY CaseId, CreatedAt, BatchId"
)
_FLAGGED_ROWS = (
    f"SELECT {_TURN} FROM flagged_spans FINAL WHERE has({{keys:Array(String)}}, concat(TraceId, '/', SpanId))"
)

Row = dict[str, Any]


@store_op
async def promote(store: EvalStore, payload: dict[str, Any]) -> dict[str, Any]:
    """See the module docstring. Payload ``{"case_ids": [review case ids]}`` or ``{}``."""
    ids = payload.get("case_ids") or []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise PermanentError('promote payload must be {"case_ids": ["<review case id>", ...]} or {}')
    labels = await store.select(_LABELS, {"ids": ids})
    bad = [lab for lab in labels if lab["Verdict"] == "bad"]
    fine = [str(lab["CaseId"]) for lab in labels if lab["Verdict"] != "bad"]
    contents = await _contents(store, bad)
    heads = await _heads(store, [str(lab["CaseId"]) for lab in labels])
    records: list[CaseRecord] = []
    unchanged: list[str] = []
    missing: list[str] = []
    for label in bad:
        review_id = str(label["CaseId"])
        content = contents.get(review_id)
        if content is None:
            missing.append(review_id)
            continue
        candidate = build_record(content, label)
        head = heads.get(review_id)
        if head is None:
            records.append(candidate)
        elif _fingerprint_of(head.record) == _fingerprint_of(candidate):
            unchanged.append(review_id)
        else:
            records.append(
                candidate.replace(
                    incident_id=head.record.incident_id, tags=head.record.tags, supersedes=head.case_id
                )
            )
    result = await append(store, records)
    return {
        "labelled": len(labels),
        "appended": [
            {
                "case_id": c.case_id,
                "seq": c.seq,
                "review_case_id": c.record.review_case_id,
                "supersedes": c.record.supersedes,
            }
            for c in result.cases
        ],
        "unchanged": unchanged + [_review_id(records, i) for i in result.skipped],
        "missing_content": missing,
        "labelled_fine": [i for i in fine if i in heads and heads[i].record.status == ACTIVE],
    }


def build_record(content: Mapping[str, Any], label: Mapping[str, Any]) -> CaseRecord:
    """The eval case for a ``bad`` label on the turn in ``content`` (a review_batches or
    flagged_spans row). Its provenance keeps the label fingerprint that promotion compares."""
    categories = list(label.get("Categories") or content.get("Categories") or [])
    if not categories and content.get("Category"):
        categories = [str(content["Category"])]
    record = CaseRecord(
        source="review",
        input=str(content.get("UserMessage") or ""),
        context=json_column(content.get("SessionContext"), []),
        retrieved_documents=json_column(content.get("RetrievedDocuments"), []),
        output=str(content.get("OutputText") or ""),
        expected=str(label.get("Expected") or ""),
        criteria=str(label.get("Criteria") or ""),
        categories=categories,
        severity=str(label.get("Severity") or ""),
        signals=list(content.get("Signals") or []),
        session_id=str(content.get("SessionId") or label.get("SessionId") or ""),
        trace_id=str(content.get("TraceId") or label.get("TraceId") or ""),
        span_id=str(content.get("SpanId") or label.get("SpanId") or ""),
        review_case_id=str(label["CaseId"]),
        batch_id=str(content.get("BatchId") or label.get("BatchId") or ""),
        label_id=str(label.get("LabelId") or ""),
        reviewer=str(label.get("Reviewer") or ""),
    )
    provenance: dict[str, Any] = {
        "label": {
            "fingerprint": _fingerprint_of(record),
            "labelled_at_ms": int(label.get("LabelledAt") or 0),
            "notes": str(label.get("Notes") or ""),
        },
        "turn": {
            "timestamp_ns": int(content.get("TimestampNs") or 0),
            "service": str(content.get("ServiceName") or ""),
            "model": str(content.get("Model") or ""),
            "user_id": str(content.get("UserId") or ""),
            "turn_index": int(content.get("TurnIndex") or 0),
            "flag_score": round(float(content.get("FlagScore") or 0.0), 4),
        },
        "evidence": json_column(content.get("Evidence"), {}),
        "content_from": "review_batches" if "BatchId" in content else "flagged_spans",
    }
    if "BatchId" in content:
        provenance["batch"] = {
            "week": str(content.get("Week") or ""),
            "position": int(content.get("Position") or 0),
            "cluster_size": int(content.get("ClusterSize") or 1),
        }
    return record.replace(provenance=provenance)


def _fingerprint_of(record: CaseRecord) -> str:
    """What a label decided about a turn; equal fingerprints mean nothing to promote."""
    label = record.provenance.get("label")
    if isinstance(label, dict) and "fingerprint" in label:
        return str(label["fingerprint"])
    fields = {
        "input": record.input,
        "context": record.context,
        "retrieved_documents": record.retrieved_documents,
        "output": record.output,
        "expected": record.expected,
        "criteria": record.criteria,
        "categories": record.categories,
        "severity": record.severity,
        "signals": record.signals,
    }
    return hashlib.sha256(canonical_json(fields).encode()).hexdigest()


async def _contents(store: EvalStore, labels: list[Row]) -> dict[str, Row]:
    """Per review case id, the row its eval case is built from."""
    if not labels:
        return {}
    wanted_batch = {str(lab["CaseId"]): str(lab["BatchId"]) for lab in labels}
    found: dict[str, Row] = {}
    for row in await store.select(_BATCH_ROWS, {"ids": list(wanted_batch)}):
        case_id = str(row["CaseId"])
        # Rows come oldest first: the label's own batch wins, else the latest batch.
        if case_id not in found or found[case_id]["BatchId"] != wanted_batch[case_id]:
            found[case_id] = row
    rest = {
        f"{lab['TraceId']}/{lab['SpanId']}": str(lab["CaseId"])
        for lab in labels
        if lab["CaseId"] not in found
    }
    if rest:
        for row in await store.select(_FLAGGED_ROWS, {"keys": list(rest)}):
            found[rest[f"{row['TraceId']}/{row['SpanId']}"]] = row
    return found


async def _heads(store: EvalStore, review_ids: list[str]) -> dict[str, EvalCase]:
    """Per review case id, the current version of its eval case (if it has one)."""
    if not review_ids:
        return {}
    cases = await read_cases(
        store,
        "WHERE Seq IN (SELECT max(Seq) FROM eval_cases WHERE has({ids:Array(String)}, ReviewCaseId) "
        "GROUP BY Lineage)",
        {"ids": review_ids},
    )
    return {c.record.review_case_id: c for c in cases}


def _review_id(records: list[CaseRecord], case_id: str) -> str:
    return next((r.review_case_id for r in records if r.case_id() == case_id), case_id)
