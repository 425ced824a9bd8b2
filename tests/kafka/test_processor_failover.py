"""Processor replicas through a real broker: a SIGKILL mid-stream, a second replica joining and
leaving. Nothing lost, nothing written twice, and the session state moves with its partition, so
a rephrase whose two turns fall on either side of the crash (or of a rebalance) is still found.

The receiver and the normaliser run in this process; each processor is ``tracesieve run --role
processor`` in a process of its own, with its own embedded store (chDB admits one process per
folder; in production the replicas share a ClickHouse server or cluster). The rows of both
stores together are the run's output.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tracesieve.collector.config import load_config
from tracesieve.collector.service import Service

SESSIONS = 10_000


def _env_for(overrides: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACESIEVE_")}
    for key, value in overrides.items():
        env["TRACESIEVE_" + key.upper().replace(".", "__")] = str(value)
    return env


class Processor:
    """``tracesieve run --role processor`` on its own data folder. The methods block: call them
    through ``asyncio.to_thread``, or the in-process stages miss their group heartbeats."""

    def __init__(self, data_dir: Path, overrides: dict[str, Any]) -> None:
        self.data_dir = data_dir
        self.env = _env_for(
            {**overrides, "transport.kafka.session_timeout_ms": 6000, "evals.sampling.schedule": "false"}
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir.with_suffix(".log")

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "collector.json").unlink(missing_ok=True)  # left by a killed run
        cmd = [sys.executable, "-m", "tracesieve.collector.cli", "run", "--role", "processor",
               "--data-dir", str(self.data_dir), "--admin-port", "0"]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=log)
        for _ in range(300):
            if (self.data_dir / "collector.json").exists():
                return
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            time.sleep(0.1)
        raise AssertionError("processor did not start: " + self.log.read_text()[-3000:])

    def query(self, sql: str) -> list[list[Any]]:
        if self.process is not None and self.process.poll() is None:
            admin = json.loads((self.data_dir / "collector.json").read_text())["admin"]
            request = urllib.request.Request(
                f"{admin}/api/v1/query", data=json.dumps({"sql": sql}).encode(), method="POST"
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                rows: list[list[Any]] = json.loads(response.read())["rows"]
                return rows
        out = subprocess.run(
            [sys.executable, "-m", "tracesieve.collector.cli", "query", "--data-dir", str(self.data_dir),
             "--format", "json", sql],
            env=self.env, capture_output=True, check=True,
        )  # fmt: skip
        return [list(record.values()) for record in json.loads(out.stdout)]

    def count(self) -> int:
        return int(self.query("SELECT count() FROM tracesieve.spans")[0][0])

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            assert self.process.wait(60) == 0, self.log.read_text()[-3000:]


@pytest.fixture
async def front(tmp_path: Path, kafka_transport: Any) -> AsyncIterator[list[Service]]:
    """The receiver and the normaliser, in this process."""
    services = []
    for role in ("receiver", "normaliser"):
        config = load_config(
            None,
            environ={},
            overrides={
                "service.role": role,
                "service.data_dir": str(tmp_path / role),
                "receivers.otlp.protocols.grpc.endpoint": "127.0.0.1:0",
                "receivers.otlp.protocols.http.endpoint": "127.0.0.1:0",
                "admin.endpoint": None,
                "processors.assembly.context_wait_s": 0.2,
                **kafka_transport(),
            },
        )
        service = Service(config)
        await service.start()
        services.append(service)
    yield services
    for service in services:
        await service.aclose()


async def _send(port: int, bodies: list[bytes], pause_s: float = 0.0) -> None:
    async with aiohttp.ClientSession() as client:
        for body in bodies:
            url = f"http://127.0.0.1:{port}/v1/traces"
            async with client.post(url, data=body, headers={"Content-Type": "application/x-protobuf"}) as r:
                assert r.status == 200, await r.text()
            await asyncio.sleep(pause_s)


async def _until(check: Any, what: str, state: Any = None, tries: int = 900) -> None:
    for _ in range(tries):
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}" + (f"\n{state()}" if state else ""))


def _describe(front: list[Service], processors: list[Processor]) -> str:
    """Where the stream stands, for a timeout's message."""
    lines = []
    for service in front:
        for stage in service.stages:
            lines.append(
                f"{stage.name}: records in {stage.records_in}, failure {stage.failure}, "
                f"partitions {sorted(tp.partition for tp in stage.assignment)}, busy {stage._lock.locked()}"
            )
    for n, p in enumerate(processors, 1):
        tail = p.log.read_text(errors="replace").splitlines()[-8:] if p.log.exists() else []
        lines.append(f"processor {n} log tail:\n  " + "\n  ".join(tail))
    return "\n".join(lines)


async def test_processor_crash_and_rebalance_lose_and_duplicate_nothing(
    front: list[Service], tmp_path: Path, kafka_transport: Any, scaled_sessions: Any
) -> None:
    receiver = front[0]
    assert receiver.http is not None
    overrides = kafka_transport()
    first = Processor(tmp_path / "p1", overrides)
    second = Processor(tmp_path / "p2", overrides)
    run, ids = "failover", range(SESSIONS)

    async def until(check: Any, what: str) -> None:
        await _until(check, what, lambda: _describe(front, [first, second]))

    try:
        await asyncio.to_thread(first.start)
        port = receiver.http.port
        await _send(port, scaled_sessions.requests(run, ids, second=False))
        await until(lambda: first.count() >= SESSIONS, "the first turns to be stored")
        await asyncio.sleep(2.5)  # a checkpoint: the first turns are in the changelog

        # The second turns in four slices: the crash, the join and the leave fall between them.
        quarter = SESSIONS // 4
        slices = [range(start, start + quarter) for start in range(0, SESSIONS, quarter)]
        sender = asyncio.create_task(
            _send(port, scaled_sessions.requests(run, slices[0], True, per_request=50), 0.05)
        )
        await until(lambda: first.count() >= SESSIONS + 500, "some second turns")
        first.kill()  # mid-stream: slice 0 is still being sent
        killed_at = time.time()
        await sender
        await _send(port, scaled_sessions.requests(run, slices[1], second=True))  # while no processor runs
        await asyncio.to_thread(first.start)
        await until(lambda: first.count() >= SESSIONS + 2 * quarter, "the restarted processor")
        await asyncio.to_thread(second.start)
        # Its own line, once the partitions are restored (aiokafka's "Revoking previously assigned
        # partitions" comes at the start of the join, before the first replica let them go).
        await until(lambda: " assigned: " in second.log.read_text(), "the second replica to take partitions")
        await _send(port, scaled_sessions.requests(run, slices[2], second=True))
        await until(lambda: second.count() > 0, "the second replica to write")
        await until(lambda: first.count() + second.count() >= SESSIONS + 3 * quarter, "slice 2")
        await asyncio.to_thread(second.stop)  # leaves the group: its partitions go back, state and all
        await _send(port, scaled_sessions.requests(run, slices[3], second=True))
        await until(lambda: first.count() + second.count() >= 2 * SESSIONS, "every span to be stored")
        await asyncio.sleep(2)  # let anything extra (a duplicate) arrive before counting

        spans = {
            tuple(r) for p in (first, second) for r in p.query("SELECT TraceId, SpanId FROM tracesieve.spans")
        }
        total = sum(p.count() for p in (first, second))
        assert len(spans) == 2 * SESSIONS  # none lost
        assert total == 2 * SESSIONS  # none written twice, in one store or across both

        signal_rows = [
            tuple(r)
            for p in (first, second)
            for r in p.query(
                "SELECT SessionId, SpanId, Signal, toUnixTimestamp(DetectedAt) FROM tracesieve.signals"
            )
        ]
        assert len(signal_rows) == len({(r[1], r[2]) for r in signal_rows})  # no signal row twice
        assert {(r[0], r[2]) for r in signal_rows} == scaled_sessions.expected_signals(run, ids)
        # Rephrases whose second turn came after the crash were found from the restored state.
        late = [r for r in signal_rows if r[2] == "rephrase" and r[3] > killed_at]
        assert late
    finally:
        for p in (second, first):
            if p.process is not None and p.process.poll() is None:
                p.process.kill()
                p.process.wait(30)
