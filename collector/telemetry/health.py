"""What ``/healthz`` and ``/readyz`` check, with a verdict per check for the answer's body.

``/healthz`` (liveness): the event loop answers (it runs the handler) and the parts the process
cannot run without are alive (the analysis worker). A failure there means: restart me.

``/readyz`` (readiness): the service started and did not fail, and it can make what it is sent
durable. In embedded mode that is the store **or** the spool: the store answers a ``SELECT 1``
within :data:`STORE_TIMEOUT_S` and its last span INSERTs did not all fail, or else the ingest
log has room for what it last refused and its folder takes a write (so acknowledged requests
wait there until the store returns). In the Kafka roles it is the role's Kafka clients being
connected. Checks that touch the store or the disk are cached for :data:`CACHE_S`, so probes
and scrapes cost the store one query every couple of seconds at most.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

__all__ = ["CACHE_S", "STORE_TIMEOUT_S", "Check", "Checker", "Report", "cached", "folder_writable"]

STORE_TIMEOUT_S: Final = 1.0
CACHE_S: Final = 1.5


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    detail: str


CheckFn = Callable[[], Awaitable[Check]]


@dataclass(frozen=True, slots=True)
class Report:
    ok: bool
    checks: dict[str, Check]

    def body(self, ok: str = "ok", failing: str = "failing") -> dict[str, Any]:
        """The JSON answer: overall status, the checks that failed, and every check's detail."""
        return {
            "status": ok if self.ok else failing,
            "failed": [name for name, check in self.checks.items() if not check.ok],
            "checks": {name: {"ok": c.ok, "detail": c.detail} for name, c in self.checks.items()},
        }


class Checker:
    """Runs ``required`` checks (all must pass) and ``any_of`` checks (one must pass, if any)."""

    def __init__(self, required: dict[str, CheckFn], any_of: dict[str, CheckFn] | None = None) -> None:
        self._required = required
        self._any_of = any_of or {}
        self.last_ok: bool | None = None  # the last verdict; None before the first run

    async def run(self) -> Report:
        names = [*self._required, *self._any_of]
        results = await asyncio.gather(*(fn() for fn in [*self._required.values(), *self._any_of.values()]))
        checks = dict(zip(names, results, strict=True))
        ok = all(checks[name].ok for name in self._required)
        if self._any_of:
            ok = ok and any(checks[name].ok for name in self._any_of)
        self.last_ok = ok
        return Report(ok, checks)


def cached(fn: CheckFn, ttl_s: float = CACHE_S) -> CheckFn:
    """``fn``, answered from its last result for ``ttl_s``; concurrent callers share one run."""
    last: tuple[float, Check] | None = None
    running: asyncio.Future[Check] | None = None

    async def check() -> Check:
        nonlocal last, running
        now = time.monotonic()
        if last is not None and now - last[0] < ttl_s:
            return last[1]
        if running is None:
            running = asyncio.ensure_future(fn())
        task = running
        try:
            result = await asyncio.shield(task)
        finally:
            if task.done() and running is task:
                running = None
        last = (time.monotonic(), result)
        return result

    return check


def folder_writable(folder: Path) -> Check:
    """Whether ``folder`` takes a small write (blocking: run it in a thread)."""
    probe = folder / ".ready-probe"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"ok")
        finally:
            os.close(fd)
        probe.unlink()
    except OSError as exc:
        return Check(False, f"{folder} does not take a write: {exc.strerror or exc}")
    return Check(True, f"{folder} takes writes")
