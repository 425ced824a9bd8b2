"""The JSONCompactEachRow body: its encoding, the range checks, and what ClickHouse stores from it."""

from __future__ import annotations

import asyncio
import http.server
import random
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import clickhouse_connect
import orjson
import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.httpclient import HttpClient
from tracesieve.collector.contracts import CanonicalSpan
from tracesieve.collector.errors import PermanentError
from tracesieve.sinks.clickhouse.config import ClickHouseSinkConfig
from tracesieve.sinks.clickhouse.errors import classify
from tracesieve.sinks.clickhouse.rows import (
    COLUMN_NAMES,
    INSERT_FORMAT,
    SPAN_INSERT_SETTINGS,
    build_rows,
)
from tracesieve.sinks.clickhouse.sink import ClickHouseSink

SpanFactory = Callable[..., CanonicalSpan]
JSON_COLUMNS = {
    "InputMessages": "input_messages",
    "OutputMessages": "output_messages",
    "RetrievedDocuments": "retrieved_documents",
    "ToolCalls": "tool_calls",
}


def decode(body: memoryview) -> list[list[Any]]:
    """The rows of a body: comma-separated JSON arrays."""
    rows: list[list[Any]] = orjson.loads(b"[" + bytes(body) + b"]")
    return rows


def test_one_row_per_span_in_column_order(make_span: SpanFactory) -> None:
    spans = [
        make_span(start_ns=1_760_000_000_123_456_789, end_ns=1_760_000_000_123_456_790),
        make_span(start_ns=5, end_ns=3, events=[(7, "e", {"k": "v"})]),  # the checked path
        make_span(start_ns=12_345 * 10**9 + 1, end_ns=0),
    ]
    rows = decode(build_rows(spans, ingest_time_ms=1_760_000_000_042))
    assert [len(row) for row in rows] == [len(COLUMN_NAMES)] * 3
    named = [dict(zip(COLUMN_NAMES, row, strict=True)) for row in rows]
    assert [r["Timestamp"] for r in named] == [
        "1760000000.123456789",
        "0000000000.000000005",
        "0000012345.000000001",
    ]
    assert [r["Duration"] for r in named] == [1, 0, 0]  # end before start: 0, as otel_traces
    assert named[1]["Events.Timestamp"] == ["0000000000.000000007"]
    assert named[1]["Events.Attributes"] == [{"k": "v"}]
    assert named[0]["Events.Name"] == [] and named[0]["Links.Attributes"] == []
    assert {r["IngestTime"] for r in named} == {"1760000000.042"}
    for column, field in JSON_COLUMNS.items():  # embedded as JSON, stored as their text
        assert [r[column] for r in named] == [getattr(s, field) for s in spans]
    assert build_rows([], 0).tobytes() == b""


@pytest.mark.parametrize(
    ("overrides", "column"),
    [
        ({"input_tokens": 2**32}, "InputTokens"),  # ClickHouse would store 0
        ({"input_tokens": -1}, "InputTokens"),
        ({"input_tokens": "many"}, "InputTokens"),
        ({"output_tokens": 2**32}, "OutputTokens"),
        ({"turn_index": 2**31}, "TurnIndex"),  # ClickHouse would store -2**31
        ({"turn_index": -(2**31) - 1}, "TurnIndex"),
        ({"turn_index": None}, "TurnIndex"),
        ({"start_ns": -1, "end_ns": 0}, "Timestamp"),
        ({"start_ns": 2**63, "end_ns": 2**63}, "Timestamp"),
        ({"start_ns": 1.5e18, "end_ns": 2 * 10**18}, "Timestamp"),
        ({"events": [(-5, "e", {})]}, "Events.Timestamp"),
        ({"events": [(2**63, "e", {})]}, "Events.Timestamp"),
        ({"start_ns": 0, "end_ns": 2**64}, "Duration"),
        ({"end_ns": "later"}, "Duration"),
        ({"attributes": {"k": "\ud800"}}, "SpanAttributes"),  # not encodable as UTF-8
        ({"resource_attributes": {1: "x"}}, "ResourceAttributes"),  # a key that is not a str
        ({"tool_calls": [{"arguments": object()}]}, "ToolCalls"),
        ({"input_messages": [{"content": "\udfff"}]}, "InputMessages"),
    ],
)
def test_values_the_columns_cannot_hold_raise_naming_span_and_column(
    make_span: SpanFactory, overrides: dict[str, Any], column: str
) -> None:
    bad = make_span(**overrides)
    with pytest.raises(ValueError, match=rf"span '{bad.trace_id}':'{bad.span_id}': {column}: ") as info:
        build_rows([make_span(), bad, make_span()], 0)
    assert isinstance(classify(info.value), PermanentError)


def test_integer_bounds_are_accepted(make_span: SpanFactory) -> None:
    edges = make_span(input_tokens=2**32 - 1, output_tokens=0, turn_index=-(2**31))
    other = make_span(turn_index=2**31 - 1, start_ns=0, end_ns=2**64 - 1)
    rows = decode(build_rows([edges, other], 0))
    named = [dict(zip(COLUMN_NAMES, row, strict=True)) for row in rows]
    assert (named[0]["InputTokens"], named[0]["OutputTokens"], named[0]["TurnIndex"]) == (
        2**32 - 1,
        0,
        -(2**31),
    )
    assert (named[1]["TurnIndex"], named[1]["Duration"]) == (2**31 - 1, 2**64 - 1)


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    atoms: list[Callable[[], Any]] = [
        lambda: "".join(rng.choice('ab"\\/\n\t\r\x00\x1f\u2028é😀[]{},: ') for _ in range(rng.randrange(12))),
        lambda: rng.randrange(-(2**63), 2**64),
        lambda: rng.uniform(-1e300, 1e300),
        lambda: rng.choice([None, True, False, 0.1, -0.0, 1e-7]),
    ]
    if depth < 4 and rng.random() < 0.5:
        if rng.random() < 0.5:
            return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
        return {atoms[0](): _random_json(rng, depth + 1) for _ in range(rng.randrange(4))}
    return rng.choice(atoms)()


async def test_json_columns_store_exactly_the_orjson_text(
    sink: ClickHouseSink, make_span: SpanFactory
) -> None:
    rng = random.Random(20251009)
    spans = [
        make_span(
            **{field: [_random_json(rng) for _ in range(rng.randrange(4))] for field in JSON_COLUMNS.values()}
        )
        for _ in range(300)
    ]
    before_ms = int(time.time() * 1000)
    await sink.consume(spans)
    after_ms = int(time.time() * 1000)
    _, rows = await sink.query(
        f"SELECT SpanId, toUnixTimestamp64Milli(IngestTime), {', '.join(JSON_COLUMNS)} FROM spans"
    )
    stored = {row[0]: row[2:] for row in rows}
    assert len(stored) == len(spans)
    for span in spans:
        expected = tuple(orjson.dumps(getattr(span, field)).decode() for field in JSON_COLUMNS.values())
        assert stored[span.span_id] == expected
    assert len({row[1] for row in rows}) == 1  # one INSERT, one ingest time, to the ms
    assert before_ms <= rows[0][1] <= after_ms


async def test_a_value_clickhouse_cannot_parse_fails_only_its_callers(
    config: ClickHouseSinkConfig, make_span: SpanFactory
) -> None:
    # Passes the Python-side checks, refused by ClickHouse's parser (130 CANNOT_READ_ARRAY_FROM_TEXT).
    sink = ClickHouseSink(
        config.model_copy(update={"batch": config.batch.model_copy(update={"flush_interval_s": 0.3})})
    )
    await sink.start()
    try:
        good = [[make_span() for _ in range(20)] for _ in range(3)]
        bad = [make_span(), make_span(finish_reasons="stop")]  # a str where an Array belongs
        results = await asyncio.gather(
            sink.consume(good[0]), sink.consume(bad), sink.consume(good[1]), sink.consume(good[2]),
            return_exceptions=True,
        )  # fmt: skip
        assert [r is None for r in results] == [True, False, True, True]
        assert isinstance(results[1], PermanentError)
        assert "FinishReasons" in results[1].reason
        _, rows = await sink.query("SELECT count() FROM spans")
        assert rows == [(60,)]
        assert sink.stats.rows_written == 60
    finally:
        await sink.aclose(time.monotonic() + 10)


@pytest.mark.parametrize("mode", ["basic", "best_effort"])  # a server's default, chDB's default
def test_timestamps_are_read_to_the_nanosecond(client: Client, database_name: str, mode: str) -> None:
    rng = random.Random(7)
    values = [0, 1, 5, 10**9 - 1, 10**9, 1_234 * 10**9 + 7, 10**18 - 1, 10**18, 2**63 - 1]
    values += [rng.randrange(min(10**digits, 2**63)) for digits in range(1, 20) for _ in range(20)]
    spans = [
        CanonicalSpan(trace_id="t", span_id=str(i), parent_span_id="", name="", start_ns=ns, end_ns=ns)
        for i, ns in enumerate(values)
    ]
    client.command(f"CREATE DATABASE {database_name}")
    client.command(f"CREATE TABLE {database_name}.t (SpanId String, Timestamp DateTime64(9)) ENGINE = Memory")
    rows = decode(build_rows(spans, 0))
    body = b"\n".join(orjson.dumps([row[2], row[0]]) for row in rows)  # SpanId, Timestamp
    client.raw_insert(
        f"{database_name}.t",
        column_names=["SpanId", "Timestamp"],
        insert_block=body,
        fmt=INSERT_FORMAT,
        settings={"date_time_input_format": mode},
    )
    stored = client.query(
        f"SELECT SpanId, toUnixTimestamp64Nano(Timestamp) FROM {database_name}.t"
    ).result_rows
    assert sorted((int(i), ns) for i, ns in stored) == list(enumerate(values))
    client.command(f"DROP DATABASE {database_name}")


def test_a_server_dsn_gets_the_same_insert_over_http(
    make_span: SpanFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No ClickHouse server here (test_server.py runs against one when given): a stand-in
    # records what the sink's INSERT sends over HTTP, the body being a memoryview.
    received: list[tuple[str, bytes]] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append((self.path, self.rfile.read(length)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # Skip the client's start-up queries (server version and settings), which need a server.
    monkeypatch.setattr(HttpClient, "_init_common_settings", lambda self, tz_source: None)
    dsn = f"http://default:@127.0.0.1:{server.server_port}"
    client = clickhouse_connect.get_client(dsn=dsn)
    try:
        spans = [make_span(), make_span(events=[(5, "e", {"k": "v"})])]
        sink = ClickHouseSink(ClickHouseSinkConfig(dsn=dsn, database="ts"))
        sink._insert_sync(client, spans, 1_760_000_000_042)
    finally:
        client.close()
        server.shutdown()
        server.server_close()
    [(path, body)] = received
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    columns = ", ".join(f"`{name}`" for name in COLUMN_NAMES)
    assert params["query"] == [f"INSERT INTO ts.spans ({columns}) FORMAT JSONCompactEachRow"]
    assert {k: v[0] for k, v in params.items() if k in SPAN_INSERT_SETTINGS} == {
        k: str(v) for k, v in SPAN_INSERT_SETTINGS.items()
    }
    assert params["optimize_on_insert"] == ["0"]
    assert body == build_rows(spans, 1_760_000_000_042).tobytes()


@pytest.mark.parametrize(
    ("overrides", "column"),
    [
        ({"trace_state": None}, "TraceState"),  # input_format_null_as_default=0
        ({"service_name": 5}, "ServiceName"),  # input_format_json_read_numbers_as_strings=0
        ({"attributes": {"k": None}}, "SpanAttributes"),
        ({"resource_attributes": "service.name=x"}, "ResourceAttributes"),
        ({"links": [("t", "s", "", "not a map")]}, "Links.Attributes"),
    ],
)
async def test_values_clickhouse_refuses_are_permanent(
    sink: ClickHouseSink, make_span: SpanFactory, overrides: dict[str, Any], column: str
) -> None:
    with pytest.raises(PermanentError) as info:
        await sink.consume([make_span(), make_span(**overrides)])
    assert column in info.value.reason or "expected '{'" in info.value.reason
    _, rows = await sink.query("SELECT count() FROM spans")
    assert rows == [(0,)]
