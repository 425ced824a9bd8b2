"""Fixtures of the sampler's store tests: a week of traffic, and a writer into the test's database."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from tracesieve.collector.contracts import FlaggedSpan, Signal
from tracesieve.sinks.clickhouse import ClickHouseSink, ClickHouseSinkConfig

from .traffic import Week, make_week


@pytest.fixture(scope="session")
def week_traffic() -> Week:
    return make_week()


Writer = Callable[[list[Signal], list[FlaggedSpan]], Awaitable[None]]


@pytest.fixture
async def write_findings(chdb_dsn: str, database_name: str) -> AsyncIterator[Writer]:
    """Writes signals and flagged rows into the test's database with the collector's own sink."""
    sink = ClickHouseSink(ClickHouseSinkConfig(dsn=chdb_dsn, database=database_name))
    await sink.start()

    async def write(signals: list[Signal], flagged: list[FlaggedSpan]) -> None:
        for i in range(0, max(len(signals), len(flagged)), 5000):
            await sink.write_findings(signals[i : i + 5000], flagged[i : i + 5000], [])

    try:
        yield write
    finally:
        await sink.aclose(time.monotonic() + 30)
