"""Store outage: the embedded store's folder unwritable for 60 s under steady load (issue 6's bar).

``tracesieve run`` takes an open-loop OTLP/HTTP load (``--rate`` spans/s) for 10 s, then its
ClickHouse folder is made unwritable (``chattr +i`` as root, permission bits otherwise) for
``--outage-s`` while the load goes on, then the load runs 10 s more. Prints what was offered
and acknowledged in each phase, the ingest log's peak size on disk (the spool), how long the
backlog took to drain once the folder was writable again, and how many acknowledged spans are
missing from ``spans`` at the end (must be 0) or stored twice.

    .venv/bin/python bench/bench_store_outage.py [--rate 500] [--outage-s 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from _acked_load import AckLog, Collector, NumberedRequests, Unwritable, offer
from _load import machine_speed_s

SPANS_PER_REQUEST = 10
_MIB = 1 << 20


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.glob("*") if path.is_file())


class SpoolSampler(threading.Thread):
    def __init__(self, folder: Path) -> None:
        super().__init__(daemon=True)
        self.folder = folder
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(FileNotFoundError):
                self.peak = max(self.peak, _folder_bytes(self.folder))
            self.stop.wait(0.5)


def _wait_stored(collector: Collector, want: set[str], timeout_s: float = 600.0) -> float:
    """When every trace in ``want`` was first seen stored (monotonic time)."""
    end = time.monotonic() + timeout_s
    while not want <= collector.stored_trace_ids()[0] and time.monotonic() < end:
        time.sleep(0.5)
    return time.monotonic()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=500.0, help="spans/s offered")
    parser.add_argument("--outage-s", type=float, default=60.0, help="how long the store is unwritable")
    parser.add_argument("--keep", action="store_true", help="keep the data folder and the log")
    args = parser.parse_args()
    console = Console()
    console.print(f"machine speed: a 10M-step Python loop takes {machine_speed_s():.2f} s (lower is faster)")
    data_dir = Path(tempfile.mkdtemp(prefix="tracesieve-outage-")) / "data"
    collector = Collector(data_dir)
    requests = NumberedRequests(SPANS_PER_REQUEST)
    rate = args.rate / SPANS_PER_REQUEST
    spool = SpoolSampler(data_dir / "ingest-log")
    try:
        collector.start()
        spool.start()
        phases: dict[str, AckLog] = {}
        phases["before"] = asyncio.run(offer(collector.http, requests, rate, 10.0))
        with Unwritable(collector.chdb_dir):
            stored_at_start = collector.stored_trace_ids()[1]
            phases["outage"] = asyncio.run(
                offer(collector.http, requests, rate, args.outage_s, first_index=10**6)
            )
            stored_at_end = collector.stored_trace_ids()[1]
        recovered = time.monotonic()
        backlog = requests.trace_ids(index for log in phases.values() for index in log.acked)
        drained_s = _wait_stored(collector, backlog) - recovered
        phases["after"] = asyncio.run(offer(collector.http, requests, rate, 10.0, first_index=2 * 10**6))
        want = requests.trace_ids(index for log in phases.values() for index in log.acked)
        _wait_stored(collector, want)
        stored, rows = collector.stored_trace_ids()
        code = collector.stop()
    finally:
        spool.stop.set()
        collector.kill()
    table = Table(title=f"store unwritable for {args.outage_s:g} s at {args.rate:,.0f} spans/s offered")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, log in phases.items():
        others = ", ".join(f"{k}: {v}" for k, v in sorted(log.statuses.items(), key=str) if k != 200)
        table.add_row(
            f"{name}: acknowledged / offered",
            f"{len(log.acked):,} / {log.offered:,} requests {others}".strip(),
        )
    table.add_row("rows written during the outage", f"{stored_at_end - stored_at_start:,}")
    table.add_row("ingest log (spool) peak on disk", f"{spool.peak / _MIB:,.1f} MiB")
    table.add_row("store writable again → backlog stored (no new load)", f"{drained_s:.1f} s")
    table.add_row("acknowledged spans missing", f"{len(want - stored):,}")
    table.add_row("rows / distinct traces", f"{rows:,} / {len(stored):,}")
    table.add_row("exit status after SIGTERM", str(code))
    console.print(table)
    if "--keep" in sys.argv:
        console.print(f"kept {data_dir.parent}")
    else:
        shutil.rmtree(data_dir.parent, ignore_errors=True)
    if want - stored or rows != len(stored):
        sys.exit(1)


if __name__ == "__main__":
    main()
