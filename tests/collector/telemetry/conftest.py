"""Fixtures for the telemetry tests: scraping a running service's admin port."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tracesieve.collector.service import Service

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
Scrape = Callable[[Service], Awaitable[Samples]]


def admin_url(service: Service, path: str) -> str:
    assert service.admin is not None
    return f"http://127.0.0.1:{service.admin.port}{path}"


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample ``name{labels}``; 0 when absent (a counter not incremented yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def scrape() -> Scrape:
    """``await scrape(service)``: its ``GET /metrics``, parsed, as {(name, labels): value}."""

    async def get(service: Service) -> Samples:
        headers = {}
        if service.config.admin.token:
            headers["Authorization"] = f"Bearer {service.config.admin.token}"
        async with (
            aiohttp.ClientSession() as http,
            http.get(admin_url(service, "/metrics"), headers=headers) as r,
        ):
            assert r.status == 200, await r.text()
            assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = await r.text()
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    return get
