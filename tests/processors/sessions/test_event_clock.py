"""The event-time watermark: lateness, the wall-clock cap, the idle-source fallback, monotony."""

from __future__ import annotations

from tracesieve.processors.sessions import EventClock

S = 1_000_000_000
T0 = 1_700_000_000 * S


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def test_watermark_trails_the_newest_event_by_the_allowed_lateness() -> None:
    wall = Clock(T0 + 100 * S)
    clock = EventClock(5, 60, wall)
    assert clock.watermark() == 0
    clock.observe(T0 + 50 * S)
    clock.observe(T0 + 20 * S)  # late: does not move it back
    assert clock.watermark() == T0 + 45 * S


def test_a_span_from_the_future_is_capped_at_the_wall_clock() -> None:
    wall = Clock(T0)
    clock = EventClock(5, 60, wall)
    clock.observe(T0 + 3600 * S)  # a client clock an hour fast
    assert clock.watermark() == T0 - 5 * S


def test_a_quiet_source_lets_event_time_follow_the_wall_clock() -> None:
    wall = Clock(T0)
    clock = EventClock(5, 2, wall)
    clock.observe(T0)
    wall.now = T0 + 1 * S  # not idle yet
    assert clock.watermark() == T0 - 5 * S
    wall.now = T0 + 30 * S
    assert clock.watermark() == T0 + 25 * S


def test_the_watermark_never_goes_back_and_survives_a_snapshot() -> None:
    wall = Clock(T0)
    clock = EventClock(5, 2, wall)
    clock.observe(T0)
    wall.now = T0 + 30 * S
    mark = clock.watermark()
    clock.observe(T0 + 1 * S)  # arrivals resume with older event times
    assert clock.watermark() == mark
    restored = EventClock(5, 2, wall)
    restored.restore(clock.snapshot())
    assert restored.watermark() == mark
