"""The weekly batch inside ``tracesieve run``.

:class:`WeeklySampler` is started and stopped by the service. It keeps a live
:class:`~tracesieve.processors.sampling.WeekSample` for the current ISO week and the one before
(until that one's batch is drawn), fed by :meth:`observe` with every flagged row the analysis
has written (so memory is bounded by two weeks' reservoirs and sketches).

- **Due.** A week is due ``grace_s`` after it ends (UTC), so late spans still count. When a
  week is due and has no batch yet, its batch is drawn (:func:`.sampler.sample_week`) and
  written to ``<data_dir>/review-batches/<week>/``; a week that has a batch (drawn by
  ``tracesieve sample``, or before a restart) is left as it is.
- **Catch-up.** On start, the last complete week is checked at once: due and without a
  batch → drawn from a scan of the store.
- **Restarts.** A live sample is only trusted for a week that began after this process started
  observing; for a week already under way at start, the sample is rebuilt by scanning the week
  from the store (in the background, while the live rows keep coming: both feed the same
  sample, and the keys are deterministic, so the result equals an uninterrupted stream's).
  Without a live feed (analysis disabled) every week is drawn from a scan.

Errors (store unreachable) are logged and retried after ``retry_s``; they never stop the
service. ``clock`` (Unix seconds) is injectable: tests move time instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tracesieve.collector.contracts import FlaggedSpan
from tracesieve.evals.store import EvalStore
from tracesieve.processors.sampling import FlaggedTurn, WeekSample

from .batch import Batch, list_batches
from .config import SamplingConfig
from .files import write_batch_files
from .sampler import NothingToSample, SampleSettings, sample_week
from .scan import scan_week
from .weeks import next_week, previous_week, week_bounds_ns, week_of_ns, week_of_s

__all__ = ["BATCH_FOLDER", "WeeklySampler"]

_log = logging.getLogger(__name__)

BATCH_FOLDER = "review-batches"
_MAX_SLEEP_S = 600.0


class WeeklySampler:
    """See the module docstring."""

    def __init__(
        self,
        config: SamplingConfig,
        store: EvalStore,
        data_dir: Path,
        *,
        live: bool = True,
        clock: Callable[[], float] = time.time,
        retry_s: float = 60.0,
    ) -> None:
        self.config = config
        self.settings = SampleSettings.from_config(config)
        self._store = store
        self.folder = data_dir / BATCH_FOLDER
        self._live = live
        self.clock = clock
        self._retry_s = retry_s
        self._since_s = clock()  # observing from here: weeks that begin later are whole in memory
        self.samples: dict[str, WeekSample] = {}
        self._whole: set[str] = set()  # weeks whose sample holds every flagged turn so far
        self._done: set[str] = set()  # weeks with a batch (drawn here or found)
        self.drawn: list[Batch] = []
        self._rebuilds: dict[str, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._busy = asyncio.Lock()

    # -- the live feed ------------------------------------------------------------------------

    def observe(self, rows: Sequence[FlaggedSpan]) -> None:
        """Flagged rows just written (the analysis calls this once per INSERT)."""
        if not self._live or not rows:
            return
        current = week_of_s(self.clock())
        window = (previous_week(current), current, next_week(current))
        for row in rows:
            week = week_of_ns(row.time_ns)
            if week not in window or week in self._done:
                continue  # drawn already, or too far off the clock to be a week still open
            sample = self.samples.get(week)
            if sample is None:
                sample = self.samples[week] = self.settings.new_sample()
                if week_bounds_ns(week)[0] >= self._since_s * 1e9:
                    self._whole.add(week)
            sample.offer(FlaggedTurn.from_flagged(row))

    # -- life cycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="weekly-sampler")

    async def aclose(self, deadline: float) -> None:
        """Stop; a draw under way may finish until ``deadline`` (``loop.time()``), then is cancelled."""
        self._stop.set()
        tasks = [t for t in (self._task, *self._rebuilds.values()) if t is not None and not t.done()]
        if tasks:
            timeout = max(0.0, deadline - asyncio.get_running_loop().time())
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._task = None

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.run_once()
                delay = self.seconds_until_due()
            except Exception as exc:  # the store may come back; the service goes on
                _log.warning("weekly review batch: %s; retrying in %.0fs", exc, self._retry_s)
                delay = self._retry_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=max(0.05, min(delay, _MAX_SLEEP_S)))

    # -- one pass -------------------------------------------------------------------------------

    def _due(self, week: str, now_s: float) -> bool:
        return week_bounds_ns(week)[1] / 1e9 + self.config.grace_s <= now_s

    def seconds_until_due(self) -> float:
        """Until the oldest open week is due."""
        now = self.clock()
        current = week_of_s(now)
        week = previous_week(current) if previous_week(current) not in self._done else current
        return max(0.0, week_bounds_ns(week)[1] / 1e9 + self.config.grace_s - now)

    async def run_once(self) -> list[Batch]:
        """Draw every due week without a batch (the last complete one, or the one just ended);
        start rebuilding open weeks' samples from the store. Returns the batches drawn."""
        async with self._busy:
            now = self.clock()
            current = week_of_s(now)
            drawn: list[Batch] = []
            for week in (previous_week(current), current):
                if week in self._done:
                    continue
                if self._due(week, now):
                    batch = await self._draw(week)
                    if batch is not None:
                        drawn.append(batch)
                elif self._live and week not in self._whole and week not in self._rebuilds:
                    self._rebuilds[week] = asyncio.create_task(
                        self._rebuild(week), name=f"sampler-scan-{week}"
                    )
            for week in [w for w in self.samples if w < previous_week(current)]:
                self._forget(week)  # fell out of the window without being due here (clock jump)
            return drawn

    async def wait_rebuilt(self) -> None:
        """Until the scans rebuilding open weeks from the store have finished."""
        tasks = [t for t in self._rebuilds.values() if not t.done()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _rebuild(self, week: str) -> None:
        sample = self.samples.setdefault(week, self.settings.new_sample())
        try:
            await scan_week(self._store, week, sample)
        except Exception as exc:
            _log.warning("weekly review batch: rebuilding %s from the store failed: %s", week, exc)
            self._rebuilds.pop(week, None)  # try again on the next pass
            return
        self._whole.add(week)
        _log.info("weekly review batch: %s rebuilt from the store (%d turns held)", week, len(sample))

    async def _draw(self, week: str) -> Batch | None:
        if await list_batches(self._store, week):
            self._done.add(week)
            self._forget(week)
            return None
        rebuild = self._rebuilds.get(week)
        if rebuild is not None and not rebuild.done():
            await rebuild
        sample = self.samples.get(week) if week in self._whole else None
        try:
            outcome = await sample_week(self._store, week, self.settings, source="schedule", sample=sample)
        except NothingToSample as exc:
            _log.info("weekly review batch: none for %s (%s)", week, exc.reason)
            self._done.add(week)
            self._forget(week)
            return None
        batch = outcome.batch
        await asyncio.to_thread(write_batch_files, batch, self.folder / week)
        self._done.add(week)
        self._forget(week)
        self.drawn.append(batch)
        _log.info("weekly review batch %s: %d cases for %s", batch.batch_id, len(batch.rows), week)
        return batch

    def _forget(self, week: str) -> None:
        self.samples.pop(week, None)
        self._whole.discard(week)
        task = self._rebuilds.pop(week, None)
        if task is not None and not task.done():
            task.cancel()
