"""The broker stopped for 30 s in the middle of a stream and started again: every span whose
request was acknowledged is stored once, and requests that could not be acknowledged were
refused with a retryable status (the client sends them again). 10,000 sessions, one span each."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from tracesieve.collector.service import Service

OUTAGE_S = 30
SESSIONS = 10_000
RETRYABLE = {429, 502, 503, 504}


@pytest.fixture
async def service(
    kafka_broker: Any, service_factory: Any, database_name: str, kafka_transport: Any
) -> Service:
    # kafka_broker first: set up before the service factory, it stops after the service closes.
    svc: Service = await service_factory("data", database_name, **kafka_transport(kafka_broker.bootstrap))
    return svc


async def test_broker_down_for_30s_loses_nothing_acknowledged(
    service: Service, kafka_broker: Any, scaled_sessions: Any
) -> None:
    assert service.http is not None and service.sink is not None
    url = f"http://127.0.0.1:{service.http.port}/v1/traces"
    acked: list[int] = []  # first session of each acknowledged request
    refused: list[int] = []
    statuses: set[int] = set()
    stop_sending = asyncio.Event()

    async def send() -> None:
        n = 0
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(timeout=timeout) as client:
            while not stop_sending.is_set():
                body = scaled_sessions.requests("outage", range(n, n + 50), second=False, per_request=50)[0]
                async with client.post(
                    url, data=body, headers={"Content-Type": "application/x-protobuf"}
                ) as r:
                    await r.read()
                    statuses.add(r.status)
                    (acked if r.status == 200 else refused).append(n)
                n += 50
                await asyncio.sleep(0.05)

    async def spans_stored() -> int:
        assert service.sink is not None
        _, rows = await service.sink.query("SELECT count() FROM spans", None)
        return int(rows[0][0])

    sender = asyncio.create_task(send())
    for _ in range(200):  # the stream reaches the store before the outage
        if await spans_stored() >= 500:
            break
        await asyncio.sleep(0.1)
    await asyncio.to_thread(kafka_broker.stop)
    await asyncio.sleep(OUTAGE_S)
    await asyncio.to_thread(kafka_broker.start)
    for _ in range(1200):  # a 10,000-session run: the stream goes on after the broker's return
        if acked and acked[-1] >= SESSIONS:
            break
        await asyncio.sleep(0.1)
    stop_sending.set()
    await sender

    assert statuses <= {200} | RETRYABLE, statuses
    want = {f"outage-s{n + i}" for n in acked for i in range(50)}
    for _ in range(600):
        if await spans_stored() >= len(want):
            break
        await asyncio.sleep(0.2)
    _, rows = await service.sink.query("SELECT SessionId, count() FROM spans GROUP BY SessionId", None)
    stored = {str(session): int(count) for session, count in rows}
    missing = sorted(want - set(stored))
    assert not missing, f"{len(missing)} of {len(want)} acknowledged spans missing, e.g. {missing[:5]}"
    assert max(stored.values()) == 1  # and once
    assert len(acked) > 10
