"""The ingest log: accepted OTLP requests, fsynced before they are acknowledged.

A request is acknowledged once its protobuf bytes are in this log and fsynced; the pipeline then
normalises, assembles and stores its spans, and advances the log's checkpoint once everything up
to a sequence number is in the store. After a crash (``kill -9``) the records past the checkpoint
are replayed; the store's idempotent writes turn that at-least-once replay into exactly-once rows.
This is the write-ahead log of the OTel Collector's persistent queue and of Vector's disk buffer,
and it is what lets spans wait in the trace assembler (for their root span or their log records)
without holding a client's export call open.

On disk: ``<dir>/<first-seq:020d>.seg`` segment files of records
``[u32 length][u32 crc32][u64 seq][u8 kind][payload]`` and a ``checkpoint`` file holding the
highest sequence number whose records are all stored. Appends are group-committed: concurrent
``append`` calls share one ``write`` + ``fsync``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tracesieve.collector.errors import OverloadedError, RetryableError
from tracesieve.collector.telemetry.metrics import SPOOL_FSYNC_SECONDS, tagged

__all__ = [
    "KIND_FEEDBACK",
    "KIND_LOGS",
    "KIND_TRACES",
    "RECORD_OVERHEAD_BYTES",
    "IngestLog",
    "LogRecordEntry",
]

_log = logging.getLogger(__name__)

KIND_TRACES = 1
KIND_LOGS = 2
KIND_FEEDBACK = 3  # a POST /v1/feedback body, as the receiver re-encoded it
_HEADER = struct.Struct("<IIQB")
RECORD_OVERHEAD_BYTES = _HEADER.size


@dataclass(frozen=True, slots=True)
class LogRecordEntry:
    seq: int
    kind: int
    payload: bytes


class IngestLog:
    """Append-only, fsynced log of accepted requests with a stored-up-to checkpoint.

    ``append`` returns the record's sequence number once it is durable; it raises
    :class:`OverloadedError` when the log already holds ``max_bytes`` of unstored records, so the
    receivers answer with the retryable OTLP status instead of growing without bound.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int,
        segment_bytes: int = 64 << 20,
        fsync: bool = True,
        on_abandoned: Callable[[int], None] | None = None,
    ) -> None:
        """``on_abandoned(seq)`` is told of sequence numbers handed out but never written."""
        self._on_abandoned = on_abandoned
        self._dir = directory
        self._max_bytes = max_bytes
        self._segment_bytes = segment_bytes
        self._fsync = fsync
        self._next_seq = 1
        self._checkpoint = 0
        self._segments: list[tuple[int, Path]] = []  # (first seq, path), ascending
        self._fd: int | None = None
        self._fd_size = 0
        self._pending: list[tuple[int, bytes, asyncio.Future[None]]] = []
        self._wakeup: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self._size_bytes = 0
        self._checkpoint_written = 0
        self._checkpoint_interval_s = 0.2
        self._stored_mark = 0  # everything up to here is stored
        self._checkpoint_cap: int | None = None
        self._refused_bytes = 0  # the last record refused for lack of room (readiness)

    # -- life cycle ---------------------------------------------------------------------------

    def open(self) -> list[LogRecordEntry]:
        """Open (creating) the log and return the records past the checkpoint, to be replayed."""
        self._dir.mkdir(parents=True, exist_ok=True)
        self._checkpoint = self._checkpoint_written = self._stored_mark = self._read_checkpoint()
        for path in sorted(self._dir.glob("*.seg")):
            self._segments.append((int(path.stem), path))
        replay: list[LogRecordEntry] = []
        last_seq = self._checkpoint
        for index, (_first, path) in enumerate(self._segments):
            is_last = index == len(self._segments) - 1
            for entry in self._read_segment(path, truncate_torn_tail=is_last):
                last_seq = max(last_seq, entry.seq)
                if entry.seq > self._checkpoint:
                    replay.append(entry)
                    self._size_bytes += len(entry.payload) + _HEADER.size
        self._next_seq = last_seq + 1
        self._drop_stored_segments()
        return replay

    async def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._open_segment()
        self._writer = asyncio.create_task(self._write_loop(), name="ingest-log-writer")

    async def aclose(self, deadline: float) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            assert self._wakeup is not None
            self._wakeup.set()
            loop = asyncio.get_running_loop()
            try:
                await asyncio.wait_for(asyncio.shield(self._writer), max(0.0, deadline - loop.time()))
            except TimeoutError:
                self._writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._writer
        self._abandon(self._pending, RetryableError("tracesieve is shutting down"))
        self._pending = []
        with contextlib.suppress(OSError):
            self._write_checkpoint(self._checkpoint)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # -- appending -----------------------------------------------------------------------------

    @property
    def size_bytes(self) -> int:
        """Bytes of records not yet stored (the spool's fill level)."""
        return self._size_bytes

    @property
    def checkpoint(self) -> int:
        return self._checkpoint

    @property
    def directory(self) -> Path:
        return self._dir

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    @property
    def segment_files(self) -> int:
        return len(self._segments)

    def has_room(self) -> bool:
        """Whether the log would take the last record it refused for lack of room (any record,
        if none was refused)."""
        return self._size_bytes + max(1, self._refused_bytes) <= self._max_bytes

    async def append(self, kind: int, payload: bytes) -> int:
        """Append one record; return its sequence number once it is durable."""
        if self._closed or self._wakeup is None:
            raise tagged(RetryableError("the ingest log is closed"), "shutting_down")
        if self._size_bytes + len(payload) > self._max_bytes:
            self._refused_bytes = len(payload)
            raise tagged(
                OverloadedError(
                    f"ingest log full ({self._size_bytes} of {self._max_bytes} bytes awaiting storage)",
                    retry_after_s=1.0,
                ),
                "spool_full",
            )
        seq = self._next_seq
        self._next_seq += 1
        self._size_bytes += len(payload) + _HEADER.size
        record = _HEADER.pack(len(payload), zlib.crc32(payload), seq, kind) + payload
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((seq, record, fut))
        self._wakeup.set()
        await fut
        return seq

    async def _write_loop(self) -> None:
        assert self._wakeup is not None
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._checkpoint_interval_s):
                    await self._wakeup.wait()
            self._wakeup.clear()
            if self._checkpoint > self._checkpoint_written:
                try:
                    await asyncio.to_thread(self._write_checkpoint, self._checkpoint)
                except OSError as exc:
                    _log.warning("ingest log checkpoint not written: %s", exc)
            batch, self._pending = self._pending, []
            if batch:
                try:
                    await asyncio.to_thread(self._write_batch, [record for _, record, _ in batch])
                except OSError as exc:
                    self._abandon(batch, RetryableError(f"ingest log write failed: {exc}", retry_after_s=1.0))
                else:
                    for _seq, _record, fut in batch:
                        if not fut.done():
                            fut.set_result(None)
            if self._closed and not self._pending:
                return

    def _abandon(self, batch: list[tuple[int, bytes, asyncio.Future[None]]], error: Exception) -> None:
        for seq, record, fut in batch:
            self._size_bytes = max(0, self._size_bytes - len(record))
            if self._on_abandoned is not None:
                self._on_abandoned(seq)
            if not fut.done():
                fut.set_exception(error)

    def _write_batch(self, records: list[bytes]) -> None:
        if self._fd is None:
            self._open_segment()
        assert self._fd is not None
        data = b"".join(records)
        view = memoryview(data)
        try:
            with SPOOL_FSYNC_SECONDS.time():
                while view:
                    written = os.write(self._fd, view)
                    view = view[written:]
                if self._fsync:
                    os.fsync(self._fd)
        except OSError:
            # Cut back to the last whole record so that later records stay readable.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._fd_size)
            raise
        self._fd_size += len(data)
        if self._fd_size >= self._segment_bytes:
            os.close(self._fd)
            self._fd = None
            self._open_segment()

    def _open_segment(self) -> None:
        path = self._dir / f"{self._next_seq:020d}.seg"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._fd_size = os.fstat(self._fd).st_size
        if not self._segments or self._segments[-1][1] != path:
            self._segments.append((self._next_seq, path))
            self._fsync_dir()

    # -- checkpointing -------------------------------------------------------------------------

    def mark_stored(self, seq: int, freed_bytes: int) -> None:
        """Record that everything up to ``seq`` is in the store, freeing ``freed_bytes`` of records.

        The checkpoint file is written by the writer task, at most every ``checkpoint_interval_s``:
        a checkpoint that lags only means a longer (idempotent) replay after a crash, while a
        file write per stored batch cost milliseconds on the event loop.
        """
        self._size_bytes = max(0, self._size_bytes - freed_bytes)
        if seq > self._stored_mark:
            self._stored_mark = seq
            self._advance_checkpoint()

    def limit_checkpoint(self, seq: int | None) -> None:
        """Keep the checkpoint at or below ``seq`` (``None``: no limit).

        Records past the checkpoint are replayed after a crash even when they are stored: the
        session state restores its last snapshot, taken when everything up to ``seq`` had been
        through it, and needs the records after that fed through it again.
        """
        self._checkpoint_cap = seq
        self._advance_checkpoint()

    def _advance_checkpoint(self) -> None:
        cap = self._checkpoint_cap
        target = self._stored_mark if cap is None else min(self._stored_mark, cap)
        if target <= self._checkpoint:
            return
        self._checkpoint = target
        if self._wakeup is None:  # not started (tests, replay): write it now
            self._write_checkpoint(target)

    def _write_checkpoint(self, seq: int) -> None:
        if seq <= self._checkpoint_written:
            return
        tmp = self._dir / "checkpoint.tmp"
        tmp.write_text(str(seq))
        os.replace(tmp, self._dir / "checkpoint")
        self._checkpoint_written = seq
        self._drop_stored_segments()

    def _drop_stored_segments(self) -> None:
        # A segment can go once the next one starts at or below checkpoint + 1.
        while len(self._segments) > 1 and self._segments[1][0] <= self._checkpoint + 1:
            _first, path = self._segments.pop(0)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _read_checkpoint(self) -> int:
        try:
            return int((self._dir / "checkpoint").read_text().strip() or 0)
        except FileNotFoundError:
            return 0

    def _read_segment(self, path: Path, *, truncate_torn_tail: bool) -> Iterator[LogRecordEntry]:
        data = path.read_bytes()
        offset = 0
        while offset + _HEADER.size <= len(data):
            length, crc, seq, kind = _HEADER.unpack_from(data, offset)
            start = offset + _HEADER.size
            payload = data[start : start + length]
            if len(payload) < length or zlib.crc32(payload) != crc:
                break
            yield LogRecordEntry(seq, kind, payload)
            offset = start + length
        if offset < len(data):
            # A torn tail is a record whose fsync never completed, so it was never acknowledged.
            _log.warning("ingest log %s: dropping %d bytes of torn tail", path.name, len(data) - offset)
            if truncate_torn_tail:
                os.truncate(path, offset)

    def _fsync_dir(self) -> None:
        if not self._fsync:
            return
        fd = os.open(self._dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
