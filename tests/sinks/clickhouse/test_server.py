"""The same sink against a ClickHouse *server* (http/https DSN), when one is given.

No registry here provides a ClickHouse server, so this runs only when
``TRACESIEVE_TEST_CLICKHOUSE_URL`` (e.g. ``http://default:@localhost:8123``) is set, and says
so when it is not. Everything else in this folder runs against the embedded engine (chDB).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
from tracesieve.collector.contracts import CanonicalSpan
from tracesieve.collector.errors import PermanentError
from tracesieve.sinks.clickhouse.config import ClickHouseSinkConfig
from tracesieve.sinks.clickhouse.sink import ClickHouseSink
from tracesieve.sinks.clickhouse.store import connect

SERVER_URL = os.environ.get("TRACESIEVE_TEST_CLICKHOUSE_URL", "")

pytestmark = pytest.mark.skipif(
    not SERVER_URL,
    reason="set TRACESIEVE_TEST_CLICKHOUSE_URL=http://host:8123 to run the sink against a ClickHouse server",
)


async def test_round_trip_dedupe_and_readonly_on_a_server(
    database_name: str, make_span: Callable[..., CanonicalSpan]
) -> None:
    config = ClickHouseSinkConfig(dsn=SERVER_URL, database=database_name)
    sink = ClickHouseSink(config)
    await sink.start()
    try:
        spans = [make_span() for _ in range(100)]
        await sink.consume(spans)
        await sink.consume(spans)
        assert (await sink.query("SELECT count() FROM spans"))[1] == [(100,)]
        with pytest.raises(PermanentError):
            await sink.query("SELECT count() FROM spans SETTINGS readonly = 0")
        names, rows = await sink.query("SELECT TraceId FROM spans WHERE 0")
        assert (names, rows) == (["TraceId"], [])
    finally:
        await sink.aclose(time.monotonic() + 30)
        client = connect(SERVER_URL)
        client.command(f"DROP DATABASE IF EXISTS {database_name}")
        client.close()
