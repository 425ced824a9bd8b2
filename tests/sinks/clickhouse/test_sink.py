"""ClickHouseSink against real chDB: round trip, group commit, durability, errors, life cycle."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from tracesieve.collector.contracts import CanonicalSpan
from tracesieve.collector.errors import OverloadedError, PermanentError, RetryableError
from tracesieve.sinks.clickhouse.config import ClickHouseSinkConfig
from tracesieve.sinks.clickhouse.sink import ClickHouseSink

SpanFactory = Callable[..., CanonicalSpan]  # the make_span fixture (conftest.py)
BASE_NS = 1_760_000_000_123_456_789  # as in conftest.py

ROUND_TRIP_SQL = """
SELECT toUnixTimestamp64Nano(Timestamp), TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind,
       ServiceName, ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode,
       StatusMessage, arrayMap(t -> toUnixTimestamp64Nano(t), Events.Timestamp), Events.Name,
       Events.Attributes, Links.TraceId, Links.SpanId, Links.TraceState, Links.Attributes,
       SessionId, UserId, TurnIndex, Kind, Operation, Provider, RequestModel, ResponseModel, ResponseId,
       SystemInstructions, InputMessages, OutputMessages, OutputText, Refusal, FinishReasons,
       InputTokens, OutputTokens, ErrorType, RetrievalQuery, RetrievedDocuments, ToolCalls, Convention
FROM spans WHERE SpanId = {span_id:String}
"""


def span_from_row(row: tuple[Any, ...]) -> CanonicalSpan:
    (ts, trace_id, span_id, parent, state, name, otel_kind, service, res_attrs, scope, scope_version,
     attrs, duration, status, status_message, ev_ts, ev_name, ev_attrs, ln_trace, ln_span, ln_state,
     ln_attrs, session, user, turn, kind, operation, provider, req_model, resp_model, resp_id, system,
     input_messages, output_messages, output_text, refusal, finish, in_tokens, out_tokens, error_type,
     retrieval_query, documents, tool_calls, convention) = row  # fmt: skip
    return CanonicalSpan(
        trace_id=trace_id, span_id=span_id, parent_span_id=parent, name=name, start_ns=ts,
        end_ns=ts + duration, otel_kind=otel_kind, status_code=status, status_message=status_message,
        trace_state=state, service_name=service, scope_name=scope, scope_version=scope_version,
        resource_attributes=res_attrs, attributes=attrs,
        events=list(zip(ev_ts, ev_name, ev_attrs, strict=True)),
        links=list(zip(ln_trace, ln_span, ln_state, ln_attrs, strict=True)),
        kind=kind, operation=operation, provider=provider, request_model=req_model,
        response_model=resp_model, response_id=resp_id, session_id=session, user_id=user,
        turn_index=turn, system_instructions=system, input_messages=orjson.loads(input_messages),
        output_messages=orjson.loads(output_messages), output_text=output_text, refusal=refusal,
        finish_reasons=finish, input_tokens=in_tokens, output_tokens=out_tokens, error_type=error_type,
        retrieval_query=retrieval_query, retrieved_documents=orjson.loads(documents),
        tool_calls=orjson.loads(tool_calls), convention=convention,
    )  # fmt: skip


async def count(sink: ClickHouseSink, final: bool = False, where: str = "1") -> int:
    _, rows = await sink.query(f"SELECT count() FROM spans {'FINAL' if final else ''} WHERE {where}")
    return int(rows[0][0])


async def test_round_trip_keeps_every_field(sink: ClickHouseSink, make_span: SpanFactory) -> None:
    rich = make_span(
        trace_state="vendor=ä,x=1",
        status_code="Error",
        status_message="upstream 503 — réessayez",
        resource_attributes={"service.name": "support-bot", "déploiement": "prod 🚀"},
        attributes={"gen_ai.prompt.0.content": "日本語のテキスト", "empty": "", "nul": "a\x00b"},
        events=[
            (BASE_NS + 1, "gen_ai.content.prompt", {"gen_ai.prompt": '[{"role":"user"}]'}),
            (BASE_NS + 999_999_999, "exception", {"exception.type": "RateLimitError"}),
        ],
        links=[("ab" * 16, "cd" * 8, "k=v", {"link.kind": "retry"}), ("ef" * 16, "01" * 8, "", {})],
        system_instructions="Réponds en français.",
        input_messages=[
            {"role": "system", "content": "Be brief"},
            {"role": "user", "content": "Où est ma commande ? 📦"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": "c1", "name": "track", "arguments": "{}"}],
            },
            {"role": "tool", "content": "in transit", "tool_call_id": "c1"},
        ],
        output_messages=[{"role": "assistant", "content": "Elle arrive demain."}],
        output_text="Elle arrive demain.",
        refusal="I can't help with that",
        finish_reasons=["stop", "length"],
        input_tokens=4_294_967_295,
        output_tokens=0,
        error_type="RateLimitError",
        retrieval_query="order status",
        retrieved_documents=[
            {"id": "doc-1", "score": 0.87, "content": "Orders ship in 2 days"},
            {"id": "doc-2", "score": None, "content": ""},
        ],
        tool_calls=[{"id": "c1", "name": "track", "arguments": '{"order": "A-1"}'}],
        turn_index=-1,
    )
    bare = CanonicalSpan(
        trace_id="f" * 32, span_id="e" * 16, parent_span_id="", name="", start_ns=5, end_ns=5
    )
    tricky = 'q"uote \\back\\slash\\ new\nline\ttab\r\x00nul \u2028 ] [ } { , 😀 \\"'
    quirky = make_span(
        span_id='"q\\u0022\n',
        trace_id="t\\'\"",
        start_ns=1_234 * 10**9 + 7,  # seconds of four digits (padded to ten when written)
        end_ns=1_234 * 10**9 + 7 + 2**64 - 1,  # the largest UInt64 Duration, far above 2**53
        name=tricky,
        trace_state=tricky,
        status_message=tricky,
        service_name=tricky,
        scope_name=tricky,
        resource_attributes={tricky: tricky, "": ""},
        attributes={"k\n": "v\\", '"': "'", "[": "]"},
        events=[(5, tricky, {tricky: ""}), (2**63 - 1, "", {})],  # 1970 and the DateTime64(9) maximum
        links=[(tricky, '"', "\\", {"a": tricky})],
        session_id=tricky,
        user_id=tricky,
        turn_index=-(2**31),
        response_id=tricky,
        system_instructions=tricky,
        input_messages=[{"role": "user", "content": tricky, "tool_calls": []}, {}],
        output_messages=[],
        output_text=tricky,
        refusal="",
        finish_reasons=[tricky, ""],
        input_tokens=0,
        output_tokens=2**32 - 1,
        error_type=tricky,
        retrieval_query=tricky,
        retrieved_documents=[{"id": tricky, "score": -1.5e-7, "content": None, "n": 2**64 - 1}],
        tool_calls=[{"id": "c", "name": tricky, "arguments": '{"a": [1, "]"]}'}, [True, False, None]],
        convention=tricky,
    )
    latest = make_span(start_ns=2**63 - 1, end_ns=2**63 - 1, turn_index=2**31 - 1)  # 2262-04-11
    await sink.consume([rich, bare, quirky, latest])
    for span in (rich, bare, quirky, latest):
        _, rows = await sink.query(ROUND_TRIP_SQL, {"span_id": span.span_id})
        assert len(rows) == 1
        assert span_from_row(rows[0]) == span


async def test_concurrent_calls_share_inserts_and_return_once_visible(
    config: ClickHouseSinkConfig, make_span: SpanFactory
) -> None:
    sink = ClickHouseSink(
        config.model_copy(update={"batch": config.batch.model_copy(update={"flush_interval_s": 0.3})})
    )
    await sink.start()
    try:

        async def caller() -> None:
            spans = [make_span() for _ in range(50)]
            await sink.consume(spans)
            ids = [s.span_id for s in spans]
            _, rows = await sink.query(
                "SELECT count() FROM spans WHERE SpanId IN {ids:Array(String)}", {"ids": ids}
            )
            assert rows == [(50,)]  # durable and visible the moment consume() returned

        await asyncio.gather(*(caller() for _ in range(20)))
        assert sink.stats.inserts <= 2  # 20 callers, one (rarely two) INSERTs
        assert sink.stats.rows_written == 1000
        assert await count(sink) == 1000
    finally:
        await sink.aclose(time.monotonic() + 10)


async def test_a_call_without_linger_is_written_at_once_with_what_waits(
    config: ClickHouseSinkConfig, make_span: SpanFactory
) -> None:
    """``linger=False`` (a Kafka processor, the only writer) does not wait flush_interval_s for
    company; spans that were lingering go in its INSERT."""
    sink = ClickHouseSink(
        config.model_copy(update={"batch": config.batch.model_copy(update={"flush_interval_s": 60})})
    )
    await sink.start()
    queued = [make_span() for _ in range(3)]
    first_call = asyncio.create_task(sink.consume(queued))
    await asyncio.sleep(0.05)  # queued first, waiting for its 60 s linger
    assert not first_call.done()  # still lingering
    # Both return long before the 60 s linger would have ended.
    await asyncio.wait_for(sink.consume([make_span() for _ in range(2)], linger=False), 30)
    await first_call
    assert (sink.stats.inserts, sink.stats.rows_written) == (1, 5)
    assert await count(sink) == 5
    await sink.aclose(time.monotonic() + 10)


async def test_a_call_larger_than_a_batch_is_split(
    config: ClickHouseSinkConfig, make_span: SpanFactory
) -> None:
    small = config.model_copy(update={"batch": config.batch.model_copy(update={"max_items": 100})})
    sink = ClickHouseSink(small)
    await sink.start()
    try:
        await sink.consume([make_span() for _ in range(250)])
        assert sink.stats.inserts == 3
        assert await count(sink) == 250
    finally:
        await sink.aclose(time.monotonic() + 10)


async def test_a_resent_batch_adds_no_rows(sink: ClickHouseSink, make_span: SpanFactory) -> None:
    first = [make_span() for _ in range(30)]
    await sink.consume(first)
    inserts = sink.stats.inserts
    await sink.consume(first)  # a client retry of the same request
    assert sink.stats.inserts == inserts  # answered from the key set, nothing written
    more = [make_span() for _ in range(5)]
    await sink.consume(first[:10] + more)  # partly resent
    assert sink.stats.duplicates_dropped == 40
    assert await count(sink) == 35
    assert await count(sink, final=True) == 35


async def test_the_same_spans_in_flight_twice_are_written_once(
    sink: ClickHouseSink, make_span: SpanFactory
) -> None:
    spans = [make_span() for _ in range(20)]
    await asyncio.gather(sink.consume(spans), sink.consume(list(spans)), sink.consume(spans[:5]))
    assert await count(sink) == 20


async def test_a_span_twice_in_one_insert_is_sent_once(sink: ClickHouseSink, make_span: SpanFactory) -> None:
    # The spans INSERT skips ClickHouse's collapse of the inserted block (optimize_on_insert=0):
    # the sink itself must send each key once.
    a, b = make_span(), make_span()
    await sink.consume([a, b, a])
    assert (sink.stats.rows_written, sink.stats.duplicates_dropped) == (2, 1)
    assert await count(sink) == 2


async def test_replacing_merge_tree_is_the_backstop(
    config: ClickHouseSinkConfig, make_span: SpanFactory
) -> None:
    sink = ClickHouseSink(config.model_copy(update={"dedupe_window_s": 0}))  # no key set at all
    await sink.start()
    try:
        spans = [make_span() for _ in range(10)]
        await sink.consume(spans)
        await sink.consume(spans)
        assert await count(sink) == 20  # two parts, not merged yet
        assert await count(sink, final=True) == 10
    finally:
        await sink.aclose(time.monotonic() + 10)


async def test_dedupe_survives_a_restart(config: ClickHouseSinkConfig, make_span: SpanFactory) -> None:
    spans = [make_span() for _ in range(25)]
    first = ClickHouseSink(config)
    await first.start()
    await first.consume(spans)
    await first.aclose(time.monotonic() + 10)

    second = ClickHouseSink(config)
    await second.start()
    try:
        assert second.stats.keys_preloaded == 25
        await second.consume(spans)
        assert second.stats.inserts == 0 and second.stats.duplicates_dropped == 25
        assert await count(second) == 25
    finally:
        await second.aclose(time.monotonic() + 10)


async def test_keys_older_than_the_window_are_not_preloaded(
    config: ClickHouseSinkConfig, make_span: SpanFactory
) -> None:
    short = config.model_copy(update={"dedupe_window_s": 0.5})
    first = ClickHouseSink(short)
    await first.start()
    await first.consume([make_span() for _ in range(3)])
    await first.aclose(time.monotonic() + 10)
    await asyncio.sleep(1.0)
    second = ClickHouseSink(short)
    await second.start()
    assert second.stats.keys_preloaded == 0
    await second.aclose(time.monotonic() + 10)


async def test_a_bad_value_fails_only_its_caller_as_permanent(
    config: ClickHouseSinkConfig, make_span: SpanFactory
) -> None:
    sink = ClickHouseSink(
        config.model_copy(update={"batch": config.batch.model_copy(update={"flush_interval_s": 0.3})})
    )
    await sink.start()
    try:
        good = [make_span() for _ in range(10)]
        bad = [make_span(), make_span(input_tokens="many")]  # a str where UInt32 belongs
        results = await asyncio.gather(sink.consume(good), sink.consume(bad), return_exceptions=True)
        assert results[0] is None
        assert isinstance(results[1], PermanentError)
        assert "InputTokens" in results[1].reason
        assert await count(sink) == 10
    finally:
        await sink.aclose(time.monotonic() + 10)


async def test_an_engine_side_data_error_is_permanent(sink: ClickHouseSink, make_span: SpanFactory) -> None:
    # ClickHouse refuses an INSERT block spanning over 100 partitions (days): the same block
    # always fails, so permanent; the pipeline then bisects the batch and each half succeeds.
    day_ns = 86_400 * 10**9
    spans = [make_span(start_ns=BASE_NS + d * day_ns, end_ns=BASE_NS + d * day_ns + 1) for d in range(150)]
    with pytest.raises(PermanentError, match="partitions"):
        await sink.consume(spans)  # 150 daily partitions in one INSERT block
    assert await count(sink) == 0


async def test_too_many_parts_is_retryable_and_a_retry_succeeds(
    sink: ClickHouseSink, make_span: SpanFactory
) -> None:
    await sink.consume([make_span()])
    await sink.query("ALTER TABLE spans MODIFY SETTING parts_to_throw_insert = 1", readonly=False)
    spans = [make_span()]
    with pytest.raises(RetryableError) as info:
        await sink.consume(spans)
    assert "TOO_MANY_PARTS" in info.value.reason and info.value.retry_after_s == 1.0
    await sink.query("ALTER TABLE spans RESET SETTING parts_to_throw_insert", readonly=False)
    await sink.consume(spans)
    assert await count(sink) == 2


async def test_a_full_queue_answers_overloaded(config: ClickHouseSinkConfig, make_span: SpanFactory) -> None:
    small = config.model_copy(
        update={
            "batch": config.batch.model_copy(update={"max_items": 10, "flush_interval_s": 30}),
            "queue": config.queue.model_copy(update={"max_items": 10}),
        }
    )
    sink = ClickHouseSink(small)
    await sink.start()
    queued = [make_span() for _ in range(6)]
    waiting = asyncio.create_task(sink.consume(queued))
    await asyncio.sleep(0.05)  # queued, lingering: 6 < batch.max_items
    with pytest.raises(OverloadedError) as info:
        await sink.consume([make_span() for _ in range(6)])
    assert info.value.retry_after_s
    await sink.aclose(time.monotonic() + 10)  # writes the queued spans before closing
    await waiting
    assert sink.stats.rows_written == 6


async def test_close_writes_pending_then_refuses(
    config: ClickHouseSinkConfig, make_span: SpanFactory
) -> None:
    sink = ClickHouseSink(
        config.model_copy(update={"batch": config.batch.model_copy(update={"flush_interval_s": 30})})
    )
    await sink.start()
    calls = [asyncio.create_task(sink.consume([make_span() for _ in range(5)])) for _ in range(4)]
    await asyncio.sleep(0.05)
    await sink.aclose(time.monotonic() + 10)
    await asyncio.gather(*calls)  # all written, none failed
    assert sink.stats.rows_written == 20 and sink.stats.inserts == 1
    await sink.aclose(time.monotonic() + 10)  # idempotent
    with pytest.raises(RetryableError, match="not running"):
        await sink.consume([make_span()])
    with pytest.raises(RetryableError, match="not running"):
        await sink.query("SELECT 1")


async def test_a_passed_deadline_fails_waiters_as_retryable(
    config: ClickHouseSinkConfig, make_span: SpanFactory
) -> None:
    sink = ClickHouseSink(
        config.model_copy(update={"batch": config.batch.model_copy(update={"flush_interval_s": 30})})
    )
    await sink.start()
    spans = [make_span() for _ in range(5)]
    call = asyncio.create_task(sink.consume(spans))
    await asyncio.sleep(0.05)
    await sink.aclose(time.monotonic())  # no time left
    with pytest.raises(RetryableError):
        await call


async def test_an_unclosed_sink_warns(config: ClickHouseSinkConfig) -> None:
    sink = ClickHouseSink(config)
    await sink.start()
    with pytest.warns(ResourceWarning, match="unclosed"):
        sink.__del__()
    await sink.aclose(time.monotonic() + 10)
    del sink
    gc.collect()  # closed: no second warning (filterwarnings=error would fail the test)


async def test_empty_consume_is_a_no_op(sink: ClickHouseSink) -> None:
    await sink.consume([])
    assert sink.stats.inserts == 0
