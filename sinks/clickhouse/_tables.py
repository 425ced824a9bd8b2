"""Start-up work on the tables besides migrations: config-driven options and the key preload.

TTL and fsync come from the sink's config rather than from a migration, so that changing
them does not change a migration's checksum; they are applied with ALTER only when the
table's current definition differs (a TTL change rewrites TTL info on existing parts). On a
cluster they read and change the tables that hold the rows (``spans_local``), ON CLUSTER.
TTLs are per table (``ttl_days`` / ``table_ttl_days``); only the tables of
:data:`~.config.EXPIRING_TABLES` ever get one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from clickhouse_connect.driver.client import Client

from ._cluster import alter_target, storage_table
from ._dedupe import RecentKeys
from .config import EXPIRING_TABLES

__all__ = ["apply_table_options", "preload_keys"]

logger = logging.getLogger(__name__)

_TTL = re.compile(r"\bTTL toDateTime\((\w+)\) \+ toIntervalDay\((\d+)\)")
_FSYNC_SETTINGS = ("fsync_after_insert", "fsync_part_directory")


def apply_table_options(
    client: Client, database: str, ttl_days: int | Mapping[str, int], fsync: bool, cluster: str | None = None
) -> list[str]:
    """Make the tables' TTL and fsync settings match the config; returns the ALTERs run.

    ``ttl_days``: days per table (``ClickHouseSinkConfig.ttl_days_by_table()``; a table not
    named keeps no TTL), or one number for spans, signals, flagged_spans and feedback.
    """
    if isinstance(ttl_days, int):
        ttl_days = {table: ttl_days for table in EXPIRING_TABLES if table != "review_batches"}
    result = client.query(
        "SELECT name, engine_full FROM system.tables WHERE database = {db:String}",
        parameters={"db": database},
    )
    engines = {str(name): str(engine) for name, engine in result.result_rows}
    alters: list[str] = []
    for table, column in EXPIRING_TABLES.items():
        engine = engines.get(storage_table(table, cluster))
        if engine is None:
            continue
        days = ttl_days.get(table, 0)
        target = alter_target(database, table, cluster)
        m = _TTL.search(engine)
        current = int(m.group(2)) if m else 0
        if days and current != days:
            alters.append(f"ALTER TABLE {target} MODIFY TTL toDateTime({column}) + toIntervalDay({days})")
        elif not days and " TTL " in engine:
            alters.append(f"ALTER TABLE {target} REMOVE TTL")
    spans_engine = engines.get(storage_table("spans", cluster), "")
    spans = alter_target(database, "spans", cluster)
    has_fsync = "fsync_after_insert = 1" in spans_engine
    if fsync and not has_fsync:
        alters.append(f"ALTER TABLE {spans} MODIFY SETTING " + ", ".join(f"{s} = 1" for s in _FSYNC_SETTINGS))
    elif not fsync and has_fsync:
        alters.append(f"ALTER TABLE {spans} RESET SETTING " + ", ".join(_FSYNC_SETTINGS))
    for alter in alters:
        logger.info("%s", alter)
        client.command(alter)
    return alters


def preload_keys(client: Client, database: str, keys: RecentKeys, now: float) -> int:
    """Fill ``keys`` from spans ingested within the window (newest ``max_keys``); returns the count.

    The minmax index on IngestTime keeps this from reading parts written before the window.
    """
    if keys.max_keys == 0:
        return 0
    cutoff_ms = int((now - keys.window_s) * 1000)
    result = client.query(
        f"SELECT concat(TraceId, ':', SpanId) AS key, toUnixTimestamp64Milli(max(IngestTime)) AS at "
        f"FROM {database}.spans "
        "WHERE IngestTime >= fromUnixTimestamp64Milli({cutoff:Int64}) "
        "GROUP BY key ORDER BY at DESC LIMIT {limit:UInt64}",
        parameters={"cutoff": cutoff_ms, "limit": keys.max_keys},
    )
    rows = result.result_rows
    # Oldest first, one bucket per second of ingest time.
    bucket: list[str] = []
    bucket_s = -1
    for key, at_ms in reversed(rows):
        second = int(at_ms) // 1000
        if second != bucket_s and bucket:
            keys.add(bucket, bucket_s)
            bucket = []
        bucket_s = second
        bucket.append(str(key))
    if bucket:
        keys.add(bucket, bucket_s)
    return len(rows)
