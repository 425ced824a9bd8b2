"""Migrations against real chDB: the columns and types, idempotence, tampering, TTL/fsync."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from tracesieve.collector.errors import PermanentError
from tracesieve.sinks.clickhouse._cluster import LAYOUT, alter_target, cluster_statements
from tracesieve.sinks.clickhouse._sql import first_keyword, split_statements
from tracesieve.sinks.clickhouse._tables import apply_table_options
from tracesieve.sinks.clickhouse.config import ClickHouseSinkConfig
from tracesieve.sinks.clickhouse.ddl import render_ddl
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


# -- cluster DDL (issue 5): the same migrations, rewritten for a ClickHouse cluster -------------

CLUSTER_SPANS = "/clickhouse/tables/{shard}/db_x/spans"


def cluster_ddl(migration_name: str) -> list[str]:
    (mig,) = [m for m in load_migrations() if m.name == migration_name]
    return mig.statements("db_x", cluster="main")


def test_sharded_tables_are_replicated_locals_behind_distributed_tables_of_the_same_name() -> None:
    local, distributed = cluster_ddl("0001_spans.sql")
    assert "CREATE TABLE IF NOT EXISTS db_x.spans_local ON CLUSTER main\n(" in local
    assert f"ENGINE = ReplicatedReplacingMergeTree('{CLUSTER_SPANS}', '{{replica}}', IngestTime)" in local
    # Everything but the name and the engine is the one-node statement's.
    (single,) = load_migrations()[0].statements("db_x")
    assert (
        local.split("ENGINE =")[0].replace("spans_local ON CLUSTER main", "spans ")
        == (single.split("ENGINE =")[0])
    )
    assert local.split("ENGINE =")[1].split("\n", 1)[1] == single.split("ENGINE =")[1].split("\n", 1)[1]
    assert distributed == (
        "CREATE TABLE IF NOT EXISTS db_x.spans ON CLUSTER main AS db_x.spans_local\n"
        "ENGINE = Distributed(main, db_x, spans_local, cityHash64(if(SessionId = '', TraceId, SessionId)))"
    )


def test_findings_shard_with_their_session_and_feedback_by_its_id() -> None:
    statements = cluster_ddl("0002_signals.sql")
    keys = {
        s.split(" ON CLUSTER")[0].rsplit(".", 1)[1]: s.split("_local, ", 1)[1]
        for s in statements
        if "Distributed(" in s
    }
    session = "cityHash64(if(SessionId = '', TraceId, SessionId)))"
    assert keys == {"signals": session, "flagged_spans": session, "feedback": "cityHash64(FeedbackId))"}
    engines = [s.split("ENGINE = ")[1].split("\n")[0] for s in statements if "_local ON CLUSTER" in s]
    path = "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db_x"
    assert engines == [
        f"{path}/signals', '{{replica}}', DetectedAt)",
        f"{path}/flagged_spans', '{{replica}}', UpdatedAt)",
        f"{path}/feedback', '{{replica}}', Version)",
    ]


@pytest.mark.parametrize(
    "name", ["0003_review_batches.sql", "0004_labels.sql", "0005_eval_cases.sql", "0006_judge_verdicts.sql"]
)
def test_review_tables_are_one_replica_group_on_every_node(name: str) -> None:
    (statement,) = cluster_ddl(name)
    table = name[5:-4]
    assert f"CREATE TABLE IF NOT EXISTS db_x.{table} ON CLUSTER main\n(" in statement
    assert (
        f"ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/db_x/{table}', '{{shard}}-{{replica}}')\n"
        in (statement)
    )
    assert "Distributed" not in statement and "_local" not in statement


@pytest.mark.parametrize(
    ("engine", "replicated"),
    [
        ("MergeTree", "ReplicatedMergeTree('P', '{replica}')"),
        ("MergeTree()", "ReplicatedMergeTree('P', '{replica}')"),
        ("ReplacingMergeTree(V)", "ReplicatedReplacingMergeTree('P', '{replica}', V)"),
        ("SummingMergeTree((a, b))", "ReplicatedSummingMergeTree('P', '{replica}', (a, b))"),
        ("CollapsingMergeTree ( Sign )", "ReplicatedCollapsingMergeTree('P', '{replica}', Sign)"),
    ],
)
def test_each_mergetree_engine_gets_its_replicated_variant(engine: str, replicated: str) -> None:
    sql = f"CREATE TABLE IF NOT EXISTS d.spans (a UInt8, b String DEFAULT ')') ENGINE = {engine} ORDER BY a"
    local, _ = cluster_statements(sql, "d", "c")
    assert local == (
        "CREATE TABLE IF NOT EXISTS d.spans_local ON CLUSTER c (a UInt8, b String DEFAULT ')')\n"
        f"ENGINE = {replicated.replace('P', '/clickhouse/tables/{shard}/d/spans')} ORDER BY a"
    )


def test_alters_go_to_the_tables_that_hold_the_rows() -> None:
    add = cluster_statements("ALTER TABLE d.spans ADD COLUMN IF NOT EXISTS Foo String", "d", "c")
    assert add == [
        "ALTER TABLE d.spans_local ON CLUSTER c ADD COLUMN IF NOT EXISTS Foo String",
        # and the Distributed table, which has its own column list
        "ALTER TABLE d.spans ON CLUSTER c ADD COLUMN IF NOT EXISTS Foo String",
    ]
    ttl = cluster_statements(
        "ALTER TABLE d.spans ON CLUSTER c MODIFY TTL toDateTime(Timestamp) + 1", "d", "c"
    )
    assert ttl == ["ALTER TABLE d.spans_local ON CLUSTER c MODIFY TTL toDateTime(Timestamp) + 1"]
    small = cluster_statements("ALTER TABLE d.labels ADD COLUMN IF NOT EXISTS Foo String", "d", "c")
    assert small == ["ALTER TABLE d.labels ON CLUSTER c ADD COLUMN IF NOT EXISTS Foo String"]
    assert alter_target("d", "spans", None) == "d.spans"
    assert alter_target("d", "spans", "c") == "d.spans_local ON CLUSTER c"
    assert alter_target("d", "eval_cases", "c") == "d.eval_cases ON CLUSTER c"


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        (
            "CREATE TABLE d.unknown (a UInt8) ENGINE = MergeTree ORDER BY a",
            "table unknown has no cluster layout",
        ),
        ("CREATE TABLE d.spans (a UInt8) ENGINE = Log", "no replicated variant of engine Log"),
        (
            "CREATE TABLE d.spans (a UInt8) ENGINE = ReplicatedMergeTree('/p', 'r') ORDER BY a",
            "engine Replicated",
        ),
        ("CREATE TABLE d.spans (a UInt8)", "names no ENGINE"),
        ("CREATE VIEW d.v AS SELECT 1", "CREATE/ALTER TABLE only"),
        ("INSERT INTO d.spans VALUES (1)", "CREATE/ALTER TABLE only"),
    ],
)
def test_statements_that_cannot_be_laid_out_are_refused(sql: str, reason: str) -> None:
    with pytest.raises(PermanentError, match=re.escape(reason)):
        cluster_statements(sql, "d", "c")
    bad = Migration(99, "0099_bad.sql", sql)
    with pytest.raises(PermanentError, match=r"migration 0099_bad\.sql: "):
        bad.statements("d", cluster="c")


def test_every_table_of_the_migrations_has_a_cluster_layout() -> None:
    created = {
        s.split(" ON CLUSTER")[0].rsplit(".", 1)[1]
        for m in load_migrations()
        for s in m.statements("db_x", cluster="main")
        if "CREATE TABLE" in s
    }
    assert {t.removesuffix("_local") for t in created} | {"schema_migrations"} == set(LAYOUT)


def test_migrate_on_a_cluster_records_its_migrations_on_every_node() -> None:
    ddl = render_ddl("db_x", "main")
    statements = split_statements(ddl)
    assert statements[0].startswith("-- Generated by `python -m tracesieve.sinks.clickhouse.ddl")
    assert statements[0].endswith("\n\nCREATE DATABASE IF NOT EXISTS db_x ON CLUSTER main")
    assert statements[1].startswith("CREATE TABLE IF NOT EXISTS db_x.schema_migrations ON CLUSTER main (")
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/all/db_x/schema_migrations', " in statements[1]
    ddl_statements = [s for s in statements if first_keyword(s) != "INSERT"]
    assert all("ON CLUSTER main" in s for s in ddl_statements)
    inserts = [s for s in statements if first_keyword(s) == "INSERT"]
    assert inserts == [
        f"INSERT INTO db_x.schema_migrations (version, name, checksum) VALUES ({m.version}, '{m.name}', "
        f"'{m.checksum}')"
        for m in load_migrations()
    ]


def test_the_single_node_ddl_names_no_cluster(client: Client, database_name: str) -> None:
    statements = split_statements(render_ddl(database_name, None))
    assert not any(w in s for s in statements for w in ("ON CLUSTER", "Replicated", "_local", "Distributed"))
    for statement in statements:  # and it is exactly what migrate() runs: run it, then migrate
        client.command(statement)
    assert migrate(client, database_name) == []


def test_the_cluster_field_needs_a_server_and_a_plain_name() -> None:
    cfg = ClickHouseSinkConfig(dsn="http://u:p@clickhouse:8123", cluster="tracesieve")
    assert cfg.cluster == "tracesieve"
    with pytest.raises(ValueError, match=r"`cluster` needs a ClickHouse server DSN"):
        ClickHouseSinkConfig(dsn="chdb:///tmp/x", cluster="tracesieve")
    with pytest.raises(ValueError, match="plain identifier"):
        ClickHouseSinkConfig(dsn="http://clickhouse:8123", cluster="a b")


class _RecordingCommands:
    """Reads go to real chDB; commands (ON CLUSTER, which chDB cannot run) are recorded."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.commands: list[str] = []

    def query(self, query: str, parameters: Any = None) -> Any:
        return self.client.query(query, parameters=parameters)

    def command(self, cmd: str, parameters: Any = None) -> None:
        self.commands.append(cmd)


def test_ttl_and_fsync_alter_the_local_tables_on_the_cluster(client: Client, database_name: str) -> None:
    client.command(f"CREATE DATABASE {database_name}")
    (spans,) = load_migrations()[0].statements(database_name)
    client.command(spans.replace(f"{database_name}.spans ", f"{database_name}.spans_local "))
    recorder = _RecordingCommands(client)
    alters = apply_table_options(recorder, database_name, 7, True, cluster="main")  # type: ignore[arg-type]
    target = f"ALTER TABLE {database_name}.spans_local ON CLUSTER main"
    assert (
        alters
        == recorder.commands
        == [
            f"{target} MODIFY TTL toDateTime(Timestamp) + toIntervalDay(7)",
            f"{target} MODIFY SETTING fsync_after_insert = 1, fsync_part_directory = 1",
        ]
    )
