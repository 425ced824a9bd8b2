"""The contracts every stage shares: the canonical span, the batch types, the component protocols.

Stages import this module (and :mod:`tracesieve.collector.errors`), never each other; only
:mod:`tracesieve.collector.pipeline` knows them all.

The canonical span is a plain slotted dataclass rather than a pydantic model: it is built once
per received span on the hot path, where validation would cost more than the rest of the
normalisation (measured in ``bench/``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

if TYPE_CHECKING:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

__all__ = [
    "KIND_AGENT",
    "KIND_EMBEDDING",
    "KIND_LLM",
    "KIND_OTHER",
    "KIND_RETRIEVAL",
    "KIND_TOOL",
    "SPAN_KINDS",
    "Admission",
    "CanonicalSpan",
    "Component",
    "Feedback",
    "FlaggedSpan",
    "LogEvent",
    "Message",
    "OtlpConsumer",
    "PartialResult",
    "RetrievedDocument",
    "Signal",
    "SpanConsumer",
    "SpanRef",
    "ToolCall",
]

KIND_LLM = "llm"
KIND_RETRIEVAL = "retrieval"
KIND_TOOL = "tool"
KIND_AGENT = "agent"
KIND_EMBEDDING = "embedding"
KIND_OTHER = "other"
SPAN_KINDS = (KIND_LLM, KIND_RETRIEVAL, KIND_TOOL, KIND_AGENT, KIND_EMBEDDING, KIND_OTHER)

# Messages, tool calls and documents are kept as plain dicts because they are serialised to
# JSON columns as they are; these aliases document their keys.
Message = dict[str, Any]
"""``{"role": str, "content": str, "tool_calls"?: [ToolCall], "tool_call_id"?: str, "name"?: str}``"""
ToolCall = dict[str, Any]
"""``{"id": str, "name": str, "arguments": str}`` (arguments as the JSON text the model produced)"""
RetrievedDocument = dict[str, Any]
"""``{"id": str, "score": float | None, "content": str}``"""


@dataclass(slots=True)
class CanonicalSpan:
    """One span, normalised whatever convention produced it.

    Ids are lower-case hex; times are Unix nanoseconds. ``attributes`` holds every span
    attribute stringified as in the OTel Collector's ``otel_traces`` table (ints as ``"123"``,
    arrays and maps as JSON), including those the canonical fields were read from.
    ``seq`` is the ingest-log sequence number of the request the span came in; the pipeline
    uses it to know when a request is fully stored.
    """

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    start_ns: int
    end_ns: int
    otel_kind: str = "Internal"  # Unspecified, Internal, Server, Client, Producer, Consumer
    status_code: str = "Unset"  # Unset, Ok, Error
    status_message: str = ""
    trace_state: str = ""
    service_name: str = ""
    scope_name: str = ""
    scope_version: str = ""
    resource_attributes: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    # (time_ns, name, attributes) per span event, as otel_traces' Events.
    events: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)
    # (trace_id, span_id, trace_state, attributes) per link, as otel_traces' Links.
    links: list[tuple[str, str, str, dict[str, str]]] = field(default_factory=list)

    # Canonical LLM fields.
    kind: str = KIND_OTHER
    operation: str = ""
    provider: str = ""
    request_model: str = ""
    response_model: str = ""
    response_id: str = ""
    session_id: str = ""
    user_id: str = ""
    turn_index: int = -1
    system_instructions: str = ""
    input_messages: list[Message] = field(default_factory=list)
    output_messages: list[Message] = field(default_factory=list)
    output_text: str = ""
    refusal: str = ""
    finish_reasons: list[str] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    error_type: str = ""
    retrieval_query: str = ""
    retrieved_documents: list[RetrievedDocument] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    convention: str = ""
    # Private to the normaliser: the GenAI log-record events joined into this span so far, so
    # that several events of one span merge the same whatever order they arrive in.
    log_join: object = field(default=None, repr=False, compare=False)

    seq: int = 0

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)

    @property
    def has_content(self) -> bool:
        """True once any prompt or answer text is known (from the span or a joined log)."""
        return bool(self.input_messages or self.output_messages or self.output_text or self.refusal)


@dataclass(slots=True)
class LogEvent:
    """A GenAI log record (an OTel *event*) that belongs to a span, waiting to be joined.

    ``name`` is ``LogRecord.event_name`` or, failing that, the ``event.name`` attribute.
    ``attributes`` and ``body`` are decoded to plain Python values (structured, not JSON text).
    """

    trace_id: str
    span_id: str
    name: str
    time_ns: int
    attributes: dict[str, Any]
    body: Any
    seq: int = 0


class SpanRef(NamedTuple):
    """Where a signal or a piece of feedback lands: one span, with its trace and session."""

    session_id: str
    trace_id: str
    span_id: str
    time_ns: int  # the span's end (event time)
    service_name: str = ""


@dataclass(slots=True)
class Signal:
    """One failure signal: ``(signal, category, score 0..1, evidence)`` on one span.

    ``evidence`` is JSON-able and names the spans and values that triggered the signal, so a
    reviewer can see why. ``(span_id, signal)`` identifies a signal: emitting it again (a
    re-evaluated turn, a replay after a crash) replaces the row rather than adding one.
    ``time_ns`` is the event time of the span the signal is on (its end).
    """

    signal: str
    category: str
    score: float
    evidence: dict[str, Any]
    session_id: str
    trace_id: str
    span_id: str
    time_ns: int
    service_name: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.span_id, self.signal)


@dataclass(slots=True)
class Feedback:
    """A piece of feedback about an answer: from ``POST /v1/feedback``, a ``gen_ai.evaluation.result``
    event (log record or span event) or OpenInference annotation attributes.

    It names its target by one of ``span_id``, ``trace_id``, ``response_id`` or ``session_id``
    (the most precise one given wins when joining). ``score`` is as sent (any scale) and
    ``thumbs`` is ``"up"``, ``"down"`` or ``""``; whether it is negative is the
    ``negative_feedback`` detector's call. ``feedback_id`` is stable: the id the sender gave,
    or a hash of the content, so a resent piece of feedback is stored once.
    """

    feedback_id: str
    time_ns: int
    source: str  # "api", "otel_event", "span_event", "openinference"
    name: str = ""  # evaluation / annotation name, e.g. "user_feedback", "relevance"
    span_id: str = ""
    trace_id: str = ""
    response_id: str = ""
    session_id: str = ""
    user_id: str = ""
    thumbs: str = ""
    score: float | None = None
    label: str = ""
    comment: str = ""
    ticket_id: str = ""
    annotator: str = ""  # "human", "llm", "code" or ""
    attributes: dict[str, str] = field(default_factory=dict)
    seq: int = 0


@dataclass(slots=True)
class FlaggedSpan:
    """A turn whose combined signal score passed the flag threshold, with what a reviewer needs.

    ``span_id`` is the turn's answer span (the span the reviewer judges); ``signals`` lists every
    signal on the turn, ``evidence`` maps each to its evidence. Written again, with a newer
    ``updated_ns``, whenever the turn gets another signal.
    """

    time_ns: int
    session_id: str
    trace_id: str
    span_id: str
    flag_score: float
    signals: list[str]
    categories: list[str]
    evidence: dict[str, Any]
    service_name: str = ""
    user_id: str = ""
    turn_index: int = -1
    model: str = ""
    user_message: str = ""
    output_text: str = ""
    input_messages: list[Message] = field(default_factory=list)
    retrieved_documents: list[RetrievedDocument] = field(default_factory=list)
    # Earlier turns of the session, oldest first: [{"trace_id", "user", "assistant"}].
    session_context: list[dict[str, str]] = field(default_factory=list)
    updated_ns: int = 0


@runtime_checkable
class Component(Protocol):
    """Anything with a life cycle: started downstream-first, closed upstream-first."""

    async def start(self) -> None: ...

    async def aclose(self, deadline: float) -> None:
        """Stop, draining what is in flight until ``deadline`` (``time.monotonic()`` value).

        Idempotent. Passes whatever time is left on to the next stage.
        """
        ...


@runtime_checkable
class SpanConsumer(Protocol):
    """The one method stages talk through (the OTel Collector's ``ConsumeTraces``).

    ``consume`` returns once the batch is accepted downstream (queued), so backpressure reaches
    the caller; it raises :class:`~tracesieve.collector.errors.RetryableError` when the next
    stage is full and :class:`~tracesieve.collector.errors.PermanentError` for data that can
    never be accepted.
    """

    async def consume(self, spans: list[CanonicalSpan]) -> None: ...


class PartialResult(NamedTuple):
    """What became of an accepted request: items rejected by validation, and why.

    ``rejected == 0`` with an empty message means full success (OTLP: leave
    ``partial_success`` unset); a non-empty message with ``rejected == 0`` is a warning.
    """

    rejected: int = 0
    message: str = ""


@runtime_checkable
class Admission(Protocol):
    """An ``OtlpConsumer`` that can refuse a request before the receiver reads its body.

    Receivers call ``admit()`` first, before reading or decoding anything; it raises a
    ``RetryableError`` (the memory limiter's ``MemoryLimitError``) when no work may come in now.
    """

    def admit(self) -> None: ...


@runtime_checkable
class OtlpConsumer(Protocol):
    """What a receiver hands decoded OTLP requests to (the pipeline implements it).

    Each method returns once the accepted items are durable (the request may then be
    acknowledged) and reports the items it rejected. It raises ``RetryableError`` (overload,
    store or log unavailable) or ``PermanentError``; receivers translate those with the one
    status table in ``tracesieve.collector.receivers.status``.
    ``raw`` is the request's protobuf encoding (re-serialised when it came as JSON), kept by the
    ingest log so that a crash between acknowledgement and storage loses nothing.
    """

    async def consume_traces(self, request: ExportTraceServiceRequest, raw: bytes) -> PartialResult: ...

    async def consume_logs(self, request: ExportLogsServiceRequest, raw: bytes) -> PartialResult: ...

    async def consume_feedback(self, items: list[Feedback], raw: bytes) -> PartialResult:
        """Feedback posted to ``POST /v1/feedback``, already validated (``source="api"``).

        ``raw`` is its canonical JSON encoding (``receivers.otlp_http.feedback``'s
        ``encode_feedback_record``; ``decode_feedback_record`` gives ``items`` back), for the
        ingest log. Returns once the feedback is durable, like the other methods.
        """
        ...
