"""The store goes away for 60 s under load: nothing acknowledged is lost (issue 6's bar).

``tracesieve run`` runs as a process of its own on the embedded store; the test makes the
store's folder unwritable (``bench/_acked_load.Unwritable``: ``chattr +i`` as root, permission
bits otherwise), so every INSERT fails as on a full or read-only disk, while OTLP/HTTP load goes
on. Requests keep being acknowledged from the ingest log (the spool); when the folder is
writable again the backlog drains, and every acknowledged span is in ``spans`` exactly once.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
from _acked_load import AckLog, Collector, NumberedRequests, Unwritable, offer

SPANS_PER_REQUEST = 10
OUTAGE_S = 60.0


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    made = Collector(tmp_path / "data")
    yield made
    made.kill()


def _count(collector: Collector) -> int:
    return int(collector.query("SELECT count() AS n FROM tracesieve.spans")[0]["n"])


async def test_store_unwritable_for_60_s_loses_no_acknowledged_span(collector: Collector) -> None:
    collector.start()
    requests = NumberedRequests(SPANS_PER_REQUEST)
    rate = 20.0  # requests/s: 200 spans/s

    before = await offer(collector.http, requests, rate, 5.0)
    with Unwritable(collector.chdb_dir):
        stored_at_outage = await asyncio.to_thread(_count, collector)
        during = await offer(collector.http, requests, rate, OUTAGE_S, first_index=1_000_000)
        stored_during = await asyncio.to_thread(_count, collector)
    after = await offer(collector.http, requests, rate, 5.0, first_index=2_000_000)

    logs: list[AckLog] = [before, during, after]
    # The outage was real: writes stopped (a write already past its INSERT may land).
    assert stored_during - stored_at_outage <= rate * SPANS_PER_REQUEST
    assert "store write failed" in collector.log.read_text()
    # The spool kept acknowledging while the store was away.
    assert len(during.acked) >= 0.9 * during.offered, during.statuses
    for log in logs:
        assert not log.unexpected, log.statuses
    want = requests.trace_ids(index for log in logs for index in log.acked)
    stored, rows = await asyncio.to_thread(collector.wait_stored, want, 300.0)
    assert want - stored == set()
    assert rows == len(stored)  # no span twice
    assert collector.stop() == 0


async def test_graceful_shutdown_during_an_outage_keeps_what_it_acknowledged(
    collector: Collector,
) -> None:
    collector.start()
    requests = NumberedRequests(SPANS_PER_REQUEST)
    with Unwritable(collector.chdb_dir):
        during = await offer(collector.http, requests, 20.0, 5.0)
        assert during.acked
        # SIGTERM while nothing can be stored: shutdown gives up on the writes after its timeout
        # and leaves the records in the ingest log.
        assert await asyncio.to_thread(collector.stop) == 0
    collector.start()
    want = requests.trace_ids(during.acked)
    stored, rows = await asyncio.to_thread(collector.wait_stored, want, 300.0)
    assert want - stored == set()
    assert rows == len(stored)
