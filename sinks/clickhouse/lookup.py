"""Reads the collector needs from the store: feedback targets that have left memory, and the
feedback still waiting for its target after a restart.

Feedback can name a span, a trace, a response id or a session, and arrive a day after the
span. When the span is no longer in the session state, :func:`find_feedback_target` finds it
in ``spans`` with the same rules the session state applies: a span id names that span; a trace
or a response id names the turn's answer (the last LLM span of the trace by end time that
produced text); a session names its last answer at or before the feedback's time (else its
first). A span id that is not stored (an app's root span, say) falls back to its trace. It
returns the target, the turn's stored signal scores and a flagged row carrying the
turn's content, ready to be written if the feedback flags the turn.
"""

from __future__ import annotations

from typing import Any

import orjson
from clickhouse_connect.driver.client import Client
from tracesieve.collector.contracts import Feedback, FlaggedSpan, SpanRef

__all__ = ["StoredTarget", "find_feedback_target", "load_pending_feedback"]

_TARGET_COLUMNS = (
    "SessionId, TraceId, SpanId, toUnixTimestamp64Nano(Timestamp) + Duration AS EndNs, ServiceName, "
    "UserId, TurnIndex, if(ResponseModel != '', ResponseModel, RequestModel) AS Model, InputMessages, "
    "OutputText, Refusal, RetrievedDocuments"
)
_ANSWER_ORDER = "ORDER BY (OutputText != '' OR Refusal != '') DESC, EndNs DESC LIMIT 1"

StoredTarget = tuple[SpanRef, dict[str, float], FlaggedSpan]


def _one(
    client: Client, where: str, parameters: dict[str, Any], order: str = "LIMIT 1"
) -> tuple[Any, ...] | None:
    rows = client.query(
        f"SELECT {_TARGET_COLUMNS} FROM spans WHERE {where} {order}", parameters=parameters
    ).result_rows
    return tuple(rows[0]) if rows else None


def find_feedback_target(client: Client, item: Feedback) -> StoredTarget | None:
    """The stored span ``item`` names, or None when it is not stored (yet)."""
    row = None
    if item.span_id:
        where = "SpanId = {s:String}" + (" AND TraceId = {t:String}" if item.trace_id else "")
        row = _one(client, where, {"s": item.span_id, "t": item.trace_id})
    if row is None and item.response_id:
        row = _one(client, "ResponseId = {r:String}", {"r": item.response_id})
    if row is None and item.trace_id:
        # Also when a named span is not stored: it may be the trace's root (an app span that is
        # no LLM step), which instrumentations parent evaluation events to.
        row = _one(client, "TraceId = {t:String} AND Kind = 'llm'", {"t": item.trace_id}, _ANSWER_ORDER)
    if row is None and item.session_id and not (item.span_id or item.trace_id or item.response_id):
        params = {"s": item.session_id, "at": item.time_ns}
        row = _one(
            client,
            "SessionId = {s:String} AND Kind = 'llm' AND toUnixTimestamp64Nano(Timestamp) <= {at:Int64}",
            params,
            "ORDER BY Timestamp DESC LIMIT 1",
        ) or _one(client, "SessionId = {s:String} AND Kind = 'llm'", params, "ORDER BY Timestamp LIMIT 1")
    if row is None:
        return None
    (session_id, trace_id, span_id, end_ns, service, user_id, turn_index, model, messages_json,
     output_text, refusal, documents_json) = row  # fmt: skip
    ref = SpanRef(str(session_id), str(trace_id), str(span_id), int(end_ns), str(service))
    prior_rows = client.query(
        "SELECT Signal, round(toFloat64(max(Score)), 4), any(Category) FROM signals "
        "WHERE TraceId = {t:String} GROUP BY Signal",
        parameters={"t": ref.trace_id},
    ).result_rows
    prior = {str(name): float(score) for name, score, _ in prior_rows}
    messages = _loads_list(messages_json)
    user = next(
        (
            str(m.get("content", ""))
            for m in reversed(messages)
            if isinstance(m, dict) and m.get("role") == "user"
        ),
        "",
    )
    base = FlaggedSpan(
        time_ns=ref.time_ns,
        session_id=ref.session_id,
        trace_id=ref.trace_id,
        span_id=ref.span_id,
        flag_score=0.0,
        signals=[],
        categories=sorted({str(c) for _, _, c in prior_rows}),
        evidence={},
        service_name=ref.service_name,
        user_id=str(user_id),
        turn_index=int(turn_index),
        model=str(model),
        user_message=user,
        output_text=str(output_text or refusal),
        input_messages=messages,
        retrieved_documents=_loads_list(documents_json),
    )
    return ref, prior, base


def load_pending_feedback(client: Client, since_ns: int, limit: int) -> list[Feedback]:
    """Feedback received since ``since_ns`` whose target has not been joined yet."""
    rows = client.query(
        "SELECT toUnixTimestamp64Nano(Timestamp), FeedbackId, Source, Name, TargetSpanId, TargetTraceId, "
        "TargetResponseId, TargetSessionId, UserId, Thumbs, Score, Label, Comment, TicketId, Annotator, "
        "Attributes FROM feedback FINAL "
        "WHERE SpanId = '' AND ReceivedAt >= fromUnixTimestamp64Nano({since:Int64}) "
        "ORDER BY Timestamp LIMIT {limit:UInt64}",
        parameters={"since": since_ns, "limit": limit},
    ).result_rows
    return [
        Feedback(
            feedback_id=str(fid), time_ns=int(ts), source=str(source), name=str(name), span_id=str(span),
            trace_id=str(trace), response_id=str(response), session_id=str(session), user_id=str(user),
            thumbs=str(thumbs), score=None if score is None else float(score), label=str(label),
            comment=str(comment), ticket_id=str(ticket), annotator=str(annotator),
            attributes={str(k): str(v) for k, v in dict(attributes).items()},
        )
        for (ts, fid, source, name, span, trace, response, session, user, thumbs, score, label, comment,
             ticket, annotator, attributes) in rows
    ]  # fmt: skip


def _loads_list(text: Any) -> list[Any]:
    if not text:
        return []
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return []
    return value if isinstance(value, list) else []
