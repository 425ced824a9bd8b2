"""End-to-end durable ingest throughput over OTLP/gRPC and OTLP/HTTP, against a parse-only baseline.

Both servers run as their own process and get the same load from this one: export requests of
1,000 realistic OTel-GenAI chat spans (about 3 KB each), several in flight. For tracesieve the
clock stops when every span is *queryable in ClickHouse* (embedded chDB), not when the last
request is acknowledged. Prints spans/s, the ratio to the baseline and the collector's peak RSS.

    .venv/bin/python bench/bench_ingest.py [--requests 40] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from _load import free_port, genai_request, machine_speed_s, peak_rss_mib, send_grpc, send_http

SPANS_PER_REQUEST = 1000


def _wait_ready(url: str, timeout_s: float = 60) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} never became ready")


def _count(admin: str) -> int:
    body = json.dumps({"sql": "SELECT count() FROM tracesieve.spans"}).encode()
    request = urllib.request.Request(f"{admin}/api/v1/query", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(json.loads(response.read())["rows"][0][0])


def run_baseline(grpc_bodies: list[bytes], http_bodies: list[bytes], concurrency: int) -> dict[str, float]:
    grpc_port, http_port = free_port(), free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).parent / "_parse_only_server.py"),
            str(grpc_port),
            str(http_port),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()
        results: dict[str, float] = {}
        start = time.perf_counter()
        failures = asyncio.run(send_grpc(f"127.0.0.1:{grpc_port}", grpc_bodies, concurrency))
        results["grpc"] = len(grpc_bodies) * SPANS_PER_REQUEST / (time.perf_counter() - start)
        start = time.perf_counter()
        failures += asyncio.run(send_http(f"http://127.0.0.1:{http_port}", http_bodies, concurrency))
        results["http"] = len(http_bodies) * SPANS_PER_REQUEST / (time.perf_counter() - start)
        results["rss"] = peak_rss_mib(server.pid)
        assert failures == 0, f"{failures} baseline requests failed"
        return results
    finally:
        server.terminate()
        server.wait(10)


def run_tracesieve(grpc_bodies: list[bytes], http_bodies: list[bytes], concurrency: int) -> dict[str, float]:
    data_dir = Path(tempfile.mkdtemp(prefix="tracesieve-bench-"))
    grpc_port, http_port, admin_port = free_port(), free_port(), free_port()
    server = subprocess.Popen(
        [
            sys.executable, "-m", "tracesieve.collector.cli", "run",
            "--data-dir", str(data_dir),
            "--grpc-port", str(grpc_port), "--http-port", str(http_port), "--admin-port", str(admin_port),
        ],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    admin = f"http://127.0.0.1:{admin_port}"
    try:
        _wait_ready(f"{admin}/readyz")
        results: dict[str, float] = {}
        expected = 0
        for name, bodies, send in (
            ("grpc", grpc_bodies, lambda b: send_grpc(f"127.0.0.1:{grpc_port}", b, concurrency)),
            ("http", http_bodies, lambda b: send_http(f"http://127.0.0.1:{http_port}", b, concurrency)),
        ):
            expected += len(bodies) * SPANS_PER_REQUEST
            start = time.perf_counter()
            failures = asyncio.run(send(bodies))
            acked = time.perf_counter()
            while _count(admin) < expected:
                time.sleep(0.05)
            durable = time.perf_counter()
            assert failures == 0, f"{failures} requests failed"
            results[name] = len(bodies) * SPANS_PER_REQUEST / (durable - start)
            results[f"{name}_ack_lag_s"] = durable - acked
        results["rss"] = peak_rss_mib(server.pid)
        results["stored"] = _count(admin)
        return results
    finally:
        server.terminate()
        server.wait(60)
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=40, help="requests per protocol (1,000 spans each)")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    args = parser.parse_args()
    console = Console()
    console.print(f"machine speed: a 10M-step Python loop takes {machine_speed_s():.2f} s (lower is faster)")
    console.print(f"generating {2 * args.requests} requests of {SPANS_PER_REQUEST} GenAI spans…")
    grpc_bodies = [genai_request(SPANS_PER_REQUEST, seed) for seed in range(args.requests)]
    http_bodies = [genai_request(SPANS_PER_REQUEST, 10_000 + seed) for seed in range(args.requests)]
    size = sum(map(len, grpc_bodies)) / (args.requests * SPANS_PER_REQUEST)
    console.print(f"{size:.0f} bytes per span on the wire")

    baseline = run_baseline(grpc_bodies, http_bodies, args.concurrency)
    product = run_tracesieve(grpc_bodies, http_bodies, args.concurrency)
    assert product["stored"] == 2 * args.requests * SPANS_PER_REQUEST, product

    table = Table(title="durable ingest, spans/s (same load, same run)")
    table.add_column("protocol")
    table.add_column("parse-only baseline", justify="right")
    table.add_column("tracesieve → ClickHouse", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("ack→queryable lag", justify="right")
    for name in ("grpc", "http"):
        table.add_row(
            name,
            f"{baseline[name]:,.0f}",
            f"{product[name]:,.0f}",
            f"{product[name] / baseline[name]:.3f}",
            f"{product[f'{name}_ack_lag_s']:.2f} s",
        )
    console.print(table)
    console.print(
        f"peak RSS: baseline {baseline['rss']:.0f} MiB, tracesieve {product['rss']:.0f} MiB; "
        f"rows stored {product['stored']:,.0f}"
    )


if __name__ == "__main__":
    main()
