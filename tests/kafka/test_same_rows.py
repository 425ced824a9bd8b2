"""The pipeline through Kafka stores what the embedded pipeline stores, from the same input."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from tracesieve.collector.service import Service


async def post(service: Service, bodies: list[bytes]) -> None:
    assert service.http is not None
    async with aiohttp.ClientSession() as client:
        for body in bodies:
            url = f"http://127.0.0.1:{service.http.port}/v1/traces"
            async with client.post(url, data=body, headers={"Content-Type": "application/x-protobuf"}) as r:
                assert r.status == 200, await r.text()


async def rows(service: Service, sql: str) -> list[tuple[Any, ...]]:
    assert service.sink is not None
    _, result = await service.sink.query(sql, None)
    return sorted(tuple(row) for row in result)


async def settled(service: Service, spans: int, signals: int) -> None:
    """Until the store holds ``spans`` spans and ``signals`` signals (bounded polling)."""
    for _ in range(600):
        have = await rows(service, "SELECT (SELECT count() FROM spans), (SELECT count() FROM signals FINAL)")
        if have[0] == (spans, signals):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"store holds {have}, not ({spans}, {signals})")


SPAN_COLUMNS = "TraceId, SpanId, SessionId, Kind, OutputText, InputMessages, StatusCode, ErrorType, TurnIndex"


async def test_kafka_pipeline_stores_the_same_rows_as_embedded(
    service_factory: Any, kafka_transport: Any, scaled_sessions: Any, database_name: str
) -> None:
    run, ids = "same", range(300)
    embedded = await service_factory("embedded", database_name + "_e")
    kafka = await service_factory("scaled", database_name + "_k", **kafka_transport())
    for second in (False, True):
        body = scaled_sessions.requests(run, ids, second)
        await asyncio.gather(post(embedded, body), post(kafka, body))
    want = scaled_sessions.expected_signals(run, ids)
    assert embedded.pipeline is not None
    assert await embedded.pipeline.wait_stored()
    await settled(embedded, 600, len(want))
    await settled(kafka, 600, len(want))

    for sql in (
        f"SELECT {SPAN_COLUMNS} FROM spans",
        "SELECT SessionId, TraceId, SpanId, Signal, Category, round(Score, 3) FROM signals FINAL",
        "SELECT SessionId, TraceId, SpanId, round(FlagScore, 3), Signals, Categories "
        "FROM flagged_spans FINAL",
    ):
        assert await rows(kafka, sql) == await rows(embedded, sql), sql
    got = await rows(kafka, "SELECT SessionId, Signal FROM signals FINAL")
    assert set(got) == want
    # Nothing written twice, not even before a merge.
    assert await rows(kafka, "SELECT count() - uniqExact(TraceId, SpanId) FROM spans") == [(0,)]
    assert await rows(kafka, "SELECT count() - uniqExact(SpanId, Signal) FROM signals") == [(0,)]
