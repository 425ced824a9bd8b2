"""``latency_outlier`` (category ``latency``): a call far slower than its peers.

**Triggers** (``on_span``), on an ``llm``, ``embedding`` or ``retrieval`` span not in error,
when its duration is above ``factor`` (3) × the ``percentile`` (p95) of the last ``window``
(500) durations of the same (service, model, operation) *and* above ``min_duration_ms`` (500),
once that window holds ``min_samples`` (50) durations. The model is the request model, else the
response model. Until a service's own window has ``min_samples``, its spans are judged against
the window of the same (model, operation) across all services, so a new service is covered as
soon as the model is known.

Windows hold durations in arrival order; the span is judged against the window *before* it is
added, and outliers are added too, so a lasting slowdown becomes the new normal within about
``(1 − percentile + 0.1) · window`` spans rather than being reported forever.

**Does not trigger**: spans in error (a timeout is ``error``'s, and fast failures would skew
the window: they are left out of it), spans of zero duration, other kinds, normal variance
(anything under ``factor`` × the percentile), anything under ``min_duration_ms``, and any span
while fewer than ``min_samples`` peers are known.

**Score**: 0.6 at the threshold, growing linearly to 1.0 at twice the threshold:
``0.6 + 0.4 · min(1, duration / threshold − 1)``.

**Evidence**: ``span_id``, ``duration_ms``, ``percentile``, ``percentile_ms``,
``threshold_ms``, ``factor``, ``samples``, ``window_scope`` (``service`` or ``model``),
``model``, ``operation``, ``output_tokens``.

**Config** (``processors.detectors.latency_outlier``): ``window``, ``min_samples``, ``percentile``,
``factor``, ``min_duration_ms``, ``max_keys``; all but ``max_keys`` overridable per
service/model. **State**: the windows, in ``snapshot()`` as JSON
(``{"version": 2, "windows": [[service, model, operation, [duration_ms, …]], …]}``, oldest first).

**Cost**: each window is a ring of durations; its percentile is computed again (one sort) after
every ``window / 10`` additions, so a span is judged against a percentile at most 10 % of a window
old.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pydantic import Field, model_validator
from tracesieve.collector.contracts import KIND_EMBEDDING, KIND_LLM, KIND_RETRIEVAL, CanonicalSpan, Signal

from .base import Detector, DetectorConfig, DetectorFactory, make_signal, scoped, span_ref

__all__ = ["LatencyOutlierConfig", "LatencyOutlierDetector", "factory"]

_KINDS = frozenset((KIND_LLM, KIND_EMBEDDING, KIND_RETRIEVAL))
_SNAPSHOT_VERSION = 2
_SHARED_SAMPLING = 8


class LatencyOutlierConfig(DetectorConfig):
    """Settings of the ``latency_outlier`` detector."""

    window: int = Field(500, ge=10, le=100_000, description="Durations kept per (service, model, operation).")
    min_samples: int = Field(50, ge=1, description="Durations a window needs before its spans are judged.")
    percentile: float = Field(0.95, gt=0.0, le=1.0, description="The percentile of the window (0.95 = p95).")
    factor: float = Field(3.0, ge=1.0, description="Flag a duration above `factor` × the percentile.")
    min_duration_ms: float = Field(500.0, ge=0.0, description="Never flag a span shorter than this.")
    max_keys: int = Field(
        2000, ge=1, description="Windows kept at most; the oldest is dropped to make room for a new one."
    )

    @model_validator(mode="after")
    def _check(self) -> LatencyOutlierConfig:
        if self.min_samples > self.window:
            raise ValueError(
                "`processors.detectors.latency_outlier.min_samples` must be ≤ `window` "
                f"(got {self.min_samples} > {self.window})"
            )
        return self


class _Window:
    """The last ``size`` durations (a ring), and their percentile, sorted again every ``every`` additions."""

    __slots__ = ("config", "every", "min_duration_ms", "oldest", "p", "p_value", "ring", "size", "stale")

    def __init__(self, config: LatencyOutlierConfig) -> None:
        self.config = config
        self.size = config.window
        self.min_duration_ms = config.min_duration_ms
        # A percentile at most a tenth of a window old: sorting 500 durations every 50 spans
        # costs far less per span than keeping a sorted copy up to date.
        self.every = max(1, config.window // 10)
        self.ring: list[float] = []
        self.oldest = 0  # index of the oldest duration once the ring is full
        self.stale = 0  # additions since the percentile was computed
        self.p = -1.0  # the percentile p_value is for
        self.p_value = 0.0

    def add(self, duration_ms: float) -> None:
        ring = self.ring
        if len(ring) < self.size:
            ring.append(duration_ms)
        else:
            ring[self.oldest] = duration_ms
            self.oldest = (self.oldest + 1) % self.size
        self.stale += 1

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile (the smallest value with at least ``p`` of the window ≤ it)."""
        if self.stale >= self.every or p != self.p:
            s = sorted(self.ring)
            n = len(s)
            self.p_value = s[min(n - 1, max(0, math.ceil(p * n) - 1))]
            self.p = p
            self.stale = 0
        return self.p_value

    def in_order(self) -> list[float]:
        """The durations, oldest first."""
        return self.ring[self.oldest :] + self.ring[: self.oldest]


class LatencyOutlierDetector(Detector):
    """See the module docstring."""

    name = "latency_outlier"
    category = "latency"

    def __init__(self, config: LatencyOutlierConfig) -> None:
        self.config = config
        self._resolve = scoped(config)
        # (service, model, operation) → window; service "" is the model's window across services.
        self._windows: dict[tuple[str, str, str], _Window] = {}
        self._tick = 0

    def _window(self, key: tuple[str, str, str]) -> _Window:
        window = self._windows.get(key)
        if window is None:
            windows = self._windows
            while len(windows) >= self.config.max_keys:
                del windows[next(iter(windows))]
            window = windows[key] = _Window(self._resolve(key[0], key[1], ""))
        return window

    def on_span(self, span: CanonicalSpan, session_id: str) -> Sequence[Signal]:
        if span.kind not in _KINDS or span.status_code == "Error":
            return ()
        # Milliseconds as floats: sorting a window of floats is twice as fast as of nanosecond ints.
        duration = (span.end_ns - span.start_ns) / 1e6
        if duration <= 0:
            return ()
        model = span.request_model or span.response_model
        operation = span.operation
        service = span.service_name
        key = (service, model, operation)
        own = self._windows.get(key) or self._window(key)
        config = own.config
        judged = own
        shared = None
        if service:
            warm = len(own.ring) >= config.min_samples
            self._tick += 1
            # The model's window across services is only read while a service's own window is
            # cold: warm services feed it one span in _SHARED_SAMPLING, which keeps it current.
            if not warm or self._tick % _SHARED_SAMPLING == 0:
                shared_key = ("", model, operation)
                shared = self._windows.get(shared_key) or self._window(shared_key)
                if not warm:
                    judged = shared
        found: Sequence[Signal] = ()
        if duration > own.min_duration_ms and len(judged.ring) >= config.min_samples:
            found = self._judge(span, session_id, duration, judged, config, judged is own)
        own.add(duration)
        if shared is not None:
            shared.add(duration)
        return found

    def _judge(
        self,
        span: CanonicalSpan,
        session_id: str,
        duration: float,
        window: _Window,
        config: LatencyOutlierConfig,
        own: bool,
    ) -> Sequence[Signal]:
        p_value = window.percentile(config.percentile)
        threshold = config.factor * p_value
        if duration <= threshold:
            return ()
        evidence: dict[str, Any] = {
            "span_id": span.span_id,
            "duration_ms": duration,
            "percentile": config.percentile,
            "percentile_ms": p_value,
            "threshold_ms": threshold,
            "factor": config.factor,
            "samples": len(window.ring),
            "window_scope": "service" if own else "model",
            "model": span.request_model or span.response_model,
            "operation": span.operation,
            "output_tokens": span.output_tokens,
        }
        score = 0.6 + 0.4 * min(1.0, duration / threshold - 1.0) if threshold > 0 else 1.0
        return (make_signal(self, span_ref(span, session_id), score, evidence),)

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": _SNAPSHOT_VERSION,
            "windows": [[*key, w.in_order()] for key, w in self._windows.items()],
        }

    def restore(self, state: Any) -> None:
        self._windows.clear()
        if not isinstance(state, dict) or state.get("version") != _SNAPSHOT_VERSION:
            return  # an unknown layout: start afresh rather than misread it
        for service, model, operation, durations in state.get("windows", ()):
            window = self._window((str(service), str(model), str(operation)))
            for d in durations[-window.size :]:
                window.add(float(d))


factory = DetectorFactory(
    name="latency_outlier", config_model=LatencyOutlierConfig, create=LatencyOutlierDetector
)
