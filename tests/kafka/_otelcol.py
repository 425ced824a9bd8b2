"""The official OpenTelemetry Collector for tests: ``otelcol-tracesieve`` (deploy/otelcol/builder.yaml,
built and cached by ``scripts/build-otelcol.sh``) run with the configs of deploy/otelcol/.

Test modules load this file by path and re-export its fixtures (``otelcol``, ``collectors``).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

ROOT = Path(__file__).resolve().parents[2]
OTELCOL_DIR = ROOT / "deploy" / "otelcol"
BUILD_SCRIPT = ROOT / "scripts" / "build-otelcol.sh"
# Bounded polls: 240 x 0.25 s for the collector to start.
START_POLLS = 240


@pytest.fixture(scope="module")
def otelcol() -> Path:
    """The built collector (``scripts/build-otelcol.sh``: cached after the first build)."""
    done = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"build-otelcol.sh failed:\n{done.stderr[-4000:]}"
    return Path(done.stdout.strip().splitlines()[-1])


@dataclass
class Collector:
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    start_s: float = 0.0

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()


@dataclass
class Collectors:
    """Starts collectors for one test; every one is stopped at teardown."""

    binary: Path
    folder: Path
    started: list[Collector] = field(default_factory=list)

    async def start(self, config: str, env: Mapping[str, str]) -> Collector:
        log_path = self.folder / f"otelcol-{len(self.started)}.log"
        log_file = log_path.open("wb")
        began = time.monotonic()
        process = subprocess.Popen(
            # No internal metrics server: its fixed port (8888) would clash between collectors.
            [
                str(self.binary),
                "--config",
                str(OTELCOL_DIR / config),
                "--set=service.telemetry.metrics.level=none",
            ],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        collector = Collector(process, log_path, log_file)
        self.started.append(collector)
        for _ in range(START_POLLS):
            if "Everything is ready." in collector.log():
                collector.start_s = time.monotonic() - began
                print(f"otelcol-tracesieve ({config}) ready after {collector.start_s:.2f} s")
                return collector
            assert process.poll() is None, f"collector exited ({process.returncode}):\n{collector.log()}"
            await asyncio.sleep(0.25)
        raise AssertionError(f"collector not ready:\n{collector.log()}")


@pytest.fixture
def collectors(otelcol: Path, tmp_path: Path) -> Iterator[Collectors]:
    running = Collectors(otelcol, tmp_path)
    try:
        yield running
    finally:
        for collector in running.started:
            collector.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def forward_kafka_env(bootstrap: str, prefix: str, *, by_trace_id: bool) -> dict[str, str]:
    return {
        "OTELCOL_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{free_port()}",
        "OTELCOL_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{free_port()}",
        "OTELCOL_KAFKA_BROKERS": bootstrap,
        "OTELCOL_SPANS_TOPIC": f"{prefix}otlp_spans",
        "OTELCOL_LOGS_TOPIC": f"{prefix}otlp_logs",
        "OTELCOL_PARTITION_TRACES_BY_ID": "true" if by_trace_id else "false",
    }
