"""Fixtures for the auth and TLS tests: throwaway certificates, SDK exporters, span counts.

Certificates come from the ``openssl`` command (in Debian's and the ``python:*-slim`` images,
as a dependency of ``ca-certificates``), so the tests need no extra Python package: a CA, a
server certificate for ``localhost``/``127.0.0.1`` and a client certificate signed by it, plus
a client certificate from a CA the servers do not trust.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

TOKEN = "s3cret-otlp-token"
ADMIN_TOKEN = "s3cret-admin-token"


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path  # signed by a CA the servers do not trust
    stranger_key: Path


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def _issue(folder: Path, name: str, ca: tuple[Path, Path], subject: str, ext: str) -> tuple[Path, Path]:
    key, csr, cert, extfile = (folder / f"{name}.{s}" for s in ("key", "csr", "crt", "ext"))
    extfile.write_text(ext)
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", csr, "-subj", subject,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
        "-days", "2", "-sha256", "-extfile", extfile, "-out", cert,
    )  # fmt: skip
    return cert, key


def _ca(folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca = _ca(folder, "test-ca")
    other_ca = _ca(folder, "other-ca")
    server = _issue(
        folder,
        "server",
        ca,
        "/CN=localhost",
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    client = _issue(folder, "client", ca, "/CN=sdk-client", "extendedKeyUsage=clientAuth\n")
    stranger = _issue(folder, "stranger", other_ca, "/CN=stranger", "extendedKeyUsage=clientAuth\n")
    return Pki(ca[0], *server, *client, *stranger)


@pytest.fixture(autouse=True)
def _exporter_ca_files_are_not_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets $REQUESTS_CA_BUNDLE / $CURL_CA_BUNDLE replace a session's `verify`, so the
    # HTTP exporter's `certificate_file` would be ignored where they are set (psf/requests#3829).
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.fixture(scope="session")
def sdk_spans() -> list[ReadableSpan]:
    """Three finished spans of one chat turn, from the real SDK."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "auth-test"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("auth-test")
    with tracer.start_as_current_span("chat_turn", attributes={"session.id": "sess-auth"}):
        for n in range(2):
            with tracer.start_as_current_span(f"chat gpt-4o #{n}") as span:
                span.set_attribute("gen_ai.operation.name", "chat")
                span.set_attribute("gen_ai.request.model", "gpt-4o")
    provider.shutdown()
    return list(memory.get_finished_spans())


class Clients:
    """The SDK exporters as a test uses them, and the store's span count (fixture ``clients``)."""

    @staticmethod
    def grpc_exporter(port: int, **kwargs: Any) -> GrpcSpanExporter:
        if "credentials" not in kwargs:
            kwargs["insecure"] = True
        kwargs.setdefault("timeout", 10)
        return GrpcSpanExporter(endpoint=f"localhost:{port}", **kwargs)

    @staticmethod
    def http_exporter(port: int, scheme: str = "http", **kwargs: Any) -> HttpSpanExporter:
        kwargs.setdefault("timeout", 10)
        return HttpSpanExporter(endpoint=f"{scheme}://localhost:{port}/v1/traces", **kwargs)

    @staticmethod
    async def export(exporter: Any, spans: Sequence[ReadableSpan]) -> bool:
        """Export from a thread (the exporters block), shut the exporter down; True on SUCCESS."""
        try:
            result = await asyncio.to_thread(exporter.export, spans)
        finally:
            await asyncio.to_thread(exporter.shutdown)
        return getattr(result, "name", "") == "SUCCESS"

    @staticmethod
    async def stored_spans(service: Any, database: str) -> int:
        """Spans in the store once everything received so far is stored."""
        assert await service.wait_stored()
        _, rows = await service.sink.query(f"SELECT count() FROM {database}.spans", None)
        return int(rows[0][0])

    @staticmethod
    def llm_spans(spans: Sequence[ReadableSpan]) -> int:
        """How many of ``spans`` the store keeps: the model calls (not the turn's root span)."""
        return sum(1 for span in spans if (span.attributes or {}).get("gen_ai.operation.name"))


@pytest.fixture
def clients() -> type[Clients]:
    return Clients
