"""OTLP/HTTP receiver: ``POST /v1/traces``, ``/v1/logs``, ``/v1/metrics`` on one aiohttp server,
and ``POST /v1/feedback`` (app-side feedback as JSON, :mod:`.feedback`).

Follows the OTLP spec (conventions §7c): protobuf or JSON chosen by ``Content-Type`` and
answered in the same type; gzip/deflate bodies capped after decompression (413); every 4xx/5xx
carries a ``google.rpc.Status``; errors are translated by
:mod:`tracesieve.collector.receivers.status`. Langfuse's ``/api/public/otel/v1/traces`` is an
alias of ``/v1/traces``. Metrics are decoded (so bad ones get 400) and then dropped.

A request is answered once the consumer returns, i.e. once its items are durable. Overload is
refused before the body is read, so it costs little: past ``max_inflight_requests`` or
``max_inflight_bytes`` the answer is 429 with ``Retry-After``.

With ``auth`` set, every request (every route, ``/v1/feedback`` and unknown paths included) is
checked for the bearer token first, before its body is read: 401 with ``WWW-Authenticate``, not
retryable. With ``tls``, the port speaks only HTTPS (client certificates required when
``tls.client_ca_file`` is set).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import grpc
from aiohttp import hdrs, web
from aiohttp.http_exceptions import HttpProcessingError
from tracesieve.collector.contracts import OtlpConsumer
from tracesieve.collector.errors import PayloadTooLargeError, RetryableError, TracesieveError
from tracesieve.collector.receivers._auth import WWW_AUTHENTICATE, BearerTokenAuth, UnauthenticatedError
from tracesieve.collector.receivers._codec import (
    JSON,
    LOGS,
    METRICS,
    TRACES,
    Decompressor,
    Signal,
    decode_request,
    encode_response,
    encode_status,
    media_type,
)
from tracesieve.collector.receivers._common import InflightLimiter, admission_of, dispatch
from tracesieve.collector.receivers.otlp_http.config import OtlpHttpConfig
from tracesieve.collector.receivers.otlp_http.feedback import FEEDBACK_PATH, FeedbackRoute, failure_response
from tracesieve.collector.receivers.status import Failure, translate
from tracesieve.collector.telemetry.metrics import tagged
from tracesieve.collector.telemetry.receiving import CountingConsumer, request_received
from tracesieve.collector.tls import server_ssl_context

__all__ = ["OTLP_ROUTES", "Handler", "OtlpHttpReceiver"]

_log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

OTLP_ROUTES: Final[dict[str, Signal]] = {
    "/v1/traces": TRACES,
    "/v1/logs": LOGS,
    "/v1/metrics": METRICS,
    "/api/public/otel/v1/traces": TRACES,  # Langfuse's OTLP endpoint (conventions §4)
}
_SIGNAL_OF_PATH: Final = {**{path: s.name for path, s in OTLP_ROUTES.items()}, FEEDBACK_PATH: "feedback"}
# After the drain, how long aiohttp waits for handlers before cancelling them.
_CLEANUP_TIMEOUT_S: Final = 0.1


class _ProtocolLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's log for what happens outside the handlers, with malformed requests demoted.

    aiohttp answers a request it cannot parse (bad framing, bytes a header may not hold) with
    400 itself, but logs it at ERROR with a traceback: a client's mistake, written here as one
    warning line, so that a hostile client cannot fill the log with tracebacks.
    """

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        if isinstance(exc_info, HttpProcessingError):
            reason = " ".join(str(exc_info.message).split())[:200]
            self.warning("malformed HTTP request answered with %d: %s", exc_info.code, reason)
        else:
            super().exception(msg, *args, exc_info=exc_info, **kwargs)


_PROTOCOL_LOG: Final = _ProtocolLog(logging.getLogger("aiohttp.server"))


class OtlpHttpReceiver:
    """Serves OTLP/HTTP on ``config.endpoint`` and hands decoded requests to ``consumer``.

    ``POST /v1/feedback`` is always served (to ``consumer.consume_feedback``). Add more routes
    with :meth:`add_route` before :meth:`start`; they share the port, the drain on
    :meth:`aclose` and the 404/405 answers.
    """

    def __init__(self, config: OtlpHttpConfig, consumer: OtlpConsumer) -> None:
        self._config = config
        self._consumer = CountingConsumer(consumer, "http")
        self._limiter = InflightLimiter(
            config.max_inflight_requests,
            config.max_inflight_bytes,
            config.retry_after_s,
            admission_of(consumer),
        )
        self._auth = (
            BearerTokenAuth(config.auth, "receivers.otlp.protocols.http.auth") if config.auth else None
        )
        self._app = web.Application(middlewares=[self._guard])
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._active = 0  # requests inside any handler, OTLP or added
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self._close_lock = asyncio.Lock()
        for path, signal in OTLP_ROUTES.items():
            self._app.router.add_post(path, self._export_handler(signal))
        # App-side feedback shares the port, limits and drain (DESIGN.md, Interfaces: ports).
        feedback = FeedbackRoute(config, self._consumer, self._limiter, self._read_body)
        self._app.router.add_post(FEEDBACK_PATH, feedback.handle)

    @property
    def app(self) -> web.Application:
        """The aiohttp application (frozen once started)."""
        return self._app

    @property
    def port(self) -> int:
        """The bound port (useful with port 0); RuntimeError before :meth:`start`."""
        if self._port is None:
            raise RuntimeError("receiver not started")
        return self._port

    def add_route(self, method: str, path: str, handler: Handler) -> None:
        """Serve ``handler`` for ``method path`` on this port; only before :meth:`start`.

        Bodies read with ``request.read()``/``json()`` are capped by aiohttp's ``client_max_size``
        (1 MiB). Uncaught exceptions become 500 as aiohttp does; use :func:`status.translate`
        for OTLP-style answers.
        """
        if self._runner is not None:
            raise RuntimeError("routes must be added before start()")
        self._app.router.add_route(method, path, handler)

    async def start(self) -> None:
        """Bind and serve; raises OSError when the port is taken."""
        if self._runner is not None or self._closing:
            raise RuntimeError("receiver already started")
        runner = web.AppRunner(
            self._app,
            access_log=None,
            logger=_PROTOCOL_LOG,
            auto_decompress=False,  # the codec inflates under the cap, aiohttp would not
            shutdown_timeout=_CLEANUP_TIMEOUT_S,
        )
        if self._auth is not None:
            self._auth.load()
        tls = self._config.tls
        ssl_context = server_ssl_context(tls, "receivers.otlp.protocols.http.tls") if tls else None
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._config.host, self._config.port, ssl_context=ssl_context)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        _log.info(
            "OTLP/HTTP receiver listening on %s:%d (%s, %s)",
            self._config.host,
            self._port,
            "TLS" if ssl_context is not None else "plaintext",
            "bearer token required" if self._auth is not None else "no auth",
        )

    async def aclose(self, deadline: float) -> None:
        """Stop accepting, let requests in flight finish until ``deadline`` (monotonic), close.

        Requests arriving on open connections meanwhile get 503 (retryable). Requests still
        running at the deadline are cancelled. Idempotent.
        """
        async with self._close_lock:
            self._closing = True
            runner, self._runner = self._runner, None
            if runner is None:
                return
            for site in list(runner.sites):
                await site.stop()
            if self._active:
                try:
                    async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                        await self._idle.wait()
                except TimeoutError:
                    _log.warning("OTLP/HTTP receiver: %d requests cancelled at shutdown", self._active)
            await runner.cleanup()

    # --- request handling ---------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        request_received("http", _SIGNAL_OF_PATH.get(request.path))
        if self._auth is not None:
            # First, before the body is read and before saying which paths exist.
            try:
                self._auth.check(request.headers.get(hdrs.AUTHORIZATION))
            except UnauthenticatedError as exc:
                return self._unauthenticated(request, exc)
        unmatched = request.match_info.http_exception
        if unmatched is not None:
            return self._unmatched(request, unmatched)
        if self._closing:
            failure = translate(
                tagged(RetryableError("receiver shutting down"), "shutting_down"),
                retry_after_s=self._config.retry_after_s,
            )
            if request.path == FEEDBACK_PATH:
                response = failure_response(failure)
            else:
                response = self._failure_response(failure, _response_media(request))
            response.force_close()
            return response
        self._active += 1
        self._idle.clear()
        try:
            return await handler(request)
        finally:
            self._active -= 1
            if not self._active:
                self._idle.set()

    def _unauthenticated(self, request: web.Request, exc: UnauthenticatedError) -> web.Response:
        failure = translate(exc, retry_after_s=self._config.retry_after_s)
        if request.path == FEEDBACK_PATH:
            response = failure_response(failure)
        else:
            response = self._failure_response(failure, _response_media(request))
        # RFC 6750 §3.1: a token that was sent but is wrong is an invalid_token.
        invalid = ', error="invalid_token"' if hdrs.AUTHORIZATION in request.headers else ""
        response.headers[hdrs.WWW_AUTHENTICATE] = WWW_AUTHENTICATE + invalid
        return response

    def _unmatched(self, request: web.Request, exc: web.HTTPException) -> web.Response:
        if exc.status == 405:
            failure = Failure(
                405, grpc.StatusCode.UNIMPLEMENTED, f"method {request.method} not allowed; use POST"
            )
        else:
            failure = Failure(exc.status, grpc.StatusCode.NOT_FOUND, f"no such path {request.path!r}")
        response = self._failure_response(failure, _response_media(request))
        if allow := exc.headers.get(hdrs.ALLOW):
            response.headers[hdrs.ALLOW] = allow
        return response

    def _export_handler(self, signal: Signal) -> Handler:
        async def export(request: web.Request) -> web.StreamResponse:
            return await self._export(signal, request)

        return export

    async def _export(self, signal: Signal, request: web.Request) -> web.Response:
        media = _response_media(request)
        try:
            media = media_type(request.headers.get(hdrs.CONTENT_TYPE))
            decompressor = Decompressor(
                request.headers.get(hdrs.CONTENT_ENCODING), self._config.max_request_body_bytes
            )
            length = request.content_length
            if length is not None and length > self._config.max_request_body_bytes:
                raise PayloadTooLargeError(
                    f"request body of {length} bytes exceeds {self._config.max_request_body_bytes} bytes"
                )
            lease = self._limiter.acquire(length or 0)
            try:
                body = await self._read_body(request, decompressor, lease.grow_to)
                message, raw = decode_request(signal, body, media)
                del body
                result = await dispatch(self._consumer, signal, message, raw)
            finally:
                lease.release()
        except Exception as exc:  # every failure is answered; nothing a client sends crashes us
            return self._failure_response(self._translate(exc, signal), media)
        return web.Response(body=encode_response(signal, result, media), content_type=media)

    async def _read_body(
        self, request: web.Request, decompressor: Decompressor, hold: Callable[[int], None]
    ) -> bytes:
        cap = self._config.max_request_body_bytes
        received = 0
        try:
            async with asyncio.timeout(self._config.body_read_timeout_s):
                async for chunk in request.content.iter_any():
                    received += len(chunk)
                    if received > cap:
                        raise PayloadTooLargeError(f"request body exceeds {cap} bytes")
                    decompressor.feed(chunk)
                    hold(max(received, decompressor.size))
        except TimeoutError:
            raise RetryableError(
                f"request body not received within {self._config.body_read_timeout_s:g} s"
            ) from None
        return decompressor.finish()

    def _translate(self, exc: Exception, signal: Signal) -> Failure:
        if not isinstance(exc, TracesieveError):
            _log.error("OTLP/HTTP %s request failed unexpectedly", signal.name, exc_info=exc)
        return translate(exc, retry_after_s=self._config.retry_after_s)

    @staticmethod
    def _failure_response(failure: Failure, media: str) -> web.Response:
        return web.Response(
            status=failure.http_status,
            body=encode_status(failure.rpc_status(), media),
            content_type=media,
            headers=failure.http_headers(),
        )


def _response_media(request: web.Request) -> str:
    """The request's media type if it is an OTLP one, else JSON (readable by anyone)."""
    try:
        return media_type(request.headers.get(hdrs.CONTENT_TYPE))
    except TracesieveError:
        return JSON
