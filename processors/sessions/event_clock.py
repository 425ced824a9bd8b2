"""The event-time watermark: how far event time has certainly progressed.

``watermark = newest span end seen − allowed_lateness``. Span ends are capped at the wall
clock, so one client with a fast clock cannot fire every timer early. When no span has
arrived for ``idle_source_s`` (wall clock), event time is assumed to advance with the wall
clock from the newest span end (Flink's idle-source rule), so abandonment timers of a quiet
stream still fire. The wall clock is injected: tests drive it by hand, never by sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["EventClock"]


class EventClock:
    __slots__ = ("_floor", "_idle_ns", "_last_arrival", "_lateness_ns", "_max_event", "_wall")

    def __init__(
        self, allowed_lateness_s: float, idle_source_s: float, wall_ns: Callable[[], int] = time.time_ns
    ) -> None:
        self._lateness_ns = int(allowed_lateness_s * 1e9)
        self._idle_ns = int(idle_source_s * 1e9)
        self._wall = wall_ns
        self._max_event = 0
        self._last_arrival = 0
        self._floor = 0  # the watermark never goes back

    def observe(self, event_ns: int) -> None:
        """A span (or log record) ending at ``event_ns`` has arrived."""
        now = self._wall()
        self._last_arrival = now
        if event_ns > now:
            event_ns = now
        if event_ns > self._max_event:
            self._max_event = event_ns

    @property
    def max_event_ns(self) -> int:
        return self._max_event

    def watermark(self) -> int:
        if self._max_event == 0:
            return self._floor
        base = self._max_event
        idle = self._wall() - self._last_arrival
        if idle > self._idle_ns:
            base += idle
        mark = base - self._lateness_ns
        if mark > self._floor:
            self._floor = mark
        return self._floor

    def snapshot(self) -> dict[str, int]:
        return {"max_event": self._max_event, "floor": self._floor}

    def restore(self, state: dict[str, int]) -> None:
        self._max_event = max(self._max_event, int(state.get("max_event", 0)))
        self._floor = max(self._floor, int(state.get("floor", 0)))
        self._last_arrival = self._wall()
