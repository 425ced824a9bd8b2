"""The one interface every detector implements, and what registers it.

A detector is a small class with a ``name`` (the signal it emits), a ``category`` (the failure
category that signal counts towards in the coverage audit) and any of these hooks; the session
state calls each hook at the right moment and writes what it returns:

- ``on_span(span, session_id)``: for every released span, in arrival order (error, truncated,
  latency_outlier, retrieval detectors).
- ``on_turn(turn)``: whenever a turn gains spans; it may be called again later for the same
  turn (ungrounded_answer).
- ``on_pair(earlier, later, distance)``: for turns ``earlier`` before ``later`` of one session,
  ``distance`` user turns apart (1 or 2) in event-time order, as soon as both are known
  (rephrase, regenerate, user_correction).
- ``idle_deadline_ns(last)``: after each turn, the event time at which to call
  ``on_idle(last)``, which runs once the watermark passes it if ``last`` is still the session's
  last turn (abandoned_session).
- ``on_feedback(feedback, target)``: for each piece of feedback, with the span it was joined to
  (negative_feedback).

Hooks must be cheap and must not block: they run on the collector's event loop. A detector
that keeps state between calls (rolling percentiles) returns it from ``snapshot`` and takes it
back in ``restore`` so that the Kafka scale-out can move it between processes.

A third-party detector is a package that declares an entry point in the ``tracesieve.detectors``
group, pointing at a :class:`DetectorFactory`::

    [project.entry-points."tracesieve.detectors"]
    too_polite = "my_pkg.too_polite:factory"
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tracesieve.collector.contracts import CanonicalSpan, Feedback, Signal, SpanRef

if TYPE_CHECKING:  # at run time the session package imports this module, not the reverse
    from tracesieve.processors.sessions.model import TurnRecord, TurnView

__all__ = [
    "Detector",
    "DetectorConfig",
    "DetectorFactory",
    "Scope",
    "clamp_score",
    "make_signal",
    "scoped",
    "span_ref",
]

NO_SIGNALS: Sequence[Signal] = ()


class Scope(BaseModel):
    """Which spans an override applies to; every field given must match (``None`` matches all)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str | None = Field(None, description="`ServiceName` the override applies to.")
    model: str | None = Field(None, description="Response or request model the override applies to.")
    index: str | None = Field(None, description="Retrieval index (data source) the override applies to.")

    def matches(self, service: str, model: str, index: str) -> bool:
        return (
            (self.service is None or self.service == service)
            and (self.model is None or self.model == model)
            and (self.index is None or self.index == index)
        )

    @property
    def specificity(self) -> int:
        return sum(v is not None for v in (self.service, self.model, self.index))


class DetectorConfig(BaseModel):
    """Base of every detector's config: on/off, and thresholds overridden per service/model/index.

    ``overrides`` is a list of ``{match: {service?, model?, index?}, <field>: <value>, …}``; for
    a span, every matching override applies, the most specific last (so it wins).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Run this detector.")
    overrides: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Per service/model/index thresholds: `[{match: {model: gpt-4o}, <field>: value}]`.",
    )


C = TypeVar("C", bound=DetectorConfig)


def scoped(config: C) -> Callable[[str, str, str], C]:
    """Returns ``resolve(service, model, index) -> config`` with the matching overrides applied.

    Overrides are validated once, here (a bad one raises ``ValueError`` naming its position);
    results are cached per key, so resolving on the hot path is a dict lookup.
    """
    parsed: list[tuple[Scope, dict[str, Any]]] = []
    for i, raw in enumerate(config.overrides):
        raw = dict(raw)
        scope = Scope.model_validate(raw.pop("match", {}))
        if "overrides" in raw or "enabled" in raw:
            raise ValueError(f"overrides[{i}] may only set thresholds")
        unknown = set(raw) - set(type(config).model_fields)
        if unknown:
            raise ValueError(f"overrides[{i}] has unknown field(s) {sorted(unknown)}")
        try:  # type-check the override values with the model's own rules
            type(config).model_validate({**config.model_dump(), **raw})
        except ValidationError as exc:
            raise ValueError(f"overrides[{i}]: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None
        parsed.append((scope, raw))
    parsed.sort(key=lambda item: item[0].specificity)
    if not parsed:
        # No overrides (the usual case): called for most spans by several detectors each.
        return lambda service, model, index: config
    cache: dict[tuple[str, str, str], C] = {}

    def resolve(service: str, model: str, index: str) -> C:
        key = (service, model, index)
        hit = cache.get(key)
        if hit is None:
            update: dict[str, Any] = {}
            for scope, values in parsed:
                if scope.matches(service, model, index):
                    update.update(values)
            hit = config.model_copy(update=update) if update else config
            if len(cache) < 10_000:
                cache[key] = hit
        return hit

    return resolve


def clamp_score(value: float) -> float:
    return 0.0 if value < 0.0 else 1.0 if value > 1.0 else float(value)


def span_ref(span: CanonicalSpan, session_id: str) -> SpanRef:
    """``span`` as a signal target, filed under ``session_id``."""
    return SpanRef(session_id, span.trace_id, span.span_id, span.end_ns, span.service_name)


def make_signal(detector: Detector, target: SpanRef, score: float, evidence: dict[str, Any]) -> Signal:
    """A signal of ``detector`` on ``target``; the score is clamped to 0..1."""
    return Signal(
        signal=detector.name,
        category=detector.category,
        score=clamp_score(score),
        evidence=evidence,
        session_id=target.session_id,
        trace_id=target.trace_id,
        span_id=target.span_id,
        time_ns=target.time_ns,
        service_name=target.service_name,
    )


class Detector:
    """Base class: override the hooks the detector needs; the others emit nothing."""

    name: ClassVar[str] = ""
    category: ClassVar[str] = ""

    def on_span(self, span: CanonicalSpan, session_id: str) -> Sequence[Signal]:
        """``session_id`` is the session the span was filed under (the span's own may be empty)."""
        return NO_SIGNALS

    def on_turn(self, turn: TurnView) -> Sequence[Signal]:
        return NO_SIGNALS

    def on_pair(self, earlier: TurnRecord, later: TurnRecord, distance: int) -> Sequence[Signal]:
        return NO_SIGNALS

    def idle_deadline_ns(self, last: TurnRecord) -> int | None:
        return None

    def on_idle(self, last: TurnRecord) -> Sequence[Signal]:
        return NO_SIGNALS

    def on_feedback(self, feedback: Feedback, target: SpanRef) -> Sequence[Signal]:
        return NO_SIGNALS

    def snapshot(self) -> Any:
        return None

    def restore(self, state: Any) -> None:
        return None


@dataclass(frozen=True, slots=True)
class DetectorFactory(Generic[C]):
    """What the registry needs: the detector's name, its config model and a constructor."""

    name: str
    config_model: type[C]
    create: Callable[[C], Detector]
