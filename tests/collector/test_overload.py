"""Far more load than the collector can take, against a memory limit (issue 6's overload bar;
``bench/bench_overload.py`` runs the full 10× for 60 s and prints the figures).

``tracesieve run`` gets an open-loop offer of 20,000 spans/s (several times what it stores
here) for 20 s with ``processors.memory_limiter`` at 1,200 MiB. Its resident memory and its
analysis worker's stay under the limit, every request it does not acknowledge gets a retryable
status, and every span it acknowledged is in ClickHouse afterwards, once.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
from _acked_load import Collector, NumberedRequests, RssSampler, offer

SPANS_PER_REQUEST = 20
LIMIT_MIB = 1200
SPIKE_MIB = 400


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    made = Collector(
        tmp_path / "data",
        {
            "TRACESIEVE_PROCESSORS__MEMORY_LIMITER__LIMIT_MIB": str(LIMIT_MIB),
            "TRACESIEVE_PROCESSORS__MEMORY_LIMITER__SPIKE_LIMIT_MIB": str(SPIKE_MIB),
        },
    )
    yield made
    made.kill()


async def test_overload_keeps_memory_under_the_limit_and_loses_nothing_acknowledged(
    collector: Collector,
) -> None:
    collector.start()
    assert collector.proc is not None
    requests = NumberedRequests(SPANS_PER_REQUEST)
    with RssSampler(collector.proc.pid) as rss:
        log = await offer(collector.http, requests, 1000.0, 20.0, max_in_flight=512)
        want = requests.trace_ids(log.acked)
        stored, rows = await asyncio.to_thread(collector.wait_stored, want, 300.0)

    assert log.acked, log.statuses
    refused = log.statuses[429] + log.statuses[503]
    assert refused > 0, f"the offer never overloaded the collector: {log.statuses}"
    assert not log.unexpected, log.statuses
    assert rss.peak_bytes < LIMIT_MIB << 20, f"peak {rss.peak_bytes >> 20} MiB over {LIMIT_MIB} MiB"
    assert want - stored == set()
    assert rows == len(stored)
    assert collector.stop() == 0
