"""The one internal interface: what conventions read (:class:`SpanView`) and offer (:class:`Convention`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tracesieve.collector.contracts import CanonicalSpan

__all__ = ["Convention", "Extract", "SpanView"]


@dataclass(slots=True)
class SpanView:
    """One span's decoded attributes and events, as the convention extractors read them.

    ``attrs`` holds complete Python values (strings, ints, floats, bools, lists, dicts, bytes);
    ``events`` holds ``(name, time_ns, attributes)`` per span event, decoded the same way.
    """

    attrs: dict[str, Any]
    events: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    name: str = ""
    scope_name: str = ""


Extract = Callable[[CanonicalSpan, SpanView], None]
"""Fills the canonical fields this source has and the span still lacks; never overwrites, never raises."""


@dataclass(frozen=True, slots=True)
class Convention:
    """One producer convention.

    ``markers`` are attribute keys only this convention writes; ``scope_hint``, if any, recognises
    it by the instrumentation scope's name alone (decided once per scope name), ``hint`` by other
    means (span name, key prefixes, event names). Only the extractors of the conventions a span
    is recognised by run, so the markers and hints must cover every way into ``extract``. The
    first convention recognised names the span's ``convention``. ``extract`` reads its structured
    sources; ``fallback``, if any, its opaque ones (raw input/output blobs), which conventions.md
    §8 consults only after every convention's structured sources.
    """

    name: str
    markers: frozenset[str]
    extract: Extract
    fallback: Extract | None = None
    hint: Callable[[SpanView], bool] | None = None
    scope_hint: Callable[[str], bool] | None = None
