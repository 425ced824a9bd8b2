"""Fixtures shared by every test folder.

A real Kafka 4.x broker for the Kafka transport's tests (``tests/kafka/_broker.py``, driving
``scripts/kafka.sh``): ``kafka_bootstrap`` (session) is the broker CI starts and names in
``TEST_KAFKA_BOOTSTRAP``, or else a private one the session starts from the cached
jars (never skipped); ``kafka_broker`` (function) is a private broker a test may stop, kill or
restart; ``topic_prefix`` keeps each test's topics and groups apart on the shared broker.

chDB (the embedded ClickHouse engine) lets a process open ONE data folder at a time, so all
tests in a pytest process share the session's folder (``chdb_dsn``) and isolate themselves by
database name (``database_name``). A test that needs a folder of its own runs in a subprocess.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from _broker import KafkaBroker
    from tracesieve.collector.service import Service


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's one chDB data folder (absolute)."""
    return tmp_path_factory.mktemp("chdb-session") / "chdb"


@pytest.fixture(scope="session")
def chdb_dsn(chdb_path: Path) -> str:
    """``chdb:///<tmp>/chdb``: the DSN of the session's shared embedded ClickHouse."""
    return f"chdb://{chdb_path}"


@pytest.fixture
def database_name() -> str:
    """A database name no other test uses (``t_`` + 12 hex digits)."""
    return f"t_{uuid.uuid4().hex[:12]}"


BOOTSTRAP_ENV = "TEST_KAFKA_BOOTSTRAP"


def _load_kafka_helper(stem: str) -> ModuleType:
    # tests/kafka is not a package (no __init__.py; "kafka" would shadow the client library's
    # name), so its helpers are loaded by path, once, under names of their own.
    name = f"tracesieve_tests_kafka{stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).parent / "kafka" / f"{stem}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


broker_module = _load_kafka_helper("_broker")
_otelcol_module = _load_kafka_helper("_otelcol")
# The official OpenTelemetry Collector, built once and cached, and the collectors a test starts.
otelcol, collectors = _otelcol_module.otelcol, _otelcol_module.collectors


@pytest.fixture
def otelcol_helpers() -> ModuleType:
    """``tests/kafka/_otelcol.py``: the collector's configs' environment, free ports."""
    return _otelcol_module


@pytest.fixture
def scaled_sessions() -> ModuleType:
    """``tests/kafka/_scaled.py``: synthetic chat sessions as OTLP requests, and their signals."""
    return _load_kafka_helper("_scaled")


ServiceFactory = Callable[..., Awaitable["Service"]]


@pytest.fixture
async def service_factory(tmp_path: Path, chdb_dsn: str) -> AsyncIterator[ServiceFactory]:
    """``await service_factory(name, database, **overrides)``: a started in-process collector on
    the session's chDB folder (its own data folder and database; ports chosen by the system),
    closed at teardown."""
    from tracesieve.collector.config import load_config
    from tracesieve.collector.service import Service

    started: list[Service] = []

    async def make(name: str, database: str, **overrides: Any) -> Service:
        config = load_config(
            None,
            environ={},
            overrides={
                "service.data_dir": str(tmp_path / name),
                "sinks.clickhouse.dsn": chdb_dsn,
                "sinks.clickhouse.database": database,
                "receivers.otlp.protocols.grpc.endpoint": "127.0.0.1:0",
                "receivers.otlp.protocols.http.endpoint": "127.0.0.1:0",
                "admin.endpoint": "127.0.0.1:0",
                "processors.assembly.context_wait_s": 0.2,
                "evals.sampling.schedule": False,
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


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``"host:port"`` of the session's broker: CI's (``$TEST_KAFKA_BOOTSTRAP``) or its own."""
    given = os.environ.get(BOOTSTRAP_ENV)
    if given:
        yield given
        return
    broker_module.install()
    broker: KafkaBroker = broker_module.KafkaBroker(tmp_path_factory.mktemp("kafka-session"))
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def kafka_broker(tmp_path: Path) -> Iterator[KafkaBroker]:
    """A started broker of this test alone (own port and folder), stopped at teardown."""
    broker_module.install()
    broker: KafkaBroker = broker_module.KafkaBroker(tmp_path / "kafka")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def topic_prefix() -> str:
    """``t<8 hex>_``: prefix every topic and group id of the test with it."""
    return f"t{uuid.uuid4().hex[:8]}_"


KafkaTransport = Callable[..., dict[str, Any]]


@pytest.fixture
def kafka_transport(request: pytest.FixtureRequest, topic_prefix: str) -> KafkaTransport:
    """``kafka_transport(bootstrap=None, partitions=4)``: config overrides that select the Kafka
    transport on this test's own topics and groups, on ``bootstrap`` (default: the session's
    broker, started only when asked for)."""

    def overrides(bootstrap: str | None = None, partitions: int = 4) -> dict[str, Any]:
        topics = ("spans", "logs", "feedback", "traces", "canonical", "changelog")
        return {
            "transport.kind": "kafka",
            "transport.kafka.bootstrap_servers": bootstrap or request.getfixturevalue("kafka_bootstrap"),
            "transport.kafka.group_id": topic_prefix + "group",
            "transport.kafka.partitions": partitions,
            "transport.kafka.checkpoint_interval_s": 1.0,
            **{f"transport.kafka.topics.{name}": topic_prefix + name for name in topics},
        }

    return overrides


CAPTURES = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "captures"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kafka: needs a real Kafka broker (the kafka_bootstrap fixture)")
    # Capture-driven tests parametrize over files: a missing folder must fail, not collect nothing.
    if not CAPTURES.is_dir() or len(list(CAPTURES.glob("*/*.pb"))) < 4:
        raise pytest.UsageError(
            f"the reference captures are missing: {CAPTURES} (shared/ must sit beside the repo)"
        )
