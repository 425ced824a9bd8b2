"""The ClickHouse sink: group-committed, idempotent, durable-on-return span writes.

::

    sink = ClickHouseSink(ClickHouseSinkConfig(dsn="chdb:///srv/tracesieve-data/chdb"))
    await sink.start()
    await sink.consume(spans)        # returns once the spans are in ClickHouse
    names, rows = await sink.query("SELECT count() FROM spans")
    await sink.aclose(time.monotonic() + 5)

Concurrent ``consume()`` calls queue their spans; one background task writes whatever is
queued as one INSERT (up to ``batch.max_items``, after waiting up to
``batch.flush_interval_s`` for company) and then resolves every caller: ``None`` once written,
or the classified error. Spans whose (TraceId, SpanId) was stored within
``dedupe_window_s`` are dropped before writing (the key set is preloaded at start, so this
survives restarts); ReplacingMergeTree collapses whatever slips through.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from clickhouse_connect.driver.client import Client
from tracesieve.collector.contracts import CanonicalSpan, Feedback, FlaggedSpan, Signal, SpanRef
from tracesieve.collector.errors import OverloadedError, PermanentError, RetryableError
from tracesieve.collector.telemetry.metrics import FINDINGS_FLAGGED, FINDINGS_SIGNALS, SINK_INSERT_SECONDS

from ._dedupe import RecentKeys, span_key
from ._tables import apply_table_options, preload_keys
from .config import ClickHouseSinkConfig
from .errors import classify
from .finding_rows import (
    FEEDBACK_COLUMNS,
    FLAGGED_COLUMNS,
    SIGNAL_COLUMNS,
    feedback_rows,
    flagged_rows,
    signal_rows,
)
from .lookup import StoredTarget, find_feedback_target, load_pending_feedback
from .migrate import migrate
from .rows import COLUMN_NAMES, INSERT_FORMAT, INSERT_SETTINGS, SPAN_INSERT_SETTINGS, build_rows
from .store import Connection, QueryResult, connect, run_query

__all__ = ["ClickHouseSink", "SinkStats"]

logger = logging.getLogger(__name__)

_OVERLOAD_RETRY_AFTER_S = 1.0

T = TypeVar("T")


@dataclass(slots=True)
class SinkStats:
    """Counters since start (read them; the sink updates them in place)."""

    inserts: int = 0  # INSERT statements that succeeded
    rows_written: int = 0
    insert_failures: int = 0  # INSERT statements that raised
    duplicates_dropped: int = 0  # spans not written because their key was already stored
    keys_preloaded: int = 0


@dataclass(slots=True, eq=False)
class _Waiter:
    future: asyncio.Future[None]
    parts: int = 0  # queued or in-flight chunks of this caller's spans
    failed: bool = False

    def resolve(self) -> None:
        self.parts -= 1
        if self.parts == 0 and not self.future.done():
            self.future.set_result(None)

    def fail(self, err: PermanentError | RetryableError) -> None:
        self.failed = True
        if not self.future.done():
            # One instance per waiter: each caller raises (and annotates) its own.
            own = copy.copy(err)
            own.__cause__ = err.__cause__
            self.future.set_exception(own)


@dataclass(slots=True)
class _Chunk:
    waiter: _Waiter
    spans: list[CanonicalSpan]
    due: float  # when it is written even if no other spans joined it (time.monotonic())


class ClickHouseSink:
    """Stores canonical spans in ``{database}.spans``; see the module docstring."""

    def __init__(self, config: ClickHouseSinkConfig, *, component_id: str = "clickhouse") -> None:
        self.config = config
        self.component_id = component_id
        self.stats = SinkStats()
        self._table = f"{config.database}.spans"
        self._keys = RecentKeys(config.dedupe_window_s, config.dedupe_max_keys)
        self._writer: Connection | None = None
        self._reader: Connection | None = None
        # Findings (signals, flagged turns, feedback) and their lookups get a client of their
        # own, so that a signal is not written behind a large span INSERT on the same lock.
        self._findings: Connection | None = None
        self._pending: deque[_Chunk] = deque()
        self._pending_items = 0
        self._wakeup = asyncio.Event()  # something is queued, or closing
        self._kick = asyncio.Event()  # a full batch is queued, or closing: stop lingering
        self._flusher: asyncio.Task[None] | None = None
        self._close_task: asyncio.Task[None] | None = None
        self._started = False
        self._closing = False
        self._closed = False

    @property
    def queued_spans(self) -> int:
        """Spans waiting for the next INSERT."""
        return self._pending_items

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running" if self._started else "new"
        return f"<ClickHouseSink {self.component_id} {self.config.database} {state}>"

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, create the database, migrate, apply TTL/fsync, preload the dedupe keys.

        Raises PermanentError (e.g. a changed migration, another chDB folder already open in
        this process) or RetryableError (store unreachable or held by another process).
        """
        if self._started or self._closing:
            return
        cfg = self.config
        writer = reader = findings = None
        try:
            writer = Connection(await asyncio.to_thread(connect, cfg.dsn, timeout_s=cfg.timeout_s))
            await writer.run(self._prepare_store)
            reader = Connection(
                await asyncio.to_thread(
                    connect, cfg.dsn, database=cfg.database, readonly=True, timeout_s=cfg.timeout_s
                )
            )
            findings = Connection(
                await asyncio.to_thread(connect, cfg.dsn, database=cfg.database, timeout_s=cfg.timeout_s)
            )
        except BaseException as exc:
            for conn in (findings, reader, writer):
                if conn is not None:
                    await asyncio.to_thread(conn.close)
            err = classify(exc) if isinstance(exc, Exception) else exc
            if err is exc:
                raise
            raise err from exc
        self._writer, self._reader, self._findings = writer, reader, findings
        self._started = True
        self._flusher = asyncio.create_task(self._flush_loop(), name=f"{self.component_id}-flush")
        logger.info(
            "%s: storing spans in %s (database %s, %d dedupe keys preloaded)",
            self.component_id, cfg.dsn, cfg.database, self.stats.keys_preloaded,
        )  # fmt: skip

    def _prepare_store(self, client: Client) -> None:
        cfg = self.config
        applied = migrate(client, cfg.database, cluster=cfg.cluster)
        if applied:
            logger.info("%s: applied migrations %s", self.component_id, ", ".join(applied))
        apply_table_options(client, cfg.database, cfg.ttl_days_by_table(), cfg.fsync, cluster=cfg.cluster)
        client.database = cfg.database
        self.stats.keys_preloaded = preload_keys(client, cfg.database, self._keys, time.time())

    async def aclose(self, deadline: float) -> None:
        """Write what is queued until ``deadline`` (``time.monotonic()``), then close. Idempotent.

        Callers whose spans are not written by the deadline get RetryableError.
        """
        if self._close_task is None:
            self._close_task = asyncio.create_task(self._aclose(deadline), name=f"{self.component_id}-close")
        await asyncio.shield(self._close_task)

    async def _aclose(self, deadline: float) -> None:
        self._closing = True
        self._wakeup.set()
        self._kick.set()
        if self._flusher is not None:
            _, running = await asyncio.wait({self._flusher}, timeout=max(0.0, deadline - time.monotonic()))
            if running:
                logger.warning("%s: close deadline passed with spans unwritten", self.component_id)
                self._flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._flusher
        closed = RetryableError("ClickHouse sink closed before these spans were written")
        while self._pending:
            self._pending.popleft().waiter.fail(closed)
        self._pending_items = 0
        for conn in (self._findings, self._reader, self._writer):
            if conn is not None:
                await asyncio.to_thread(conn.close)
        self._closed = True

    def __del__(self) -> None:
        if getattr(self, "_started", False) and not getattr(self, "_closed", True):
            warnings.warn(
                f"unclosed {self!r}: call `await sink.aclose(deadline)`", ResourceWarning, stacklevel=1
            )

    # -- writing ------------------------------------------------------------------------------

    async def consume(self, spans: list[CanonicalSpan], *, linger: bool = True) -> None:
        """Return once ``spans`` are durable in ClickHouse (or were stored already).

        ``linger=False`` writes them without waiting ``batch.flush_interval_s`` for other
        callers: for a caller that is the only writer and waits for each write before the next
        (a Kafka processor), where lingering is idle time and nothing more.

        Raises OverloadedError (retryable) when ``queue.max_items`` spans are already waiting,
        RetryableError when the store fails transiently or the sink is closing, and
        PermanentError when these spans can never be written (a value of the wrong type, for
        instance); other callers' spans in the same INSERT are then written without them.
        """
        if not self._started or self._closing:
            raise RetryableError(f"ClickHouse sink {self.component_id} is not running")
        keys = self._keys
        fresh = [s for s in spans if span_key(s) not in keys]
        self.stats.duplicates_dropped += len(spans) - len(fresh)
        if not fresh:
            return
        if self._pending_items and self._pending_items + len(fresh) > self.config.queue.max_items:
            raise OverloadedError(
                f"ClickHouse sink {self.component_id}: {self._pending_items} spans already waiting "
                f"(queue.max_items = {self.config.queue.max_items})",
                retry_after_s=_OVERLOAD_RETRY_AFTER_S,
            )
        waiter = _Waiter(asyncio.get_running_loop().create_future(), parts=1)
        due = time.monotonic() + (self.config.batch.flush_interval_s if linger else 0.0)
        self._pending.append(_Chunk(waiter, fresh, due))
        self._pending_items += len(fresh)
        self._wakeup.set()
        if not linger or self._pending_items >= self.config.batch.max_items:
            self._kick.set()
        # If the caller is cancelled the spans are still written; nobody waits for the result.
        await waiter.future

    async def reload_recent_keys(self) -> int:
        """Add the keys of spans that other writers stored within the dedupe window.

        For a writer that takes over another's work while running (a Kafka partition that moved
        after its owner died): what the other wrote but did not get to commit comes again, and
        is dropped here like a resend. Returns the number of keys read."""
        assert self._writer is not None
        database = self.config.database
        return await self._writer.run(lambda client: preload_keys(client, database, self._keys, time.time()))

    async def _flush_loop(self) -> None:
        max_items = self.config.batch.max_items
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if not self._closing and self._pending_items < max_items:
                linger = min(chunk.due for chunk in self._pending) - time.monotonic()
                if linger > 0:
                    self._kick.clear()
                    # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(linger):
                            await self._kick.wait()
                    continue
            await self._write(self._take_batch(max_items))

    def _take_batch(self, max_items: int) -> list[_Chunk]:
        batch: list[_Chunk] = []
        room = max_items
        while self._pending and room > 0:
            chunk = self._pending[0]
            if chunk.waiter.failed:  # an earlier part of this caller's spans failed already
                self._pending.popleft()
                self._pending_items -= len(chunk.spans)
                chunk.waiter.parts -= 1
                continue
            if len(chunk.spans) <= room:
                self._pending.popleft()
                batch.append(chunk)
            else:  # split: the rest stays queued as another part of the same caller
                batch.append(_Chunk(chunk.waiter, chunk.spans[:room], chunk.due))
                chunk.spans = chunk.spans[room:]
                chunk.waiter.parts += 1
            taken = len(batch[-1].spans)
            room -= taken
            self._pending_items -= taken
        return batch

    async def _write(self, chunks: list[_Chunk]) -> None:
        try:
            await self._insert_chunks(chunks)
        except asyncio.CancelledError:
            unknown = RetryableError("ClickHouse sink closed during the INSERT; its outcome is unknown")
            for chunk in chunks:
                chunk.waiter.fail(unknown)
            raise
        except Exception as exc:  # the flush task must outlive any failure
            err = classify(exc)
            by_waiter: dict[int, list[_Chunk]] = {}
            for chunk in chunks:
                by_waiter.setdefault(id(chunk.waiter), []).append(chunk)
            if isinstance(err, PermanentError) and len(by_waiter) > 1:
                # Do not let one caller's bad span fail the others: write each caller alone.
                for group in by_waiter.values():
                    await self._write(group)
                return
            for chunk in chunks:
                chunk.waiter.fail(err)
            return
        for chunk in chunks:
            chunk.waiter.resolve()

    async def _insert_chunks(self, chunks: list[_Chunk]) -> None:
        """INSERT the chunks' spans not stored yet; raises the classified error."""
        keys = self._keys
        now = time.time()
        keys.expire(now)
        batch_keys: set[str] = set()
        spans: list[CanonicalSpan] = []
        for chunk in chunks:
            for span in chunk.spans:
                key = span_key(span)
                if key in keys or key in batch_keys:
                    self.stats.duplicates_dropped += 1
                    continue
                batch_keys.add(key)
                spans.append(span)
        if not spans:
            return
        ingest_ms = int(now * 1000)
        assert self._writer is not None
        try:
            await self._writer.run(lambda client: self._insert_sync(client, spans, ingest_ms))
        except Exception as exc:
            self.stats.insert_failures += 1
            err = classify(exc)
            logger.warning("%s: INSERT of %d spans failed: %s", self.component_id, len(spans), err.reason)
            if err is exc:
                raise
            raise err from exc
        self.stats.inserts += 1
        self.stats.rows_written += len(spans)
        keys.add(batch_keys, now)

    def _insert_sync(self, client: Client, spans: list[CanonicalSpan], ingest_ms: int) -> None:
        # Runs in a worker thread, which keeps the event loop responsive while the rows are
        # built. The same call serves chDB and a server: ClickHouse parses the JSON (in C++,
        # without the GIL), so the Python side is one orjson.dumps and no Native encoding.
        with SINK_INSERT_SECONDS.labels("spans").time():
            self._raw_insert_spans(client, spans, ingest_ms)

    def _raw_insert_spans(self, client: Client, spans: list[CanonicalSpan], ingest_ms: int) -> None:
        client.raw_insert(
            self._table,
            column_names=COLUMN_NAMES,
            # A memoryview, not a copy: chDB writes any buffer to its INFILE, and over HTTP a
            # non-bytes body is sent as it is, with the INSERT in the URL (test_rows.py).
            insert_block=build_rows(spans, ingest_ms),  # type: ignore[arg-type]
            settings=SPAN_INSERT_SETTINGS,
            fmt=INSERT_FORMAT,
        )

    # -- findings -----------------------------------------------------------------------------

    async def write_findings(
        self,
        signals: list[Signal],
        flagged: list[FlaggedSpan],
        feedback: list[tuple[Feedback, SpanRef | None]],
    ) -> None:
        """Write signals, flagged turns and feedback rows; returns once durable.

        One INSERT per non-empty table. All three tables are ReplacingMergeTrees keyed by the
        row's identity, so writing a row again (a retry, a replay) does not add one. Raises the
        classified error.
        """
        if not (signals or flagged or feedback):
            return
        if self._findings is None or self._closed:
            raise RetryableError(f"ClickHouse sink {self.component_id} is not running")
        now_ns = time.time_ns()
        db = self.config.database
        inserts = [
            ("signals", SIGNAL_COLUMNS, signal_rows(signals, now_ns) if signals else b""),
            ("flagged_spans", FLAGGED_COLUMNS, flagged_rows(flagged) if flagged else b""),
            ("feedback", FEEDBACK_COLUMNS, feedback_rows(feedback, now_ns) if feedback else b""),
        ]

        def insert(client: Client) -> None:
            for table, columns, body in inserts:
                if body:
                    with SINK_INSERT_SECONDS.labels(table).time():
                        client.raw_insert(
                            f"{db}.{table}",
                            column_names=columns,
                            insert_block=body,
                            settings=INSERT_SETTINGS,
                            fmt=INSERT_FORMAT,
                        )

        try:
            await self._findings.run(insert)
        except Exception as exc:
            err = classify(exc)
            logger.warning("%s: INSERT of findings failed: %s", self.component_id, err.reason)
            if err is exc:
                raise
            raise err from exc
        _count_findings(signals, flagged)

    async def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Append ``rows`` to ``{database}.{table}`` in one INSERT; returns once durable.

        For the review loop's tables (batches, labels, eval cases, judge verdicts), which are
        small and written by people's actions, not by the span stream. Raises the classified
        error.
        """
        if not rows:
            return
        target = f"{self.config.database}.{table}"
        data = [list(row) for row in rows]

        def insert(client: Client) -> None:
            client.insert(target, data, column_names=list(columns))

        await self._read(insert)

    async def find_feedback_target(self, item: Feedback) -> StoredTarget | None:
        """The stored span that ``item`` names (see :mod:`.lookup`), or None."""
        return await self._read(lambda client: find_feedback_target(client, item))

    async def load_pending_feedback(self, since_ns: int, limit: int) -> list[Feedback]:
        """Feedback stored since ``since_ns`` that still waits for its target span."""
        return await self._read(lambda client: load_pending_feedback(client, since_ns, limit))

    async def _read(self, fn: Callable[[Client], T]) -> T:
        if self._findings is None or self._closed:
            raise RetryableError(f"ClickHouse sink {self.component_id} is not running")
        try:
            return await self._findings.run(fn)
        except Exception as exc:
            err = classify(exc)
            if err is exc:
                raise
            raise err from exc

    # -- reading ------------------------------------------------------------------------------

    async def query(
        self, sql: str, parameters: dict[str, Any] | None = None, readonly: bool = True
    ) -> QueryResult:
        """Run one SQL statement against the sink's database; return (column names, rows).

        ``readonly=True`` allows SELECT/WITH/SHOW/DESCRIBE/EXPLAIN/EXISTS only (no ``INTO
        OUTFILE``) and runs it on a connection with ClickHouse's ``readonly=1``, which refuses
        INSERT, DDL, setting changes and table functions (``file``, ``url``); refusals raise
        PermanentError. Parameters bind as ``{name:Type}``. Raises the classified error.
        """
        conn = self._reader if readonly else self._writer
        if conn is None or self._closed:
            raise RetryableError(f"ClickHouse sink {self.component_id} is not running")
        return await conn.run(lambda client: run_query(client, sql, parameters, readonly=readonly))


def _count_findings(signals: list[Signal], flagged: list[FlaggedSpan]) -> None:
    """Count written findings: once per INSERT, by signal name (few names, few signals)."""
    by_name: dict[str, int] = {}
    for signal in signals:
        by_name[signal.signal] = by_name.get(signal.signal, 0) + 1
    for name, count in by_name.items():
        FINDINGS_SIGNALS.labels(name).inc(count)
    if flagged:
        FINDINGS_FLAGGED.inc(len(flagged))
