"""Redaction through the whole service: real SDK exporters in, rows read back from chDB, the data
folder's bytes searched. A prompt's e-mail, card number and API key never reach a row nor the
ingest log; the span's row says how many values were redacted and of which kinds."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from tracesieve.collector.service import Service

ServiceFactory = Callable[..., Awaitable[Service]]  # tests/conftest.py's service_factory
KafkaTransport = Callable[..., dict[str, Any]]  # and its kafka_transport

CARD = "4111 1111 1111 1111"
API_KEY = "sk-proj-" + "Zq3" * 12


def secrets() -> tuple[str, str]:
    """An e-mail and a phone number of this test alone (the chDB folder is shared by the session)."""
    tag = uuid.uuid4().hex[:10]
    return f"ann.{tag}@example.com", f"+44 20 7946 {int(tag[:6], 16) % 10_000:04d}"


def turn(email: str, phone: str, session: str) -> tuple[list[ReadableSpan], list[Any]]:
    """A root span with the session, a chat span whose prompt holds personal data, and a second
    chat span whose content comes only as a log record (event), as openai-v2 sends it."""
    resource = Resource.create({"service.name": "redaction-e2e", "team.contact": email})
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    tracer = tracer_provider.get_tracer("chat_app")
    logger = logger_provider.get_logger("opentelemetry.util.genai.handler")
    prompt = f"I am {email}, call {phone}. Charge card {CARD}. My key is {API_KEY}."
    model = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.usage.input_tokens": 27,
        "gen_ai.usage.output_tokens": 7,
    }
    with tracer.start_as_current_span("chat_turn", attributes={"session.id": session}):
        with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT) as chat:
            chat.set_attributes(model)
            chat.set_attribute(
                "gen_ai.input.messages",
                json.dumps([{"role": "user", "parts": [{"type": "text", "content": prompt}]}]),
            )
            chat.set_attribute(
                "gen_ai.output.messages",
                json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "Done."}]}]),
            )
        with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT) as events_only:
            events_only.set_attributes(model)
            logger.emit(
                event_name="gen_ai.client.inference.operation.details",
                attributes={
                    **model,
                    "gen_ai.input.messages": [
                        {"role": "user", "parts": [{"type": "text", "content": f"Again: {email}"}]}
                    ],
                    "gen_ai.output.messages": [
                        {"role": "assistant", "parts": [{"type": "text", "content": "Noted."}]}
                    ],
                },
            )
    tracer_provider.shutdown()
    logger_provider.shutdown()
    return list(spans.get_finished_spans()), list(logs.get_finished_logs())


async def rows(service: Service, table: str, where: str) -> list[dict[str, Any]]:
    assert service.sink is not None
    database = service.config.sinks.clickhouse.database
    columns, result = await service.sink.query(f"SELECT * FROM {database}.{table} FINAL WHERE {where}", None)
    return [dict(zip(columns, row, strict=True)) for row in result]


def folder_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def assert_clean(text: str | bytes, *values: str) -> None:
    data = text.encode() if isinstance(text, str) else text
    for value in values:
        assert value.encode() not in data, value


async def send(service: Service, email: str, phone: str, session: str) -> None:
    assert service.http is not None and service.grpc is not None
    spans, logs = turn(email, phone, session)
    span_exporter = HttpSpanExporter(endpoint=f"http://127.0.0.1:{service.http.port}/v1/traces")
    log_exporter = GrpcLogExporter(endpoint=f"127.0.0.1:{service.grpc.port}", insecure=True)
    try:
        assert (await asyncio.to_thread(span_exporter.export, spans)).name == "SUCCESS"
        assert (await asyncio.to_thread(log_exporter.export, logs)).name == "SUCCESS"
    finally:
        span_exporter.shutdown()
        log_exporter.shutdown()
    chat = next(
        s for s in spans if s.name.startswith("chat ") and "gen_ai.input.messages" in (s.attributes or {})
    )
    assert chat.context is not None
    feedback = {"span_id": f"{chat.context.span_id:016x}", "thumbs": "down", "comment": f"reply to {email}"}
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{service.http.port}/v1/feedback"
        async with http.post(url, json=feedback) as response:
            assert response.status == 200, await response.text()


async def test_personal_data_reaches_neither_the_rows_nor_the_ingest_log(
    service_factory: ServiceFactory, database_name: str
) -> None:
    email, phone = secrets()
    session = f"s-{uuid.uuid4().hex[:8]}"
    service = await service_factory("redacted", database_name, **{"processors.redaction.enabled": True})
    await send(service, email, phone, session)
    assert await service.wait_stored()

    spans = await rows(service, "spans", f"SessionId = '{session}' AND Kind = 'llm'")
    assert len(spans) == 2, spans
    for row in spans:
        assert_clean(repr(row), email, phone, CARD, API_KEY, "4111")
    by_content = {("I am" in row["InputMessages"]): row for row in spans}
    prompt_row, event_row = by_content[True], by_content[False]
    assert json.loads(prompt_row["InputMessages"])[0]["content"] == (
        "I am [REDACTED:email], call [REDACTED:phone]. Charge card [REDACTED:card]. "
        "My key is [REDACTED:secret]."
    )
    assert prompt_row["SpanAttributes"]["tracesieve.redaction.count"] == "4"
    assert prompt_row["SpanAttributes"]["tracesieve.redaction.kinds"] == "card,email,phone,secret"
    assert prompt_row["ResourceAttributes"]["team.contact"] == "[REDACTED:email]"
    assert prompt_row["ResourceAttributes"]["tracesieve.redaction.count"] == "1"
    # Content joined from a log record is redacted too; its count stays on the log record.
    assert json.loads(event_row["InputMessages"])[0]["content"] == "Again: [REDACTED:email]"
    assert "tracesieve.redaction.count" not in event_row["SpanAttributes"]

    (feedback,) = await rows(service, "feedback", f"TargetSpanId = '{prompt_row['SpanId']}'")
    assert feedback["Comment"] == "reply to [REDACTED:email]"
    assert feedback["Attributes"]["tracesieve.redaction.count"] == "1"

    assert_clean(folder_bytes(service.data_dir), email, phone, CARD, API_KEY)
    assert b"[REDACTED:email]" in folder_bytes(
        service.data_dir / "ingest-log"
    )  # the log holds the redacted text


async def test_without_redaction_the_same_turn_is_stored_as_sent(
    service_factory: ServiceFactory, database_name: str
) -> None:
    email, phone = secrets()
    session = f"s-{uuid.uuid4().hex[:8]}"
    service = await service_factory("plain", database_name)
    await send(service, email, phone, session)
    assert await service.wait_stored()
    spans = await rows(service, "spans", f"SessionId = '{session}' AND Kind = 'llm'")
    assert any(email in row["InputMessages"] and CARD in row["InputMessages"] for row in spans)
    assert email.encode() in folder_bytes(service.data_dir)


@pytest.mark.kafka
async def test_the_kafka_receiver_role_publishes_only_redacted_requests(
    service_factory: ServiceFactory, database_name: str, kafka_transport: KafkaTransport
) -> None:
    email, phone = secrets()
    session = f"s-{uuid.uuid4().hex[:8]}"
    service = await service_factory(
        "kafka-all", database_name, **kafka_transport(), **{"processors.redaction.enabled": True}
    )
    await send(service, email, phone, session)
    assert await service.wait_stored(60)
    spans = await rows(service, "spans", f"SessionId = '{session}' AND Kind = 'llm'")
    assert len(spans) == 2
    for row in spans:
        assert_clean(repr(row), email, phone, CARD, API_KEY)
    assert {row["SpanAttributes"].get("tracesieve.redaction.kinds") for row in spans} == {
        "card,email,phone,secret",
        None,
    }
