"""Fixtures for the ClickHouse sink tests: real chDB, one database per test."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from tracesieve.collector.contracts import CanonicalSpan
from tracesieve.sinks.clickhouse.config import ClickHouseSinkConfig
from tracesieve.sinks.clickhouse.sink import ClickHouseSink
from tracesieve.sinks.clickhouse.store import connect

SpanFactory = Callable[..., CanonicalSpan]
BASE_NS = 1_760_000_000_123_456_789  # 2025-10-09, with every nanosecond digit significant


@pytest.fixture
def make_span() -> SpanFactory:
    """``make_span(**overrides)``: a distinct, fully populated LLM span on every call."""
    counter = itertools.count(1)

    def make(**overrides: Any) -> CanonicalSpan:
        n = next(counter)
        fields: dict[str, Any] = {
            "trace_id": f"{n:032x}",
            "span_id": f"{n:016x}",
            "parent_span_id": f"{n + 1_000_000:016x}",
            "name": "chat gpt-4o",
            "start_ns": BASE_NS + n * 1_000,
            "end_ns": BASE_NS + n * 1_000 + 1_234_567_891,
            "otel_kind": "Client",
            "status_code": "Ok",
            "service_name": "support-bot",
            "scope_name": "opentelemetry.instrumentation.openai_v2",
            "scope_version": "2.4b0",
            "resource_attributes": {"service.name": "support-bot", "telemetry.sdk.language": "python"},
            "attributes": {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": "12"},
            "kind": "llm",
            "operation": "chat",
            "provider": "openai",
            "request_model": "gpt-4o",
            "response_model": "gpt-4o-2024-08-06",
            "response_id": f"chatcmpl-{n}",
            "session_id": f"session-{n % 3}",
            "user_id": "user-1",
            "turn_index": n % 5,
            "input_messages": [{"role": "user", "content": f"question {n}"}],
            "output_messages": [{"role": "assistant", "content": f"answer {n}"}],
            "output_text": f"answer {n}",
            "finish_reasons": ["stop"],
            "input_tokens": 12,
            "output_tokens": 34,
            "convention": "otel_genai",
        }
        fields.update(overrides)
        return CanonicalSpan(**fields)

    return make


@pytest.fixture
def config(chdb_dsn: str, database_name: str) -> ClickHouseSinkConfig:
    # A short linger keeps the tests quick; tests that count INSERTs set their own.
    return ClickHouseSinkConfig(dsn=chdb_dsn, database=database_name, batch={"flush_interval_s": 0.02})


@pytest.fixture
async def sink(config: ClickHouseSinkConfig) -> AsyncIterator[ClickHouseSink]:
    s = ClickHouseSink(config)
    await s.start()
    yield s
    await s.aclose(time.monotonic() + 30)


@pytest.fixture
def client(chdb_dsn: str) -> Iterator[Client]:
    """A plain clickhouse-connect client on the session's chDB folder (not read-only)."""
    c = connect(chdb_dsn)
    yield c
    c.close()
