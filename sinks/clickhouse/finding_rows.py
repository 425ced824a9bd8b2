"""Signals, flagged turns and feedback → JSONCompactEachRow INSERT bodies.

Same encoding rules as :mod:`.rows` (DateTime64 as padded ``"seconds.fraction"`` text, JSON
columns as embedded arrays/objects read verbatim): these rows go through the same INSERT
settings. Column lists must match ``migrations/0002_signals.sql``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from tracesieve.collector.contracts import Feedback, FlaggedSpan, Signal, SpanRef

from .rows import _timestamp

__all__ = [
    "FEEDBACK_COLUMNS",
    "FLAGGED_COLUMNS",
    "SIGNAL_COLUMNS",
    "feedback_rows",
    "flagged_rows",
    "signal_rows",
]

SIGNAL_COLUMNS = (
    "Timestamp", "SessionId", "TraceId", "SpanId", "ServiceName", "Signal", "Category", "Score",
    "Evidence", "DetectedAt",
)  # fmt: skip
FLAGGED_COLUMNS = (
    "Timestamp", "SessionId", "TraceId", "SpanId", "ServiceName", "UserId", "TurnIndex", "FlagScore",
    "Signals", "Categories", "Evidence", "Model", "UserMessage", "OutputText", "InputMessages",
    "RetrievedDocuments", "SessionContext", "UpdatedAt",
)  # fmt: skip
FEEDBACK_COLUMNS = (
    "Timestamp", "FeedbackId", "Source", "Name", "TargetSpanId", "TargetTraceId", "TargetResponseId",
    "TargetSessionId", "UserId", "Thumbs", "Score", "Label", "Comment", "TicketId", "Annotator",
    "Attributes", "SessionId", "TraceId", "SpanId", "Version", "ReceivedAt",
)  # fmt: skip

_INT32_MIN = -(1 << 31)
_INT32_END = 1 << 31


def _ms(ns: int) -> str:
    seconds, fraction = divmod(ns // 1_000_000, 1000)
    return f"{seconds:010d}.{fraction:03d}"


def signal_rows(signals: Sequence[Signal], now_ns: int) -> bytes:
    now = _ms(now_ns)
    return _lines(
        [
            [
                _timestamp(s.time_ns), s.session_id, s.trace_id, s.span_id, s.service_name, s.signal,
                s.category, float(s.score), s.evidence if isinstance(s.evidence, dict) else {}, now,
            ]
            for s in signals
        ]
    )  # fmt: skip


def flagged_rows(rows: Sequence[FlaggedSpan]) -> bytes:
    out = []
    for f in rows:
        turn_index = f.turn_index if _INT32_MIN <= f.turn_index < _INT32_END else -1
        out.append(
            [
                _timestamp(f.time_ns), f.session_id, f.trace_id, f.span_id, f.service_name, f.user_id,
                turn_index, float(f.flag_score), list(f.signals), list(f.categories), f.evidence,
                f.model, f.user_message, f.output_text, f.input_messages, f.retrieved_documents,
                f.session_context, _ms(f.updated_ns),
            ]
        )  # fmt: skip
    return _lines(out)


def feedback_rows(items: Sequence[tuple[Feedback, SpanRef | None]], now_ns: int) -> bytes:
    """One row per feedback; with its joined target (version 1) or without (version 0)."""
    now = _ms(now_ns)
    out = []
    for f, ref in items:
        out.append(
            [
                _timestamp(f.time_ns), f.feedback_id, f.source, f.name, f.span_id, f.trace_id,
                f.response_id, f.session_id, f.user_id, f.thumbs, f.score, f.label, f.comment,
                f.ticket_id, f.annotator, {str(k): str(v) for k, v in f.attributes.items()},
                ref.session_id if ref else "", ref.trace_id if ref else "", ref.span_id if ref else "",
                1 if ref else 0, now,
            ]
        )  # fmt: skip
    return _lines(out)


def _lines(rows: list[list[Any]]) -> bytes:
    if not rows:
        return b""
    return b"\n".join(orjson.dumps(row, default=str, option=orjson.OPT_NON_STR_KEYS) for row in rows)
