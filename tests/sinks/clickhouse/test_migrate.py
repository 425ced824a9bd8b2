"""Migrations against real chDB: the columns and types, idempotence, tampering, TTL/fsync."""

from __future__ import annotations

import time

import pytest
from clickhouse_connect.driver.client import Client
from tracesieve.collector.errors import PermanentError
from tracesieve.sinks.clickhouse._sql import first_keyword
from tracesieve.sinks.clickhouse.config import ClickHouseSinkConfig
from tracesieve.sinks.clickhouse.migrate import Migration, applied_migrations, load_migrations, migrate
from tracesieve.sinks.clickhouse.rows import COLUMNS
from tracesieve.sinks.clickhouse.sink import ClickHouseSink

MAP = "Map(LowCardinality(String), String)"
LC = "LowCardinality(String)"

# The storage contract (DESIGN.md, conventions.md §7a): written out here, not derived from code.
EXPECTED_SPANS_COLUMNS = {
    "Timestamp": "DateTime64(9)",
    "TraceId": "String",
    "SpanId": "String",
    "ParentSpanId": "String",
    "TraceState": "String",
    "SpanName": LC,
    "SpanKind": LC,
    "ServiceName": LC,
    "ResourceAttributes": MAP,
    "ScopeName": "String",
    "ScopeVersion": "String",
    "SpanAttributes": MAP,
    "Duration": "UInt64",
    "StatusCode": LC,
    "StatusMessage": "String",
    "Events.Timestamp": "Array(DateTime64(9))",
    "Events.Name": f"Array({LC})",
    "Events.Attributes": f"Array({MAP})",
    "Links.TraceId": "Array(String)",
    "Links.SpanId": "Array(String)",
    "Links.TraceState": "Array(String)",
    "Links.Attributes": f"Array({MAP})",
    "SessionId": "String",
    "UserId": "String",
    "TurnIndex": "Int32",
    "Kind": LC,
    "Operation": LC,
    "Provider": LC,
    "RequestModel": LC,
    "ResponseModel": LC,
    "ResponseId": "String",
    "SystemInstructions": "String",
    "InputMessages": "String",
    "OutputMessages": "String",
    "OutputText": "String",
    "Refusal": "String",
    "FinishReasons": f"Array({LC})",
    "InputTokens": "UInt32",
    "OutputTokens": "UInt32",
    "ErrorType": LC,
    "RetrievalQuery": "String",
    "RetrievedDocuments": "String",
    "ToolCalls": "String",
    "Convention": LC,
    "IngestTime": "DateTime64(3)",
}


def columns(client: Client, database: str, table: str) -> dict[str, str]:
    rows = client.query(
        "SELECT name, type FROM system.columns WHERE database = {d:String} AND table = {t:String} "
        "ORDER BY position",
        parameters={"d": database, "t": table},
    ).result_rows
    return {name: type_ for name, type_ in rows}


def table_info(client: Client, database: str, table: str) -> dict[str, str]:
    rows = client.query(
        "SELECT engine, sorting_key, partition_key, engine_full FROM system.tables "
        "WHERE database = {d:String} AND name = {t:String}",
        parameters={"d": database, "t": table},
    ).result_rows
    assert rows, f"{database}.{table} missing"
    engine, sorting_key, partition_key, engine_full = rows[0]
    return {"engine": engine, "sorting_key": sorting_key, "partition_key": partition_key, "full": engine_full}


ALL = [
    "0001_spans.sql",
    "0002_signals.sql",
    "0003_review_batches.sql",
    "0004_labels.sql",
    "0005_eval_cases.sql",
    "0006_judge_verdicts.sql",
]

# DESIGN.md's storage contract for the findings tables (more columns are welcome).
EXPECTED_SIGNALS_COLUMNS = {
    "Timestamp": "DateTime64(9)", "SessionId": "String", "TraceId": "String", "SpanId": "String",
    "ServiceName": LC, "Signal": LC, "Category": LC, "Score": "Float32", "Evidence": "String",
    "DetectedAt": "DateTime64(3)",
}  # fmt: skip
EXPECTED_FLAGGED_COLUMNS = {
    "Timestamp": "DateTime64(9)", "SessionId": "String", "TraceId": "String", "SpanId": "String",
    "ServiceName": LC, "UserId": "String", "TurnIndex": "Int32", "FlagScore": "Float32",
    "Signals": f"Array({LC})", "Categories": f"Array({LC})", "Evidence": "String", "Model": LC,
    "UserMessage": "String", "OutputText": "String", "InputMessages": "String",
    "RetrievedDocuments": "String", "SessionContext": "String", "UpdatedAt": "DateTime64(3)",
}  # fmt: skip


def test_findings_tables_have_the_contract_columns(client: Client, database_name: str) -> None:
    migrate(client, database_name)
    assert columns(client, database_name, "signals") == EXPECTED_SIGNALS_COLUMNS
    assert columns(client, database_name, "flagged_spans") == EXPECTED_FLAGGED_COLUMNS
    signals = table_info(client, database_name, "signals")
    assert signals["sorting_key"] == "Signal, SessionId, TraceId, SpanId"
    assert "ReplacingMergeTree(DetectedAt)" in signals["full"]
    flagged = table_info(client, database_name, "flagged_spans")
    assert flagged["sorting_key"] == "SessionId, TraceId, SpanId"
    assert "ReplacingMergeTree(UpdatedAt)" in flagged["full"]
    feedback = table_info(client, database_name, "feedback")
    assert feedback["sorting_key"] == "FeedbackId"


def test_spans_has_every_contract_column_with_its_type(client: Client, database_name: str) -> None:
    assert migrate(client, database_name) == ALL
    assert columns(client, database_name, "spans") == EXPECTED_SPANS_COLUMNS
    # The sink writes exactly these columns, with these types.
    assert dict(COLUMNS) == EXPECTED_SPANS_COLUMNS


def test_engine_keys_and_indexes(client: Client, database_name: str) -> None:
    migrate(client, database_name)
    spans = table_info(client, database_name, "spans")
    assert spans["engine"] == "ReplacingMergeTree"
    assert spans["sorting_key"] == "ServiceName, SessionId, TraceId, SpanId"
    assert spans["partition_key"] == "toDate(Timestamp)"
    assert "ReplacingMergeTree(IngestTime)" in spans["full"]
    rows = client.query(
        "SELECT name, type FROM system.data_skipping_indices WHERE database = {d:String} AND table = 'spans'",
        parameters={"d": database_name},
    ).result_rows
    indexes = {str(name): str(type_) for name, type_ in rows}
    assert indexes == {
        "idx_trace_id": "bloom_filter",
        "idx_session_id": "bloom_filter",
        "idx_user_id": "bloom_filter",
        "idx_res_attr_key": "bloom_filter",
        "idx_res_attr_value": "bloom_filter",
        "idx_span_attr_key": "bloom_filter",
        "idx_span_attr_value": "bloom_filter",
        "idx_duration": "minmax",
        "idx_ingest_time": "minmax",
    }


def test_running_twice_applies_nothing(client: Client, database_name: str) -> None:
    assert migrate(client, database_name) == ALL
    assert migrate(client, database_name) == []
    recorded = applied_migrations(client, database_name)
    assert recorded == {m.version: (m.name, m.checksum) for m in load_migrations()}
    rows = client.query(f"SELECT version, name, checksum, applied_at FROM {database_name}.schema_migrations")
    assert len(rows.result_rows) == len(ALL)


def test_a_new_migration_is_applied_after_the_others(client: Client, database_name: str) -> None:
    migrate(client, database_name)
    extra = Migration(
        len(ALL) + 1, "0099_extra.sql", "ALTER TABLE {database}.spans ADD COLUMN IF NOT EXISTS Foo String;"
    )
    assert migrate(client, database_name, [*load_migrations(), extra]) == ["0099_extra.sql"]
    assert columns(client, database_name, "spans")["Foo"] == "String"
    assert sorted(applied_migrations(client, database_name)) == list(range(1, len(ALL) + 2))


def test_a_changed_migration_is_refused_naming_the_file(client: Client, database_name: str) -> None:
    migrate(client, database_name)
    original = load_migrations()[0]
    tampered = Migration(original.version, original.name, original.sql + "\n-- edited after release\n")
    with pytest.raises(PermanentError, match=r"migration 0001_spans\.sql was changed"):
        migrate(client, database_name, [tampered])


def test_migrations_are_numbered_and_use_the_placeholder() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    for m in migrations:
        statements = m.statements("db_x", cluster="main")
        assert all("{database}" not in s and "{on_cluster}" not in s for s in statements)
        creates = [s for s in statements if first_keyword(s) == "CREATE"]
        assert creates and all("ON CLUSTER main" in s for s in creates)


def test_bad_identifiers_are_refused(client: Client) -> None:
    with pytest.raises(PermanentError, match="not a plain identifier"):
        migrate(client, "x; DROP DATABASE system")


async def test_ttl_and_fsync_follow_the_config(
    client: Client, config: ClickHouseSinkConfig, database_name: str
) -> None:
    with_options = config.model_copy(update={"ttl_days": 7, "fsync": True})
    sink = ClickHouseSink(with_options)
    await sink.start()
    await sink.aclose(time.monotonic() + 10)
    spans = table_info(client, database_name, "spans")["full"]
    assert "TTL toDateTime(Timestamp) + toIntervalDay(7)" in spans
    assert "fsync_after_insert = 1" in spans and "fsync_part_directory = 1" in spans

    sink = ClickHouseSink(config)  # ttl_days 0, fsync off: both removed again
    await sink.start()
    await sink.aclose(time.monotonic() + 10)
    spans = table_info(client, database_name, "spans")["full"]
    assert " TTL " not in spans and "fsync_after_insert" not in spans
