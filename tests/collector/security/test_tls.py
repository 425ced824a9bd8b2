"""TLS and mutual TLS on OTLP/gRPC, OTLP/HTTP and the admin port, with the real SDK exporters."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import time
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from pydantic import ValidationError
from tracesieve.collector.config import ConfigError, load_config
from tracesieve.collector.errors import PermanentError
from tracesieve.collector.query_client import run_query
from tracesieve.collector.receivers.otlp_grpc import OtlpGrpcConfig, OtlpGrpcReceiver
from tracesieve.collector.receivers.otlp_http import OtlpHttpConfig, OtlpHttpReceiver
from tracesieve.collector.testing import MemoryConsumer
from tracesieve.collector.tls import TlsServerConfig

TOKEN = "s3cret-otlp-token"
BEARER = {"authorization": f"Bearer {TOKEN}"}


def tls_overrides(pki: Any, where: str, mutual: bool = False) -> dict[str, Any]:
    overrides = {f"{where}.tls.cert_file": str(pki.server_cert), f"{where}.tls.key_file": str(pki.server_key)}
    if mutual:
        overrides[f"{where}.tls.client_ca_file"] = str(pki.ca)
    return overrides


async def test_spans_sent_over_tls_with_the_token_land_in_the_store(
    service_factory: Any, database_name: str, clients: Any, sdk_spans: Any, pki: Any
) -> None:
    service = await service_factory(
        "tls",
        database_name,
        **{"receivers.otlp.auth.token": TOKEN},
        **tls_overrides(pki, "receivers.otlp.protocols.grpc"),
        **tls_overrides(pki, "receivers.otlp.protocols.http"),
    )
    credentials = grpc.ssl_channel_credentials(pki.ca.read_bytes())
    ca = str(pki.ca)
    grpc_port, http_port = service.grpc.port, service.http.port
    # Plaintext to a TLS port, TLS without the token: refused, nothing stored.
    assert not await clients.export(clients.grpc_exporter(grpc_port, headers=BEARER, timeout=2), sdk_spans)
    assert not await clients.export(clients.http_exporter(http_port, headers=BEARER, timeout=2), sdk_spans)
    assert not await clients.export(clients.grpc_exporter(grpc_port, credentials=credentials), sdk_spans)
    assert not await clients.export(clients.http_exporter(http_port, "https", certificate_file=ca), sdk_spans)
    assert await clients.stored_spans(service, database_name) == 0

    assert await clients.export(
        clients.grpc_exporter(grpc_port, credentials=credentials, headers=BEARER), sdk_spans
    )
    assert await clients.export(
        clients.http_exporter(http_port, "https", certificate_file=ca, headers=BEARER), sdk_spans
    )
    # The same spans twice: writes are idempotent, so they are stored once.
    assert await clients.stored_spans(service, database_name) == clients.llm_spans(sdk_spans)


@pytest.mark.parametrize("protocol", ["grpc", "http"])
async def test_mutual_tls_admits_only_clients_with_a_certificate_from_the_ca(
    protocol: str, service_factory: Any, database_name: str, clients: Any, sdk_spans: Any, pki: Any
) -> None:
    service = await service_factory(
        "mtls", database_name, **tls_overrides(pki, f"receivers.otlp.protocols.{protocol}", mutual=True)
    )

    def exporter(cert: Path | None, key: Path | None) -> Any:
        if protocol == "grpc":
            credentials = grpc.ssl_channel_credentials(
                pki.ca.read_bytes(),
                private_key=key.read_bytes() if key else None,
                certificate_chain=cert.read_bytes() if cert else None,
            )
            return clients.grpc_exporter(service.grpc.port, credentials=credentials, timeout=2)
        mine = {"client_certificate_file": str(cert), "client_key_file": str(key)} if cert else {}
        return clients.http_exporter(
            service.http.port, "https", certificate_file=str(pki.ca), timeout=2, **mine
        )

    assert not await clients.export(exporter(None, None), sdk_spans)
    assert not await clients.export(exporter(pki.stranger_cert, pki.stranger_key), sdk_spans)
    assert await clients.stored_spans(service, database_name) == 0
    assert await clients.export(exporter(pki.client_cert, pki.client_key), sdk_spans)
    assert await clients.stored_spans(service, database_name) == clients.llm_spans(sdk_spans)


async def test_min_version_1_3_refuses_a_tls_1_2_client(pki: Any) -> None:
    tls = TlsServerConfig(cert_file=pki.server_cert, key_file=pki.server_key, min_version="1.3")
    receiver = OtlpHttpReceiver(OtlpHttpConfig(endpoint="127.0.0.1:0", tls=tls), MemoryConsumer())
    await receiver.start()
    try:
        url = f"https://localhost:{receiver.port}/v1/traces"
        old = ssl.create_default_context(cafile=pki.ca)
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.ClientConnectorError):
                await http.post(url, data=b"{}", ssl=old)
            current = ssl.create_default_context(cafile=pki.ca)
            async with http.post(
                url, data=b"{}", ssl=current, headers={"Content-Type": "application/json"}
            ) as r:
                assert r.status == 200
    finally:
        await receiver.aclose(time.monotonic() + 5)


@pytest.mark.parametrize(
    ("tls", "message"),
    [
        ({"cert_file": "/c.pem"}, "`tls.cert_file` is set but `tls.key_file` is not"),
        ({"key_file": "/k.pem"}, "`tls.key_file` is set but `tls.cert_file` is not"),
        ({"client_ca_file": "/ca.pem"}, "needs `cert_file` and `key_file`"),
        ({"cert_file": "/c", "key_file": "/k", "min_version": "1.1"}, "min_version"),
    ],
)
def test_tls_config_mistakes_name_the_key(tls: dict[str, Any], message: str) -> None:
    for where in ("receivers.otlp.protocols.grpc.tls", "receivers.otlp.protocols.http.tls", "admin.tls"):
        with pytest.raises(ConfigError) as caught:
            load_config(None, environ={}, overrides={where: tls})
        assert f"`{where}" in caught.value.reason and message in caught.value.reason


def test_grpc_refuses_a_min_version_it_cannot_enforce() -> None:
    with pytest.raises(ValidationError, match=r"grpc\.tls\.min_version"):
        OtlpGrpcConfig(tls=TlsServerConfig(cert_file=Path("/c"), key_file=Path("/k"), min_version="1.3"))


async def test_unreadable_or_mismatched_files_stop_the_start_naming_the_key(pki: Any, tmp_path: Path) -> None:
    broken = tmp_path / "broken.pem"
    broken.write_text("not a certificate")
    cases = [
        ({"cert_file": tmp_path / "absent.pem", "key_file": pki.server_key}, r"tls\.cert_file`: cannot read"),
        ({"cert_file": pki.server_cert, "key_file": tmp_path / "absent"}, r"tls\.key_file`: cannot read"),
        ({"cert_file": pki.server_cert, "key_file": pki.client_key}, r"key does not match"),
        ({"cert_file": broken, "key_file": pki.server_key}, r"not PEM"),
        (
            {"cert_file": pki.server_cert, "key_file": pki.server_key, "client_ca_file": broken},
            r"tls\.client_ca_file`: .* holds no PEM",
        ),
    ]
    for fields, message in cases:
        tls = TlsServerConfig(**fields)
        for receiver in (
            OtlpHttpReceiver(OtlpHttpConfig(endpoint="127.0.0.1:0", tls=tls), MemoryConsumer()),
            OtlpGrpcReceiver(OtlpGrpcConfig(endpoint="127.0.0.1:0", tls=tls), MemoryConsumer()),
        ):
            with pytest.raises(PermanentError, match=message):
                await receiver.start()
            await receiver.aclose(time.monotonic() + 1)


async def test_the_cli_queries_an_admin_port_on_mutual_tls_with_its_token(
    service_factory: Any, database_name: str, pki: Any, tmp_path: Path
) -> None:
    token_file = tmp_path / "admin-token"
    token_file.write_text("admin-secret\n")
    service = await service_factory(
        "admin-tls",
        database_name,
        **{"admin.token_file": str(token_file)},
        **tls_overrides(pki, "admin", mutual=True),
    )
    data_dir = service.data_dir
    base = f"https://localhost:{service.admin.port}"
    sql = "SELECT 41 + 1 AS answer"

    def query(**kwargs: Any) -> Any:
        return run_query(sql, None, store=None, data_dir=data_dir, **kwargs)

    mine = {"ca_file": pki.ca, "client_cert": pki.client_cert, "client_key": pki.client_key}
    assert await asyncio.to_thread(query, token="admin-secret", **mine) == (["answer"], [[42]])
    with pytest.raises(PermanentError, match="401"):
        await asyncio.to_thread(query, token=None, **mine)
    # Without the CA the server is not trusted; without a client certificate the handshake fails.
    for kwargs in ({"ca_file": None}, {"client_cert": None, "client_key": None}):
        refused = r"SSL|CERTIFICATE|certificate|handshake|EOF|reset|closed connection"
        with pytest.raises(Exception, match=refused):
            await asyncio.to_thread(query, token="admin-secret", **{**mine, **kwargs})
    # /healthz answers without a token but not without TLS.
    context = ssl.create_default_context(cafile=pki.ca)
    context.load_cert_chain(pki.client_cert, pki.client_key)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz", ssl=context) as r:
            assert r.status == 200
        with pytest.raises(aiohttp.ClientError):
            await http.get(f"http://localhost:{service.admin.port}/healthz")
    assert shutil.which("openssl")  # the certificates' maker (conftest), here and in Debian images
