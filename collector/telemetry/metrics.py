"""Every metric tracesieve exports, defined once: counters and histograms that the code paths
bump once per request or batch, and the refusal reasons a receiver answer is counted under.

Names start with ``tracesieve_`` and carry their unit (``_total``, ``_seconds``, ``_bytes``);
labels are low-cardinality (protocol, signal, reason, table, topic, detector). Gauges that
read live state (queue depths, the spool's fill level, detector time) are not here but in
:mod:`.state`, which reads them at scrape time so that the hot path pays nothing for them.
Intentional drops (dedupe of a resent span) are counted apart from errors (a span the store
refused for good).

All of it lives in :data:`REGISTRY`, with the process, platform and GC collectors of
prometheus-client, and is served by the admin port's ``GET /metrics``.
"""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Final, Literal, TypeVar, get_args

from prometheus_client import CollectorRegistry, Counter, Histogram, Info, generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

__all__ = [
    "FINDINGS_FLAGGED",
    "FINDINGS_SIGNALS",
    "KAFKA_PUBLISH_SECONDS",
    "RECEIVER_ACCEPTED_ITEMS",
    "RECEIVER_ITEMS",
    "RECEIVER_REFUSED",
    "RECEIVER_REJECTED_ITEMS",
    "RECEIVER_REQUESTS",
    "REFUSAL_REASONS",
    "REGISTRY",
    "SINK_INSERT_SECONDS",
    "SPOOL_FSYNC_SECONDS",
    "Protocol",
    "RefusalReason",
    "SignalName",
    "refusal_reason",
    "render_metrics",
    "set_build_info",
    "tagged",
]

Protocol = Literal["grpc", "http", "unknown"]
SignalName = Literal["traces", "logs", "metrics", "feedback", "unknown"]
RefusalReason = Literal[
    "bad_input",  # malformed protobuf/JSON, bad ids (400 / INVALID_ARGUMENT)
    "too_large",  # body over the cap after decompression (413)
    "unsupported_media",  # Content-Type or Content-Encoding not spoken (415)
    "unauthenticated",  # missing or wrong bearer token (401 / UNAUTHENTICATED)
    "internal",  # any other permanent failure (500 / INTERNAL)
    "overloaded",  # in-flight limits or a full queue (429 / RESOURCE_EXHAUSTED)
    "memory_limit",  # the memory limiter's soft limit (429)
    "spool_full",  # the ingest log holds its max_bytes of unstored requests (429)
    "shutting_down",  # the process is draining (503)
    "store_unavailable",  # the downstream that makes data durable (Kafka) did not take it (503)
    "unavailable",  # any other retryable failure (503 / UNAVAILABLE)
]
REFUSAL_REASONS: Final[tuple[str, ...]] = get_args(RefusalReason)

# Most specific first, by class name along the exception's MRO: the error tree's classes and
# those other parts define (auth, the memory limiter) without this module importing them.
_REASON_BY_CLASS: Final[dict[str, RefusalReason]] = {
    "MemoryLimitError": "memory_limit",
    "UnauthenticatedError": "unauthenticated",
    "UnsupportedMediaError": "unsupported_media",
    "PayloadTooLargeError": "too_large",
    "BadInputError": "bad_input",
    "PermanentError": "internal",
    "OverloadedError": "overloaded",
    "RetryableError": "unavailable",
}
_TAG: Final = "_tracesieve_refusal_reason"

E = TypeVar("E", bound=BaseException)


def tagged(exc: E, reason: RefusalReason) -> E:
    """``exc``, marked to be counted under ``reason`` when a receiver answers with it (where its
    class alone does not tell: shutting down, a full spool, Kafka unavailable)."""
    setattr(exc, _TAG, reason)
    return exc


def refusal_reason(exc: BaseException) -> RefusalReason:
    """The reason a request refused with ``exc`` is counted under."""
    tag: RefusalReason | None = getattr(exc, _TAG, None)
    if tag is not None:
        return tag
    for cls in type(exc).__mro__:
        reason = _REASON_BY_CLASS.get(cls.__name__)
        if reason is not None:
            return reason
    return "unavailable"  # unknown failures are retryable (errors.py)


REGISTRY: Final = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

_LATENCY_BUCKETS_S: Final = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
)

# -- receivers (counted once per request) -------------------------------------------------------

RECEIVER_REQUESTS: Final = Counter(
    "tracesieve_receiver_requests_total",
    "OTLP export and feedback requests received, refused ones included.",
    ["protocol", "signal"],
    registry=REGISTRY,
)
RECEIVER_ITEMS: Final = Counter(
    "tracesieve_receiver_items_total",
    "Items (spans, log records, feedback items) in requests that decoded.",
    ["protocol", "signal"],
    registry=REGISTRY,
)
RECEIVER_ACCEPTED_ITEMS: Final = Counter(
    "tracesieve_receiver_accepted_items_total",
    "Items acknowledged as durable (accepted spans: signal=traces).",
    ["protocol", "signal"],
    registry=REGISTRY,
)
RECEIVER_REJECTED_ITEMS: Final = Counter(
    "tracesieve_receiver_rejected_items_total",
    "Items dropped by validation and reported in partial_success (the rest of the request is kept).",
    ["protocol", "signal"],
    registry=REGISTRY,
)
RECEIVER_REFUSED: Final = Counter(
    "tracesieve_receiver_refused_requests_total",
    "Requests answered with an error, by reason (see the README for the reasons).",
    ["protocol", "signal", "reason"],
    registry=REGISTRY,
)

# -- findings (counted once per INSERT that succeeded) --------------------------------------------

FINDINGS_SIGNALS: Final = Counter(
    "tracesieve_signals_total",
    "Failure signals written to the store, by signal name.",
    ["signal"],
    registry=REGISTRY,
)
FINDINGS_FLAGGED: Final = Counter(
    "tracesieve_flagged_spans_total",
    "Flagged-turn rows written to the store (a turn flagged again is written again).",
    registry=REGISTRY,
)

# -- write latency ---------------------------------------------------------------------------------

SINK_INSERT_SECONDS: Final = Histogram(
    "tracesieve_sink_insert_duration_seconds",
    "Duration of each ClickHouse INSERT, failed ones included, by table.",
    ["table"],
    buckets=_LATENCY_BUCKETS_S,
    registry=REGISTRY,
)
SPOOL_FSYNC_SECONDS: Final = Histogram(
    "tracesieve_spool_fsync_duration_seconds",
    "Duration of each ingest-log write + fsync (one per group commit of requests).",
    buckets=_LATENCY_BUCKETS_S,
    registry=REGISTRY,
)
KAFKA_PUBLISH_SECONDS: Final = Histogram(
    "tracesieve_kafka_publish_duration_seconds",
    "From send to acks=all acknowledgement of a request published by the receiver role, by topic.",
    ["topic"],
    buckets=_LATENCY_BUCKETS_S,
    registry=REGISTRY,
)

_BUILD: Final = Info(
    "tracesieve_build", "The running tracesieve: version, Python, transport and role.", registry=REGISTRY
)


def set_build_info(transport: str, role: str) -> None:
    try:
        version = metadata.version("tracesieve")
    except metadata.PackageNotFoundError:
        version = "unknown"
    _BUILD.info(
        {"version": version, "python": platform.python_version(), "transport": transport, "role": role}
    )


def render_metrics() -> bytes:
    """Everything in :data:`REGISTRY`, in the Prometheus text format (``GET /metrics``)."""
    return generate_latest(REGISTRY)
