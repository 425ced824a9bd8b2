"""The package surface: exports and the registry factory."""

from __future__ import annotations

import time

import tracesieve.sinks.clickhouse as pkg
from tracesieve.collector.contracts import Component, SpanConsumer
from tracesieve.sinks.clickhouse.config import ClickHouseSinkConfig


def test_exports() -> None:
    assert sorted(pkg.__all__) == sorted(
        [
            "ClickHouseSink",
            "ClickHouseSinkConfig",
            "ReadOnlyStore",
            "SinkFactory",
            "factory",
            "open_store",
            "query_store",
        ]
    )


async def test_factory_builds_a_sink_that_meets_the_protocols(config: ClickHouseSinkConfig) -> None:
    assert pkg.factory.type_name == "clickhouse"
    assert pkg.factory.config_model is ClickHouseSinkConfig
    sink = pkg.factory.create(config, "clickhouse/main")
    assert isinstance(sink, Component) and isinstance(sink, SpanConsumer)
    assert sink.component_id == "clickhouse/main"
    await sink.start()
    await sink.aclose(time.monotonic() + 10)
