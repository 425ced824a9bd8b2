"""Throughput through Kafka with 1, 2 and 4 processor replicas, against embedded mode in the same
run, and how long a partition move takes to resume.

A real broker (``scripts/kafka.sh``: one KRaft node on this machine; ``--bootstrap`` to use
another) and every stage as its own ``tracesieve run --role ...`` process: one receiver, one
normaliser, N processors (each with its own embedded store: chDB admits one process per folder;
in production they share a ClickHouse server). The load is the ingest benchmarks' (1,000
OTel-GenAI chat spans per request, every span a turn of one of 200 sessions per request; the
worst case for the detectors), sent over OTLP/gRPC; the clock stops when every span is stored,
which in scaled mode also means analysed (a processor writes a batch after running it through
the detectors). Embedded mode is ``bench_detection.py``'s "detectors on" figure on the same load.
A started broker spends its first traffic in the JVM's JIT compilers, so a warm-up pass through
Kafka (its own topics, 10,000 spans) goes first; it is printed, not compared. Each Kafka run
also prints the CPU seconds every stage and the broker used while it ran.

Rebalance: with two processors under a steady stream, one leaves (SIGTERM) and then one is
killed (SIGKILL): the time until the other has its partitions assigned and restored (from its
log), and until rows from them are written again.

    .venv/bin/python bench/bench_kafka.py [--requests 30] [--replicas 1,2,4] [--bootstrap host:port]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from _load import cpu_seconds, free_port, genai_request, machine_speed_s, peak_rss_mib, send_grpc
from bench_detection import remove_spent
from bench_detection import throughput as embedded_throughput
from bench_ingest import _wait_ready

ROOT = Path(__file__).resolve().parents[1]


class Stage:
    """One ``tracesieve run --role ROLE`` process."""

    def __init__(self, role: str, env: dict[str, str], workdir: Path) -> None:
        self.role = role
        self.data_dir = workdir / f"{role}-{uuid.uuid4().hex[:6]}"
        self.data_dir.mkdir(parents=True)
        self.grpc_port, admin_port = free_port(), free_port()
        self.admin = f"http://127.0.0.1:{admin_port}"
        self.log = self.data_dir / "run.log"
        cmd = [sys.executable, "-m", "tracesieve.collector.cli", "run", "--role", role,
               "--data-dir", str(self.data_dir), "--admin-port", str(admin_port),
               "--grpc-port", str(self.grpc_port), "--http-port", str(free_port())]  # fmt: skip
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(cmd, env=env, stdout=out, stderr=out)
        _wait_ready(f"{self.admin}/healthz")

    def count(self) -> int:
        body = json.dumps({"sql": "SELECT count() FROM tracesieve.spans"}).encode()
        request = urllib.request.Request(f"{self.admin}/api/v1/query", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(json.loads(response.read())["rows"][0][0])

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(60)


def _env(bootstrap: str, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACESIEVE_")}
    env.update(
        {
            "TRACESIEVE_TRANSPORT__KIND": "kafka",
            "TRACESIEVE_TRANSPORT__KAFKA__BOOTSTRAP_SERVERS": bootstrap,
            "TRACESIEVE_TRANSPORT__KAFKA__GROUP_ID": prefix + "g",
            "TRACESIEVE_EVALS__SAMPLING__SCHEDULE": "false",
            **{
                f"TRACESIEVE_TRANSPORT__KAFKA__TOPICS__{t.upper()}": prefix + t
                for t in ("spans", "logs", "feedback", "traces", "canonical", "changelog")
            },
        }
    )
    return env


def _broker_pid(bootstrap: str) -> int | None:
    """The local broker's java process (listening on ``bootstrap``'s port), if it runs here."""
    port = bootstrap.rsplit(":", 1)[-1]
    out = subprocess.run(["pgrep", "-f", "kafka.Kafka"], capture_output=True, text=True).stdout.split()
    for pid in out:
        try:
            config = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[-2].decode()
            if port in Path(config).read_text():
                return int(pid)
        except (OSError, IndexError, ValueError):
            continue
    return None


def kafka_throughput(bootstrap: str, bodies: list[bytes], replicas: int, expected: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="tracesieve-bench-kafka-"))
    env = _env(bootstrap, f"b{uuid.uuid4().hex[:6]}_")
    stages: list[Stage] = []
    try:
        processors = [Stage("processor", env, workdir) for _ in range(replicas)]
        stages += processors
        stages.append(Stage("normaliser", env, workdir))
        receiver = Stage("receiver", env, workdir)
        stages.append(receiver)
        _await_assignment(processors)
        broker = _broker_pid(bootstrap)
        pids = {
            f"{s.role} {i}" if s.role == "processor" else s.role: s.process.pid for i, s in enumerate(stages)
        }
        if broker is not None:
            pids["broker"] = broker
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        start = time.perf_counter()
        failures = asyncio.run(send_grpc(f"127.0.0.1:{receiver.grpc_port}", bodies, 4))
        while sum(p.count() for p in processors) < expected:
            time.sleep(0.1)
        elapsed = time.perf_counter() - start
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        assert failures == 0, f"{failures} requests failed"
        return {
            "spans_s": expected / elapsed,
            "rss": sum(peak_rss_mib(s.process.pid) for s in stages),
            "per_replica": [p.count() for p in processors],
            "cpu": cpu,
        }
    finally:
        for stage in stages:
            stage.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _await_assignment(processors: list[Stage], timeout_s: float = 60) -> None:
    """Until every replica has been assigned partitions (the group has settled)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if all(" assigned: " in p.log.read_text() for p in processors):
            time.sleep(1.0)  # a last rebalance may follow the last join
            return
        time.sleep(0.2)
    raise RuntimeError("the processors never got their partitions")


def rebalance_times(bootstrap: str) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="tracesieve-bench-kafka-"))
    env = _env(bootstrap, f"r{uuid.uuid4().hex[:6]}_")
    stages: list[Stage] = []
    try:
        a, b = Stage("processor", env, workdir), Stage("processor", env, workdir)
        stages += [a, b, Stage("normaliser", env, workdir)]
        receiver = Stage("receiver", env, workdir)
        stages.append(receiver)
        _await_assignment([a, b])
        result: dict[str, float] = {}
        seed = [0]
        for name, sig, leaver in (
            ("leave (SIGTERM)", signal.SIGTERM, b),
            ("crash (SIGKILL)", signal.SIGKILL, None),
        ):
            if leaver is None:  # a fresh second replica for the crash
                leaver = Stage("processor", env, workdir)
                stages.append(leaver)
                _await_assignment([a, leaver])

            async def stream(stop: asyncio.Event) -> None:
                while not stop.is_set():
                    seed[0] += 1
                    await send_grpc(
                        f"127.0.0.1:{receiver.grpc_port}", [genai_request(200, 10_000 + seed[0])], 1
                    )
                    await asyncio.sleep(0.2)

            async def measure(sig: int = sig, leaver: Stage = leaver) -> tuple[float, float]:
                stop = asyncio.Event()
                task = asyncio.create_task(stream(stop))
                await asyncio.sleep(3)
                assigned_before = a.log.read_text().count(" assigned: ")
                count_before = await asyncio.to_thread(a.count)
                t0 = time.perf_counter()
                leaver.process.send_signal(sig)
                assigned_at = rows_at = 0.0
                while not (assigned_at and rows_at) and time.perf_counter() - t0 < 120:
                    if not assigned_at and a.log.read_text().count(" assigned: ") > assigned_before:
                        assigned_at = time.perf_counter() - t0
                    if assigned_at and await asyncio.to_thread(a.count) > count_before + 400:
                        rows_at = time.perf_counter() - t0
                    await asyncio.sleep(0.05)
                stop.set()
                await task
                return assigned_at, rows_at

            assigned_s, rows_s = asyncio.run(measure())
            leaver.process.wait(60)
            result[f"{name}: partitions assigned to the other"] = assigned_s
            result[f"{name}: its rows written again"] = rows_s
        return result
    finally:
        for stage in stages:
            stage.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=30, help="requests of 1,000 spans (default 30)")
    parser.add_argument("--replicas", default="1,2,4", help="processor counts (default 1,2,4)")
    parser.add_argument("--bootstrap", help="an existing broker (default: start one with scripts/kafka.sh)")
    parser.add_argument("--skip-rebalance", action="store_true")
    args = parser.parse_args()
    console = Console()
    console.print(f"machine speed: a 10M-step Python loop takes {machine_speed_s():.2f} s (lower is faster)")
    broker_dir: Path | None = None
    bootstrap = args.bootstrap
    if not bootstrap:
        broker_dir = Path(tempfile.mkdtemp(prefix="tracesieve-bench-broker-"))
        subprocess.run(["bash", str(ROOT / "scripts" / "kafka.sh"), "install"], check=True)
        out = subprocess.run(
            ["bash", str(ROOT / "scripts" / "kafka.sh"), "start", str(broker_dir), str(free_port())],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        bootstrap = out.stdout.strip().splitlines()[-1]
    try:
        bodies = [genai_request(1000, seed) for seed in range(args.requests)]
        expected = 1000 * args.requests
        table = Table(title=f"durable, analysed spans/s ({expected:,} worst-case spans, same run)")
        for column in ("mode", "spans/s", "vs embedded", "peak RSS MiB (all processes)", "spans per replica"):
            table.add_column(column, justify="right")
        # A broker that just started runs its first traffic through the JVM's JIT compilers: a
        # first pass over a fresh broker measured 0.46-0.49 of embedded (broker CPU 4.2 s) and an
        # identical second one 0.70 (2.8 s). A production broker is long warm, so one pass, on
        # its own topics, goes first and is shown but not compared.
        warm = min(len(bodies), 10)
        console.print(f"warm-up: {warm:,}k spans through the fresh broker (not compared) …")
        warmup = kafka_throughput(bootstrap, bodies[:warm], 1, 1000 * warm)
        console.print("embedded (tracesieve run, detectors on) …")
        embedded = embedded_throughput(bodies, 4, True, expected)
        table.add_row("embedded", f"{embedded['spans_s']:,.0f}", "1.00", f"{embedded['rss']:.0f}", "")
        table.add_row(
            f"warm-up: kafka, 1 processor, cold broker ({1000 * warm:,} spans)",
            f"{warmup['spans_s']:,.0f}", "—", f"{warmup['rss']:.0f}", "",
        )  # fmt: skip
        for replicas in (int(n) for n in args.replicas.split(",")):
            console.print(f"kafka, {replicas} processor(s) …")
            result = kafka_throughput(bootstrap, bodies, replicas, expected)
            table.add_row(
                f"kafka, {replicas} processor{'s' if replicas > 1 else ''}",
                f"{result['spans_s']:,.0f}",
                f"{result['spans_s'] / embedded['spans_s']:.2f}",
                f"{result['rss']:.0f}",
                " / ".join(f"{n:,}" for n in result["per_replica"]),
            )
            console.print(
                "  CPU seconds while sending and storing, µs per span: "
                + ", ".join(
                    f"{name} {s:.1f} s ({s / expected * 1e6:.0f})" for name, s in result["cpu"].items()
                )
            )
        console.print(table)
        if not args.skip_rebalance:
            console.print("rebalance under a steady stream, two processors …")
            rebalance = Table(title="time for a partition move to resume (s)")
            rebalance.add_column("event")
            rebalance.add_column("seconds", justify="right")
            for name, seconds in rebalance_times(bootstrap).items():
                rebalance.add_row(name, f"{seconds:.1f}")
            console.print(rebalance)
    finally:
        remove_spent()
        if broker_dir is not None:
            subprocess.run(["bash", str(ROOT / "scripts" / "kafka.sh"), "stop", str(broker_dir)], check=False)
            shutil.rmtree(broker_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
