"""Gauges and counters read from live state at scrape time: queue depths, the spool's fill
level, the store's write counters, detector time.

Nothing on the hot path updates these: each running :class:`~tracesieve.collector.service.Service`
registers a *source* (a function yielding ``(name, labels, value)`` from the counters and
lengths its parts keep anyway), and :class:`StateCollector` sums the sources when Prometheus
scrapes. Several services in one process (the tests) therefore add up, as their counters do.
Every name a source may yield is declared in :data:`STATE_METRICS`; an undeclared one is a bug.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Final, Literal

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .metrics import REGISTRY

__all__ = ["STATE_METRICS", "Sample", "Source", "StateMetric", "register_source"]

Sample = tuple[str, tuple[tuple[str, str], ...], float]
"""``(metric name, ((label, value), ...), value)``."""
Source = Callable[[], Iterable[Sample]]


@dataclass(frozen=True, slots=True)
class StateMetric:
    kind: Literal["gauge", "counter"]
    help: str
    labels: tuple[str, ...] = ()


STATE_METRICS: Final[dict[str, StateMetric]] = {
    # Queue depths.
    "tracesieve_assembler_held_spans": StateMetric(
        "gauge", "Spans the trace assembler holds, waiting for their context (root span, logs)."
    ),
    "tracesieve_assembler_pending_logs": StateMetric(
        "gauge", "Log records the trace assembler holds, waiting for their span."
    ),
    "tracesieve_write_batches_in_flight": StateMetric(
        "gauge", "Span batches handed to the store writers and not yet stored (embedded pipeline)."
    ),
    "tracesieve_sink_queued_spans": StateMetric(
        "gauge", "Spans queued in the ClickHouse sink for its next INSERT."
    ),
    "tracesieve_analysis_backlog_requests": StateMetric(
        "gauge", "Requests sent to the analysis worker and not yet answered."
    ),
    "tracesieve_analysis_pending_writes": StateMetric(
        "gauge", "Span batches and findings whose findings are not yet written."
    ),
    "tracesieve_kafka_consumer_lag_records": StateMetric(
        "gauge",
        "Records in the stage's assigned partitions past what it committed (high watermark minus "
        "committed offset, partitions it has committed since it started).",
        ("stage",),
    ),
    # The spool (ingest log).
    "tracesieve_spool_unstored_bytes": StateMetric(
        "gauge", "Bytes of acknowledged requests in the ingest log not yet stored (its fill level)."
    ),
    "tracesieve_spool_capacity_bytes": StateMetric(
        "gauge", "service.ingest_log.max_bytes: past it requests are refused (reason spool_full)."
    ),
    "tracesieve_spool_segment_files": StateMetric("gauge", "Ingest-log segment files on disk."),
    # The store.
    "tracesieve_sink_inserts": StateMetric("counter", "Span INSERT statements that succeeded."),
    "tracesieve_sink_insert_failures": StateMetric("counter", "Span INSERT statements that failed."),
    "tracesieve_sink_rows_written": StateMetric("counter", "Span rows written to the store."),
    "tracesieve_sink_duplicates_dropped": StateMetric(
        "counter", "Spans not written because they were stored already (a resend; intentional)."
    ),
    "tracesieve_store_refused_spans": StateMetric(
        "counter", "Spans the store refused for good and that were dropped (an error)."
    ),
    "tracesieve_kafka_published_requests": StateMetric(
        "counter", "Requests the receiver role published to Kafka and had acknowledged."
    ),
    # Detectors, cumulative since the process that runs them started.
    "tracesieve_detector_seconds": StateMetric(
        "counter",
        "Time spent in each detector's hooks (on_span, on_turn, on_pair, on_idle, on_feedback).",
        ("detector",),
    ),
    "tracesieve_detector_calls": StateMetric("counter", "Calls of each detector's hooks.", ("detector",)),
    # The memory limiter and redaction.
    "tracesieve_memory_resident_bytes": StateMetric(
        "gauge", "Resident memory of the collector and its analysis worker, as the memory limiter read it."
    ),
    "tracesieve_memory_soft_limit_bytes": StateMetric(
        "gauge", "The memory limiter's soft limit: above it requests are refused (reason memory_limit)."
    ),
    "tracesieve_memory_hard_limit_bytes": StateMetric("gauge", "The memory limiter's hard limit."),
    "tracesieve_memory_refusing": StateMetric("gauge", "1 while the memory limiter refuses requests."),
    "tracesieve_redactions": StateMetric(
        "counter", "Values the redaction processor replaced, by pattern or key rule.", ("kind",)
    ),
    "tracesieve_redacted_requests": StateMetric("counter", "Requests the redaction processor changed."),
    # Health.
    "tracesieve_ready": StateMetric(
        "gauge", "1 when the last /readyz verdict was ready, else 0 (absent before the first probe)."
    ),
}


class StateCollector(Collector):
    """Sums the registered sources into the families of :data:`STATE_METRICS`."""

    def __init__(self) -> None:
        self._sources: dict[int, Source] = {}
        self._next = 0
        self._lock = threading.Lock()

    def add(self, source: Source) -> Callable[[], None]:
        with self._lock:
            key = self._next
            self._next += 1
            self._sources[key] = source

        def remove() -> None:
            with self._lock:
                self._sources.pop(key, None)

        return remove

    def describe(self) -> Iterable[Metric]:
        return []  # the families vary with what runs; describing none skips the duplicate check

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            sources = list(self._sources.values())
        totals: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
        for source in sources:
            for name, labels, value in source():
                by_labels = totals.setdefault(name, {})
                by_labels[labels] = by_labels.get(labels, 0.0) + value
        for name, by_labels in totals.items():
            spec = STATE_METRICS[name]
            family: GaugeMetricFamily | CounterMetricFamily
            if spec.kind == "gauge":
                family = GaugeMetricFamily(name, spec.help, labels=spec.labels)
            else:
                family = CounterMetricFamily(name, spec.help, labels=spec.labels)
            for labels, value in by_labels.items():
                family.add_metric([v for _, v in labels], value)
            yield family


_COLLECTOR: Final = StateCollector()
REGISTRY.register(_COLLECTOR)


def register_source(source: Source) -> Callable[[], None]:
    """Add ``source`` to what ``/metrics`` reports; returns the function that removes it."""
    return _COLLECTOR.add(source)
