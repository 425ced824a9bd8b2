"""Time spent in each detector, wherever the detectors run.

:func:`time_detectors` wraps the hooks a detector overrides so that each call adds its
duration and a count to this process's totals. In the collector's own process (the inline
host, the Kafka processor role) ``/metrics`` reads those totals directly. The analysis worker
is another process: it sends its cumulative totals back in a ``TOTALS`` frame before a findings
reply, at most every :data:`SHIP_INTERVAL_S` (:func:`due_totals`, :mod:`..analysis_wire`), and
the collector keeps the latest copy
(:func:`set_worker_totals`), so no prometheus multiprocess mode is needed. A restarted worker
starts from zero again, which Prometheus reads as a counter reset.
"""

from __future__ import annotations

import contextlib
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Final

from tracesieve.collector.contracts import Signal
from tracesieve.processors.detectors.base import Detector

__all__ = [
    "SAMPLE_EVERY",
    "SHIP_INTERVAL_S",
    "due_totals",
    "sampled",
    "samples",
    "set_worker_totals",
    "time_detectors",
]

SHIP_INTERVAL_S: Final = 1.0
SAMPLE_EVERY: Final = 8
_HOOKS: Final = ("on_span", "on_turn", "on_pair", "on_idle", "on_feedback")

# name -> [seconds, calls]: this process's detectors, and the worker's latest report.
_local: dict[str, list[float]] = {}
_worker: dict[str, tuple[float, float]] = {}
_last_shipped = 0.0


class _Sampler:
    """The timed hooks of one processor's detectors, and how many of its batches went by."""

    def __init__(self, detectors: Iterable[Detector]) -> None:
        self.hooks: list[tuple[Detector, str, Callable[..., Sequence[Signal]]]] = []
        for detector in detectors:
            slot = _local.setdefault(detector.name, [0.0, 0.0])
            for hook in _HOOKS:
                if getattr(type(detector), hook) is not getattr(Detector, hook):
                    self.hooks.append((detector, hook, _timed(getattr(detector, hook), slot)))
        self.batches = 0


# Keyed by the processor (any object) the detectors serve: a processor dropped (a Kafka
# partition revoked) takes its sampler with it.
_samplers: weakref.WeakKeyDictionary[object, _Sampler] = weakref.WeakKeyDictionary()


def time_detectors(owner: object, detectors: Iterable[Detector]) -> None:
    """Prepare timing of the hooks each detector overrides, for :func:`sampled` batches of
    ``owner`` (the session processor)."""
    _samplers[owner] = _Sampler(detectors)


@contextlib.contextmanager
def sampled(owner: object) -> Iterator[None]:
    """Run one batch of ``owner``'s; one in :data:`SAMPLE_EVERY`, the first included, is timed
    (the timed hooks are instance attributes, which shadow the class's for the batch, so the
    session processor's ``type(d).on_span is not Detector.on_span`` checks are unchanged)."""
    sampler = _samplers.get(owner)
    if sampler is None or sampler.batches % SAMPLE_EVERY:
        if sampler is not None:
            sampler.batches += 1
        yield
        return
    sampler.batches += 1
    for detector, hook, timed in sampler.hooks:
        setattr(detector, hook, timed)
    try:
        yield
    finally:
        for detector, hook, _ in sampler.hooks:
            delattr(detector, hook)


def _timed(fn: Callable[..., Sequence[Signal]], slot: list[float]) -> Callable[..., Sequence[Signal]]:
    clock = time.perf_counter

    def call(*args: Any) -> Sequence[Signal]:
        start = clock()
        try:
            return fn(*args)  # hooks return sequences (base.py), so the work is done by now
        finally:
            slot[0] += (clock() - start) * SAMPLE_EVERY
            slot[1] += SAMPLE_EVERY

    return call


def due_totals() -> dict[str, tuple[float, float]] | None:
    """This process's totals if :data:`SHIP_INTERVAL_S` passed since the last time (or since
    the first call), else None."""
    global _last_shipped
    now = time.monotonic()
    if not _last_shipped:
        _last_shipped = now
    if not _local or now - _last_shipped < SHIP_INTERVAL_S:
        return None
    _last_shipped = now
    return {name: (slot[0], slot[1]) for name, slot in _local.items()}


def set_worker_totals(totals: dict[str, tuple[float, float]]) -> None:
    _worker.clear()
    _worker.update(totals)


def samples() -> Iterator[tuple[str, tuple[tuple[str, str], ...], float]]:
    names = set(_local) | set(_worker)
    for name in sorted(names):
        local = _local.get(name, [0.0, 0.0])
        worker = _worker.get(name, (0.0, 0.0))
        labels = (("detector", name),)
        yield "tracesieve_detector_seconds", labels, local[0] + worker[0]
        yield "tracesieve_detector_calls", labels, local[1] + worker[1]
