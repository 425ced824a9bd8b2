"""Replays a benchmark corpus into a ``tracesieve run`` subprocess and reads its signals back.

The corpus is sent in its send order over OTLP/HTTP, one request at a time (feedback to
``POST /v1/feedback``); a heartbeat span ten minutes of event time after the corpus goes out just
before what arrives "a day later", so that every idle deadline has passed by then.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _load import cpu_seconds

__all__ = ["Collector", "Replay", "heartbeat_request", "replay", "run_once", "send_order", "settle"]


def send_order(corpus: Path) -> list[tuple[int, str, Any]]:
    """``(seq, kind, payload)`` in send order: ``("traces"|"logs", path)`` or ``("feedback", body)``."""
    items: list[tuple[int, str, Any]] = []
    for path in corpus.glob("*.pb"):
        seq, _, rest = path.name.partition("_")
        items.append((int(seq), rest.removesuffix(".pb"), path))
    for line in (corpus / "feedback.jsonl").read_text().splitlines():
        entry = json.loads(line)
        items.append((int(entry["seq"]), "feedback", entry["body"]))
    return sorted(items, key=lambda item: item[0])


def heartbeat_request(services: Sequence[str], time_ns: int) -> bytes:
    """One plain span per service, ten minutes after the corpus: moves event time on."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    trace_id = os.urandom(16)
    for service in services:
        rs = request.resource_spans.add()
        attribute = rs.resource.attributes.add()
        attribute.key, attribute.value.string_value = "service.name", service
        span = rs.scope_spans.add().spans.add()
        span.trace_id, span.span_id, span.name = trace_id, os.urandom(8), "bench.heartbeat"
        span.start_time_unix_nano, span.end_time_unix_nano = time_ns, time_ns + 1_000_000
    return request.SerializeToString()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Collector:
    """``tracesieve run`` in a subprocess with its own data folder and free ports."""

    def __init__(self, detectors: bool, idle_s: float) -> None:
        import yaml

        self.data = Path(tempfile.mkdtemp(prefix="tracesieve-bench-detectors-"))
        self.http = f"http://127.0.0.1:{free_port()}"
        self.admin = f"http://127.0.0.1:{free_port()}"
        config = {
            "receivers": {"otlp": {"protocols": {"grpc": None, "http": {"endpoint": self.http[7:]}}}},
            "processors": {
                "sessions": {"enabled": detectors},
                "detectors": {"abandoned_session": {"idle_s": idle_s}},
            },
            "sinks": {"clickhouse": {"dsn": f"chdb://{self.data / 'chdb'}"}},
            "admin": {"endpoint": self.admin[7:]},
            "service": {"data_dir": str(self.data), "log_level": "WARNING"},
        }
        (self.data / "config.yaml").write_text(yaml.safe_dump(config))
        self.log = (self.data / "collector.log").open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tracesieve.collector.cli",
                "run",
                "--config",
                str(self.data / "config.yaml"),
            ],
            stdout=self.log,
            stderr=self.log,
        )
        for _ in range(1200):
            if self.proc.poll() is not None:
                raise SystemExit(f"tracesieve run exited {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.admin}/readyz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"tracesieve run never became ready:\n{self.log_tail()}")

    def log_tail(self) -> str:
        return (self.data / "collector.log").read_text(errors="replace")[-4000:]

    def query(self, sql: str) -> list[list[Any]]:
        request = urllib.request.Request(
            f"{self.admin}/api/v1/query", data=json.dumps({"sql": sql}).encode(), method="POST"
        )
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return list(json.loads(response.read())["rows"])
        except urllib.error.HTTPError as exc:
            raise SystemExit(f"query failed ({exc.code}): {exc.read()[:500]!r}") from exc

    def cpu_s(self) -> float:
        return cpu_seconds(self.proc.pid, children=False)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.data, ignore_errors=True)


@dataclass(slots=True)
class Replay:
    spans: int = 0
    requests: int = 0
    feedback: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)


async def replay(corpus: Path, base: str) -> Replay:
    import aiohttp

    summary = json.loads((corpus / "corpus.json").read_text())
    late_from = int(summary.get("late_from_seq") or 0)
    heartbeat = heartbeat_request(summary["services"], int(summary["heartbeat_ns"]))
    result = Replay()
    protobuf = {"Content-Type": "application/x-protobuf"}
    began = time.perf_counter()
    async with aiohttp.ClientSession() as session:

        async def post(path: str, data: bytes | None = None, body: Any = None) -> None:
            kwargs: dict[str, Any] = (
                {"json": body} if body is not None else {"data": data, "headers": protobuf}
            )
            async with session.post(f"{base}{path}", **kwargs) as response:
                text = await response.read()
                if response.status >= 300:
                    result.failures.append(f"{path}: HTTP {response.status} {text[:300]!r}")

        sent_heartbeat = False
        for seq, kind, payload in send_order(corpus):
            if late_from and seq >= late_from and not sent_heartbeat:
                await post("/v1/traces", heartbeat)
                sent_heartbeat = True
            if kind == "feedback":
                await post("/v1/feedback", body=payload)
                result.feedback += 1
                continue
            data = payload.read_bytes()
            await post(f"/v1/{kind}", data)
            result.requests += 1
            if kind == "traces":
                result.spans += _span_count(data)
        if not sent_heartbeat:
            await post("/v1/traces", heartbeat)
    result.seconds = time.perf_counter() - began
    return result


def _span_count(data: bytes) -> int:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest.FromString(data)
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)


def settle(collector: Collector, spans: int, quiet_s: float, limit_s: float = 300.0) -> float:
    """Wait until every span is stored and the signal count has not moved for ``quiet_s``.

    Returns the collector's CPU seconds at the first poll that found every span stored: the
    replay's processing cost, before the waiting (and this polling) adds its own.
    """
    began = time.monotonic()
    last: tuple[int, int] | None = None
    stable_since = time.monotonic()
    cpu_stored: float | None = None
    while time.monotonic() - began < limit_s:
        cpu = collector.cpu_s()
        counts = (
            int(collector.query("SELECT count() FROM tracesieve.spans")[0][0]),
            int(collector.query("SELECT count() FROM tracesieve.signals")[0][0]),
        )
        if cpu_stored is None and counts[0] >= spans:
            cpu_stored = cpu
        if counts != last:
            last, stable_since = counts, time.monotonic()
        elif time.monotonic() - stable_since >= (quiet_s if counts[0] >= spans else 6 * quiet_s):
            break
        time.sleep(0.2 if cpu_stored is None else 0.5)
    return collector.cpu_s() if cpu_stored is None else cpu_stored


def run_once(
    corpus: Path, detectors: bool, idle_s: float, quiet_s: float
) -> tuple[Replay, list[list[Any]], float]:
    """Replay ``corpus`` into a fresh collector; the signal rows ``(TraceId, SessionId, Signal)``
    and the collector's CPU seconds from the first request until every span was stored."""
    collector = Collector(detectors, idle_s)
    try:
        cpu0 = collector.cpu_s()
        result = asyncio.run(replay(corpus, collector.http))
        cpu = settle(collector, result.spans, quiet_s) - cpu0
        rows = (
            collector.query("SELECT DISTINCT TraceId, SessionId, Signal FROM tracesieve.signals")
            if detectors
            else []
        )
        return result, rows, cpu
    finally:
        collector.close()
