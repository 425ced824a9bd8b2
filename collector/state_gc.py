"""Keeps Python's cyclic garbage collector off the session state of the analysis worker.

The worker's heap is mostly long-lived state: every live session's turns and the detectors'
caches, over a million objects at 60,000 turns. Under the default policy the objects a batch
leaves in the state are promoted to the old generation, and a full collection runs whenever
the objects promoted since the last one reach a quarter of it. Each full collection walks the
whole state: measured 1.2 s at 1.1 million objects, which stalled detection (signal p99 above
1 s at 5,000 spans/s), and 17-20 µs per span of the worker's ~100 µs over a run.

So after each batch :meth:`StateGc.after_batch` freezes what is alive (``gc.freeze``): later
collections walk only what the next batch allocates. A frozen object is still freed by
reference counting the moment it is dropped, and the session state makes no reference cycles
(a test checks it), so what the state lets go is freed as before. A cycle that does form (a
third-party detector's, say) is only found by a full collection over everything, which runs
every ``full_interval_s`` (``gc.unfreeze``, ``gc.collect``) and warns when it finds any: a stall
of about 1 µs per live object, so seldom. Collecting the young generation before each freeze,
to catch the cycles that died within the batch, measured 9 µs per span, for cycles the
built-in detectors never make.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

__all__ = ["StateGc"]

_log = logging.getLogger(__name__)


class StateGc:
    def __init__(self, full_interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = full_interval_s
        self._clock = clock
        self._last_full = clock()

    def after_batch(self) -> None:
        if self._interval and self._clock() - self._last_full >= self._interval:
            self.full_collection()
            return
        gc.freeze()

    def full_collection(self) -> None:
        start = self._clock()
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        self._last_full = self._clock()
        took = self._last_full - start
        if found:
            _log.warning(
                "a full garbage collection found %d objects in reference cycles (%.2f s): something "
                "in the analysis makes cycles, which are freed only every %.0f s",
                found, took, self._interval,
            )  # fmt: skip
        else:
            _log.debug("full garbage collection: no cycles, %.2f s", took)
