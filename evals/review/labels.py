"""Saving a label: one new ``labels`` row per save, then the regression set for a bad verdict.

:func:`save_label` checks that the case is in the batch it names, appends the row (labels are
never rewritten: a change of mind is a newer row, and the latest row is the case's label),
and, for ``bad``, asks the regression set to take the case in through the store operation
``regressions.promote:promote`` (it turns the latest label of each named case into an eval
case). The label stands even when promoting fails; the failure is reported in the result.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from tracesieve.collector.errors import PermanentError, RetryableError
from tracesieve.evals.store import EvalStore

from .batches import label_out, list_batches
from .model import LabelIn, Promotion, SavedLabel

__all__ = ["PROMOTE_OP", "promote", "save_label"]

_log = logging.getLogger(__name__)

PROMOTE_OP = "regressions.promote:promote"

_CASE_SQL = """
SELECT SessionId, TraceId, SpanId FROM review_batches
WHERE BatchId = {batch:String} AND CaseId = {case:String}
LIMIT 1
"""


async def save_label(store: EvalStore, given: LabelIn, *, promote_bad: bool = True) -> SavedLabel:
    """Append ``given`` as the case's newest label; PermanentError if the case is not in the batch."""
    found = await store.select(_CASE_SQL, {"batch": given.batch_id, "case": given.case_id})
    if not found:
        raise PermanentError(f"unknown case {given.case_id!r} in batch {given.batch_id!r}")
    case = found[0]
    row: dict[str, Any] = {
        "LabelId": str(uuid.uuid4()),
        "CaseId": given.case_id,
        "BatchId": given.batch_id,
        "SessionId": case["SessionId"],
        "TraceId": case["TraceId"],
        "SpanId": case["SpanId"],
        "Verdict": given.verdict,
        "Categories": given.categories,
        "Expected": given.expected,
        "Criteria": given.criteria,
        "Notes": given.notes,
        "Severity": given.severity,
        "Reviewer": given.reviewer,
        "LabelledAt": time.time_ns() // 1_000_000,
    }
    await store.insert("labels", [row])
    promotion = await promote(store, given.case_id) if given.verdict == "bad" and promote_bad else None
    [progress] = await list_batches(store, given.batch_id)
    return SavedLabel(
        label=label_out(row), promotion=promotion, labelled=progress.labelled, total=progress.total
    )


async def promote(store: EvalStore, case_id: str) -> Promotion:
    """Ask the regression set to take in the case's latest label."""
    try:
        result = await store.call(PROMOTE_OP, {"case_ids": [case_id]})
    except (PermanentError, RetryableError) as exc:
        _log.warning("label of case %s saved; promoting it to the regression set failed: %s", case_id, exc)
        return Promotion(ok=False, error=exc.reason)
    return Promotion(ok=True, result=result)
