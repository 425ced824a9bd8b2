"""Admin HTTP server: ``/healthz``, ``/readyz``, ``/metrics`` (Prometheus), ``POST /api/v1/query``
(read-only SQL), and the
review loop's ``POST /api/v1/rows`` and ``POST /api/v1/ops/{op}``.

These endpoints exist because the embedded engine admits one process per data folder: while
the collector runs, the CLI sends its SQL, its rows and its operations here instead of opening
the store. Queries run with ClickHouse's ``readonly`` setting, so they can read but never
write; ``rows`` only appends to the review loop's tables (see ``tracesieve.evals.store``).
When a token is configured every route but ``/healthz`` (and handlers marked :func:`public`, such
as a login form) requires ``Authorization: Bearer <token>`` or a session cookie that
:meth:`AdminServer.session_cookie` issued (a browser cannot send the header on navigation).
Without either, a browser's GET of an HTML page is sent to :attr:`AdminServer.login_path` when
one is set, and everything else gets 401.
Other parts add their pages to :attr:`AdminServer.app` before :meth:`AdminServer.start`; the
middleware covers them and every unknown path too. With an ``ssl_context`` it serves HTTPS.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
import ssl
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from ipaddress import IPv4Address, IPv6Address
from typing import Any, TypeVar

import orjson
from aiohttp import web
from tracesieve.collector.errors import PermanentError, RetryableError
from tracesieve.collector.telemetry.health import Report

__all__ = ["SESSION_COOKIE", "AdminServer", "QueryRunner", "public"]

_log = logging.getLogger(__name__)

QueryRunner = Callable[[str, dict[str, Any] | None], Awaitable[tuple[list[str], Sequence[Sequence[Any]]]]]
"""``(sql, parameters) -> (column names, rows)``, read-only."""
RowInserter = Callable[[str, list[dict[str, Any]]], Awaitable[None]]
"""``(table, rows)``: appends rows to one of the review loop's tables."""
OpRunner = Callable[[str, dict[str, Any]], Awaitable[Any]]
"""``(op, payload) -> result``: runs a review-loop operation where the store lives."""
Probe = Callable[[], Awaitable[Report]]
"""A health or readiness check: its report says which check failed."""
F = TypeVar("F", bound=Callable[..., Any])
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

SESSION_COOKIE = "tracesieve_session"
"""The browser session's cookie: ``<expiry unix s>.<HMAC-SHA256(token, expiry)>``, so it proves
the token was given without holding it, expires, and dies when the token changes."""
_PUBLIC_MARK = "__tracesieve_admin_public__"


def public(handler: F) -> F:
    """Marks a route handler as served without credentials (a login form, its stylesheet): it
    must serve no stored content."""
    setattr(handler, _PUBLIC_MARK, True)
    return handler


class AdminServer:
    def __init__(
        self,
        host: str,
        port: int,
        query: QueryRunner,
        *,
        token: str | None = None,
        ready: Callable[[], bool] = lambda: True,
        insert: RowInserter | None = None,
        op: OpRunner | None = None,
        ssl_context: ssl.SSLContext | None = None,
        health: Probe | None = None,
        readiness: Probe | None = None,
        metrics: Callable[[], bytes] | None = None,
    ) -> None:
        """``health``/``readiness`` answer ``/healthz``/``/readyz`` with their checks (else
        ``/healthz`` is always ok and ``/readyz`` asks ``ready``); ``metrics`` serves ``/metrics``
        in the Prometheus text format, behind the token like every route but ``/healthz``."""
        self._health = health
        self._readiness = readiness
        self._metrics = metrics
        self._host = host
        self._ssl_context = ssl_context
        self._port = port
        self._query = query
        self._token = token
        self._ready = ready
        self._insert = insert
        self._op = op
        self._runner: web.AppRunner | None = None
        self._bound_port = 0
        self.login_path: str | None = None
        """Where a browser without credentials is sent for an HTML page (set by the review page)."""
        self.app = web.Application(middlewares=[self._auth])
        self.app.router.add_get("/healthz", self._healthz)
        self.app.router.add_get("/readyz", self._readyz)
        self.app.router.add_post("/api/v1/query", self._post_query)
        if metrics is not None:
            self.app.router.add_get("/metrics", self._get_metrics)
        if insert is not None:
            self.app.router.add_post("/api/v1/rows", self._post_rows)
        if op is not None:
            self.app.router.add_post("/api/v1/ops/{op}", self._post_op)

    @property
    def port(self) -> int:
        return self._bound_port

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, ssl_context=self._ssl_context)
        await site.start()
        server = site._server
        assert server is not None and hasattr(server, "sockets")
        self._bound_port = server.sockets[0].getsockname()[1]

    async def aclose(self, deadline: float) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    @web.middleware
    async def _auth(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if (
            self._token
            and request.path != "/healthz"
            and not getattr(request.match_info.handler, _PUBLIC_MARK, False)
            and not self._authorised(request)
        ):
            wants_page = request.method == "GET" and "text/html" in request.headers.get("Accept", "")
            if self.login_path and wants_page:
                query = urllib.parse.urlencode({"next": request.path_qs})
                raise web.HTTPSeeOther(f"{self.login_path}?{query}")
            return web.json_response(
                {"error": "missing or wrong bearer token"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="tracesieve"'},
            )
        return await handler(request)

    def token_matches(self, given: str) -> bool:
        """Whether ``given`` is the configured token (constant-time; True when none is set)."""
        if not self._token:
            return True
        return hmac.compare_digest(given.encode(), self._token.encode())

    def session_cookie(self, max_age_s: int, now_s: float | None = None) -> str:
        """The value of a :data:`SESSION_COOKIE` that the middleware accepts for ``max_age_s``."""
        expires = int(now_s if now_s is not None else time.time()) + max_age_s
        return f"{expires}.{self._cookie_mac(expires)}"

    def _cookie_mac(self, expires: int) -> str:
        key = (self._token or "").encode()
        return hmac.new(key, f"tracesieve-admin-session/{expires}".encode(), hashlib.sha256).hexdigest()

    def _authorised(self, request: web.Request) -> bool:
        given = request.headers.get("Authorization", "")
        if given and hmac.compare_digest(given.encode(), f"Bearer {self._token}".encode()):
            return True
        expires_text, _, mac = request.cookies.get(SESSION_COOKIE, "").partition(".")
        if not expires_text.isdigit() or len(expires_text) > 12:
            return False
        expires = int(expires_text)
        return hmac.compare_digest(mac.encode(), self._cookie_mac(expires).encode()) and expires > time.time()

    async def _healthz(self, request: web.Request) -> web.Response:
        if self._health is None:
            return web.json_response({"status": "ok"})
        report = await self._health()
        return web.json_response(report.body("ok", "unhealthy"), status=200 if report.ok else 503)

    async def _readyz(self, request: web.Request) -> web.Response:
        if self._readiness is None:
            ok = self._ready()
            return web.json_response({"status": "ready" if ok else "not ready"}, status=200 if ok else 503)
        report = await self._readiness()
        return web.json_response(report.body("ready", "not ready"), status=200 if report.ok else 503)

    async def _get_metrics(self, request: web.Request) -> web.Response:
        assert self._metrics is not None
        return web.Response(body=self._metrics(), headers={"Content-Type": METRICS_CONTENT_TYPE})

    async def _post_query(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            return web.json_response({"error": f"body is not JSON: {exc}"}, status=400)
        if not isinstance(body, dict) or not isinstance(body.get("sql"), str):
            return web.json_response(
                {"error": 'body must be {"sql": "...", "parameters": {...}}'}, status=400
            )
        params = body.get("parameters")
        if params is not None and not isinstance(params, dict):
            return web.json_response({"error": "`parameters` must be an object"}, status=400)
        try:
            columns, rows = await self._query(body["sql"], params)
        except PermanentError as exc:
            return web.json_response({"error": exc.reason}, status=400)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            _log.info("admin query failed: %s", exc)
            return web.json_response({"error": str(exc)}, status=400)
        payload = {"columns": columns, "rows": [list(row) for row in rows]}
        return web.Response(body=orjson.dumps(payload, default=json_default), content_type="application/json")

    async def _post_rows(self, request: web.Request) -> web.Response:
        assert self._insert is not None
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            return web.json_response({"error": f"body is not JSON: {exc}"}, status=400)
        shape = 'body must be {"table": "...", "columns": [...], "rows": [[...], ...]}'
        if not isinstance(body, dict) or not isinstance(body.get("table"), str):
            return web.json_response({"error": shape}, status=400)
        columns, rows = body.get("columns"), body.get("rows")
        if not (isinstance(columns, list) and all(isinstance(c, str) for c in columns)):
            return web.json_response({"error": shape}, status=400)
        if not (isinstance(rows, list) and all(isinstance(r, list) and len(r) == len(columns) for r in rows)):
            return web.json_response({"error": shape + " (each row as long as columns)"}, status=400)
        records = [dict(zip(columns, row, strict=True)) for row in rows]
        return await self._answer(lambda: self._insert_rows(body["table"], records), "insert")

    async def _insert_rows(self, table: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        assert self._insert is not None
        await self._insert(table, records)
        return {"inserted": len(records)}

    async def _post_op(self, request: web.Request) -> web.Response:
        assert self._op is not None
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            return web.json_response({"error": f"body is not JSON: {exc}"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "body must be a JSON object"}, status=400)
        op = request.match_info["op"]
        return await self._answer(lambda: self._run_op(op, body), f"operation {op}")

    async def _run_op(self, op: str, payload: dict[str, Any]) -> dict[str, Any]:
        assert self._op is not None
        return {"result": await self._op(op, payload)}

    async def _answer(self, fn: Callable[[], Awaitable[dict[str, Any]]], what: str) -> web.Response:
        try:
            payload = await fn()
        except PermanentError as exc:
            return web.json_response({"error": exc.reason}, status=400)
        except RetryableError as exc:
            return web.json_response({"error": exc.reason}, status=503, headers={"Retry-After": "1"})
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            _log.warning("admin %s failed: %s", what, exc, exc_info=True)
            return web.json_response({"error": f"{type(exc).__name__}: {exc}"}, status=500)
        return web.Response(body=orjson.dumps(payload, default=json_default), content_type="application/json")


def json_default(value: Any) -> Any:
    """JSON for the values ClickHouse returns that orjson does not know."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, uuid.UUID | IPv4Address | IPv6Address):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__}")
