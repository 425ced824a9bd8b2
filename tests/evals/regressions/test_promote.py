"""Promotion of labels into the set, as the review page and `regressions sync` call it."""

from __future__ import annotations

import json

from clickhouse_connect.driver.client import Client
from tracesieve.evals.regressions.chain import read_cases
from tracesieve.evals.regressions.current import current_cases
from tracesieve.evals.store import DirectEvalStore

from .regressions_testkit import batch_row, ids, label_row, review

PROMOTE = "regressions.promote:promote"


async def test_a_bad_label_becomes_an_eval_case_with_its_turn_and_provenance(store: DirectEvalStore) -> None:
    [review_id] = await review(store, [1])
    result = await store.call(PROMOTE, {"case_ids": [review_id]})
    assert [a["review_case_id"] for a in result["appended"]] == [review_id]
    [case] = await read_cases(store)
    r = case.record
    trace, span = ids(1)
    assert (case.seq, case.lineage, r.source, r.status) == (1, case.case_id, "review", "active")
    assert r.input == "question 1: what is the refund window?"
    assert r.output == "I don't know."
    assert r.expected == "Refunds are accepted within 30 days of delivery."
    assert r.criteria == "States the 30-day window"
    assert r.context == [{"trace_id": "t0", "user": "hi", "assistant": "hello, how can I help"}]
    assert r.retrieved_documents == [{"id": "d1", "score": 0.2, "content": "Refunds in 30 days."}]
    assert (r.categories, r.severity, r.signals) == (["retrieval"], "high", ["empty_retrieval", "rephrase"])
    assert (r.trace_id, r.span_id, r.session_id, r.review_case_id) == (trace, span, "s1", review_id)
    assert (r.batch_id, r.label_id, r.reviewer) == ("b1", "l1-1", "ana")
    assert r.provenance["evidence"] == {"empty_retrieval": {"documents": 0}}
    assert r.provenance["turn"]["model"] == "gpt-4o-mini"
    assert r.provenance["batch"]["week"] == "2026-W48"


async def test_promotion_is_idempotent_and_ignores_fine_labels(store: DirectEvalStore) -> None:
    await review(store, [1, 2])
    await store.insert("review_batches", [batch_row(3)])
    await store.insert("labels", [label_row(3, verdict="fine")])
    first = await store.call(PROMOTE, {})
    assert (first["labelled"], len(first["appended"])) == (3, 2)
    again = await store.call(PROMOTE, {})
    assert again["appended"] == [] and len(again["unchanged"]) == 2
    # A re-save of the same label (a new label row, same content) changes nothing either.
    await store.insert("labels", [label_row(1, at=5)])
    assert (await store.call(PROMOTE, {}))["appended"] == []
    assert len(await read_cases(store)) == 2


async def test_a_changed_label_appends_a_version_that_supersedes_and_keeps_the_old(
    store: DirectEvalStore,
) -> None:
    [review_id] = await review(store, [1])
    await store.call(PROMOTE, {"case_ids": [review_id]})
    [first] = await read_cases(store)
    tagged = await store.call(
        "regressions.edit:tag", {"case_id": first.case_id, "incident_id": "INC-9", "add_tags": ["vip"]}
    )
    relabel = label_row(1, at=9, Expected="Within 30 days.", Categories=["hallucination"])
    await store.insert("labels", [relabel])
    result = await store.call(PROMOTE, {"case_ids": [review_id]})
    [appended] = result["appended"]
    assert appended["supersedes"] == tagged["case_id"]
    rows = await read_cases(store)
    assert [c.seq for c in rows] == [1, 2, 3]
    assert rows[0] == first  # the first version is still there, unchanged
    [current] = await current_cases(store)
    assert current.case_id == appended["case_id"] and current.lineage == first.case_id
    # The new label wins for what it says; the tags set by hand stay.
    assert (current.record.expected, current.record.categories) == ("Within 30 days.", ["hallucination"])
    assert (current.record.incident_id, current.record.tags) == ("INC-9", ["vip"])


async def test_a_case_relabelled_fine_stays_in_the_set_and_is_reported(store: DirectEvalStore) -> None:
    [review_id] = await review(store, [1])
    await store.call(PROMOTE, {})
    await store.insert("labels", [label_row(1, at=7, verdict="fine")])
    result = await store.call(PROMOTE, {})
    assert result["appended"] == [] and result["labelled_fine"] == [review_id]
    assert len(await current_cases(store)) == 1


async def test_a_retired_case_stays_retired_until_its_label_changes(store: DirectEvalStore) -> None:
    [review_id] = await review(store, [1])
    await store.call(PROMOTE, {})
    [case] = await read_cases(store)
    await store.call("regressions.edit:set_status", {"case_id": case.case_id[:8], "status": "retired"})
    assert (await store.call(PROMOTE, {}))["appended"] == []
    assert await current_cases(store) == []
    await store.insert("labels", [label_row(1, at=8, Criteria="Names the 30-day window and the exceptions")])
    assert len((await store.call(PROMOTE, {}))["appended"]) == 1
    [current] = await current_cases(store)
    assert current.record.review_case_id == review_id and current.record.status == "active"


async def test_the_labels_own_batch_row_is_used_else_the_flagged_turn(
    store: DirectEvalStore, rogue: Client, database_name: str
) -> None:
    # A later batch drew the same turn again: the label's own batch (b1) is what was reviewed.
    later = batch_row(1, batch="b9", UserMessage="later copy", CreatedAt=1_765_000_000_000)
    await store.insert("review_batches", [batch_row(1), later])
    await store.insert("labels", [label_row(1), label_row(2)])
    # Turn 2 was never in a batch (labelled from elsewhere): its flagged turn is the content.
    trace = ids(2)[0]
    flagged = {k: v for k, v in batch_row(2, UserMessage="flagged copy").items() if k in _FLAGGED}
    rogue.insert(f"{database_name}.flagged_spans", [list(flagged.values())], column_names=list(flagged))
    result = await store.call(PROMOTE, {})
    assert result["missing_content"] == []
    by_trace = {c.record.trace_id: c.record for c in await read_cases(store)}
    assert by_trace[ids(1)[0]].input == "question 1: what is the refund window?"
    assert by_trace[trace].input == "flagged copy"
    assert by_trace[trace].provenance["content_from"] == "flagged_spans"
    assert by_trace[trace].retrieved_documents == json.loads(batch_row(2)["RetrievedDocuments"])


async def test_a_label_without_any_content_is_reported_not_appended(store: DirectEvalStore) -> None:
    await store.insert("labels", [label_row(4)])
    result = await store.call(PROMOTE, {})
    assert result["appended"] == [] and len(result["missing_content"]) == 1


_FLAGGED = {
    "Timestamp", "SessionId", "TraceId", "SpanId", "ServiceName", "UserId", "TurnIndex", "FlagScore",
    "Signals", "Categories", "Evidence", "Model", "UserMessage", "OutputText", "InputMessages",
    "RetrievedDocuments", "SessionContext",
}  # fmt: skip
