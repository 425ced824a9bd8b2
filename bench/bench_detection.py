"""What detection costs and how fast it answers, against the same collector without it.

1. **Throughput, detectors on vs off** (same load, same run): the ingest benchmark's load
   (1,000 OTel-GenAI chat spans per request, every span a turn of one of 200 sessions per
   request, so every span goes through the session state and the pair detectors) sent to
   ``tracesieve run`` twice, once with ``processors.sessions.enabled: false``. The clock stops
   when every span is queryable and, with detection on, the analysis has caught up too (the
   signal of one failed call sent after the load is written: spans are analysed in order).
   Prints spans/s, each process's CPU per span and the ratio, for ``--rounds`` off/on pairs
   (every other one "on" first), and the median ratio (the bar: on ≥ 0.70 × off). ``--load
   corpus`` sends the quality corpus's real sessions instead.
2. **Latency at a sustained 5,000 spans/s**: requests of 500 spans every 0.1 s for
   ``--seconds``, built beforehand; each span ends when its request is due (event time = now
   when sent on time), one in 50 is a refusal, and
   some sessions end on a failed call and then go quiet. Per signal row: ``DetectedAt − span
   end`` (event time → row), and for ``abandoned_session`` ``DetectedAt − (end + idle_s +
   allowed_lateness_s)``, i.e. how long after the watermark passed the deadline the row was
   written (only deadlines passed while the stream was live: later ones wait for the
   idle-source fallback by design). Prints p50/p99/max (the bar: ≤ 1 s).

    .venv/bin/python bench/bench_detection.py [--requests 30] [--rounds 5] [--seconds 20] [--load corpus]
        [--skip-throughput | --skip-latency]

Peak RSS is the collector's plus its analysis worker's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from _load import _kv, cpu_seconds, free_port, genai_request, machine_speed_s, peak_rss_mib, send_grpc
from bench_ingest import SPANS_PER_REQUEST, _wait_ready

IDLE_S = 5.0
LATENESS_S = 1.0


def _query(admin: str, sql: str) -> list[list[Any]]:
    body = json.dumps({"sql": sql}).encode()
    request = urllib.request.Request(f"{admin}/api/v1/query", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        rows: list[list[Any]] = json.loads(response.read())["rows"]
    return rows


class Collector:
    """``tracesieve run`` in its own process, with config from environment overrides."""

    def __init__(self, env: dict[str, str]) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="tracesieve-bench-"))
        self.grpc_port, self.http_port, admin_port = free_port(), free_port(), free_port()
        self.admin = f"http://127.0.0.1:{admin_port}"
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "tracesieve.collector.cli", "run", "--data-dir", str(self.data_dir),
                "--grpc-port", str(self.grpc_port), "--http-port", str(self.http_port),
                "--admin-port", str(admin_port),
            ],
            env={**os.environ, **env},
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_ready(f"{self.admin}/readyz")

    def count(self, table: str = "spans") -> int:
        return int(_query(self.admin, f"SELECT count() FROM tracesieve.{table}")[0][0])

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(60)
        # Deleted when the benchmark ends, not now: on an ext4 without a journal (this
        # machine's) the kernel skips every inode deleted in the last 30 s when it allocates one,
        # so deleting the last run's few thousand part files made the next run's INSERTs pay
        # for them (its chDB threads' system time was 14-35 µs per span, 6-11 without).
        _SPENT.append(self.data_dir)


_SPENT: list[Path] = []


def remove_spent() -> None:
    """Delete the data folders of the collectors closed so far."""
    while _SPENT:
        shutil.rmtree(_SPENT.pop(), ignore_errors=True)


def corpus_bodies(copies: int) -> tuple[list[bytes], int]:
    """The detector-quality corpus's trace requests (``bench/.corpus/dev-1``, real instrumentation,
    several spans per turn), ``copies`` times with fresh trace and span ids, regrouped into
    requests of about 1,000 spans; and how many of those spans the collector stores.

    Sessions whose content travels in log records (openai-v2 in event mode) are left out: their
    spans would wait ``log_wait_s`` for records this load does not send, and time the wait."""
    from tracesieve.processors.normalise import NormaliseConfig, normalise_traces

    folder = Path(__file__).parent / ".corpus" / "dev-1"
    sources = [
        ExportTraceServiceRequest.FromString(p.read_bytes()) for p in sorted(folder.glob("*_traces.pb"))
    ]
    if not sources:
        raise SystemExit("build the corpus first: python bench/bench_detectors.py --split dev --seed 1")
    bodies: list[bytes] = []
    stored = 0
    batch = ExportTraceServiceRequest()
    in_batch = 0
    for copy in range(copies):
        salt = copy.to_bytes(4, "big")
        for source in sources:
            if any(
                kv.key == "service.name" and kv.value.string_value.endswith("events")
                for rs in source.resource_spans
                for kv in rs.resource.attributes
            ):
                continue
            request = ExportTraceServiceRequest()
            request.CopyFrom(source)
            for rs in request.resource_spans:
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        for kv in span.attributes:  # a copy is other sessions, not more turns
                            if ("session" in kv.key or "conversation" in kv.key) and kv.value.string_value:
                                kv.value.string_value = f"{kv.value.string_value}-{copy}"
                        span.trace_id = salt + span.trace_id[4:]
                        span.span_id = salt + span.span_id[4:]
                        if span.parent_span_id:
                            span.parent_span_id = salt + span.parent_span_id[4:]
                        in_batch += 1
            stored += sum(1 for s in normalise_traces(request, NormaliseConfig())[0] if s.kind != "other")
            batch.resource_spans.extend(request.resource_spans)
            if in_batch >= SPANS_PER_REQUEST:
                bodies.append(batch.SerializeToString())
                batch, in_batch = ExportTraceServiceRequest(), 0
    if in_batch:
        bodies.append(batch.SerializeToString())
    return bodies, stored


def throughput(bodies: list[bytes], concurrency: int, detect: bool, expected: int) -> dict[str, float]:
    collector = Collector({"TRACESIEVE_PROCESSORS__SESSIONS__ENABLED": "true" if detect else "false"})
    try:
        main_before, worker_before = _cpu_split(collector.process.pid)
        start = time.perf_counter()
        failures = asyncio.run(send_grpc(f"127.0.0.1:{collector.grpc_port}", bodies, concurrency))
        if detect:
            # The analysis runs beside the store (in a worker process by default) and may lag
            # it: the clock stops only once it has also caught up. Spans are analysed in
            # order, so the signal of one failed call sent after everything else marks it.
            marker = _marker_request()
            assert asyncio.run(send_grpc(f"127.0.0.1:{collector.grpc_port}", [marker], 1)) == 0
            expected += 1
        marked = "SELECT count() FROM tracesieve.signals WHERE SessionId = 'bench-marker'"
        while collector.count() < expected or (detect and not int(_query(collector.admin, marked)[0][0])):
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
        main_cpu, worker_cpu = _cpu_split(collector.process.pid)
        assert failures == 0, f"{failures} requests failed"
        spans = sum(_span_count(b) for b in bodies)
        return {
            "spans_s": spans / elapsed,
            "main_us": (main_cpu - main_before) / spans * 1e6,
            "worker_us": (worker_cpu - worker_before) / spans * 1e6,
            "rss": peak_rss_mib(collector.process.pid),
            "signals": collector.count("signals"),
        }
    finally:
        collector.close()


def _cpu_split(pid: int) -> tuple[float, float]:
    """CPU seconds so far of the collector's own process and of its children (the worker)."""
    own = cpu_seconds(pid, children=False)
    return own, cpu_seconds(pid) - own


def _marker_request() -> bytes:
    """One chat span that failed (an ``error`` signal), in a session of its own."""
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.extend([_kv("service.name", "bench-marker")])
    now = time.time_ns()
    span = rs.scope_spans.add().spans.add(
        trace_id=os.urandom(16), span_id=os.urandom(8), name="chat gpt-4o-mini", kind=3,
        start_time_unix_nano=now - 1_000_000, end_time_unix_nano=now,
    )  # fmt: skip
    span.attributes.extend(
        [
            _kv("gen_ai.operation.name", "chat"),
            _kv("gen_ai.request.model", "gpt-4o-mini"),
            _kv("session.id", "bench-marker"),
            # With content, so it is not held for GenAI log records (``log_wait_s``).
            _kv("gen_ai.input.messages", json.dumps([{"role": "user", "content": "hi"}])),
            _kv("gen_ai.output.messages", "[]"),
        ]
    )
    span.status.code = 2
    span.status.message = "Error code: 500"
    return request.SerializeToString()


def _span_count(body: bytes) -> int:
    request = ExportTraceServiceRequest.FromString(body)
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)


def _paced_request(rng: random.Random, spans: int, n: int, now: int) -> bytes:
    """``spans`` chat turns ending at ``now``; one in 50 a refusal; session ``dead-n`` ends on an
    error."""
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.extend([_kv("service.name", "latency-bot")])
    scope = rs.scope_spans.add()
    for i in range(spans):
        refusal = i % 50 == 0
        dead = i == spans - 1
        question = f"Where is order {rng.randrange(10**6)}?"
        answer = "I'm sorry, but I can't help with that." if refusal else f"Order shipped on day {i}."
        span = scope.spans.add(
            trace_id=rng.randbytes(16),
            span_id=rng.randbytes(8),
            name="chat gpt-4o-mini",
            kind=3,
            start_time_unix_nano=now - 400_000_000,
            end_time_unix_nano=now,
        )
        session = f"dead-{n}" if dead else f"live-{rng.randrange(2000)}"
        asked = [{"role": "user", "parts": [{"type": "text", "content": question}]}]
        said = [{"role": "assistant", "parts": [{"type": "text", "content": answer}]}]
        span.attributes.extend(
            [
                _kv("gen_ai.operation.name", "chat"),
                _kv("gen_ai.request.model", "gpt-4o-mini"),
                _kv("session.id", session),
                _kv("gen_ai.input.messages", json.dumps(asked)),
                _kv("gen_ai.output.messages", json.dumps(said)),
            ]
        )
        if dead:
            span.status.code = 2
            span.status.message = "Error code: 500"
    return request.SerializeToString()


async def _paced_send(base: str, seconds: float, rate: int) -> int:
    rng = random.Random(7)
    per_request = rate // 10
    sent = 0
    # Built before the clock starts, each ending when it is due to be sent: building them
    # while sending took the load generator a tenth of a core, on the collector's machine.
    count = int(seconds * 10)
    lead_s = 1.0 + count * 0.015
    wall_start = time.time_ns() + int(lead_s * 1e9)
    start = time.perf_counter() + lead_s
    bodies = [_paced_request(rng, per_request, n, wall_start + n * 100_000_000) for n in range(count)]
    async with aiohttp.ClientSession() as session:
        n = 0
        pending: set[asyncio.Task[None]] = set()

        async def post(body: bytes) -> None:
            async with session.post(
                f"{base}/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf"}
            ) as response:
                await response.read()
                assert response.status == 200, response.status

        while n < count:
            due = start + n * 0.1
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            task = asyncio.create_task(post(bodies[n]))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += per_request
            n += 1
        await asyncio.gather(*pending)
    return sent


def latency(seconds: float, rate: int) -> dict[str, Any]:
    collector = Collector(
        {
            "TRACESIEVE_PROCESSORS__SESSIONS__ALLOWED_LATENESS_S": str(LATENESS_S),
            "TRACESIEVE_PROCESSORS__DETECTORS__ABANDONED_SESSION__IDLE_S": str(IDLE_S),
        }
    )
    try:
        sent = asyncio.run(_paced_send(f"http://127.0.0.1:{collector.http_port}", seconds, rate))
        live_until_ms = time.time_ns() // 1_000_000
        while collector.count() < sent:
            time.sleep(0.2)
        time.sleep(2)
        quantiles = "quantiles(0.5, 0.99)(lag_ms) AS q, max(lag_ms), count()"
        span_lag = _query(
            collector.admin,
            f"SELECT {quantiles} FROM (SELECT toUnixTimestamp64Milli(DetectedAt) - "
            "intDiv(toUnixTimestamp64Nano(Timestamp), 1000000) AS lag_ms FROM tracesieve.signals "
            "WHERE Signal = 'refusal')",
        )[0]
        deadline_ms = int((IDLE_S + LATENESS_S) * 1000)
        # Only deadlines the live stream's watermark passed: those after the last span wait for
        # the idle-source fallback (idle_source_s of quiet) by design.
        timer_lag = _query(
            collector.admin,
            f"SELECT {quantiles} FROM (SELECT toUnixTimestamp64Milli(DetectedAt) - "
            f"intDiv(toUnixTimestamp64Nano(Timestamp), 1000000) - {deadline_ms} AS lag_ms "
            "FROM tracesieve.signals WHERE Signal = 'abandoned_session' "
            f"AND intDiv(toUnixTimestamp64Nano(Timestamp), 1000000) + {deadline_ms} <= {live_until_ms})",
        )[0]
        return {"sent": sent, "span": span_lag, "timer": timer_lag, "elapsed_s": seconds}
    finally:
        collector.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, default=30, help="requests of 1,000 spans for the throughput run"
    )
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--rounds", type=int, default=5, help="off/on pairs for the throughput ratio (median reported)"
    )
    parser.add_argument("--seconds", type=float, default=20, help="length of the paced latency run")
    parser.add_argument("--rate", type=int, default=5000, help="spans/s of the paced latency run")
    parser.add_argument(
        "--load",
        choices=["ingest", "corpus"],
        default="ingest",
        help="ingest: every span a new turn (worst case); corpus: the quality corpus's real sessions",
    )
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    console = Console()
    console.print(f"machine speed: a 10M-step Python loop takes {machine_speed_s():.2f} s (lower is faster)")
    try:
        if not args.skip_throughput:
            _throughput(console, args)
        if not args.skip_latency:
            _latency(console, args)
    finally:
        remove_spent()


def _throughput(console: Console, args: argparse.Namespace) -> None:
    if args.load == "ingest":
        bodies = [genai_request(SPANS_PER_REQUEST, seed) for seed in range(args.requests)]
        expected = len(bodies) * SPANS_PER_REQUEST
    else:
        bodies, expected = corpus_bodies(max(1, args.requests * SPANS_PER_REQUEST // 1100))
    console.print(
        f"throughput ({args.load} load): {len(bodies)} requests, detectors off and on, {args.rounds} round(s)"
    )
    table = Table(title="durable ingest, spans/s (same load, same run)")
    columns = (
        "round",
        "detectors",
        "spans/s",
        "collector µs/span",
        "worker µs/span",
        "RSS MiB",
        "signals",
        "on/off",
    )
    for column in columns:
        table.add_column(column, justify="right")
    ratios: list[float] = []
    for n in range(1, args.rounds + 1):
        # Off and on side by side in each round: the machine's speed drifts between rounds
        # (the "off" figure alone moved 7,456-12,579 spans/s over one day). Every other round
        # runs "on" first, so that neither side always runs second (an A-B-B-A order).
        if n % 2:
            off = throughput(bodies, args.concurrency, detect=False, expected=expected)
            on = throughput(bodies, args.concurrency, detect=True, expected=expected)
        else:
            on = throughput(bodies, args.concurrency, detect=True, expected=expected)
            off = throughput(bodies, args.concurrency, detect=False, expected=expected)
        ratios.append(on["spans_s"] / off["spans_s"])
        for name, run in (("off", off), ("on", on)):
            table.add_row(
                str(n), name, f"{run['spans_s']:,.0f}", f"{run['main_us']:.0f}",
                f"{run['worker_us']:.0f}", f"{run['rss']:.0f}", f"{run['signals']:,}",
                f"{ratios[-1]:.3f}" if name == "on" else "",
            )  # fmt: skip
    console.print(table)
    middle = statistics.median(ratios)
    console.print(
        f"on/off ratio: median {middle:.3f} (detection costs {1 - middle:.1%} of throughput), "
        f"lowest {min(ratios):.3f}, highest {max(ratios):.3f}"
    )


def _latency(console: Console, args: argparse.Namespace) -> None:
    console.print(f"\nlatency: {args.rate:,} spans/s over OTLP/HTTP for {args.seconds:.0f} s …")
    result = latency(args.seconds, args.rate)
    title = f"event time → signal row, at {args.rate:,} spans/s ({result['sent']:,} spans)"
    table = Table(title=title)
    for column in ("what", "rows", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="right")
    rows_by_name = {
        "refusal: span end → row": result["span"],
        "abandoned: watermark past deadline → row": result["timer"],
    }
    for name, (q, worst, rows) in rows_by_name.items():
        table.add_row(name, f"{rows:,}", f"{q[0]:.0f}", f"{q[1]:.0f}", f"{worst:.0f}")
    console.print(table)


if __name__ == "__main__":
    main()
