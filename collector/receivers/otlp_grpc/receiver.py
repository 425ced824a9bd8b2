"""OTLP/gRPC receiver: TraceService, LogsService and MetricsService ``Export`` on ``grpc.aio``.

Runs on the caller's event loop (no thread per call). Methods are registered as generic
handlers without a deserializer, so each call gets the raw request bytes, which are both parsed
here (malformed → INVALID_ARGUMENT) and handed to the consumer for the ingest log. gzip
(``grpc-encoding``) is undone by gRPC; its ``max_receive_message_length`` caps the message.
Failures are answered through :mod:`tracesieve.collector.receivers.status` with a
``google.rpc.Status`` in ``grpc-status-details-bin`` (plus ``RetryInfo`` when retryable).
Metrics are parsed and then dropped. With ``auth`` set, an interceptor ends every call without the
bearer token with UNAUTHENTICATED before its handler runs (:mod:`._auth_interceptor`); with
``tls``, the port speaks only TLS, and requires client certificates when ``tls.client_ca_file``
is set.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import grpc.aio
from tracesieve.collector.contracts import OtlpConsumer
from tracesieve.collector.errors import TracesieveError
from tracesieve.collector.receivers._auth import BearerTokenAuth
from tracesieve.collector.receivers._codec import (
    LOGS,
    METRICS,
    PROTOBUF,
    TRACES,
    Signal,
    decode_request,
    encode_response,
)
from tracesieve.collector.receivers._common import InflightLimiter, admission_of, dispatch
from tracesieve.collector.receivers.otlp_grpc._auth_interceptor import BearerAuthInterceptor
from tracesieve.collector.receivers.otlp_grpc.config import OtlpGrpcConfig
from tracesieve.collector.receivers.status import translate
from tracesieve.collector.telemetry.receiving import CountingConsumer, request_received
from tracesieve.collector.tls import grpc_server_credentials

__all__ = ["OtlpGrpcReceiver"]

_log = logging.getLogger(__name__)

_Method = Callable[[bytes, Any], Awaitable[bytes]]


class OtlpGrpcReceiver:
    """Serves OTLP/gRPC on ``config.endpoint`` and hands decoded requests to ``consumer``."""

    def __init__(self, config: OtlpGrpcConfig, consumer: OtlpConsumer) -> None:
        self._config = config
        self._consumer = CountingConsumer(consumer, "grpc")
        self._limiter = InflightLimiter(
            config.max_inflight_requests,
            config.max_inflight_bytes,
            config.retry_after_s,
            admission_of(consumer),
        )
        self._server: Any = None  # grpc.aio.Server
        self._port: int | None = None
        self._closed = False
        self._close_lock = asyncio.Lock()

    @property
    def port(self) -> int:
        """The bound port (useful with port 0); RuntimeError before :meth:`start`."""
        if self._port is None:
            raise RuntimeError("receiver not started")
        return self._port

    async def start(self) -> None:
        """Bind and serve on the running loop; raises OSError when the port cannot be bound."""
        if self._server is not None or self._closed:
            raise RuntimeError("receiver already started")
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", self._config.max_recv_msg_size_bytes),
            # Fail on a taken port instead of silently sharing it (gRPC sets SO_REUSEPORT).
            ("grpc.so_reuseport", 0),
        ]
        if self._config.max_concurrent_streams is not None:
            options.append(("grpc.max_concurrent_streams", self._config.max_concurrent_streams))
        interceptors = []
        if self._config.auth is not None:
            auth = BearerTokenAuth(self._config.auth, "receivers.otlp.protocols.grpc.auth")
            auth.load()
            interceptors.append(BearerAuthInterceptor(auth))
        credentials = None
        if self._config.tls is not None:
            credentials = grpc_server_credentials(self._config.tls, "receivers.otlp.protocols.grpc.tls")
        server = grpc.aio.server(options=options, interceptors=interceptors)
        server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(
                    signal.grpc_service,
                    {"Export": grpc.unary_unary_rpc_method_handler(self._method(signal))},
                )
                for signal in (TRACES, LOGS, METRICS)
            ]
        )
        host, port = self._config.host, self._config.port
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            if credentials is None:
                bound = server.add_insecure_port(address)
            else:
                bound = server.add_secure_port(address, credentials)
        except RuntimeError as exc:  # grpc reports bind failures this way
            await server.stop(None)
            raise OSError(f"cannot bind OTLP/gRPC receiver to {address}: {exc}") from exc
        await server.start()
        self._server = server
        self._port = int(bound)
        _log.info(
            "OTLP/gRPC receiver listening on %s:%d (%s, %s)",
            host,
            self._port,
            "TLS" if credentials is not None else "plaintext",
            "bearer token required" if interceptors else "no auth",
        )

    async def aclose(self, deadline: float) -> None:
        """Stop accepting calls, let calls in flight finish until ``deadline`` (monotonic).

        Calls still running at the deadline are cancelled (clients see CANCELLED, retryable).
        Idempotent.
        """
        async with self._close_lock:
            self._closed = True
            server, self._server = self._server, None
            if server is not None:
                await server.stop(max(0.0, deadline - time.monotonic()))

    def _method(self, signal: Signal) -> _Method:
        async def export(raw: bytes, context: Any) -> bytes:
            return await self._export(signal, raw, context)

        return export

    async def _export(self, signal: Signal, raw: bytes, context: Any) -> bytes:
        request_received("grpc", signal.name)
        try:
            lease = self._limiter.acquire(len(raw))
            try:
                message, raw = decode_request(signal, raw, PROTOBUF)
                result = await dispatch(self._consumer, signal, message, raw)
            finally:
                lease.release()
            return encode_response(signal, result, PROTOBUF)
        except Exception as exc:  # every failure is answered; nothing a client sends crashes us
            if not isinstance(exc, TracesieveError):
                _log.error("OTLP/gRPC %s call failed unexpectedly", signal.name, exc_info=exc)
            failure = translate(exc, retry_after_s=self._config.retry_after_s)
        # Outside the except block: abort_with_status raises to end the call.
        await context.abort_with_status(failure.grpc_status())
        raise AssertionError("unreachable")  # abort_with_status never returns
