"""OTLP log requests → the GenAI events waiting to be joined to their spans, and the feedback."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tracesieve.collector.contracts import Feedback, LogEvent

from ._anyvalue import to_python
from ._rejects import Rejects
from ._values import stored_time_ns
from .config import NormaliseConfig
from .feedback import EVALUATION_EVENT, feedback_from_log_event

if TYPE_CHECKING:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

__all__ = ["normalise_logs"]

_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)


def _attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: to_python(kv.value) for kv in kvs}


def normalise_logs(
    request: ExportLogsServiceRequest, config: NormaliseConfig, seq: int = 0
) -> tuple[list[LogEvent], list[Feedback], int, str]:
    """The GenAI event records of ``request`` that can be joined to a span, and its feedback.

    Returns ``(events, feedback, rejected_count, error_message)``. ``events``: records whose
    event name (``LogRecord.event_name``, else the ``event.name`` attribute) starts with
    ``gen_ai.`` and that carry a trace id and a span id, ``gen_ai.evaluation.result`` excepted.
    ``feedback``: the ``gen_ai.evaluation.result`` records that name a target (span context, or
    only ``gen_ai.response.id``), as :func:`~.feedback.feedback_from_log_event` reads them.
    Other records are accepted and dropped, not rejected. A record whose ids are malformed
    (non-empty and not 16 / 8 bytes) is rejected and counted. ``time_ns`` is the record's time,
    else its observed time; attributes and body are plain Python values (kvlist → dict, array →
    list). Never raises on content. ``config`` is taken for symmetry with
    :func:`normalise_traces`; nothing in the log path depends on it yet.
    """
    out: list[LogEvent] = []
    feedback: list[Feedback] = []
    rejects = Rejects("log record")
    for rl in request.resource_logs:
        for sl in rl.scope_logs:
            for lr in sl.log_records:
                trace_id = lr.trace_id
                span_id = lr.span_id
                if len(trace_id) not in (0, 16):
                    rejects.add(f"invalid trace_id length {len(trace_id)}")
                    continue
                if len(span_id) not in (0, 8):
                    rejects.add(f"invalid span_id length {len(span_id)}")
                    continue
                name = lr.event_name
                attrs: dict[str, Any] | None = None
                if not name:
                    attrs = _attributes(lr.attributes)
                    declared = attrs.get("event.name")
                    name = declared if isinstance(declared, str) else ""
                if not name.startswith("gen_ai."):
                    continue
                evaluation = name == EVALUATION_EVENT
                if not evaluation and (
                    not trace_id or not span_id or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN
                ):
                    continue  # cannot be joined to a span
                event = LogEvent(
                    trace_id=trace_id.hex(),
                    span_id=span_id.hex(),
                    name=name,
                    time_ns=stored_time_ns(lr.time_unix_nano or lr.observed_time_unix_nano),
                    attributes=attrs if attrs is not None else _attributes(lr.attributes),
                    body=to_python(lr.body) if lr.HasField("body") else None,
                    seq=seq,
                )
                if not evaluation:
                    out.append(event)
                # Feedback, not span content; it may name its target by response id only.
                elif (fb := feedback_from_log_event(event)) is not None:
                    feedback.append(fb)
    return out, feedback, rejects.count, rejects.message()
