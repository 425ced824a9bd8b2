"""Review batches as the sampler writes them (the collector to review them on: ../conftest.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from tracesieve.evals.ids import review_case_id

BatchMaker = Callable[..., list[dict[str, Any]]]


def batch_rows(batch_id: str, cases: list[dict[str, Any]], week: str = "2026-W48") -> list[dict[str, Any]]:
    """``review_batches`` rows, one per entry of ``cases`` (which override the defaults)."""
    rows = []
    for position, overrides in enumerate(cases):
        trace_id = hashlib.sha256(f"{batch_id}/{position}".encode()).hexdigest()[:32]
        span_id = f"{position + 1:016x}"
        row: dict[str, Any] = {
            "BatchId": batch_id,
            "Week": week,
            "CreatedAt": 1_764_300_000_000,
            "Seed": 7,
            "Position": position + 1,
            "CaseId": review_case_id(trace_id, span_id),
            "Category": "unhelpful_answer",
            "Timestamp": 1_764_200_000_000_000_000 + position,
            "SessionId": f"sess-{batch_id}-{position}",
            "TraceId": trace_id,
            "SpanId": span_id,
            "ServiceName": "support-bot",
            "UserId": f"u{position}",
            "TurnIndex": 2,
            "FlagScore": 0.8,
            "Signals": ["rephrase"],
            "Categories": ["unhelpful_answer"],
            "Evidence": orjson.dumps(
                {"rephrase": {"score": 0.8, "later_user_message": f"again, question {position}?"}}
            ).decode(),
            "Model": "gpt-4o-mini",
            "UserMessage": f"question {position}: how do I reset my password?",
            "OutputText": f"answer {position}: click 'Forgot password'.",
            "InputMessages": orjson.dumps([{"role": "user", "content": f"question {position}"}]).decode(),
            "RetrievedDocuments": orjson.dumps(
                [{"id": f"kb-{position}", "score": 0.42, "content": f"Password resets, doc {position}."}]
            ).decode(),
            "SessionContext": orjson.dumps(
                [{"trace_id": "aa" * 16, "user": f"hello {position}", "assistant": "Hi! How can I help?"}]
            ).decode(),
            "ClusterSize": 1,
            "ClusterExamples": "[]",
            "Params": "{}",
        }
        row.update(overrides)
        rows.append(row)
    return rows


@pytest.fixture
def make_batch() -> BatchMaker:
    return batch_rows
