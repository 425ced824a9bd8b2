"""Content addresses and chain hashes: what they cover, and that they are what the docs say."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import pytest
from tracesieve.collector.errors import PermanentError
from tracesieve.evals.regressions.chain import COLUMNS
from tracesieve.evals.regressions.record import GENESIS, CaseRecord, EvalCase, canonical_json, chain_hash

RECORD = CaseRecord(
    source="review",
    input="What is the refund window?",
    context=[{"user": "hi", "assistant": "hello"}],
    retrieved_documents=[{"id": "d1", "score": 0.2, "content": "Refunds in 30 days."}],
    output="I don't know.",
    expected="30 days",
    criteria="States the window",
    categories=["retrieval", "hallucination"],
    severity="high",
    incident_id="INC-1",
    tags=["vip"],
    signals=["empty_retrieval"],
    session_id="s1",
    trace_id="ab" * 16,
    span_id="cd" * 8,
    review_case_id="r1",
    batch_id="b1",
    label_id="l1",
    reviewer="ana",
    provenance={"label": {"notes": "x"}},
    supersedes="",
)


def test_case_id_is_sha256_of_the_documented_canonical_json() -> None:
    hashed = {"v": 1, **dataclasses.asdict(RECORD)}
    text = json.dumps(hashed, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert RECORD.case_id() == hashlib.sha256(text.encode()).hexdigest()
    assert canonical_json(hashed) == text


def test_chain_hash_is_sha256_of_prev_and_id_digests() -> None:
    case_id = RECORD.case_id()
    assert chain_hash(GENESIS, case_id) == hashlib.sha256(bytes(32) + bytes.fromhex(case_id)).hexdigest()


def test_name_lists_are_normalised_so_order_and_repeats_do_not_change_the_id() -> None:
    again = RECORD.replace(categories=["hallucination", "retrieval", "retrieval"], tags=[" vip", "vip"])
    assert again.case_id() == RECORD.case_id()


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(CaseRecord)])
def test_every_content_field_changes_the_id(field: str) -> None:
    value: Any = getattr(RECORD, field)
    changed: Any
    if field == "status":
        changed = "retired"
    elif isinstance(value, str):
        changed = value + "!"
    elif isinstance(value, dict):
        changed = {**value, "extra": 1}
    elif field in ("context", "retrieved_documents"):
        changed = [*value, {"user": "more"}]
    else:
        changed = [*value, "zz"]
    assert RECORD.replace(**{field: changed}).case_id() != RECORD.case_id()


def test_a_row_round_trips_and_keeps_its_id() -> None:
    case_id = RECORD.case_id()
    case = EvalCase(1, case_id, GENESIS, chain_hash(GENESIS, case_id), case_id, 1_764_000_000_000, RECORD)
    row = case.to_row()
    # Every column the readers select is written, and reading the row back gives the same case.
    selected = {c.split(" AS ")[-1].strip() for c in COLUMNS.split(", ")}
    assert selected == set(row)
    assert EvalCase.from_row(row) == case
    assert EvalCase.from_json(json.loads(json.dumps(case.to_json()))) == case


def test_an_unknown_status_is_refused() -> None:
    with pytest.raises(PermanentError, match="status"):
        RECORD.replace(status="deleted")
