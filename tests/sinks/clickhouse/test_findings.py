"""Signals, flagged turns and feedback in real chDB: round trip, idempotence, and the lookups
that join late feedback to stored spans."""

from __future__ import annotations

from collections.abc import Callable

import orjson
from tracesieve.collector.contracts import CanonicalSpan, Feedback, FlaggedSpan, Signal, SpanRef
from tracesieve.sinks.clickhouse.sink import ClickHouseSink

SpanFactory = Callable[..., CanonicalSpan]
T = 1_760_000_000_123_456_789


def signal(name: str = "refusal", span: str = "a" * 16, score: float = 0.9) -> Signal:
    return Signal(name, "refusal", score, {"phrase": "I can't", "n": 2}, "s1", "t" * 32, span, T, "bot")


async def test_signals_round_trip_and_a_re_emitted_signal_stays_one_row(sink: ClickHouseSink) -> None:
    await sink.write_findings([signal()], [], [])
    await sink.write_findings([signal(score=0.95)], [], [])  # re-evaluated: replaces
    _, rows = await sink.query(
        "SELECT toUnixTimestamp64Nano(Timestamp), SessionId, TraceId, SpanId, ServiceName, Signal, Category, "
        "round(toFloat64(Score), 3), Evidence FROM signals FINAL"
    )
    assert [tuple(r) for r in rows] == [
        (T, "s1", "t" * 32, "a" * 16, "bot", "refusal", "refusal", 0.95, '{"phrase":"I can\'t","n":2}')
    ]


async def test_flagged_rows_keep_the_latest_version(sink: ClickHouseSink) -> None:
    def row(signals: list[str], updated: int) -> FlaggedSpan:
        return FlaggedSpan(
            T, "s1", "t" * 32, "a" * 16, 0.9, signals, ["refusal"], {"refusal": {"score": 0.9}},
            service_name="bot", user_id="u", turn_index=3, model="gpt-4o", user_message="q?",
            output_text="no.", input_messages=[{"role": "user", "content": "q?"}],
            retrieved_documents=[{"id": "d", "score": 0.2, "content": "x"}],
            session_context=[{"trace_id": "p" * 32, "user": "hi", "assistant": "hello"}], updated_ns=updated,
        )  # fmt: skip

    await sink.write_findings([], [row(["refusal"], T)], [])
    await sink.write_findings([], [row(["refusal", "rephrase"], T + 1_000_000)], [])
    _, rows = await sink.query(
        "SELECT Signals, TurnIndex, UserMessage, InputMessages, RetrievedDocuments, SessionContext, Evidence "
        "FROM flagged_spans FINAL"
    )
    [(signals, turn, question, messages, documents, context, evidence)] = rows
    assert (signals, turn, question) == (["refusal", "rephrase"], 3, "q?")
    assert orjson.loads(messages) == [{"role": "user", "content": "q?"}]
    assert orjson.loads(documents)[0]["id"] == "d"
    assert orjson.loads(context)[0]["assistant"] == "hello"
    assert orjson.loads(evidence) == {"refusal": {"score": 0.9}}


async def test_feedback_is_pending_until_joined(sink: ClickHouseSink) -> None:
    item = Feedback(
        "fb-1", T, "api", name="user_feedback", trace_id="e" * 32, thumbs="down", score=0.0,
        comment="wrong price", ticket_id="T-9", annotator="human", attributes={"app": "web"},
    )  # fmt: skip
    await sink.write_findings([], [], [(item, None)])
    assert [f.feedback_id for f in await sink.load_pending_feedback(0, 100)] == ["fb-1"]
    [loaded] = await sink.load_pending_feedback(0, 100)
    assert loaded == item
    await sink.write_findings([], [], [(item, SpanRef("s1", "e" * 32, "1" * 16, T, "bot"))])
    await sink.write_findings([], [], [(item, None)])  # a resend must not un-join it
    assert await sink.load_pending_feedback(0, 100) == []
    _, rows = await sink.query("SELECT SessionId, TraceId, SpanId FROM feedback FINAL")
    assert [tuple(r) for r in rows] == [("s1", "e" * 32, "1" * 16)]


async def test_late_feedback_finds_its_stored_span(sink: ClickHouseSink, make_span: SpanFactory) -> None:
    tool_call = make_span(trace_id="e" * 32, span_id="1" * 16, output_text="", response_id="r-1",
                          start_ns=T, end_ns=T + 10)  # fmt: skip
    answer = make_span(trace_id="e" * 32, span_id="2" * 16, output_text="It costs $12.", response_id="r-2",
                       start_ns=T + 20, end_ns=T + 30, session_id="s-late",
                       input_messages=[{"role": "user", "content": "How much?"}])  # fmt: skip
    other = make_span(
        trace_id="f" * 32, span_id="3" * 16, session_id="s-late", start_ns=T + 100, end_ns=T + 110
    )
    await sink.consume([tool_call, answer, other])
    await sink.write_findings(
        [Signal("ungrounded_answer", "hallucination", 0.7, {}, "s-late", "e" * 32, "2" * 16, T)], [], []
    )

    by_trace = await sink.find_feedback_target(Feedback("fb", T, "api", trace_id="e" * 32))
    assert by_trace is not None
    ref, prior, base = by_trace
    assert (ref.trace_id, ref.span_id, ref.time_ns) == ("e" * 32, "2" * 16, T + 30)
    assert prior == {"ungrounded_answer": 0.7}
    assert (base.user_message, base.output_text, base.categories) == (
        "How much?",
        "It costs $12.",
        ["hallucination"],
    )

    by_span = await sink.find_feedback_target(Feedback("fb", T, "api", span_id="1" * 16))
    assert by_span is not None and by_span[0].span_id == "1" * 16
    by_response = await sink.find_feedback_target(Feedback("fb", T, "api", response_id="r-2"))
    assert by_response is not None and by_response[0].span_id == "2" * 16
    by_session = await sink.find_feedback_target(Feedback("fb", T + 50, "api", session_id="s-late"))
    assert by_session is not None and by_session[0].trace_id == "e" * 32  # the answer before it
    assert await sink.find_feedback_target(Feedback("fb", T, "api", span_id="9" * 16)) is None
