"""Raw interop with the official OpenTelemetry Collector's Kafka components, on a real broker.

The collector is ``otelcol-tracesieve`` (deploy/otelcol/builder.yaml, built and cached by
``scripts/build-otelcol.sh``) run with the configs of deploy/otelcol/. The OpenTelemetry SDK's own
OTLP/gRPC exporters send to it; aiokafka reads what its Kafka exporter wrote, byte for byte, and
parses it with opentelemetry-proto. These are the facts tracesieve's normaliser relies on:

- ``otlp_proto`` on the traces topic: each record's value is one serialized
  ``ExportTraceServiceRequest`` (logs: ``ExportLogsServiceRequest``) holding what the exporter sent
  in one go: a request as the SDK sent it, or several merged by the batch processor within its
  timeout. Without ``partition_traces_by_id`` the key is null; with it, the request is split into
  one record per trace whose key is the trace id as 32 lowercase hex characters (ASCII).
- Records carry no headers (no propagators configured).
- Names, attributes, ids, parent ids, times, the resource and the scope survive unchanged.

And the other direction: a record written as tracesieve's receivers write it (the request's bytes,
acks=all) is decoded by the collector's Kafka receiver (read-tracesieve-topics.yaml).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util.types import AttributeValue

PARTITIONS = 3
RESOURCE = Resource.create({"service.name": "chat-app", "deployment.environment.name": "test"})
# Bounded polls: 120 x 0.5 s for records to arrive.
RECORD_POLLS = 120

# A cold build of the collector (first use on a machine) takes minutes on 2 shared cores.
pytestmark = [pytest.mark.kafka, pytest.mark.timeout(1800)]


# --- the data, made by the SDK as an instrumented app makes it -----------------------------------


@dataclass(frozen=True)
class SdkData:
    first_trace: list[ReadableSpan]  # a chat turn and its LLM call
    second_trace: list[ReadableSpan]  # another turn, one span
    logs: list[ReadableLogRecord]  # a GenAI event inside the first trace's LLM call


@pytest.fixture(scope="module")
def sdk_data() -> SdkData:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=RESOURCE)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    logs = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    logger_provider = LoggerProvider(resource=RESOURCE)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    tracer = tracer_provider.get_tracer("tests.otelcol", "1.0")
    logger = logger_provider.get_logger("tests.otelcol")
    llm_attributes: dict[str, AttributeValue] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 42,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.response.finish_reasons": ["stop"],
        "app.flagged": False,
    }
    with (
        tracer.start_as_current_span("chat_turn", attributes={"session.id": "s-1"}),
        tracer.start_as_current_span(
            "chat gpt-4o", kind=trace.SpanKind.CLIENT, attributes=llm_attributes
        ) as llm,
    ):
        llm.set_status(trace.Status(trace.StatusCode.ERROR, "provider said no"))
        logger.emit(
            event_name="gen_ai.client.inference.operation.details",
            body={"messages": [{"role": "user", "content": "hi"}]},
            attributes={"gen_ai.operation.name": "chat"},
        )
    first = list(spans.get_finished_spans())
    spans.clear()
    with tracer.start_as_current_span("chat_turn", attributes={"session.id": "s-2", "turn": 2}):
        pass
    second = list(spans.get_finished_spans())
    tracer_provider.shutdown()
    logger_provider.shutdown()
    return SdkData(first, second, list(logs.get_finished_logs()))


async def export_spans(port: int, spans: Sequence[ReadableSpan]) -> None:
    """One OTLP/gRPC request with these spans, from a thread (the SDK exporter blocks)."""
    exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True, timeout=10)
    try:
        result = await asyncio.to_thread(exporter.export, spans)
        assert result.name == "SUCCESS"
    finally:
        await asyncio.to_thread(exporter.shutdown)


async def export_logs(port: int, records: Sequence[ReadableLogRecord]) -> None:
    exporter = OTLPLogExporter(endpoint=f"127.0.0.1:{port}", insecure=True, timeout=10)
    try:
        result = await asyncio.to_thread(exporter.export, records)
        assert result.name == "SUCCESS"
    finally:
        await asyncio.to_thread(exporter.shutdown)


# --- Kafka ----------------------------------------------------------------------------------


@pytest.fixture
async def topics(kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[tuple[str, str]]:
    """The test's spans and logs topics, created with several partitions so keys show."""
    names = (f"{topic_prefix}otlp_spans", f"{topic_prefix}otlp_logs")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, PARTITIONS, 1) for name in names])
    finally:
        await admin.close()
    yield names


async def read_records(bootstrap: str, topic: str, count: int) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` from the start, once ``count`` are there (and no more come)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
        await consumer.seek_to_beginning()
        records: list[ConsumerRecord[bytes, bytes]] = []
        for _ in range(RECORD_POLLS):
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
            if len(records) >= count:
                break
        for batch in (await consumer.getmany(timeout_ms=1000)).values():
            records.extend(batch)  # anything extra would fail the count below
        assert len(records) == count, [(r.partition, r.offset, r.key) for r in records]
        return records
    finally:
        await consumer.stop()


# --- comparisons ----------------------------------------------------------------------------


def plain(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [plain(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: plain(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def attributes(pairs: Sequence[KeyValue]) -> dict[str, Any]:
    return {kv.key: plain(kv.value) for kv in pairs}


def sdk_attributes(attrs: Any) -> dict[str, Any]:
    return {
        key: list(value) if isinstance(value, tuple) else value for key, value in dict(attrs or {}).items()
    }


def trace_request(record: ConsumerRecord[bytes, bytes]) -> ExportTraceServiceRequest:
    assert record.value is not None
    request = ExportTraceServiceRequest()
    request.ParseFromString(record.value)
    # Parsed, not compared as bytes: Go's pdata writes fields in descending number order and an
    # empty parent_span_id on root spans, so the bytes are not Python's serialization of the same
    # request (the normaliser must not dedupe or hash on raw values).
    return request


def spans_of(request: ExportTraceServiceRequest) -> list[ProtoSpan]:
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        assert {k: resource[k] for k in ("service.name", "deployment.environment.name")} == {
            "service.name": "chat-app",
            "deployment.environment.name": "test",
        }
        assert resource["telemetry.sdk.language"] == "python"
        for scope_spans in resource_spans.scope_spans:
            assert (scope_spans.scope.name, scope_spans.scope.version) == ("tests.otelcol", "1.0")
    return [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]


def assert_spans_intact(received: Sequence[ProtoSpan], sent: Sequence[ReadableSpan]) -> None:
    by_id = {span.span_id: span for span in received}
    assert len(by_id) == len(received) == len(sent)
    for original in sent:
        context = original.get_span_context()
        assert context is not None
        span = by_id[context.span_id.to_bytes(8, "big")]
        assert span.name == original.name
        assert span.trace_id == context.trace_id.to_bytes(16, "big")
        assert span.parent_span_id == (original.parent.span_id.to_bytes(8, "big") if original.parent else b"")
        assert attributes(span.attributes) == sdk_attributes(original.attributes)
        assert (span.start_time_unix_nano, span.end_time_unix_nano) == (
            original.start_time,
            original.end_time,
        )
        assert span.kind == original.kind.value + 1  # the SDK's enum starts at INTERNAL = 0
        assert (span.status.code, span.status.message) == (
            original.status.status_code.value,
            original.status.description or "",
        )


# --- the tests ------------------------------------------------------------------------------


async def test_exporter_writes_each_request_as_one_unkeyed_otlp_proto_record(
    collectors: Any,
    otelcol_helpers: Any,
    kafka_bootstrap: str,
    topic_prefix: str,
    topics: tuple[str, str],
    sdk_data: SdkData,
) -> None:
    spans_topic, logs_topic = topics
    env = otelcol_helpers.forward_kafka_env(kafka_bootstrap, topic_prefix, by_trace_id=False)
    await collectors.start("forward-kafka.yaml", env)
    grpc_port = int(env["OTELCOL_OTLP_GRPC_ENDPOINT"].rsplit(":", 1)[1])

    # Two requests, the second sent once the first is on the topic, so the batch processor cannot
    # merge them: each becomes a record of its own.
    await export_spans(grpc_port, sdk_data.first_trace)
    await read_records(kafka_bootstrap, spans_topic, 1)
    await export_spans(grpc_port, sdk_data.second_trace)
    records = await read_records(kafka_bootstrap, spans_topic, 2)

    for record in records:
        assert record.key is None
        assert list(record.headers) == []
    requests = [trace_request(record) for record in records]
    by_trace_id = {spans_of(request)[0].trace_id: request for request in requests}
    for sent in (sdk_data.first_trace, sdk_data.second_trace):
        context = sent[0].get_span_context()
        assert context is not None
        request = by_trace_id[context.trace_id.to_bytes(16, "big")]
        assert len(request.resource_spans) == 1 and len(request.resource_spans[0].scope_spans) == 1
        assert_spans_intact(spans_of(request), sent)

    await export_logs(grpc_port, sdk_data.logs)
    (log_record,) = await read_records(kafka_bootstrap, logs_topic, 1)
    assert log_record.key is None
    assert list(log_record.headers) == []
    assert log_record.value is not None
    logs_request = ExportLogsServiceRequest()
    logs_request.ParseFromString(log_record.value)
    (resource_logs,) = logs_request.resource_logs
    assert attributes(resource_logs.resource.attributes)["service.name"] == "chat-app"
    (scope_logs,) = resource_logs.scope_logs
    (received,) = scope_logs.log_records
    original = sdk_data.logs[0].log_record
    llm = next(s for s in sdk_data.first_trace if s.name == "chat gpt-4o").get_span_context()
    assert llm is not None
    assert received.event_name == "gen_ai.client.inference.operation.details"
    assert received.trace_id == llm.trace_id.to_bytes(16, "big")
    assert received.span_id == llm.span_id.to_bytes(8, "big")
    assert plain(received.body) == original.body
    assert attributes(received.attributes) == {"gen_ai.operation.name": "chat"}
    assert (received.time_unix_nano, received.observed_time_unix_nano) == (
        original.timestamp or 0,
        original.observed_timestamp,
    )


async def test_partition_traces_by_id_splits_a_request_into_one_record_per_trace(
    collectors: Any,
    otelcol_helpers: Any,
    kafka_bootstrap: str,
    topic_prefix: str,
    topics: tuple[str, str],
    sdk_data: SdkData,
) -> None:
    spans_topic, _ = topics
    env = otelcol_helpers.forward_kafka_env(kafka_bootstrap, topic_prefix, by_trace_id=True)
    await collectors.start("forward-kafka.yaml", env)
    grpc_port = int(env["OTELCOL_OTLP_GRPC_ENDPOINT"].rsplit(":", 1)[1])

    await export_spans(grpc_port, sdk_data.first_trace + sdk_data.second_trace)
    records = await read_records(kafka_bootstrap, spans_topic, 2)

    keys = set()
    for record in records:
        assert list(record.headers) == []
        received = spans_of(trace_request(record))
        (trace_id,) = {span.trace_id for span in received}
        assert record.key == trace_id.hex().encode("ascii")
        keys.add(record.key)
        sent = [
            s
            for s in sdk_data.first_trace + sdk_data.second_trace
            if s.context.trace_id == int.from_bytes(trace_id, "big")
        ]
        assert_spans_intact(received, sent)
    assert len(keys) == 2
    print("partitions by key:", {r.key: r.partition for r in records})


async def test_kafka_receiver_decodes_records_written_as_tracesieve_writes_them(
    collectors: Any,
    otelcol_helpers: Any,
    kafka_bootstrap: str,
    topic_prefix: str,
    topics: tuple[str, str],
    sdk_data: SdkData,
) -> None:
    spans_topic, logs_topic = topics
    # What tracesieve's receivers publish: the request's protobuf bytes, acks=all, idempotent.
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            spans_topic,
            encode_spans(sdk_data.first_trace + sdk_data.second_trace).SerializeToString(),
            key=b"s-1",
        )
        await producer.send_and_wait(logs_topic, encode_logs(sdk_data.logs).SerializeToString())
    finally:
        await producer.stop()

    collector = await collectors.start(
        "read-tracesieve-topics.yaml",
        {
            "OTELCOL_KAFKA_BROKERS": kafka_bootstrap,
            "OTELCOL_SPANS_TOPIC": spans_topic,
            "OTELCOL_LOGS_TOPIC": logs_topic,
            "OTELCOL_KAFKA_GROUP_ID": f"{topic_prefix}otelcol-reader",
        },
    )
    llm = next(s for s in sdk_data.first_trace if s.name == "chat gpt-4o").get_span_context()
    assert llm is not None
    # The debug exporter's detailed output, one line per field.
    expected = [
        "Name           : chat gpt-4o",
        "Name           : chat_turn",
        f"Trace ID       : {llm.trace_id:032x}",
        f"ID             : {llm.span_id:016x}",
        "-> gen_ai.request.model: Str(gpt-4o)",
        "-> gen_ai.usage.input_tokens: Int(42)",
        "-> session.id: Str(s-2)",
        "EventName: gen_ai.client.inference.operation.details",
    ]
    for _ in range(RECORD_POLLS):
        log = collector.log()
        if all(line in log for line in expected):
            break
        await asyncio.sleep(0.5)
    log = collector.log()
    assert [line for line in expected if line not in log] == [], log[-6000:]
    assert "\terror\t" not in log, log[-6000:]  # no error-level line from the receiver
