"""Bearer-token auth on the OTLP receivers: the real SDK exporters, raw HTTP and raw gRPC clients.

The bar (issue 6): without the token, no OTLP request is accepted when auth is configured.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import grpc.aio
import pytest
from google.rpc import status_pb2
from tracesieve.collector.config import ConfigError, load_config
from tracesieve.collector.errors import PermanentError
from tracesieve.collector.receivers._auth import BearerAuthConfig
from tracesieve.collector.receivers.otlp_grpc import OtlpGrpcConfig, OtlpGrpcReceiver
from tracesieve.collector.receivers.otlp_http import OtlpHttpConfig, OtlpHttpReceiver
from tracesieve.collector.testing import MemoryConsumer

TOKEN = "s3cret-otlp-token"
TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
HTTP_PATHS = ["/v1/traces", "/v1/logs", "/v1/metrics", "/v1/feedback", "/api/public/otel/v1/traces", "/nope"]


@pytest.mark.parametrize("protocol", ["grpc", "http"])
async def test_without_the_token_the_sdk_exporter_is_refused_and_nothing_is_stored(
    protocol: str, service_factory: Any, database_name: str, clients: Any, sdk_spans: Any
) -> None:
    service = await service_factory("auth", database_name, **{"receivers.otlp.auth.token": TOKEN})
    port = service.grpc.port if protocol == "grpc" else service.http.port
    make = clients.grpc_exporter if protocol == "grpc" else clients.http_exporter
    for headers in (None, {"authorization": "Bearer not-the-token"}, {"authorization": TOKEN}):
        assert not await clients.export(make(port, headers=headers), sdk_spans), headers
    assert await clients.stored_spans(service, database_name) == 0

    assert await clients.export(make(port, headers={"authorization": f"Bearer {TOKEN}"}), sdk_spans)
    assert await clients.stored_spans(service, database_name) == clients.llm_spans(sdk_spans)


async def test_a_protocol_may_have_its_own_token(
    service_factory: Any, database_name: str, clients: Any, sdk_spans: Any
) -> None:
    service = await service_factory(
        "own",
        database_name,
        **{"receivers.otlp.auth.token": TOKEN, "receivers.otlp.protocols.http.auth.token": "http-only"},
    )
    shared, own = {"authorization": f"Bearer {TOKEN}"}, {"authorization": "Bearer http-only"}
    assert not await clients.export(clients.http_exporter(service.http.port, headers=shared), sdk_spans)
    assert not await clients.export(clients.grpc_exporter(service.grpc.port, headers=own), sdk_spans)
    assert await clients.export(clients.http_exporter(service.http.port, headers=own), sdk_spans)
    assert await clients.export(clients.grpc_exporter(service.grpc.port, headers=shared), sdk_spans)


async def _raw_request(port: int, head: str) -> tuple[str, dict[str, str], bytes]:
    """Send only ``head`` (request line and headers) and read the answer; the body never follows."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        async with asyncio.timeout(10):  # a hang guard, not a timing assertion
            writer.write(head.encode())
            await writer.drain()
            status_line, *lines = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
    finally:
        writer.close()
        await writer.wait_closed()
    return status_line, headers, body


@pytest.mark.parametrize("path", HTTP_PATHS)
async def test_http_answers_401_on_every_path_before_the_body_arrives(path: str) -> None:
    consumer = MemoryConsumer()
    receiver = OtlpHttpReceiver(
        OtlpHttpConfig(endpoint="127.0.0.1:0", auth=BearerAuthConfig(token=TOKEN)), consumer
    )
    await receiver.start()
    try:
        # A 1 GB body is announced and never sent: the 401 comes anyway, so the body was not read.
        head = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000000000\r\n{auth}\r\n"
        )
        status_line, headers, body = await _raw_request(receiver.port, head.format(auth=""))
        assert status_line.startswith("HTTP/1.1 401 ")
        assert headers["www-authenticate"] == 'Bearer realm="tracesieve-otlp"'
        if path == "/v1/feedback":
            assert "Bearer <token>" in body.decode()
        else:  # an OTLP google.rpc.Status, in JSON as the request's type asks
            assert b'"code":16' in body.replace(b" ", b"")
        wrong = head.format(auth="Authorization: Bearer nope\r\n")
        status_line, headers, _ = await _raw_request(receiver.port, wrong)
        assert status_line.startswith("HTTP/1.1 401 ")
        assert headers["www-authenticate"] == 'Bearer realm="tracesieve-otlp", error="invalid_token"'
        get = f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"
        assert (await _raw_request(receiver.port, get))[0].startswith("HTTP/1.1 401 ")
    finally:
        await receiver.aclose(time.monotonic() + 5)
    assert consumer.calls == 0 and consumer.traces == [] and consumer.feedback == []


async def test_http_accepts_the_token_with_any_case_of_the_scheme() -> None:
    receiver = OtlpHttpReceiver(
        OtlpHttpConfig(endpoint="127.0.0.1:0", auth=BearerAuthConfig(token=TOKEN)), MemoryConsumer()
    )
    await receiver.start()
    try:
        async with aiohttp.ClientSession() as http:
            for given, expected in (
                (f"Bearer {TOKEN}", 200),
                (f"bearer {TOKEN}", 200),  # RFC 7235: the scheme is case-insensitive
                (f"BEARER {TOKEN}", 200),
                (f"Basic {TOKEN}", 401),
                (f"Bearer {TOKEN}x", 401),
                (f"Bearer {TOKEN[:-1]}", 401),
                (TOKEN, 401),
                ("Bearer", 401),
            ):
                headers = {"Authorization": given, "Content-Type": "application/json"}
                url = f"http://127.0.0.1:{receiver.port}/v1/traces"
                async with http.post(url, data=b"{}", headers=headers) as answer:
                    assert answer.status == expected, given
    finally:
        await receiver.aclose(time.monotonic() + 5)


async def _grpc_call(port: int, method: str, metadata: tuple[tuple[str, str], ...] | None) -> grpc.StatusCode:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(method)
        try:
            await call(b"", metadata=metadata, timeout=10)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                trailers = dict(exc.trailing_metadata() or ())
                rich = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
                assert rich.code == grpc.StatusCode.UNAUTHENTICATED.value[0]
            return exc.code()
    return grpc.StatusCode.OK


async def test_grpc_answers_unauthenticated_to_every_method_without_the_token() -> None:
    consumer = MemoryConsumer()
    receiver = OtlpGrpcReceiver(
        OtlpGrpcConfig(endpoint="127.0.0.1:0", auth=BearerAuthConfig(token=TOKEN)), consumer
    )
    await receiver.start()
    right = (("authorization", f"Bearer {TOKEN}"),)
    try:
        for method in (TRACE_EXPORT, "/opentelemetry.proto.collector.logs.v1.LogsService/Export", "/x.Y/Z"):
            for metadata in (None, (("authorization", "Bearer nope"),), right + right, (("x-token", TOKEN),)):
                code = await _grpc_call(receiver.port, method, metadata)
                assert code == grpc.StatusCode.UNAUTHENTICATED, (method, metadata)
        assert await _grpc_call(receiver.port, "/x.Y/Z", right) == grpc.StatusCode.UNIMPLEMENTED
        assert await _grpc_call(receiver.port, TRACE_EXPORT, right) == grpc.StatusCode.OK
    finally:
        await receiver.aclose(time.monotonic() + 5)
    assert len(consumer.traces) == 1 and consumer.logs == []


async def test_a_rewritten_token_file_takes_effect_without_a_restart(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("first-token\n")
    receiver = OtlpHttpReceiver(
        OtlpHttpConfig(endpoint="127.0.0.1:0", auth=BearerAuthConfig(token_file=token_file)), MemoryConsumer()
    )
    await receiver.start()
    url = f"http://127.0.0.1:{receiver.port}/v1/traces"

    async def status(token: str) -> int:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        async with http.post(url, data=b"{}", headers=headers) as answer:
            return answer.status

    try:
        async with aiohttp.ClientSession() as http:
            assert await status("first-token") == 200
            token_file.write_text("second-token")
            for _ in range(100):  # re-read at most once a second
                if await status("second-token") == 200:
                    break
                await asyncio.sleep(0.05)
            assert await status("second-token") == 200
            assert await status("first-token") == 401
    finally:
        await receiver.aclose(time.monotonic() + 5)


async def test_an_unreadable_token_file_stops_the_start_naming_the_key(tmp_path: Path) -> None:
    missing = tmp_path / "absent"
    for receiver in (
        OtlpHttpReceiver(
            OtlpHttpConfig(endpoint="127.0.0.1:0", auth=BearerAuthConfig(token_file=missing)),
            MemoryConsumer(),
        ),
        OtlpGrpcReceiver(
            OtlpGrpcConfig(endpoint="127.0.0.1:0", auth=BearerAuthConfig(token_file=missing)),
            MemoryConsumer(),
        ),
    ):
        with pytest.raises(PermanentError, match=r"protocols\.(http|grpc)\.auth\.token_file`: cannot read"):
            await receiver.start()
        await receiver.aclose(time.monotonic() + 1)


def test_the_shared_auth_reaches_both_protocols_and_env_overrides_it() -> None:
    config = load_config(None, environ={"TRACESIEVE_RECEIVERS__OTLP__AUTH__TOKEN": "from-env"})
    protocols = config.receivers.otlp.protocols
    assert protocols.grpc and protocols.grpc.auth and protocols.grpc.auth.token == "from-env"
    assert protocols.http and protocols.http.auth and protocols.http.auth.token == "from-env"
    assert "from-env" not in repr(config)
    disabled = load_config(
        None, environ={}, overrides={"receivers.otlp.auth.token": "t", "receivers.otlp.protocols.http": None}
    )
    assert disabled.receivers.otlp.protocols.http is None
    assert load_config(None, environ={}).receivers.otlp.protocols.grpc.auth is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"receivers.otlp.auth.token": "t", "receivers.otlp.auth.token_file": "/f"}, "exactly one of"),
        ({"receivers.otlp.auth.token": ""}, "exactly one of|empty"),
        ({"receivers.otlp.protocols.grpc.auth": {}}, "exactly one of"),
        ({"admin.token": "t", "admin.token_file": "/f"}, "admin.token_file"),
    ],
)
def test_auth_config_mistakes_name_the_key(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(None, environ={}, overrides=overrides)
    assert "auth" in caught.value.reason or "admin" in caught.value.reason
