"""The internal topics' record format: items survive packing and decoding, whatever order a
writer put a span's fields in, and anything else is refused with RecordError."""

from __future__ import annotations

import dataclasses

import orjson
import pytest
from tracesieve.collector.contracts import CanonicalSpan, Feedback, LogEvent
from tracesieve.collector.kafka.records import RecordError, decode_items, pack


def _span(i: int) -> CanonicalSpan:
    return CanonicalSpan(
        trace_id=f"{i:032x}",
        span_id=f"{i:016x}",
        parent_span_id="",
        name="chat gpt-4o-mini",
        start_ns=1_700_000_000_000_000_000 + i,
        end_ns=1_700_000_001_000_000_000 + i,
        attributes={"gen_ai.operation.name": "chat"},
        events=[(1_700_000_000_500_000_000, "gen_ai.choice", {"index": "0"})],
        links=[("ab" * 16, "cd" * 8, "k=v", {"why": "retry"})],
        kind="llm",
        session_id=f"sess-{i % 3}",
        input_messages=[{"role": "user", "content": f'question {i} with "quotes" and ünïcode'}],
        output_text=f"answer {i}",
        finish_reasons=["stop"],
        input_tokens=12,
        seq=99,  # process-local: not carried
    )


def test_items_round_trip_in_order_across_records() -> None:
    items = [
        *(_span(i) for i in range(50)),
        LogEvent("ab" * 16, "cd" * 8, "gen_ai.user.message", 5, {"k": 1}, {"content": "hi"}),
        Feedback("f1", 6, "api", trace_id="ab" * 16, thumbs="down", score=0.0, comment="wrong"),
    ]
    records = list(pack(items, limit=4_000))
    assert len(records) > 1, "a small limit splits the items over several records"
    assert sum(count for _, count in records) == len(items)
    decoded = [item for value, _ in records for item in decode_items(value)]
    expected = [dataclasses.replace(item, seq=0) for item in items]
    assert decoded == expected
    assert decoded[0].events == [(1_700_000_000_500_000_000, "gen_ai.choice", {"index": "0"})]
    assert decoded[0].links == [("ab" * 16, "cd" * 8, "k=v", {"why": "retry"})]


def test_a_span_whose_fields_come_in_another_order_decodes_the_same() -> None:
    span = _span(7)
    ((value, _),) = pack([span])
    [[kind, fields]] = orjson.loads(value)
    shuffled = dict(reversed(list(fields.items())))
    assert list(shuffled) != list(fields)
    [decoded] = decode_items(orjson.dumps([[kind, shuffled]]))
    assert decoded == dataclasses.replace(span, seq=0)


@pytest.mark.parametrize(
    "value",
    [
        None,
        b"not json",
        b'{"span": 1}',
        b'[["unknown", {}]]',
        b'[["span", {"trace_id": "x"}]]',  # fields missing
        b'[["span", {"no_such_field": 1}]]',
    ],
)
def test_anything_else_is_a_record_error(value: bytes | None) -> None:
    with pytest.raises(RecordError):
        decode_items(value)
