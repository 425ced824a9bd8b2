"""ClickHouse sink: canonical spans into ``{database}.spans`` (embedded chDB or a server).

``factory`` is what the sink registry uses. The sink, its config and the read-only store
helpers are re-exported because the service and ``tracesieve query`` use them directly.
See README.md for the config keys, the schema and example queries.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import ClickHouseSinkConfig
from .sink import ClickHouseSink
from .store import ReadOnlyStore, open_store, query_store

__all__ = [
    "ClickHouseSink",
    "ClickHouseSinkConfig",
    "ReadOnlyStore",
    "SinkFactory",
    "factory",
    "open_store",
    "query_store",
]


@dataclass(frozen=True, slots=True)
class SinkFactory:
    """What the registry needs to build this sink from its YAML section."""

    type_name: str
    config_model: type[ClickHouseSinkConfig]

    def create(self, config: ClickHouseSinkConfig, component_id: str | None = None) -> ClickHouseSink:
        return ClickHouseSink(config, component_id=component_id or self.type_name)


factory = SinkFactory(type_name="clickhouse", config_model=ClickHouseSinkConfig)
