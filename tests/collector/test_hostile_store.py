"""Hostile input through the whole service into chDB (issue 6, hostile input).

Absurd timestamps, ids of other lengths, 10,000 attributes and SQL-looking strings go in through
the real receivers (the SDK exporters where the input is valid OTLP, aiohttp and a raw gRPC
channel where it is not) and are read back from ClickHouse with bound parameters, both through
the sink's query and the admin API ``tracesieve query`` uses.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
import grpc
import grpc.aio
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from tracesieve.collector.query_client import run_query
from tracesieve.collector.service import Service
from tracesieve.sinks.clickhouse.sink import ClickHouseSink

TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
PROTOBUF = "application/x-protobuf"
TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")
TIME_MAX_NS = (1 << 63) - 1  # DateTime64(9)'s last instant, 2262-04-11
NOW_NS = 1_767_225_600_000_000_000  # 2026-01-01
# Strings that break SQL built by formatting: quotes, comment and statement ends, escapes, the
# `{name:Type}` parameter syntax, NUL bytes.
SQL_STRINGS = [
    "'); DROP TABLE spans; --",
    "\\'; SELECT 1; \\",
    'say "hi" `there` \\n',
    "{name:String} {{x}} {0}",
    "nul\x00byte",
]


def _span(n: int, **fields: Any) -> ProtoSpan:
    span = ProtoSpan(
        trace_id=TRACE_ID,
        span_id=n.to_bytes(8, "big"),
        name=f"span-{n}",
        start_time_unix_nano=NOW_NS,
        end_time_unix_nano=NOW_NS + 1000,
    )
    for name, value in fields.items():
        setattr(span, name, value)
    return span


def _request(*spans: ProtoSpan, service: str = "hostile") -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(key="service.name").value.string_value = service
    resource_spans.scope_spans.add().spans.extend(spans)
    return request


async def _export(service: Service, protocol: str, request: ExportTraceServiceRequest) -> tuple[str, Any]:
    """Send ``request`` raw; ``("OK" or "HTTP 200"…, response or error text)``."""
    if protocol == "http":
        async with (
            aiohttp.ClientSession() as client,
            client.post(
                f"http://127.0.0.1:{_http_port(service)}/v1/traces",
                data=request.SerializeToString(),
                headers={"Content-Type": PROTOBUF},
            ) as answer,
        ):
            body = await answer.read()
        if answer.status == 200:
            return "OK", ExportTraceServiceResponse.FromString(body)
        return f"HTTP {answer.status}", body
    async with grpc.aio.insecure_channel(f"127.0.0.1:{_grpc_port(service)}") as channel:
        try:
            raw = await channel.unary_unary(TRACE_EXPORT)(request.SerializeToString(), timeout=60)
        except grpc.aio.AioRpcError as exc:
            return exc.code().name, exc.details()
    return "OK", ExportTraceServiceResponse.FromString(raw)


async def _select(service: Service, sql: str, **params: Any) -> list[dict[str, Any]]:
    database = service.config.sinks.clickhouse.database
    columns, rows = await _sink(service).query(sql.replace("{db}", database), params or None)
    return [dict(zip(columns, row, strict=True)) for row in rows]


def _http_port(service: Service) -> int:
    assert service.http is not None
    return service.http.port


def _grpc_port(service: Service) -> int:
    assert service.grpc is not None
    return service.grpc.port


def _sink(service: Service) -> ClickHouseSink:
    assert service.sink is not None
    return service.sink


async def _start(service_factory: Any, name: str, database: str) -> Service:
    # Non-LLM spans are stored too, so that plain spans can carry the hostile values.
    service: Service = await service_factory(
        name, database, **{"processors.assembly.store_non_llm_spans": True}
    )
    return service


async def _stored(service: Service) -> None:
    assert await service.wait_stored(60)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
async def test_absurd_timestamps_are_stored_and_capped_at_the_columns_end(
    protocol: str, service_factory: Any, database_name: str
) -> None:
    service = await _start(service_factory, "times", database_name)
    u64_max = (1 << 64) - 1
    year_2500 = 16_725_225_600 * 10**9
    request = _request(
        _span(1, start_time_unix_nano=0, end_time_unix_nano=0),
        _span(2, start_time_unix_nano=u64_max, end_time_unix_nano=u64_max),
        _span(3, start_time_unix_nano=NOW_NS, end_time_unix_nano=NOW_NS - 5),  # ends before it starts
        _span(4, start_time_unix_nano=1 << 63, end_time_unix_nano=year_2500),
        _span(5, start_time_unix_nano=NOW_NS, end_time_unix_nano=u64_max),
    )
    request.resource_spans[0].scope_spans[0].spans[0].events.add(name="late", time_unix_nano=u64_max)
    status, response = await _export(service, protocol, request)
    assert status == "OK", response
    assert response.partial_success.rejected_spans == 0
    await _stored(service)
    rows = await _select(
        service,
        "SELECT SpanName, toUnixTimestamp64Nano(Timestamp) AS Start, Duration, "
        "arrayMap(t -> toUnixTimestamp64Nano(t), Events.Timestamp) AS EventTimes "
        "FROM {db}.spans ORDER BY SpanName",
    )
    assert [(r["SpanName"], r["Start"], r["Duration"], r["EventTimes"]) for r in rows] == [
        ("span-1", 0, 0, [TIME_MAX_NS]),
        ("span-2", TIME_MAX_NS, 0, []),
        ("span-3", NOW_NS, 0, []),
        ("span-4", TIME_MAX_NS, 0, []),
        ("span-5", NOW_NS, TIME_MAX_NS - NOW_NS, []),
    ]
    assert service.pipeline is not None
    assert service.pipeline.dropped_spans == 0


@pytest.mark.parametrize("protocol", ["http", "grpc"])
async def test_ids_of_other_lengths_are_rejected_counted_and_the_rest_stored(
    protocol: str, service_factory: Any, database_name: str
) -> None:
    service = await _start(service_factory, "ids", database_name)
    request = _request(
        _span(1),
        _span(2, trace_id=b""),
        _span(3, trace_id=TRACE_ID[:15]),
        _span(4, trace_id=TRACE_ID + b"\x01"),
        _span(5, trace_id=TRACE_ID * 2),
        _span(6, span_id=b"\x01" * 7),
        _span(7, span_id=b"\x01" * 9),
        _span(8, span_id=b""),
        _span(9, parent_span_id=b"\x02" * 16),
        _span(10, parent_span_id=(1).to_bytes(8, "big")),
    )
    status, response = await _export(service, protocol, request)
    assert status == "OK", response
    assert response.partial_success.rejected_spans == 8
    assert "invalid trace_id length 15" in response.partial_success.error_message
    assert "invalid span_id length 7" in response.partial_success.error_message
    await _stored(service)
    rows = await _select(service, "SELECT SpanName, ParentSpanId FROM {db}.spans ORDER BY SpanName")
    assert [(r["SpanName"], r["ParentSpanId"]) for r in rows] == [
        ("span-1", ""),
        ("span-10", "0000000000000001"),
    ]


async def test_json_ids_of_other_lengths_are_counted_and_non_hex_ones_refused(
    service_factory: Any, database_name: str
) -> None:
    service = await _start(service_factory, "json-ids", database_name)
    url = f"http://127.0.0.1:{_http_port(service)}/v1/traces"

    def body(trace_id: str, span_id: str) -> dict[str, Any]:
        span = {"traceId": trace_id, "spanId": span_id, "name": "j", "startTimeUnixNano": str(NOW_NS)}
        return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}

    async with aiohttp.ClientSession() as client:
        async with client.post(url, json=body("ab" * 15, "cd" * 8)) as answer:
            assert answer.status == 200
            assert (await answer.json())["partialSuccess"]["rejectedSpans"] == "1"
        for trace_id, span_id in (("abc", "cd" * 8), ("zz" * 16, "cd" * 8), ("ab" * 16, "c")):
            async with client.post(url, json=body(trace_id, span_id)) as answer:
                assert answer.status == 400, (trace_id, span_id)
                assert "is not a hex string" in (await answer.json())["message"]


@pytest.mark.parametrize("protocol", ["http", "grpc"])
async def test_ten_thousand_attributes_on_one_span_are_answered_and_the_service_stays_up(
    protocol: str, service_factory: Any, database_name: str
) -> None:
    service = await _start(service_factory, "attrs", database_name)
    crowded = _span(1)
    for i in range(10_000):
        crowded.attributes.add(key=f"attr.{i}").value.string_value = f"value {i}"
    status, response = await _export(service, protocol, _request(crowded))
    # Accepted (whole or trimmed by the attribute limits) or refused as a client error: never a
    # server error or a retryable answer that would make the client send it again forever.
    assert status in ("OK", "HTTP 400", "HTTP 413", "INVALID_ARGUMENT"), (status, response)
    status, response = await _export(service, protocol, _request(_span(2)))
    assert status == "OK", response
    await _stored(service)
    rows = await _select(
        service, "SELECT SpanName, length(SpanAttributes) AS n FROM {db}.spans ORDER BY SpanName"
    )
    names = [r["SpanName"] for r in rows]
    assert "span-2" in names
    if "span-1" in names:
        assert 0 < rows[names.index("span-1")]["n"] <= 10_000


def _sdk_spans(text: str) -> list[Any]:
    """One GenAI span with ``text`` in every field that reaches a column, made by the real SDK."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": text, text: text}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer(text, text)
    with tracer.start_as_current_span("parent") as parent:
        link = Link(parent.get_span_context(), {text: text})
    with tracer.start_as_current_span(text, kind=SpanKind.CLIENT, links=[link]) as span:
        span.set_attributes(
            {
                text: text,
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": text,
                "gen_ai.response.model": text,
                "gen_ai.response.id": text,
                "gen_ai.conversation.id": text,
                "user.id": text,
                "gen_ai.input.messages": json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": text}]}]
                ),
                "gen_ai.output.messages": json.dumps(
                    [
                        {
                            "role": "assistant",
                            "parts": [{"type": "text", "content": text}],
                            "finish_reason": "stop",
                        }
                    ]
                ),
                "gen_ai.system_instructions": json.dumps([{"type": "text", "content": text}]),
            }
        )
        span.add_event(text, {text: text})
        span.set_status(Status(StatusCode.ERROR, text))
    provider.shutdown()
    return [s for s in exporter.get_finished_spans() if s.name == text]


SPAN_COLUMNS = (
    "SpanName, ServiceName, ScopeName, ScopeVersion, StatusMessage, SpanAttributes, ResourceAttributes, "
    "Events.Name AS EventNames, Events.Attributes AS EventAttributes, Links.Attributes AS LinkAttributes, "
    "SessionId, UserId, RequestModel, ResponseModel, ResponseId, SystemInstructions, InputMessages, "
    "OutputText"
)


def _assert_verbatim(row: dict[str, Any], text: str) -> None:
    for column in (
        "SpanName", "ServiceName", "ScopeName", "ScopeVersion", "StatusMessage", "SessionId", "UserId",
        "RequestModel", "ResponseModel", "ResponseId", "SystemInstructions", "OutputText",
    ):  # fmt: skip
        assert row[column] == text, column
    assert row["SpanAttributes"][text] == text
    assert row["ResourceAttributes"][text] == text
    assert row["EventNames"] == [text]
    assert row["EventAttributes"] == [{text: text}]
    assert row["LinkAttributes"] == [{text: text}]
    assert json.loads(row["InputMessages"])[0]["content"] == text


@pytest.mark.parametrize("protocol", ["http", "grpc"])
async def test_sql_looking_strings_are_stored_verbatim_and_read_back_by_parameter(
    protocol: str, service_factory: Any, database_name: str
) -> None:
    service = await _start(service_factory, "sql", database_name)
    endpoint = (
        f"http://127.0.0.1:{_http_port(service)}/v1/traces"
        if protocol == "http"
        else f"127.0.0.1:{_grpc_port(service)}"
    )
    exporter = (
        HttpSpanExporter(endpoint=endpoint)
        if protocol == "http"
        else GrpcSpanExporter(endpoint, insecure=True)
    )
    spans = [span for text in SQL_STRINGS for span in _sdk_spans(text)]
    assert (await asyncio.to_thread(exporter.export, spans)).name == "SUCCESS"
    exporter.shutdown()
    # What the SDK cannot send (its TraceState has a grammar of its own): trace states, raw.
    raw = [_span(100 + i, name=f"raw {text}", trace_state=text) for i, text in enumerate(SQL_STRINGS)]
    for span, text in zip(raw, SQL_STRINGS, strict=True):
        span.links.add(trace_id=TRACE_ID, span_id=span.span_id, trace_state=text)
        span.attributes.add(key="error.type").value.string_value = text
    status, response = await _export(service, protocol, _request(*raw))
    assert status == "OK", response
    await _stored(service)
    assert (await _select(service, "SELECT count() AS n FROM {db}.spans"))[0]["n"] == 2 * len(SQL_STRINGS)
    for text in SQL_STRINGS:
        found = await _select(
            service,
            "SELECT TraceState, Links.TraceState AS LinkStates, SpanAttributes['error.type'] AS E "
            "FROM {db}.spans WHERE SpanName = {name:String}",
            name=f"raw {text}",
        )
        assert found == [{"TraceState": text, "LinkStates": [text], "E": text}], text
    for text in SQL_STRINGS:
        found = await _select(
            service, f"SELECT {SPAN_COLUMNS} FROM {{db}}.spans WHERE SpanName = {{t:String}}", t=text
        )
        assert len(found) == 1, text
        _assert_verbatim(found[0], text)
    # The admin API `tracesieve query` goes through binds the same way.
    table = f"{database_name}.spans"
    sql = f"SELECT SpanName, SessionId, SpanAttributes FROM {table} WHERE SessionId = {{t:String}}"
    for text in SQL_STRINGS:
        columns, rows = await asyncio.to_thread(
            run_query, sql, {"t": text}, store=None, data_dir=service.data_dir, database=database_name
        )
        records = [dict(zip(columns, row, strict=True)) for row in rows]
        assert len(records) == 1, text
        assert (records[0]["SpanName"], records[0]["SessionId"]) == (text, text)
        assert records[0]["SpanAttributes"][text] == text


async def test_sql_looking_feedback_is_stored_verbatim(service_factory: Any, database_name: str) -> None:
    service = await _start(service_factory, "sql-feedback", database_name)
    items = [
        {"session_id": text, "label": text, "comment": text, "user_id": text, "ticket_id": text, "score": 1}
        for text in SQL_STRINGS
    ]
    async with (
        aiohttp.ClientSession() as client,
        client.post(f"http://127.0.0.1:{_http_port(service)}/v1/feedback", json=items) as answer,
    ):
        assert answer.status == 200, await answer.text()
    await _stored(service)
    for text in SQL_STRINGS:
        found = await _select(
            service,
            "SELECT TargetSessionId, Label, Comment, UserId, TicketId FROM {db}.feedback FINAL "
            "WHERE Comment = {t:String}",
            t=text,
        )
        assert found == [
            {"TargetSessionId": text, "Label": text, "Comment": text, "UserId": text, "TicketId": text}
        ], text


def _set_any(target: AnyValue, value: Any) -> None:
    """``value`` as an OTLP AnyValue, structured: dict → kvlist, list → array."""
    if isinstance(value, dict):
        for key, item in value.items():
            _set_any(target.kvlist_value.values.add(key=key).value, item)
    elif isinstance(value, list):
        target.array_value.SetInParent()
        for item in value:
            _set_any(target.array_value.values.add(), item)
    elif isinstance(value, str):
        target.string_value = value
    elif value is not None:
        target.int_value = value


async def test_log_events_with_structured_roles_and_part_types_are_joined_and_stored(
    service_factory: Any, database_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Regression (fuzz, http /v1/logs): a role or part type that is a kvlist or an array raised
    # TypeError in the log join, inside the trace assembler, after the request was acknowledged.
    service = await _start(service_factory, "odd-logs", database_name)
    chat = _span(1, name="chat gpt-4o")
    chat.attributes.add(key="gen_ai.operation.name").value.string_value = "chat"
    odd = {"k": ["x", {"k": "y"}]}
    logs = ExportLogsServiceRequest()
    record = (
        logs.resource_logs.add()
        .scope_logs.add()
        .log_records.add(
            trace_id=TRACE_ID, span_id=chat.span_id, event_name="gen_ai.client.inference.operation.details"
        )
    )
    record.time_unix_nano = NOW_NS
    messages = [
        {"role": odd, "parts": [{"type": "text", "content": "odd role"}]},
        {"role": "user", "parts": [{"type": odd, "content": "odd type"}, {"type": "text", "content": "Hi?"}]},
    ]
    _set_any(record.attributes.add(key="gen_ai.input.messages").value, messages)
    with caplog.at_level(logging.WARNING):
        async with aiohttp.ClientSession() as client:
            for path, request in (("/v1/traces", _request(chat)), ("/v1/logs", logs)):
                async with client.post(
                    f"http://127.0.0.1:{_http_port(service)}{path}",
                    data=request.SerializeToString(),
                    headers={"Content-Type": PROTOBUF},
                ) as answer:
                    assert answer.status == 200, path
        await _stored(service)
    rows = await _select(service, "SELECT InputMessages FROM {db}.spans WHERE SpanName = 'chat gpt-4o'")
    assert {"role": "user", "content": "Hi?"} in json.loads(rows[0]["InputMessages"])
    assert service.failure is None
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("tracesieve")]
