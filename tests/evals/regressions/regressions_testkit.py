"""Rows and cases the regression-set tests build (conftest.py has the fixtures)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tracesieve.evals.ids import review_case_id
from tracesieve.evals.regressions.record import GENESIS, CaseRecord, EvalCase, chain_hash
from tracesieve.evals.store import EvalStore


def ids(n: int) -> tuple[str, str]:
    """(trace id, span id) of the n-th flagged turn."""
    return f"{n:032x}", f"{n:016x}"


def batch_row(n: int, *, category: str = "retrieval", batch: str = "b1", **extra: Any) -> dict[str, Any]:
    trace, span = ids(n)
    row: dict[str, Any] = {
        "BatchId": batch,
        "Week": "2026-W48",
        "CreatedAt": 1_764_000_000_000 + n,
        "Position": n,
        "CaseId": review_case_id(trace, span),
        "Category": category,
        "Timestamp": 1_764_000_000_000_000_000 + n,
        "SessionId": f"s{n}",
        "TraceId": trace,
        "SpanId": span,
        "ServiceName": "shop-assistant",
        "Signals": ["empty_retrieval", "rephrase"],
        "Categories": [category],
        "Evidence": json.dumps({"empty_retrieval": {"documents": 0}}),
        "Model": "gpt-4o-mini",
        "UserMessage": f"question {n}: what is the refund window?",
        "OutputText": "I don't know.",
        "InputMessages": "[]",
        "RetrievedDocuments": json.dumps([{"id": f"d{n}", "score": 0.2, "content": "Refunds in 30 days."}]),
        "SessionContext": json.dumps(
            [{"trace_id": "t0", "user": "hi", "assistant": "hello, how can I help"}]
        ),
        "FlagScore": 0.75,
    }
    row.update(extra)
    return row


def label_row(
    n: int, *, verdict: str = "bad", at: int = 1, label: str | None = None, **extra: Any
) -> dict[str, Any]:
    trace, span = ids(n)
    row: dict[str, Any] = {
        "LabelId": label or f"l{n}-{at}",
        "CaseId": review_case_id(trace, span),
        "BatchId": "b1",
        "SessionId": f"s{n}",
        "TraceId": trace,
        "SpanId": span,
        "Verdict": verdict,
        "Categories": ["retrieval"],
        "Expected": "Refunds are accepted within 30 days of delivery.",
        "Criteria": "States the 30-day window",
        "Notes": "",
        "Severity": "high",
        "Reviewer": "ana",
        "LabelledAt": 1_764_100_000_000 + at,
    }
    row.update(extra)
    return row


async def review(store: EvalStore, ns: Sequence[int], **label: Any) -> list[str]:
    """Batch rows and bad labels for turns ``ns``; returns their review case ids."""
    await store.insert("review_batches", [batch_row(n) for n in ns])
    await store.insert("labels", [label_row(n, **label) for n in ns])
    return [review_case_id(*ids(n)) for n in ns]


def new_case(i: int, **extra: Any) -> dict[str, Any]:
    case: dict[str, Any] = {
        "input": f"post-mortem question {i}",
        "expected": f"answer {i}",
        "categories": ["hallucination"],
        "incident_id": f"INC-{i}",
    }
    case.update(extra)
    return case


def chained(records: Sequence[CaseRecord], start_ms: int = 1_764_000_000_000) -> list[EvalCase]:
    """``records`` as the rows ``chain.append`` would write (seq 1..n), without a store."""
    cases: list[EvalCase] = []
    prev = GENESIS
    lineages: dict[str, str] = {}
    for seq, record in enumerate(records, 1):
        case_id = record.case_id()
        link = chain_hash(prev, case_id)
        lineage = lineages.get(record.supersedes, case_id)
        lineages[case_id] = lineage
        cases.append(EvalCase(seq, case_id, prev, link, lineage, start_ms + seq * 3_600_000, record))
        prev = link
    return cases


def sample_record(i: int, **extra: Any) -> CaseRecord:
    fields: dict[str, Any] = {
        "source": "review",
        "input": f"question {i}: can I return an opened item?",
        "context": [{"user": "hi", "assistant": "hello"}] if i % 2 else [],
        "retrieved_documents": [{"id": f"d{i}", "score": 0.4, "content": f"Policy paragraph {i}."}],
        "output": f"wrong answer {i}",
        "expected": f"expected answer {i}" if i % 3 else "",
        "criteria": f"mentions rule {i}",
        "categories": ["retrieval"],
        "severity": "medium",
        "signals": ["rephrase"],
        "trace_id": f"{i:032x}",
        "span_id": f"{i:016x}",
        "provenance": {"n": i},
    }
    fields.update(extra)
    return CaseRecord(**fields)
