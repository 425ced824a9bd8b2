"""Resident-memory limits with soft and hard thresholds, checked on a timer.

The limiter reads the resident set size of this process and of the processes ``extra_pids``
names (the analysis worker) from ``/proc`` every ``check_interval_s``. Above the soft limit,
:meth:`MemoryLimiter.admit` raises :class:`~tracesieve.collector.errors.MemoryLimitError`, which
the receivers answer with 429 / ``RESOURCE_EXHAUSTED`` and a retry delay (OTLP spec: retryable),
so clients keep their data and send it again later; work already accepted goes on and frees
its memory as it is stored. Above the hard limit it also runs a full garbage collection and
``malloc_trim`` (CPython does not hand freed heap back to the system by itself, so the resident
size would otherwise stay above the soft limit after the backlog is gone and refuse forever).

:class:`MemoryLimitedConsumer` puts the limiter in front of any ``OtlpConsumer``, as the OTel
Collector puts ``memory_limiter`` first in a pipeline; receivers also call its ``admit`` before
reading a body, so a refused request costs neither the read nor the decoding.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from tracesieve.collector.contracts import Feedback, OtlpConsumer, PartialResult
from tracesieve.collector.errors import MemoryLimitError
from tracesieve.processors.memory_limiter.config import MemoryLimiterConfig

__all__ = ["MemoryLimitedConsumer", "MemoryLimiter", "available_memory_bytes", "resident_bytes"]

_log = logging.getLogger(__name__)

_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
_MIB = 1 << 20
_TRIM_EVERY_S = 1.0


def resident_bytes(pid: int | str = "self") -> int:
    """Resident set size of ``pid`` in bytes (0 once it has exited)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_BYTES
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return 0


def available_memory_bytes() -> int:
    """The cgroup's memory limit when one is set (containers), else the machine's memory."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        with contextlib.suppress(OSError, ValueError):
            text = Path(path).read_text().strip()
            # cgroup v1 reports "no limit" as a number near 2**63.
            if text != "max" and int(text) < 1 << 60:
                return int(text)
    return os.sysconf("SC_PHYS_PAGES") * _PAGE_BYTES


def _malloc_trim() -> Callable[[], None]:
    name = ctypes.util.find_library("c")
    if name is None:
        return lambda: None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return lambda: None
    trim.argtypes = [ctypes.c_size_t]
    return lambda: trim(0) and None


class MemoryLimiter:
    """See the module docstring. ``start``/``aclose`` run the check timer."""

    def __init__(
        self,
        config: MemoryLimiterConfig,
        extra_pids: Callable[[], Iterable[int]] = tuple,
        *,
        available_bytes: Callable[[], int] = available_memory_bytes,
    ) -> None:
        self._config = config
        self._extra_pids = extra_pids
        if config.limit_mib is not None:
            hard = config.limit_mib * _MIB
        else:
            hard = available_bytes() * config.limit_percentage // 100
        spike = (
            config.spike_limit_mib * _MIB
            if config.spike_limit_mib is not None
            else hard * config.spike_limit_percentage // 100
        )
        self.hard_limit_bytes = hard
        self.soft_limit_bytes = max(0, hard - spike)
        self.resident = 0
        self.peak_resident = 0
        self.refusing = False
        self.refused = 0
        self._trim = _malloc_trim()
        self._last_trim = 0.0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._config.enabled and self._task is None:
            self.check()
            self._task = asyncio.create_task(self._run(), name="memory-limiter")
            _log.info(
                "memory limiter: soft limit %d MiB, hard limit %d MiB",
                self.soft_limit_bytes // _MIB,
                self.hard_limit_bytes // _MIB,
            )

    async def aclose(self, deadline: float) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def admit(self) -> None:
        """Return if new work may come in; raise :class:`MemoryLimitError` if not."""
        if self.refusing:
            self.refused += 1
            raise MemoryLimitError(
                f"memory use {self.resident // _MIB} MiB is over the soft limit "
                f"{self.soft_limit_bytes // _MIB} MiB; retry later",
                self._config.retry_after_s,
            )

    def check(self) -> None:
        """Read resident memory now and update :attr:`refusing`."""
        resident = resident_bytes() + sum(resident_bytes(pid) for pid in self._extra_pids())
        if resident >= self.soft_limit_bytes:
            now = time.monotonic()
            if now - self._last_trim >= _TRIM_EVERY_S:
                # Give freed heap back before deciding: without it the resident size lags far
                # behind what is really in use once a backlog has been stored.
                self._last_trim = now
                if resident >= self.hard_limit_bytes:
                    gc.collect()
                self._trim()
                resident = resident_bytes() + sum(resident_bytes(pid) for pid in self._extra_pids())
        refusing = resident >= self.soft_limit_bytes
        if refusing != self.refusing:
            _log.warning(
                "memory limiter: %s (%d MiB resident, soft limit %d MiB)",
                "refusing requests" if refusing else "accepting requests again",
                resident // _MIB,
                self.soft_limit_bytes // _MIB,
            )
        self.refusing = refusing
        self.resident = resident
        self.peak_resident = max(self.peak_resident, resident)

    async def _run(self) -> None:
        interval = self._config.check_interval_s
        while True:
            await asyncio.sleep(interval)
            self.check()


class MemoryLimitedConsumer:
    """An ``OtlpConsumer`` that refuses work while ``limiter`` is over its soft limit."""

    def __init__(self, limiter: MemoryLimiter, next_consumer: OtlpConsumer) -> None:
        self._limiter = limiter
        self._next = next_consumer

    def admit(self) -> None:
        """Called by the receivers before they read a body (see ``contracts.Admission``)."""
        self._limiter.admit()
        admit = getattr(self._next, "admit", None)
        if admit is not None:
            admit()

    async def consume_traces(self, request: ExportTraceServiceRequest, raw: bytes) -> PartialResult:
        self._limiter.admit()
        return await self._next.consume_traces(request, raw)

    async def consume_logs(self, request: ExportLogsServiceRequest, raw: bytes) -> PartialResult:
        self._limiter.admit()
        return await self._next.consume_logs(request, raw)

    async def consume_feedback(self, items: list[Feedback], raw: bytes) -> PartialResult:
        self._limiter.admit()
        return await self._next.consume_feedback(items, raw)
