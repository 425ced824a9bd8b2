"""A running collector for the review-loop tests: store, pipeline, admin API with a token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from tracesieve.collector.config import Config, load_config
from tracesieve.collector.service import Service

ADMIN_TOKEN = "s3cret"


def service_config(
    tmp_path: Path, chdb_dsn: str, database_name: str, *, token: str = ADMIN_TOKEN, **overrides: Any
) -> Config:
    """A collector on the session's chDB (a database of its own), every port picked by the OS."""
    return load_config(
        None,
        environ={},
        overrides={
            "service.data_dir": str(tmp_path / "data"),
            "sinks.clickhouse.dsn": chdb_dsn,
            "sinks.clickhouse.database": database_name,
            "receivers.otlp.protocols.grpc.endpoint": "127.0.0.1:0",
            "receivers.otlp.protocols.http.endpoint": "127.0.0.1:0",
            "admin.endpoint": "127.0.0.1:0",
            "admin.token": token,
            **overrides,
        },
    )


@pytest.fixture(scope="session")
def admin_token() -> str:
    return ADMIN_TOKEN


@pytest.fixture(scope="session")
def make_service_config() -> Callable[..., Config]:
    return service_config


@pytest.fixture
async def service(tmp_path: Path, chdb_dsn: str, database_name: str) -> AsyncIterator[Service]:
    """A started collector with the default settings and ADMIN_TOKEN."""
    svc = Service(service_config(tmp_path, chdb_dsn, database_name))
    await svc.start()
    yield svc
    await svc.aclose()
