"""Wiring of the session processor into the embedded pipeline: findings to the store, feedback
joined to its span, the session state checkpointed.

Delivery: the pipeline lets an ingest-log record go (advances the stored watermark) only once
its spans are stored *and* the findings their processing produced are written. Every
``checkpoint_interval_s`` the session state is snapshotted together with that watermark
``W`` to ``<data_dir>/session-state.json`` (after the findings emitted before the snapshot are
written), and the ingest log's checkpoint is held at or below ``W``. After a crash the state
is restored from the snapshot and the records after ``W`` are replayed through it; spans it
has already seen re-emit their signals (the writes are idempotent) and the rest are new. So a
crash loses no signal that the spans acknowledged before it would have produced.

The processor runs in a worker process by default (:mod:`.analysis_host`); the analysis
talks to it through a host that answers in request order. If the worker dies, the analysis
stops (``on_fatal``): records whose findings it had not answered stay in the ingest log, and
a restart replays them.

Feedback is durable once acknowledged (ingest log), stored as received in ``feedback``, then
joined: to a turn in the session state, else to a span found in the store (feedback a day
late), else kept waiting for its span in memory (and, across restarts, reloaded from the
``feedback`` rows not joined yet).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from tracesieve.collector.analysis_host import AnalysisStopped, InlineHost, ProcessorHost, WorkerHost
from tracesieve.collector.contracts import CanonicalSpan, Feedback, FlaggedSpan, Signal, SpanRef
from tracesieve.collector.errors import PermanentError, retry_delay_s
from tracesieve.collector.session_state_file import STATE_FILE, commit_snapshot
from tracesieve.processors.sessions import Findings

if TYPE_CHECKING:
    from tracesieve.collector.config import Config

__all__ = ["Analysis", "AnalysisStopped", "FindingsStore"]

_log = logging.getLogger(__name__)

_FINDINGS_LINGER_S = 0.2
# Flagged rows are a reviewer's queue, with no latency bar of their own, and their INSERT is
# the costlier one (the context columns): they go at most once a second, the latest row of each
# turn only (a turn's row is rewritten as its signals arrive). Measured on the corpus load with
# no turn flagged: detection's throughput ratio 0.92 against 0.75.
_FLAGGED_LINGER_S = 1.0

T = TypeVar("T")


class FindingsStore(Protocol):
    """What the analysis needs of the sink."""

    async def write_findings(
        self,
        signals: list[Signal],
        flagged: list[FlaggedSpan],
        feedback: list[tuple[Feedback, SpanRef | None]],
    ) -> None: ...

    async def find_feedback_target(
        self, item: Feedback
    ) -> tuple[SpanRef, dict[str, float], FlaggedSpan] | None: ...

    async def load_pending_feedback(self, since_ns: int, limit: int) -> list[Feedback]: ...


class Analysis:
    """Owns the session processor's host; see the module docstring."""

    def __init__(
        self,
        config: Config,
        store: FindingsStore,
        data_dir: Path,
        stored_mark: Callable[[], int],
        limit_checkpoint: Callable[[int | None], None],
        writes_in_flight: Callable[[], set[asyncio.Task[None]]] | None = None,
        on_fatal: Callable[[str], None] | None = None,
    ) -> None:
        cfg = config.processors.sessions
        self._cfg = cfg
        self._store = store
        self._path = data_dir / STATE_FILE
        self._stored_mark = stored_mark
        self._limit_checkpoint = limit_checkpoint
        self._writes_in_flight = writes_in_flight
        self.enabled = cfg.enabled
        self.host: ProcessorHost
        if cfg.enabled and config.service.analysis_worker:
            self.host = WorkerHost(
                config.processors,
                config.service.log_level,
                config.service.gc_gen0_threshold,
                on_fatal or _log_fatal,
                config.service.log_format,
                config.service.gc_full_interval_s,
            )
        else:
            self.host = InlineHost(config.processors)
        self._writes: set[asyncio.Future[None]] = set()
        self._queue: list[tuple[Findings, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._last_flush = 0.0
        # Flagged rows waiting for their cadence, by turn, and the futures they hold back.
        self._flagged: dict[tuple[str, str], FlaggedSpan] = {}
        self._flagged_waiters: list[asyncio.Future[None]] = []
        self._last_flagged = -math.inf  # the first flagged rows go at once, whatever the clock
        self._flagged_now = False
        self._advancing = False
        self._checkpoint_task: asyncio.Task[None] | None = None
        self._last_checkpoint = time.monotonic()
        self.signals_written = 0
        # Called with each INSERT's flagged rows once written (the weekly sampler's live feed).
        self.flagged_observer: Callable[[list[FlaggedSpan]], None] | None = None
        self.flagged_written = 0

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self, replay_from: int) -> None:
        """Restore the last snapshot and the feedback still waiting; hold the ingest-log
        checkpoint at ``replay_from`` until the next snapshot."""
        if not self.enabled:
            return
        self._limit_checkpoint(replay_from)
        restored = await self.host.start(self._path)
        if restored is not None:
            _log.info("session state restored: %d sessions (snapshot at ingest-log seq %d)", *restored)
        since = time.time_ns() - int(self._cfg.pending_feedback_ttl_s * 1e9)
        pending = await self._store.load_pending_feedback(since, self._cfg.max_pending_feedback)
        self.host.wait_for_target(pending)

    async def aclose(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        self._write_flagged_soon()
        if self._checkpoint_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._checkpoint_task, max(0.0, deadline - loop.time()))
        if self._writes:
            await asyncio.wait(self._writes, timeout=max(0.0, deadline - loop.time()))
        unfinished = [future for future in self._writes if not future.done()]
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        for future in unfinished:
            future.cancel()
        if self.enabled and not unfinished and not self.stopped:
            with contextlib.suppress(AnalysisStopped):
                await self._checkpoint()
        await self.host.aclose(deadline)

    @property
    def pending_writes(self) -> int:
        """Span batches and findings whose findings are not written yet (``/metrics``)."""
        return len(self._writes)

    @property
    def writing(self) -> bool:
        """Whether spans handed to :meth:`process` or their findings are still on their way."""
        return bool(self._writes)

    @property
    def stopped(self) -> bool:
        """Whether the analysis worker died (the service must stop; a restart replays)."""
        return isinstance(self.host, WorkerHost) and self.host.failed is not None

    # -- the stream -----------------------------------------------------------------------------

    def observe(self, spans: list[CanonicalSpan]) -> None:
        """Advance event time with admitted spans (held ones too, so timers see them)."""
        if self.enabled and spans and not self.stopped:
            self.host.observe_time(max(span.end_ns for span in spans))

    def process(self, spans: list[CanonicalSpan]) -> asyncio.Future[None] | None:
        """Run released spans through the processor; the future resolves once their findings
        are written, or fails with :class:`AnalysisStopped`."""
        if not self.enabled:
            return None
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.stopped:
            done.set_exception(AnalysisStopped("analysis worker is gone"))
            return done
        self._writes.add(done)
        done.add_done_callback(self._writes.discard)
        self.host.process(spans, lambda found: self._chain(found, done))
        return done

    def tick(self) -> None:
        """Fire due timers and checkpoint when it is time; call it on every pump round."""
        if not self.enabled or self.stopped:
            return
        if not self._advancing:  # one at a time: a worker that lags gets no pile of them
            self._advancing = True
            self.host.advance(self._advanced)
        if (
            self._checkpoint_task is None
            and time.monotonic() - self._last_checkpoint >= self._cfg.checkpoint_interval_s
        ):
            self._checkpoint_task = asyncio.create_task(self._checkpoint(), name="session-checkpoint")
            self._checkpoint_task.add_done_callback(self._checkpoint_done)

    async def settle(self) -> None:
        """Fire due timers and wait until their findings are queued (for ``wait_stored``)."""
        if not self.enabled or self.stopped:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def settled(found: Findings | None) -> None:
            self._chain(found, done)
            # Whoever settles waits for every row, flagged ones too: replies come in order, so
            # everything found before this advance is queued or waiting for its cadence now.
            self._write_flagged_soon()

        self.host.advance(settled)
        with contextlib.suppress(AnalysisStopped):
            await done

    def _advanced(self, found: Findings | None) -> None:
        self._advancing = False
        if found:
            self._write(found)

    def _chain(self, found: Findings | None, done: asyncio.Future[None]) -> None:
        if done.done():
            return
        if found is None:
            done.set_exception(AnalysisStopped("analysis worker is gone"))
            return
        written = self._write(found)
        if written is None:
            done.set_result(None)
        else:
            written.add_done_callback(lambda _: _resolve(done))

    async def handle_feedback(self, items: list[Feedback]) -> None:
        """Store feedback as received, then join it (state, store, or wait for the span)."""
        await self._retry(lambda: self._store.write_findings([], [], [(item, None) for item in items]))
        if not self.enabled:
            return
        found, missing = await self.host.add_feedback(items)
        if missing and self._writes_in_flight is not None:
            # A span that went through the state and left it (its session forgotten) may still
            # be in a write: once the writes under way now are done, it is in the store.
            running = self._writes_in_flight()
            if running:
                await asyncio.wait(running)
        for item in missing:
            target = await self._retry_value(lambda item=item: self._store.find_feedback_target(item))  # type: ignore[misc]
            if target is not None:
                found.extend(await self.host.apply_feedback(item, *target))
                continue
            # Look in the state again and wait in one request, so that a span processed
            # meanwhile cannot slip between the look and the wait.
            found.extend(await self.host.join_or_wait([item]))
        written = self._write(found)
        if written is not None:
            await asyncio.shield(written)

    # -- writing --------------------------------------------------------------------------------

    def _write(self, found: Findings) -> asyncio.Future[None] | None:
        """Queue ``found`` for the next findings INSERT; the future resolves once it is written.

        One writer merges whatever is queued into one INSERT per table (group commit): chDB
        pays milliseconds per statement, and dispatches come every ``poll_interval_s``.
        """
        if not found:
            return None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((found, future))
        self._writes.add(future)
        future.add_done_callback(self._writes.discard)
        self._wake.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="findings-writer")
        return future

    def _write_flagged_soon(self) -> None:
        """Write the flagged rows waiting for their cadence with the next INSERT."""
        self._flagged_now = True
        self._wake.set()

    def _flagged_due(self) -> float:
        return -math.inf if self._flagged_now else self._last_flagged + _FLAGGED_LINGER_S

    def _due(self) -> float:
        due = self._last_flush + _FINDINGS_LINGER_S if self._queue else math.inf
        return min(due, self._flagged_due()) if self._flagged else due

    async def _flush(self) -> None:
        while self._queue or self._flagged:
            # At most one INSERT per linger: each makes a part in three tables, and chDB's cost
            # is per part far more than per row (findings INSERTs per dispatch measured as much
            # CPU as the span INSERTs). Findings that come after a quiet spell go at once.
            now = time.monotonic()
            due = self._due()
            if due > now:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(due - now):
                        await self._wake.wait()
                continue
            batch, self._queue = self._queue, []
            merged = Findings()
            done: list[asyncio.Future[None]] = []
            for found, future in batch:
                merged.signals.extend(found.signals)
                merged.resolved.extend(found.resolved)
                for row in found.flagged:  # a turn flagged again before the write: its latest row
                    self._flagged[(row.trace_id, row.span_id)] = row
                (self._flagged_waiters if found.flagged else done).append(future)
            if batch:
                self._last_flush = now
            if self._flagged and now >= self._flagged_due():
                merged.flagged = list(self._flagged.values())
                done.extend(self._flagged_waiters)
                self._flagged, self._flagged_waiters = {}, []
                self._last_flagged = now
                self._flagged_now = False
            try:
                if merged:
                    await self._write_findings(merged)
            finally:
                for future in done:
                    if not future.done():
                        future.set_result(None)

    async def _write_findings(self, found: Findings) -> None:
        feedback: list[tuple[Feedback, SpanRef | None]] = list(found.resolved)
        await self._retry(lambda: self._store.write_findings(found.signals, found.flagged, feedback))
        self.signals_written += len(found.signals)
        self.flagged_written += len(found.flagged)
        if self.flagged_observer is not None and found.flagged:
            try:
                self.flagged_observer(found.flagged)
            except Exception:  # an observer's bug must not stop the findings writer
                _log.exception("flagged-row observer failed")

    async def _retry(self, call: Callable[[], Awaitable[None]]) -> None:
        await self._retry_value(call)

    async def _retry_value(self, call: Callable[[], Awaitable[T]]) -> T | None:
        attempt = 0
        while True:
            try:
                return await call()
            except PermanentError as exc:
                # Rows we built ourselves: a permanent refusal is a bug; do not retry forever.
                _log.error("findings write refused, dropped: %s", exc.reason)
                return None
            except Exception as exc:  # retryable or unknown: the store may come back
                attempt += 1
                delay = retry_delay_s(attempt, exc)
                _log.warning(
                    "findings store call failed (attempt %d), retrying in %.1fs: %s", attempt, delay, exc
                )
                await asyncio.sleep(delay)

    # -- checkpoints ----------------------------------------------------------------------------

    async def _checkpoint(self) -> None:
        self._last_checkpoint = time.monotonic()
        seq = self._stored_mark()
        written = self._path.with_suffix(".next")
        await self.host.snapshot(seq, written)
        # Replies come in order, so every findings write emitted before the snapshot is queued
        # by now; the snapshot may only replace the last one once they are all written.
        earlier = set(self._writes)
        if earlier:
            await asyncio.wait(earlier)
        await asyncio.to_thread(commit_snapshot, written, self._path)
        self._limit_checkpoint(seq)

    def _checkpoint_done(self, task: asyncio.Task[None]) -> None:
        self._checkpoint_task = None
        if not task.cancelled() and task.exception() is not None:
            _log.warning("session checkpoint failed: %s", task.exception())


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _log_fatal(reason: str) -> None:
    _log.critical("analysis stopped: %s", reason)
