"""The whole service in-process: real SDK exporters and real captures in, rows read back from chDB."""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from tracesieve.collector.config import load_config
from tracesieve.collector.replay import ReplayFile, discover, replay
from tracesieve.collector.service import Service

CAPTURES = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "captures"
SESSION = "conv-7f3c2a9e-session"
USER = "user-alice-42"

MakeService = Callable[..., Awaitable[Service]]


@pytest.fixture
async def make_service(tmp_path: Path, chdb_dsn: str, database_name: str) -> AsyncIterator[MakeService]:
    started: list[Service] = []

    async def make(**overrides: Any) -> Service:
        config = load_config(
            None,
            environ={},
            overrides={
                "service.data_dir": str(tmp_path / f"data{len(started)}"),
                "sinks.clickhouse.dsn": chdb_dsn,
                "sinks.clickhouse.database": database_name,
                "receivers.otlp.protocols.grpc.endpoint": "127.0.0.1:0",
                "receivers.otlp.protocols.http.endpoint": "127.0.0.1:0",
                "admin.endpoint": "127.0.0.1:0",
                "processors.assembly.context_wait_s": 1.0,
                "processors.assembly.log_wait_s": 2.0,
                **overrides,
            },
        )
        service = Service(config)
        await service.start()
        started.append(service)
        return service

    yield make
    for service in started:
        await service.aclose()


async def rows(service: Service, where: str = "1", order: str = "Timestamp") -> list[dict[str, Any]]:
    database = service.config.sinks.clickhouse.database
    columns, result = await service.sink.query(
        f"SELECT * FROM {database}.spans WHERE {where} ORDER BY {order}", None
    )
    return [dict(zip(columns, row, strict=True)) for row in result]


def _sdk_spans_and_logs(resource_name: str) -> tuple[list[Any], list[Any]]:
    """An openai-v2 style turn (EVENT_ONLY): session on the root, content in a log record."""
    resource = Resource.create({"service.name": resource_name})
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    tracer = tracer_provider.get_tracer("chat_app")
    genai = tracer_provider.get_tracer("opentelemetry.util.genai.handler")
    logger = logger_provider.get_logger("opentelemetry.util.genai.handler")
    with (
        tracer.start_as_current_span("chat_turn", attributes={"session.id": SESSION, "user.id": USER}),
        genai.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT) as chat,
    ):
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.response.finish_reasons": ["stop"],
            "gen_ai.usage.input_tokens": 27,
            "gen_ai.usage.output_tokens": 7,
        }
        chat.set_attributes(attributes)
        event_attributes: dict[str, Any] = {
            **attributes,
            "gen_ai.input.messages": [
                {"role": "user", "parts": [{"type": "text", "content": "What is the capital of France?"}]}
            ],
            "gen_ai.output.messages": [
                {
                    "role": "assistant",
                    "parts": [{"type": "text", "content": "The capital of France is Paris."}],
                    "finish_reason": "stop",
                }
            ],
        }
        logger.emit(event_name="gen_ai.client.inference.operation.details", attributes=event_attributes)
    tracer_provider.shutdown()
    logger_provider.shutdown()
    return list(spans.get_finished_spans()), list(logs.get_finished_logs())


def _assert_joined_turn(found: list[dict[str, Any]]) -> None:
    assert len(found) == 1, found
    row = found[0]
    assert (row["SessionId"], row["UserId"]) == (SESSION, USER)  # inherited from the root span
    assert json.loads(row["InputMessages"]) == [{"role": "user", "content": "What is the capital of France?"}]
    assert row["OutputText"] == "The capital of France is Paris."  # joined from the log record
    assert (row["InputTokens"], row["OutputTokens"], list(row["FinishReasons"])) == (27, 7, ["stop"])
    assert row["ResponseModel"] == "gpt-4o-mini-2024-07-18"
    assert row["Kind"] == "llm" and row["Convention"] == "otel_genai"


async def test_sdk_grpc_spans_child_first_then_http_logs(make_service: MakeService) -> None:
    service = await make_service()
    assert service.grpc is not None and service.http is not None
    spans, logs = _sdk_spans_and_logs("grpc-spans-http-logs")
    child = [s for s in spans if s.name.startswith("chat ")]
    root = [s for s in spans if s.name == "chat_turn"]
    span_exporter = GrpcSpanExporter(endpoint=f"127.0.0.1:{service.grpc.port}", insecure=True)
    log_exporter = HttpLogExporter(endpoint=f"http://127.0.0.1:{service.http.port}/v1/logs")
    # Three separate requests, in the order openai-v2 really sends them: the child span ends
    # first, its root later, and the log record comes from another exporter.
    assert (await asyncio.to_thread(span_exporter.export, child)).name == "SUCCESS"
    assert (await asyncio.to_thread(span_exporter.export, root)).name == "SUCCESS"
    assert (await asyncio.to_thread(log_exporter.export, logs)).name == "SUCCESS"
    span_exporter.shutdown()
    log_exporter.shutdown()
    assert await service.pipeline.wait_stored()
    _assert_joined_turn(await rows(service))


async def test_sdk_log_before_span_over_grpc_and_http(make_service: MakeService) -> None:
    service = await make_service()
    assert service.grpc is not None and service.http is not None
    spans, logs = _sdk_spans_and_logs("logs-first")
    log_exporter = GrpcLogExporter(endpoint=f"127.0.0.1:{service.grpc.port}", insecure=True)
    span_exporter = HttpSpanExporter(endpoint=f"http://127.0.0.1:{service.http.port}/v1/traces")
    assert (await asyncio.to_thread(log_exporter.export, logs)).name == "SUCCESS"
    assert (await asyncio.to_thread(span_exporter.export, spans)).name == "SUCCESS"
    log_exporter.shutdown()
    span_exporter.shutdown()
    assert await service.pipeline.wait_stored()
    _assert_joined_turn(await rows(service))


async def test_resent_requests_add_no_rows(make_service: MakeService) -> None:
    service = await make_service()
    assert service.http is not None
    files = discover([CAPTURES / "openinference"])
    endpoint = f"http://127.0.0.1:{service.http.port}"
    first = await replay(files, endpoint)
    assert first.failures == [] and first.items > 0
    assert await service.pipeline.wait_stored()
    before = len(await rows(service))
    assert before > 0
    again = await replay(files, endpoint, gzip_body=True)
    assert again.failures == []
    # The same requests once more, from their OTLP/JSON files and over gRPC.
    as_json = [
        ReplayFile(f.path.with_name(f.path.name.removesuffix(".pb") + ".otlp.json"), f.signal, "json")
        for f in files
    ]
    assert service.grpc is not None
    third = await replay(as_json, f"grpc://127.0.0.1:{service.grpc.port}")
    assert third.failures == [] and third.items == first.items
    assert await service.pipeline.wait_stored()
    assert len(await rows(service)) == before
    database = service.config.sinks.clickhouse.database
    _, final = await service.sink.query(f"SELECT count() FROM {database}.spans FINAL", None)
    assert final[0][0] == before


# -- every capture, replayed and checked against what the captures' README says happened ----------


def _scenarios(folder: Path) -> dict[str, str]:
    """trace id → scenario, from the capture's own summary.md headings."""
    text = (folder / "summary.md").read_text()
    return {
        trace: name for name, trace in re.findall(r"^### (\w+)  trace `([0-9a-f]{32})`", text, re.MULTILINE)
    }


def _question(row: dict[str, Any]) -> str:
    users = [m["content"] for m in json.loads(row["InputMessages"]) if m["role"] == "user"]
    return users[-1] if users else ""


@pytest.mark.parametrize(
    "capture", ["otel_openai_v2__span_and_event", "openinference", "traceloop", "langfuse"]
)
async def test_capture_replayed_field_by_field(make_service: MakeService, capture: str) -> None:
    service = await make_service()
    assert service.http is not None
    folder = CAPTURES / capture
    result = await replay(discover([folder]), f"http://127.0.0.1:{service.http.port}")
    assert result.failures == [] and result.rejected == 0
    assert await service.pipeline.wait_stored()
    scenario_of = _scenarios(folder)
    assert len(scenario_of) == 11
    by_scenario: dict[str, list[dict[str, Any]]] = {}
    for row in await rows(service):
        by_scenario.setdefault(scenario_of[row["TraceId"]], []).append(row)
    assert set(by_scenario) == set(scenario_of.values())

    def llm(scenario: str) -> dict[str, Any]:
        calls = [r for r in by_scenario[scenario] if r["Kind"] == "llm"]
        assert len(calls) == 1, (scenario, [(r["SpanName"], r["Kind"]) for r in by_scenario[scenario]])
        return calls[0]

    langfuse = capture == "langfuse"  # Langfuse records no finish reason for non-streamed calls
    for scenario, found in by_scenario.items():
        for row in found:
            assert (row["SessionId"], row["UserId"]) == (SESSION, USER), (scenario, row["SpanName"])
            assert row["RequestModel"].startswith("gpt-4o-mini") or row["Kind"] != "llm"

    a = llm("a_normal_chat")
    assert _question(a) == "What is the capital of France?"
    assert a["OutputText"] == "The capital of France is Paris."
    assert (a["InputTokens"], a["OutputTokens"]) == (27, 7)
    assert a["TurnIndex"] == 0
    assert list(a["FinishReasons"]) == ([] if langfuse else ["stop"])

    b = llm("b_follow_up_rephrase")
    assert b["TurnIndex"] == 1  # full history: the question again, in other words
    assert _question(b) != _question(a) and b["OutputText"]

    c = llm("c_regenerate")
    assert json.loads(c["InputMessages"]) == json.loads(a["InputMessages"])  # exactly a's messages
    assert c["OutputText"] and c["OutputText"] != a["OutputText"]  # a different answer

    d = llm("d_length")
    assert d["OutputTokens"] == 12
    if not langfuse:
        assert list(d["FinishReasons"]) == ["length"]

    e = llm("e_refuse")
    assert e["OutputText"] == "I'm sorry, but I can't help with that."

    e2 = llm("e2_refusal_field")
    # Only OpenInference (raw output.value) and Traceloop (a refusal part) keep OpenAI's refusal
    # field; openai-v2 and Langfuse drop it and record empty content.
    refusal_kept = capture in ("openinference", "traceloop")
    assert e2["Refusal"] == ("I'm sorry, but I can't help with that." if refusal_kept else "")
    assert e2["OutputText"] == ""

    e3 = llm("e3_content_filter")
    assert e3["OutputText"] == ""
    if not langfuse:
        assert list(e3["FinishReasons"]) == ["content_filter"]

    f = llm("f_error_500")
    assert f["StatusCode"] == "Error"
    assert "InternalServerError" in f["ErrorType"] or "500" in f["StatusMessage"]

    g = llm("g_streaming")
    assert g["OutputText"].startswith("This is fake answer")
    assert list(g["FinishReasons"]) == ["stop"]  # streamed: only inside the output messages for openai-v2

    h = [r for r in by_scenario["h_embeddings"] if r["Kind"] == "embedding"]
    assert len(h) == 1 and h[0]["InputTokens"] == 14

    retrievals = [r for r in by_scenario["i_rag_retrieval"] if r["Kind"] == "retrieval"]
    assert len(retrievals) == 1
    documents = json.loads(retrievals[0]["RetrievedDocuments"])
    assert [(d["id"], d["score"]) for d in documents] == [
        ("kb-001", 0.912),
        ("kb-017", 0.774),
        ("kb-042", 0.581),
    ]
    assert llm("i_rag_retrieval")["OutputText"]


async def test_bad_input_of_every_kind_while_a_good_client_is_served(make_service: MakeService) -> None:
    import gzip

    import aiohttp
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )

    service = await make_service(**{"receivers.otlp.protocols.http.max_request_body_bytes": 1 << 20})
    assert service.http is not None and service.grpc is not None
    base = f"http://127.0.0.1:{service.http.port}"
    bad_ids = ExportTraceServiceRequest()
    scope = bad_ids.resource_spans.add().scope_spans.add()
    scope.spans.add(trace_id=b"\x01" * 3, span_id=b"\x02" * 8, name="bad")  # rejected: id length
    kept = scope.spans.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="chat x")
    kept.attributes.add(key="session.id").value.string_value = "s-partial"
    kept.attributes.add(key="gen_ai.operation.name").value.string_value = "chat"
    pb = {"Content-Type": "application/x-protobuf"}
    cases: list[tuple[bytes, dict[str, str], int]] = [
        (b"\xff\xff\xff garbage", pb, 400),
        (b'{"resourceSpans": [', {"Content-Type": "application/json"}, 400),
        (b"{}", {"Content-Type": "text/plain"}, 415),
        (b"x", {**pb, "Content-Encoding": "br"}, 415),
        (gzip.compress(bytes(4 << 20)), {**pb, "Content-Encoding": "gzip"}, 413),
        (bytes(2 << 20), pb, 413),
        (bad_ids.SerializeToString(), pb, 200),
    ]
    spans, _logs = _sdk_spans_and_logs("good-client")
    exporter = GrpcSpanExporter(endpoint=f"127.0.0.1:{service.grpc.port}", insecure=True)

    async def good_client() -> list[str]:
        results = []
        for _ in range(10):
            results.append((await asyncio.to_thread(exporter.export, spans)).name)
        return results

    async def bad_client(session: aiohttp.ClientSession) -> list[tuple[int, int, bytes]]:
        answers = []
        for _round in range(5):
            for body, headers, expected in cases:
                data = io.BytesIO(body)  # aiohttp warns about large raw bodies
                async with session.post(f"{base}/v1/traces", data=data, headers=headers) as response:
                    answers.append((expected, response.status, await response.read()))
        return answers

    async with aiohttp.ClientSession() as session:
        good, bad = await asyncio.gather(good_client(), bad_client(session))
    exporter.shutdown()
    assert good == ["SUCCESS"] * 10
    for expected, status, body in bad:
        assert status == expected
        if expected == 200:  # partial success: one span rejected, the other kept
            partial = ExportTraceServiceResponse.FromString(body).partial_success
            assert partial.rejected_spans == 1 and "trace_id" in partial.error_message
    assert await service.pipeline.wait_stored()
    stored = await rows(service)
    assert {r["SpanName"] for r in stored} == {"chat gpt-4o-mini", "chat x"}
    assert len([r for r in stored if r["SpanName"] == "chat gpt-4o-mini"]) == 1  # ten resends, one row
