"""The Kafka transport's telemetry: readiness is the roles' Kafka clients being connected, and
the receiver role times each publish until Kafka acknowledges it."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from tracesieve.collector.service import Service

from .conftest import Samples, Scrape
from .test_probes import llm_spans


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.mark.kafka
async def test_kafka_roles_are_ready_when_connected_and_time_their_publishes(
    service_factory: Any, kafka_transport: Any, database_name: str, scrape: Scrape
) -> None:
    transport = kafka_transport()
    service: Service = await service_factory("kafka", database_name, **transport)
    assert service.admin is not None and service.grpc is not None
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{service.admin.port}/readyz") as response,
    ):
        body = await response.json()
        assert response.status == 200, body
    assert set(body["checks"]) == {
        "service", "kafka_producer", "kafka_normaliser", "kafka_assembler", "kafka_processor",
    }  # fmt: skip

    exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{service.grpc.port}", insecure=True)
    assert (await asyncio.to_thread(exporter.export, llm_spans(3))).name == "SUCCESS"
    exporter.shutdown()
    assert await service.wait_stored(60)
    samples = await scrape(service)
    topic = transport["transport.kafka.topics.spans"]
    assert value(samples, "tracesieve_kafka_publish_duration_seconds_count", topic=topic) == 1
    assert value(samples, "tracesieve_kafka_published_requests_total") == 1
    assert value(samples, "tracesieve_receiver_accepted_items_total", protocol="grpc", signal="traces") >= 3
    for stage in ("normaliser", "assembler", "processor"):
        assert value(samples, "tracesieve_kafka_consumer_lag_records", stage=stage) == 0
    assert value(samples, "tracesieve_sink_rows_written_total") >= 3
