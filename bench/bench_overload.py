"""Overload: ten times the sustainable load for 60 s against a memory limit (issue 6's bar).

1. **Sustainable load**, measured in the same run: 8 senders in a closed loop (each sends its
   next request when the last is answered) for ``--measure-s``; spans stored per second, from
   the first request until the last acknowledged span is queryable.
2. **Overload**: an open-loop offer of ``--factor`` (10) times that rate for ``--duration-s``
   (60), up to 512 requests in flight, while a thread samples the resident memory of the
   collector and its analysis worker every 50 ms.
3. **Afterwards**: every acknowledged span must be in ``spans``, exactly once; every refused
   request must have had a retryable status (429/503).

Prints the figures and the peak memory against the configured hard limit.

    .venv/bin/python bench/bench_overload.py [--limit-mib 700] [--duration-s 60] [--factor 10]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from _acked_load import AckLog, Collector, NumberedRequests, RssSampler, offer
from _load import machine_speed_s

SPANS_PER_REQUEST = 20
_MIB = 1 << 20


def measure_sustainable(
    collector: Collector, requests: NumberedRequests, seconds: float
) -> tuple[float, int]:
    start = time.monotonic()
    log = asyncio.run(offer(collector.http, requests, 10_000, seconds, max_in_flight=8))
    want = requests.trace_ids(log.acked)
    collector.wait_stored(want, 300)
    elapsed = time.monotonic() - start
    return len(want) / elapsed, log.offered


def run_overload(
    collector: Collector, requests: NumberedRequests, rate: float, seconds: float, first_index: int
) -> tuple[AckLog, int, float]:
    assert collector.proc is not None
    with RssSampler(collector.proc.pid) as rss:
        start = time.monotonic()
        log = asyncio.run(
            offer(
                collector.http,
                requests,
                rate / SPANS_PER_REQUEST,
                seconds,
                first_index=first_index,
                max_in_flight=512,
            )
        )
        offered_s = time.monotonic() - start
        want = requests.trace_ids(log.acked)
        collector.wait_stored(want, 600)
    if "--timeline" in sys.argv:
        for at, each in rss.timeline:
            print(f"{at:6.1f} s  " + "  ".join(f"{b / _MIB:6.0f}" for b in each) + " MiB")
    return log, rss.peak_bytes, offered_s


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit-mib", type=int, default=700, help="processors.memory_limiter.limit_mib")
    parser.add_argument("--duration-s", type=float, default=60.0, help="length of the overload")
    parser.add_argument("--factor", type=float, default=10.0, help="offered load / sustainable load")
    parser.add_argument("--timeline", action="store_true", help="print resident memory each second")
    parser.add_argument("--measure-s", type=float, default=10.0, help="length of the sustainable-load run")
    args = parser.parse_args()
    console = Console()
    console.print(f"machine speed: a 10M-step Python loop takes {machine_speed_s():.2f} s (lower is faster)")
    data_dir = Path(tempfile.mkdtemp(prefix="tracesieve-overload-")) / "data"
    collector = Collector(data_dir, {"TRACESIEVE_PROCESSORS__MEMORY_LIMITER__LIMIT_MIB": str(args.limit_mib)})
    requests = NumberedRequests(SPANS_PER_REQUEST)
    try:
        collector.start()
        sustainable, used = measure_sustainable(collector, requests, args.measure_s)
        console.print(f"sustainable load: {sustainable:,.0f} spans/s (closed loop, 8 senders, until stored)")
        rate = sustainable * args.factor
        log, peak, offered_s = run_overload(collector, requests, rate, args.duration_s, first_index=used + 1)
        want = requests.trace_ids(log.acked)
        stored, rows = collector.stored_trace_ids()
        lost = len(want - stored)
        code = collector.stop()
    finally:
        collector.kill()
    table = Table(title=f"{args.factor:g}× the sustainable load for {args.duration_s:g} s")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row(
        "offered", f"{log.offered * SPANS_PER_REQUEST / offered_s:,.0f} spans/s ({log.offered:,} requests)"
    )
    table.add_row("acknowledged", f"{len(log.acked):,} requests ({len(want):,} spans)")
    for status, count in sorted(log.statuses.items(), key=str):
        table.add_row(f"answered {status}", f"{count:,}")
    for reason, count in log.reasons.most_common(4):
        table.add_row(f"  refused: {reason[:70]}", f"{count:,}")
    table.add_row("non-retryable refusals", f"{sum(log.unexpected.values()):,}")
    table.add_row("acknowledged spans missing from ClickHouse", f"{lost:,}")
    table.add_row("rows in spans / distinct traces", f"{rows:,} / {len(stored):,}")
    table.add_row("peak resident memory (collector + worker)", f"{peak / _MIB:,.0f} MiB")
    table.add_row("hard limit", f"{args.limit_mib:,} MiB ({peak / _MIB / args.limit_mib:.2f} of it)")
    table.add_row("exit status after SIGTERM", str(code))
    console.print(table)
    shutil.rmtree(data_dir.parent, ignore_errors=True)
    if lost or log.unexpected or peak > args.limit_mib * _MIB:
        sys.exit(1)


if __name__ == "__main__":
    main()
