"""Where the session processor runs: on the collector's event loop (:class:`InlineHost`) or in a
worker process of its own (:class:`WorkerHost`, the default).

The worker exists for the CPU: the collector's event loop is the bottleneck of ingest (one
core, the GIL), and the detectors cost it 60-150 µs per span. In the worker they cost the
event loop only the encoding of the spans it hands over (8-10 µs on the benchmarks' load),
and run on another core: with detection on the event loop, signals at 5,000 spans/s measured
p99 2.3 s; in the worker, 0.65-0.92 s.

Both hosts answer in request order. ``process`` and ``advance`` take a callback that is called
with the findings *synchronously in that order*, so the analysis queues a findings write the
moment the reply arrives, before any later reply (a snapshot's) is seen: a snapshot never
gets ahead of the findings emitted before it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import logging
import os
import pickle
import queue
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from tracesieve.collector import analysis_wire as wire
from tracesieve.collector.contracts import CanonicalSpan, Feedback, FlaggedSpan, SpanRef
from tracesieve.collector.session_state_file import read_snapshot, write_snapshot
from tracesieve.collector.telemetry import detector_time
from tracesieve.processors.detectors import build_detectors
from tracesieve.processors.detectors.config import detector_configs
from tracesieve.processors.scoring import Scorer
from tracesieve.processors.sessions import Findings, SessionProcessor

if TYPE_CHECKING:
    from tracesieve.collector.config import ProcessorsConfig

__all__ = ["AnalysisStopped", "InlineHost", "ProcessorHost", "WorkerHost", "build_processor"]

_log = logging.getLogger(__name__)

# Called with the findings, or with None when the worker died before answering.
OnFound = Callable[[Findings | None], None]

_PIPE_BYTES = 1 << 20  # the unprivileged maximum (/proc/sys/fs/pipe-max-size)


class AnalysisStopped(Exception):
    """The analysis worker is gone; what it had not answered will be replayed after a restart."""


def process_and_advance(processor: SessionProcessor, spans: list[CanonicalSpan]) -> Findings:
    """Run ``spans`` through ``processor``, then fire the timers the watermark has passed.

    Timers ride on every batch, in both hosts alike: the collector sends the worker an advance
    only once the previous one is answered, so behind a queue of batches a timer came a whole
    queue late (p99 1,072 ms against 721 ms for the batches' own signals at 5,000 spans/s)."""
    with detector_time.sampled(processor):
        found = processor.process(spans)
        found.extend(processor.advance())
    return found


def build_processor(config: ProcessorsConfig) -> SessionProcessor:
    detectors = build_detectors(detector_configs(config.detectors))
    processor = SessionProcessor(config.sessions, detectors, Scorer(config.scoring))
    detector_time.time_detectors(processor, detectors)
    return processor


class ProcessorHost(Protocol):
    """The :class:`SessionProcessor`'s operations, as the analysis calls them."""

    async def start(self, state_path: Path) -> tuple[int, int] | None:
        """Start, restoring the state saved at ``state_path``: (sessions, seq) or None."""
        ...

    @property
    def backlog(self) -> int:
        """Requests not answered yet (``/metrics``)."""
        ...

    def observe_time(self, event_ns: int) -> None: ...

    def process(self, spans: list[CanonicalSpan], on_found: OnFound) -> None: ...

    def advance(self, on_found: OnFound) -> None: ...

    async def add_feedback(self, items: list[Feedback]) -> tuple[Findings, list[Feedback]]: ...

    async def apply_feedback(
        self, item: Feedback, ref: SpanRef, prior: dict[str, float], base: FlaggedSpan | None
    ) -> Findings: ...

    async def join_or_wait(self, items: list[Feedback]) -> Findings:
        """Join ``items`` to live turns, and keep the rest waiting for their span, at once."""
        ...

    def wait_for_target(self, items: list[Feedback]) -> None: ...

    async def snapshot(self, seq: int, path: Path) -> None:
        """Write the state with ``seq`` to ``path``, fsynced."""
        ...

    async def aclose(self, deadline: float) -> None: ...


class InlineHost:
    """The processor on the event loop: every call answers at once."""

    def __init__(self, config: ProcessorsConfig) -> None:
        self.processor = build_processor(config)

    @property
    def backlog(self) -> int:
        return 0  # every call answers at once

    async def start(self, state_path: Path) -> tuple[int, int] | None:
        return read_snapshot(self.processor, state_path)

    def observe_time(self, event_ns: int) -> None:
        self.processor.observe_time(event_ns)

    def process(self, spans: list[CanonicalSpan], on_found: OnFound) -> None:
        on_found(process_and_advance(self.processor, spans))

    def advance(self, on_found: OnFound) -> None:
        on_found(self.processor.advance())

    async def add_feedback(self, items: list[Feedback]) -> tuple[Findings, list[Feedback]]:
        return self.processor.add_feedback(items)

    async def apply_feedback(
        self, item: Feedback, ref: SpanRef, prior: dict[str, float], base: FlaggedSpan | None
    ) -> Findings:
        return self.processor.apply_feedback(item, ref, prior, base)

    async def join_or_wait(self, items: list[Feedback]) -> Findings:
        found, missing = self.processor.add_feedback(items)
        self.processor.wait_for_target(missing)
        return found

    def wait_for_target(self, items: list[Feedback]) -> None:
        self.processor.wait_for_target(items)

    async def snapshot(self, seq: int, path: Path) -> None:
        write_snapshot(self.processor, seq, path)

    async def aclose(self, deadline: float) -> None:
        return None


class WorkerHost:
    """The processor in ``python -m tracesieve.collector.analysis_worker``, over its stdin and
    stdout (see :mod:`.analysis_wire`). ``on_fatal`` is called once if the worker dies."""

    def __init__(
        self,
        config: ProcessorsConfig,
        log_level: str,
        gc_gen0_threshold: int,
        on_fatal: Callable[[str], None],
        log_format: str = "text",
        gc_full_interval_s: float = 0.0,
    ) -> None:
        self._init: dict[str, Any] = {
            "processors": config.model_dump(mode="json"),
            "log_level": log_level,
            "log_format": log_format,
            "gc_gen0_threshold": gc_gen0_threshold,
            "gc_full_interval_s": gc_full_interval_s,
        }
        self._on_fatal = on_fatal
        self._process: asyncio.subprocess.Process | None = None
        self._requests: _RequestWriter | None = None
        self._reader: asyncio.Task[None] | None = None
        # One entry per request awaiting its reply: called with (status, payload).
        self._waiting: collections.deque[Callable[[int, bytes], None]] = collections.deque()
        self._closing = False
        self.failed: str | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def backlog(self) -> int:
        """Requests sent to the worker and not answered yet."""
        return len(self._waiting)

    @property
    def alive(self) -> bool:
        """Whether the worker process runs and answers in step (for ``/healthz``)."""
        process = self._process
        return self.failed is None and process is not None and process.returncode is None

    async def start(self, state_path: Path) -> tuple[int, int] | None:
        # Requests go through a pipe of our own, written by a thread with blocking writes: an
        # asyncio pipe transport writes only what the pipe holds (64 KiB) per event-loop round,
        # which under load starved the worker (measured idle half the time).
        read_fd, write_fd = os.pipe()
        with contextlib.suppress(OSError):
            fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
        try:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tracesieve.collector.analysis_worker",
                stdin=read_fd, stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
        finally:
            os.close(read_fd)
        self._requests = _RequestWriter(write_fd)
        self._reader = asyncio.create_task(self._read_replies(), name="analysis-worker-replies")
        init = orjson.dumps({**self._init, "state_path": str(state_path)})
        restored: tuple[int, int] | None = await self._call(wire.OP_INIT, init)
        return restored

    # -- one-way and callback requests (the hot path) ---------------------------------------------

    def observe_time(self, event_ns: int) -> None:
        self._send(wire.OP_OBSERVE, event_ns.to_bytes(8, "big"))

    def process(self, spans: list[CanonicalSpan], on_found: OnFound) -> None:
        self._send(wire.OP_PROCESS, wire.encode_spans(spans), _findings_callback(on_found))

    def advance(self, on_found: OnFound) -> None:
        self._send(wire.OP_ADVANCE, b"", _findings_callback(on_found))

    def wait_for_target(self, items: list[Feedback]) -> None:
        if items:
            self._send(wire.OP_WAIT_FOR_TARGET, pickle.dumps(items))

    # -- awaited requests -------------------------------------------------------------------------

    async def add_feedback(self, items: list[Feedback]) -> tuple[Findings, list[Feedback]]:
        result: tuple[Findings, list[Feedback]] = await self._call(wire.OP_ADD_FEEDBACK, pickle.dumps(items))
        return result

    async def apply_feedback(
        self, item: Feedback, ref: SpanRef, prior: dict[str, float], base: FlaggedSpan | None
    ) -> Findings:
        found: Findings = await self._call(wire.OP_APPLY_FEEDBACK, pickle.dumps((item, ref, prior, base)))
        return found

    async def join_or_wait(self, items: list[Feedback]) -> Findings:
        found: Findings = await self._call(wire.OP_JOIN_OR_WAIT, pickle.dumps(items))
        return found

    async def snapshot(self, seq: int, path: Path) -> None:
        path.unlink(missing_ok=True)
        pid: int = await self._call(wire.OP_SNAPSHOT, pickle.dumps((seq, str(path))))
        await _exited(pid)
        if not path.exists():
            raise RuntimeError(f"analysis worker's snapshot child {pid} wrote no {path.name} (see its log)")

    async def aclose(self, deadline: float) -> None:
        self._closing = True
        process = self._process
        if process is None:
            return
        loop = asyncio.get_running_loop()
        if self.failed is None and process.returncode is None:
            self._send(wire.OP_CLOSE)
        # The writer thread drains what is queued, then closes the pipe. A worker that stopped
        # reading would keep it blocked: past the deadline the worker is killed, which ends it.
        drained = asyncio.ensure_future(
            asyncio.to_thread(self._requests.close) if self._requests is not None else asyncio.sleep(0)
        )
        try:
            await asyncio.wait_for(asyncio.shield(drained), max(0.1, deadline - loop.time()))
            await asyncio.wait_for(process.wait(), max(0.1, deadline - loop.time()))
        except TimeoutError:
            _log.warning("analysis worker %d did not stop; killing it", process.pid)
            process.kill()
            await process.wait()
            await drained
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    # -- the pipe ---------------------------------------------------------------------------------

    def _send(
        self, op: int, payload: bytes = b"", on_reply: Callable[[int, bytes], None] | None = None
    ) -> None:
        if self.failed is not None:
            raise AnalysisStopped(self.failed)
        assert self._requests is not None
        # Queued for the writer thread: when the worker falls behind, the requests wait here,
        # bounded by the ingest log (records stay in it until their findings are written).
        self._requests.put(wire.frame(op, payload))
        if op in wire.REPLIES:
            assert on_reply is not None
            self._waiting.append(on_reply)

    async def _call(self, op: int, payload: bytes) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def on_reply(status: int, body: bytes) -> None:
            if future.done():
                return
            if status == wire.OK:
                future.set_result(pickle.loads(body))
            elif status == wire.GONE:
                future.set_exception(AnalysisStopped(body.decode()))
            else:
                future.set_exception(RuntimeError(f"analysis worker: {body.decode(errors='replace')}"))

        self._send(op, payload, on_reply)
        return await future

    async def _read_replies(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        stdout = self._process.stdout
        reason = "analysis worker exited"
        try:
            while True:
                size, status = wire.HEADER.unpack(await stdout.readexactly(wire.HEADER.size))
                body = await stdout.readexactly(size) if size else b""
                if status == wire.TOTALS:  # not a reply: the worker's detector time
                    detector_time.set_worker_totals(pickle.loads(body))
                    continue
                self._waiting.popleft()(status, body)
        except asyncio.IncompleteReadError:
            pass
        except Exception as exc:  # a reply we cannot read: the pipe is out of step
            reason = f"analysis worker protocol error: {exc!r}"
            _log.exception("analysis worker reply not understood")
        returncode = await self._process.wait()
        if self._closing and not self._waiting:
            return
        self._fail(f"{reason} (exit status {returncode}) with {len(self._waiting)} requests unanswered")

    def _fail(self, reason: str) -> None:
        self.failed = reason
        _log.critical("%s; stopping: a restart replays what it had not answered", reason)
        waiting, self._waiting = self._waiting, collections.deque()
        for on_reply in waiting:
            with contextlib.suppress(Exception):
                on_reply(wire.GONE, reason.encode())
        self._on_fatal(reason)


async def _exited(pid: int) -> None:
    """Wait for a process that is not our child (the worker's) to exit."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # already gone
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def on_exit() -> None:  # a pidfd is readable once its process exits
        if not done.done():
            done.set_result(None)

    loop.add_reader(fd, on_exit)
    try:
        await done
    finally:
        loop.remove_reader(fd)
        os.close(fd)


class _RequestWriter:
    """Writes queued frames to the worker's stdin from a thread (blocking writes, GIL released)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="analysis-worker-requests", daemon=True)
        self._thread.start()

    def put(self, data: bytes) -> None:
        self._queue.put(data)

    def close(self) -> None:
        """Write what is queued, then close the pipe (the worker sees the end of its input)."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        try:
            while (data := self._queue.get()) is not None:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view) :]
        except OSError:
            pass  # the worker is gone: the reply reader reports it
        finally:
            os.close(self._fd)


def _findings_callback(on_found: OnFound) -> Callable[[int, bytes], None]:
    def on_reply(status: int, body: bytes) -> None:
        if status == wire.OK:
            on_found(pickle.loads(body))
        elif status == wire.GONE:
            on_found(None)
        else:
            # The worker logged the traceback; these spans go on without their findings.
            _log.error("analysis failed for a batch: %s", body.decode(errors="replace"))
            on_found(Findings())

    return on_reply
