"""TTL per table on real chDB: what the config asks is what SHOW CREATE TABLE shows, and follows changes."""

from __future__ import annotations

import time

import pydantic
import pytest
from clickhouse_connect.driver.client import Client
from tracesieve.sinks.clickhouse.config import EXPIRING_TABLES, ClickHouseSinkConfig
from tracesieve.sinks.clickhouse.sink import ClickHouseSink

ALL_TABLES = (*EXPIRING_TABLES, "eval_cases", "labels", "judge_verdicts")


def show_create(client: Client, database: str, table: str) -> str:
    return str(client.command(f"SHOW CREATE TABLE {database}.{table}"))


def ttl_of(client: Client, database: str, table: str) -> str | None:
    """The TTL clause SHOW CREATE TABLE prints, e.g. ``toDateTime(Timestamp) + toIntervalDay(7)``."""
    ddl = show_create(client, database, table).replace("\\n", "\n")
    for line in ddl.splitlines():
        if line.startswith("TTL "):
            return line[4:].strip()
    return None


async def start_and_stop(config: ClickHouseSinkConfig) -> None:
    sink = ClickHouseSink(config)
    await sink.start()
    await sink.aclose(time.monotonic() + 10)


async def test_default_config_sets_no_ttl_anywhere(
    client: Client, config: ClickHouseSinkConfig, database_name: str
) -> None:
    await start_and_stop(config)
    assert {table: ttl_of(client, database_name, table) for table in ALL_TABLES} == dict.fromkeys(ALL_TABLES)


async def test_ttl_days_expires_the_traffic_tables_and_table_ttl_days_overrides_it(
    client: Client, config: ClickHouseSinkConfig, database_name: str
) -> None:
    tables = {"flagged_spans": 90, "feedback": 0, "review_batches": 365}
    await start_and_stop(
        ClickHouseSinkConfig.model_validate({**config.model_dump(), "ttl_days": 30, "table_ttl_days": tables})
    )
    assert {table: ttl_of(client, database_name, table) for table in ALL_TABLES} == {
        "spans": "toDateTime(Timestamp) + toIntervalDay(30)",
        "signals": "toDateTime(Timestamp) + toIntervalDay(30)",
        "flagged_spans": "toDateTime(Timestamp) + toIntervalDay(90)",
        "feedback": None,
        "review_batches": "toDateTime(CreatedAt) + toIntervalDay(365)",
        "eval_cases": None,
        "labels": None,
        "judge_verdicts": None,
    }


async def test_changing_the_config_changes_the_ttl_on_the_next_start(
    client: Client, config: ClickHouseSinkConfig, database_name: str
) -> None:
    def with_ttl(**tables: int) -> ClickHouseSinkConfig:
        return ClickHouseSinkConfig.model_validate({**config.model_dump(), "table_ttl_days": tables})

    await start_and_stop(with_ttl(spans=7, signals=14))
    assert ttl_of(client, database_name, "spans") == "toDateTime(Timestamp) + toIntervalDay(7)"
    assert ttl_of(client, database_name, "signals") == "toDateTime(Timestamp) + toIntervalDay(14)"

    await start_and_stop(with_ttl(spans=3))  # signals falls back to ttl_days 0: TTL removed
    assert ttl_of(client, database_name, "spans") == "toDateTime(Timestamp) + toIntervalDay(3)"
    assert ttl_of(client, database_name, "signals") is None

    await start_and_stop(config)
    assert ttl_of(client, database_name, "spans") is None


async def test_expired_rows_are_dropped_from_a_table_with_a_ttl(
    client: Client, config: ClickHouseSinkConfig, database_name: str
) -> None:
    await start_and_stop(
        ClickHouseSinkConfig.model_validate({**config.model_dump(), "table_ttl_days": {"feedback": 1}})
    )
    client.command(
        f"INSERT INTO {database_name}.feedback (Timestamp, FeedbackId, Source, Comment) VALUES "
        "(now64(9) - INTERVAL 3 DAY, 'old', 'api', 'expired'), (now64(9), 'new', 'api', 'kept')"
    )
    client.command(f"OPTIMIZE TABLE {database_name}.feedback FINAL")
    rows = client.query(f"SELECT FeedbackId FROM {database_name}.feedback ORDER BY FeedbackId").result_rows
    assert [r[0] for r in rows] == ["new"]


@pytest.mark.parametrize("table", ["eval_cases", "labels", "judge_verdicts"])
def test_the_evaluation_record_cannot_be_given_a_ttl(table: str) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        ClickHouseSinkConfig.model_validate({"table_ttl_days": {table: 30}})
    assert "append-only and never expires" in str(info.value)
    assert f"table_ttl_days.{table}" in str(info.value)


def test_ttl_days_by_table_resolves_the_fallback() -> None:
    cfg = ClickHouseSinkConfig.model_validate({"ttl_days": 10, "table_ttl_days": {"signals": 0, "spans": 5}})
    assert cfg.ttl_days_by_table() == {
        "spans": 5,
        "signals": 0,
        "flagged_spans": 10,
        "feedback": 10,
        "review_batches": 0,
    }
