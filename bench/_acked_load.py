"""Open-loop OTLP/HTTP load that remembers which spans were acknowledged, for the bars that say
"every acknowledged span is in ClickHouse afterwards" (overload, store outage).

Request ``n`` carries spans whose trace ids encode ``n`` (:class:`NumberedRequests`), so the set
of acknowledged requests gives the set of spans that must be stored. The sender offers requests
at a fixed rate whatever the answers (open loop: an overloaded server does not slow the offer
down, as real fleets of exporters do not), with a bound on requests in flight, and records each
answer's status. A :class:`Collector` runs ``tracesieve run`` as a process of its own, and
:class:`RssSampler` follows its resident memory and its analysis worker's.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from _load import _children, free_port
from google.protobuf.message import DecodeError
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

RETRYABLE_HTTP = frozenset({429, 502, 503, 504})  # OTLP spec, §Failures (HTTP)


_MARK = b"\xa5\x5a\xc3\x3c\x96\x69\x0f\xf0"  # stands for the request number in the template
_MARK_TEXT = _MARK.hex().encode()


class NumberedRequests:
    """ExportTraceServiceRequests of ``spans`` GenAI chat spans; request ``n``'s trace ids are
    ``n`` (8 bytes, big-endian) followed by the span's position from 1 (8 bytes), and each
    span has a session of its own, so none waits in the trace assembler. Built once as a
    template; :meth:`body` patches the number in (a ``bytes.replace``, so the sender can offer
    thousands of requests a second)."""

    def __init__(self, spans: int, content_bytes: int = 1500) -> None:
        self.spans = spans
        request = ExportTraceServiceRequest()
        resource = request.resource_spans.add()
        resource.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value="load")))
        scope = resource.scope_spans.add()
        now = time.time_ns()
        filler = ("The refund reaches the card in five to seven business days. " * 40)[:content_bytes]
        for i in range(spans):
            span = scope.spans.add(
                trace_id=_MARK + (i + 1).to_bytes(8, "big"),
                span_id=(i + 1).to_bytes(8, "big"),
                name="chat gpt-4o-mini",
                kind=3,
                start_time_unix_nano=now + i,
                end_time_unix_nano=now + i + 800_000_000,
            )
            messages = [{"role": "user", "parts": [{"type": "text", "content": f"question {i}"}]}]
            output = [{"role": "assistant", "parts": [{"type": "text", "content": filler}]}]
            for key, value in (
                ("gen_ai.operation.name", "chat"),
                ("gen_ai.request.model", "gpt-4o-mini"),
                ("gen_ai.conversation.id", f"load-{_MARK.hex()}-{i}"),
                ("gen_ai.input.messages", json.dumps(messages)),
                ("gen_ai.output.messages", json.dumps(output)),
            ):
                span.attributes.append(KeyValue(key=key, value=AnyValue(string_value=value)))
        self._template = request.SerializeToString()

    def body(self, index: int) -> bytes:
        number = index.to_bytes(8, "big")
        return self._template.replace(_MARK, number).replace(_MARK_TEXT, number.hex().encode())

    def trace_ids(self, indexes: Iterable[int]) -> set[str]:
        """The lower-case hex trace ids the requests ``indexes`` carry (as stored in ``spans``)."""
        return {
            index.to_bytes(8, "big").hex() + (i + 1).to_bytes(8, "big").hex()
            for index in indexes
            for i in range(self.spans)
        }


@dataclass
class AckLog:
    """What the sender saw: requests acknowledged, and every other answer by status."""

    acked: list[int] = field(default_factory=list)
    statuses: collections.Counter[int | str] = field(default_factory=collections.Counter)
    reasons: collections.Counter[str] = field(default_factory=collections.Counter)
    offered: int = 0

    @property
    def unexpected(self) -> dict[int | str, int]:
        """Answers that are neither a success nor a retryable refusal."""
        return {
            k: v
            for k, v in self.statuses.items()
            if k not in (200, "client_busy") and k not in RETRYABLE_HTTP
        }


async def offer(
    base: str,
    requests: NumberedRequests,
    rate_per_s: float,
    duration_s: float,
    *,
    first_index: int = 0,
    max_in_flight: int = 256,
    timeout_s: float = 60.0,
    headers: dict[str, str] | None = None,
) -> AckLog:
    """POST numbered requests to ``base``/v1/traces at ``rate_per_s`` for ``duration_s``.

    A request that would exceed ``max_in_flight`` is counted under ``"client_busy"`` instead
    of sent (the offer stays open-loop). A connection error counts as ``"connect"``.
    """
    log = AckLog()
    sent_headers = {"Content-Type": "application/x-protobuf", **(headers or {})}
    in_flight: set[asyncio.Task[None]] = set()
    connector = aiohttp.TCPConnector(limit=max_in_flight)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def send(index: int, body: bytes) -> None:
            try:
                async with session.post(f"{base}/v1/traces", data=body, headers=sent_headers) as response:
                    answer = await response.read()
                    log.statuses[response.status] += 1
                    if response.status == 200:
                        log.acked.append(index)
                    else:
                        log.reasons[_reason(answer)] += 1
            except (aiohttp.ClientError, TimeoutError):
                log.statuses["connect"] += 1

        loop = asyncio.get_running_loop()
        start = loop.time()
        index = first_index
        while (now := loop.time()) < start + duration_s:
            due = int((now - start) * rate_per_s) + first_index + 1
            while index < due:
                log.offered += 1
                if len(in_flight) >= max_in_flight:
                    log.statuses["client_busy"] += 1
                else:
                    task = asyncio.create_task(send(index, requests.body(index)))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                index += 1
            await asyncio.sleep(0.005)
        if in_flight:
            await asyncio.wait(in_flight)
    return log


def _reason(body: bytes) -> str:
    """A refusal's message with its numbers blanked, so that refusals group by cause."""
    try:
        message = Status.FromString(body).message
    except DecodeError:
        message = body[:200].decode("utf-8", "replace")
    return re.sub(r"\d+", "N", message)


class RssSampler:
    """Samples the resident memory of ``pid`` plus its children every ``interval_s`` in a thread."""

    def __init__(self, pid: int, interval_s: float = 0.05) -> None:
        self._pid = pid
        self._interval_s = interval_s
        self.peak_bytes = 0
        self.samples = 0
        self.timeline: list[tuple[float, list[int]]] = []  # (seconds, [bytes per process]) each second
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        start = time.monotonic()
        while not self._stop.is_set():
            each: list[int] = []
            for pid in [self._pid, *_children(self._pid)]:
                try:
                    with open(f"/proc/{pid}/statm", "rb") as statm:
                        each.append(int(statm.read().split()[1]) * page)
                except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                    continue
            self.peak_bytes = max(self.peak_bytes, sum(each))
            now = time.monotonic() - start
            if not self.timeline or now - self.timeline[-1][0] >= 1.0:
                self.timeline.append((now, each))
            self.samples += 1
            self._stop.wait(self._interval_s)


class Collector:
    """``tracesieve run`` on a data folder of its own, with ``env`` added to the environment."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.chdb_dir = data_dir / "chdb"
        self.http_port, self.grpc_port, self.admin_port = free_port(), free_port(), free_port()
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"{data_dir.name}.log"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout_s: float = 90.0) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "tracesieve.collector.cli", "run",
                    "--data-dir", str(self.data_dir), "--store", f"chdb://{self.chdb_dir}",
                    "--http-port", str(self.http_port), "--grpc-port", str(self.grpc_port),
                    "--admin-port", str(self.admin_port),
                ],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )  # fmt: skip
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("collector exited during start-up: " + self.log.read_text()[-2000:])
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("collector never became ready")

    def stop(self, timeout_s: float = 120.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout_s)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Read-only SQL through the running collector's admin API (or the folder when stopped)."""
        out = subprocess.run(
            [
                sys.executable, "-m", "tracesieve.collector.cli", "query", "--data-dir", str(self.data_dir),
                "--store", f"chdb://{self.chdb_dir}", "--format", "json", sql,
            ],
            capture_output=True,
            check=True,
            env=self.env,
        )  # fmt: skip
        rows: list[dict[str, Any]] = json.loads(out.stdout)
        return rows

    def wait_stored(self, want: set[str], timeout_s: float) -> tuple[set[str], int]:
        """Poll until every trace id in ``want`` is stored or ``timeout_s`` passed; then what
        :meth:`stored_trace_ids` gives."""
        end = time.monotonic() + timeout_s
        while True:
            stored, rows = self.stored_trace_ids()
            if want <= stored or time.monotonic() > end:
                return stored, rows
            time.sleep(1.0)

    def stored_trace_ids(self) -> tuple[set[str], int]:
        """The distinct trace ids in ``spans`` and the number of rows (duplicates show as more)."""
        rows = self.query("SELECT lower(TraceId) AS t, count() AS n FROM tracesieve.spans GROUP BY t")
        return {str(row["t"]) for row in rows}, sum(int(row["n"]) for row in rows)


class Unwritable:
    """Makes every folder under ``folder`` refuse new entries until :meth:`restore` (or the
    ``with`` block ends): the embedded store's "folder made unwritable". As root, permission
    bits do not stop writes, so the folders get the immutable attribute (``chattr +i``);
    otherwise their write bits are cleared. Raises if the folder still takes a new file."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._dirs: list[Path] = []
        self._modes: dict[Path, int] = {}

    def __enter__(self) -> Unwritable:
        below = (path for path in self._folder.rglob("*") if path.is_dir() and not path.is_symlink())
        self._dirs = [self._folder, *below]
        if os.geteuid() == 0:
            # Folders that vanish meanwhile (finished inserts) make chattr fail for them only.
            subprocess.run(["chattr", "+i", *map(str, self._dirs)], check=False, capture_output=True)
        else:
            for path in self._dirs:
                with contextlib.suppress(FileNotFoundError):
                    self._modes[path] = path.stat().st_mode
                    path.chmod(self._modes[path] & ~0o222)
        probe = self._folder / ".write-probe"
        try:
            probe.touch()
        except PermissionError:
            return self
        probe.unlink()
        self.restore()
        raise RuntimeError(f"could not make {self._folder} unwritable (chattr +i / chmod had no effect)")

    def restore(self) -> None:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", *map(str, self._dirs)], check=False, capture_output=True)
        else:
            for path, mode in self._modes.items():
                with contextlib.suppress(FileNotFoundError):
                    path.chmod(mode)
        self._modes.clear()

    def __exit__(self, *exc: object) -> None:
        self.restore()
