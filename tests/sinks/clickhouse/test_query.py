"""Queries: read-only enforcement by ClickHouse itself (readonly=1), results, and open_store."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from tracesieve.collector.contracts import CanonicalSpan
from tracesieve.collector.errors import PermanentError
from tracesieve.sinks.clickhouse import open_store, query_store
from tracesieve.sinks.clickhouse._sql import split_statements
from tracesieve.sinks.clickhouse.config import ClickHouseSinkConfig
from tracesieve.sinks.clickhouse.sink import ClickHouseSink
from tracesieve.sinks.clickhouse.store import check_readonly, connect, run_query

SpanFactory = Callable[..., CanonicalSpan]

# Refused by ClickHouse itself: the reader connection runs with readonly=1 (code 164).
REFUSED_BY_ENGINE = [
    "INSERT INTO spans (TraceId, SpanId) VALUES ('x', 'y')",
    "INSERT INTO spans (TraceId) SETTINGS readonly = 0 VALUES ('x')",
    "SELECT count() FROM spans SETTINGS readonly = 0",
    "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "SELECT * FROM url('http://127.0.0.1:1/', 'CSV', 'a Int32')",
]
# Refused by the statement check, because readonly=1 on chDB lets them through (measured:
# INTO OUTFILE writes a local file, SYSTEM STOP MERGES stops merges, USE rebinds the session).
REFUSED_BY_CHECK = [
    "DROP TABLE spans",
    "TRUNCATE TABLE spans",
    "ALTER TABLE spans DELETE WHERE 1",
    "CREATE TABLE evil (a Int32) ENGINE = Memory",
    "INSERT INTO FUNCTION file('evil.csv', 'CSV', 'a Int32') SELECT 1",
    "SET readonly = 0",
    "SYSTEM STOP MERGES",
    "KILL QUERY WHERE 1",
    "USE system",
    "OPTIMIZE TABLE spans FINAL",
    "SELECT 1 INTO OUTFILE 'evil.csv'",
    "/* hidden */ (SELECT 1) into   outfile 'evil.csv'",
]


async def assert_untouched(sink: ClickHouseSink) -> None:
    _, rows = await sink.query("SELECT count() FROM spans")
    assert rows == [(1,)]


@pytest.mark.parametrize("sql", REFUSED_BY_ENGINE + REFUSED_BY_CHECK)
async def test_readonly_query_refuses_writes(
    sink: ClickHouseSink, make_span: SpanFactory, sql: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    await sink.consume([make_span()])
    with pytest.raises(PermanentError, match=r"READONLY|read-only query"):
        await sink.query(sql)
    await assert_untouched(sink)
    assert not (tmp_path / "evil.csv").exists()


@pytest.mark.parametrize("sql", REFUSED_BY_ENGINE)
async def test_the_engine_layer_alone_refuses_writes(
    sink: ClickHouseSink, make_span: SpanFactory, sql: str
) -> None:
    await sink.consume([make_span()])
    client = connect(sink.config.dsn, database=sink.config.database, readonly=True)
    try:
        with pytest.raises(PermanentError, match="READONLY"):
            run_query(client, sql, readonly=False)  # statement check off: readonly=1 alone
    finally:
        client.close()
    await assert_untouched(sink)


@pytest.mark.parametrize("sql", REFUSED_BY_CHECK)
def test_the_statement_check_alone_refuses(sql: str) -> None:
    with pytest.raises(PermanentError, match="read-only query"):
        check_readonly(split_statements(sql)[0])


async def test_a_string_mentioning_outfile_is_fine(sink: ClickHouseSink) -> None:
    _, rows = await sink.query("SELECT 'INTO OUTFILE' AS s")
    assert rows == [("INTO OUTFILE",)]


async def test_read_queries_and_parameters(sink: ClickHouseSink, make_span: SpanFactory) -> None:
    await sink.consume([make_span(session_id="s-1"), make_span(session_id="s-2")])
    names, rows = await sink.query(
        "SELECT SessionId, InputTokens FROM spans WHERE SessionId = {sid:String}", {"sid": "s-2"}
    )
    assert names == ["SessionId", "InputTokens"] and rows == [("s-2", 12)]
    names, rows = await sink.query("WITH 2 AS n SELECT n * 21 AS answer;")  # one trailing ; is fine
    assert (names, rows) == (["answer"], [(42,)])
    names, rows = await sink.query("SHOW TABLES")
    assert {"spans", "schema_migrations"} <= {r[0] for r in rows}
    names, _ = await sink.query("DESCRIBE TABLE spans")
    assert names[:2] == ["name", "type"]


async def test_an_empty_result_still_names_its_columns(sink: ClickHouseSink) -> None:
    names, rows = await sink.query("SELECT TraceId, Duration AS d FROM spans WHERE 0")
    assert (names, rows) == (["TraceId", "d"], [])


async def test_several_statements_are_refused(sink: ClickHouseSink) -> None:
    with pytest.raises(PermanentError, match="exactly one SQL statement, got 2"):
        await sink.query("SELECT 1; DROP TABLE spans")
    _, rows = await sink.query("SELECT ';' AS semicolon -- ; not a separator")
    assert rows == [(";",)]


async def test_sql_errors_are_permanent(sink: ClickHouseSink) -> None:
    with pytest.raises(PermanentError, match="SYNTAX_ERROR"):
        await sink.query("SELECT (1,")
    with pytest.raises(PermanentError, match="UNKNOWN_TABLE"):
        await sink.query("SELECT * FROM no_such_table")


async def test_writable_query_when_asked(sink: ClickHouseSink) -> None:
    await sink.query(
        "CREATE TABLE IF NOT EXISTS notes (a String) ENGINE = MergeTree ORDER BY a", readonly=False
    )
    await sink.query("INSERT INTO notes VALUES ('x')", readonly=False)
    assert (await sink.query("SELECT a FROM notes"))[1] == [("x",)]


async def test_open_store_reads_alongside_a_running_sink(
    sink: ClickHouseSink, make_span: SpanFactory
) -> None:
    await sink.consume([make_span(), make_span()])
    with open_store(sink.config.dsn, sink.config.database) as store:
        assert store.query("SELECT count() FROM spans") == (["count()"], [(2,)])
        with pytest.raises(PermanentError, match="read-only query"):
            store.query("DROP TABLE spans")
        with pytest.raises(PermanentError, match="READONLY"):
            store.query("SELECT count() FROM spans SETTINGS readonly = 0")
    with pytest.raises(PermanentError, match="closed"):
        store.query("SELECT 1")
    assert await query_store(sink.config, "SELECT count() FROM spans") == (["count()"], [(2,)])


def test_open_store_on_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="no tracesieve store"):
        open_store(f"chdb://{tmp_path}/nothing-here")


async def test_open_store_on_a_missing_database(chdb_dsn: str, database_name: str) -> None:
    with pytest.raises(PermanentError, match="UNKNOWN_DATABASE"):
        await query_store(ClickHouseSinkConfig(dsn=chdb_dsn, database=database_name), "SELECT 1")


async def test_open_store_while_another_process_holds_the_folder(
    sink: ClickHouseSink, tmp_path: Path
) -> None:
    # This test process holds the session's chDB folder (the running sink); another process
    # cannot open it and is told why.
    script = (
        "from tracesieve.collector.errors import RetryableError\n"
        "from tracesieve.sinks.clickhouse import open_store\n"
        "try:\n"
        f"    open_store({sink.config.dsn!r})\n"
        "except RetryableError as exc:\n"
        "    print('retryable:', exc.reason)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert "retryable: cannot open chDB store" in out.stdout and "another process" in out.stdout, out
