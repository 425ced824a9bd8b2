"""The review page's routes on the admin server: the pages, the login, and the JSON API.

Pages (HTML, templated with autoescaping; the cases themselves are put on the page by
``static/review.js`` as text nodes, never as markup, since model output is untrusted):

- ``GET /review``: the batches with their progress (labelled / total, bad);
- ``GET /review/{batch_id}``: the walk through one batch, one case at a time;
- ``GET|POST /review/login``: the admin token → an ``HttpOnly; SameSite=Strict`` session cookie
  (``POST /review/logout`` drops it). The admin middleware accepts that cookie like the bearer
  header, and sends a browser without either here.

API (JSON; errors as ``{"error": "..."}``: 400 for a bad request, 404 for an unknown batch):

- ``GET /api/v1/review/batches`` → ``{"batches": [BatchSummary]}``;
- ``GET /api/v1/review/batches/{batch_id}`` → ``BatchView`` (cases, current labels, categories);
- ``POST /api/v1/review/labels`` with a ``LabelIn`` → ``SavedLabel`` (one new ``labels`` row).
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError
from tracesieve.collector.admin.server import SESSION_COOKIE, AdminServer, public
from tracesieve.collector.errors import PermanentError
from tracesieve.evals.store import EvalStore

from .batches import list_batches, load_batch
from .config import ReviewConfig
from .labels import save_label
from .model import SEVERITIES, LabelIn

if TYPE_CHECKING:
    import jinja2

__all__ = ["LOGIN_PATH", "mount"]

LOGIN_PATH = "/review/login"
_HERE = Path(__file__).parent
_STATIC = {"review.css": "text/css", "review.js": "text/javascript"}
# The page runs only its own script and style: injected markup could not run even if it got in.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def mount(admin: AdminServer, store: EvalStore, config: ReviewConfig) -> None:
    """Adds the review page and its API to ``admin`` (before it starts)."""
    _Routes(admin, store, config).add_to(admin.app.router)


@cache
def _templates() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def _page(name: str, status: int = 200, **context: Any) -> web.Response:
    body = _templates().get_template(name).render(**context)
    return web.Response(text=body, status=status, content_type="text/html", headers=_HEADERS)


def _json(payload: Any, status: int = 200) -> web.Response:
    if isinstance(payload, BaseModel):
        payload = payload.model_dump(mode="json")
    return web.Response(
        body=orjson.dumps(payload), status=status, content_type="application/json", headers=_HEADERS
    )


def _error(message: str, status: int = 400) -> web.Response:
    return _json({"error": message}, status)


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def _safe_next(value: str | None) -> str:
    """A local path to go to after logging in; anything else (another site) → /review."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/review"


class _Routes:
    def __init__(self, admin: AdminServer, store: EvalStore, config: ReviewConfig) -> None:
        self._admin = admin
        self._store = store
        self._config = config
        self._login = not admin.token_matches("")  # a token is set: the pages are served

    def add_to(self, router: web.UrlDispatcher) -> None:
        if not self._login:
            # DESIGN: the review UI never serves prompt content without the token. With none
            # configured, every review route says how to set one instead.
            for path in ("/review", "/review/{tail:.*}", "/api/v1/review/{tail:.*}"):
                router.add_route("*", path, self.needs_token)
            return
        self._admin.login_path = LOGIN_PATH
        # Fixed paths before /review/{batch_id}, which would otherwise take them. The login, the
        # logout and the stylesheet/script are @public: they serve no stored content.
        router.add_get(LOGIN_PATH, self.login_form)
        router.add_post(LOGIN_PATH, self.login)
        router.add_post("/review/logout", self.logout)
        router.add_get("/review/static/{name}", self.static)
        router.add_get("/review", self.index)
        router.add_get("/review/", self.index)
        router.add_get("/review/{batch_id}", self.batch_page)
        router.add_get("/api/v1/review/batches", self.api_batches)
        router.add_get("/api/v1/review/batches/{batch_id}", self.api_batch)
        router.add_post("/api/v1/review/labels", self.api_save_label)

    async def needs_token(self, request: web.Request) -> web.StreamResponse:
        message = (
            "the review page shows prompts and answers, so it needs admin.token: set it in the config "
            "(or TRACESIEVE_ADMIN__TOKEN) and restart; or review in the terminal with `tracesieve review`"
        )
        if request.path.startswith("/api/"):
            return _error(message, 403)
        return _page("needs_token.html", status=403, login=False)

    # -- login ---------------------------------------------------------------------------------

    @public
    async def login_form(self, request: web.Request) -> web.StreamResponse:
        target = _safe_next(request.query.get("next"))
        return _page("login.html", next=target, error=None, login=False)

    @public
    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        token, target = form.get("token"), _safe_next(str(form.get("next") or ""))
        if not isinstance(token, str) or not token or not self._admin.token_matches(token):
            return _page("login.html", status=401, next=target, error="Wrong token.", login=False)
        response = web.HTTPSeeOther(target)
        response.set_cookie(
            SESSION_COOKIE,
            self._admin.session_cookie(self._config.session_ttl_s),
            max_age=self._config.session_ttl_s,
            path="/",
            httponly=True,
            samesite="Strict",
        )
        raise response

    @public
    async def logout(self, request: web.Request) -> web.StreamResponse:
        response = web.HTTPSeeOther(LOGIN_PATH)
        response.del_cookie(SESSION_COOKIE, path="/")
        raise response

    @public
    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in _STATIC:
            raise web.HTTPNotFound()
        return web.Response(
            body=(_HERE / "static" / name).read_bytes(),
            content_type=_STATIC[name],
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    # -- pages ---------------------------------------------------------------------------------

    async def index(self, request: web.Request) -> web.StreamResponse:
        rows = [
            {
                **b.model_dump(),
                "href": "/review/" + urllib.parse.quote(b.batch_id, safe=""),
                "created": f"{dt.datetime.fromtimestamp(b.created_at / 1000, dt.UTC):%Y-%m-%d %H:%M} UTC",
            }
            for b in await list_batches(self._store)
        ]
        return _page("index.html", batches=rows, login=self._login)

    async def batch_page(self, request: web.Request) -> web.StreamResponse:
        batch_id = request.match_info["batch_id"]
        found = await list_batches(self._store, batch_id)
        if not found:
            return _page("missing.html", status=404, batch_id=batch_id, login=self._login)
        return _page(
            "batch.html",
            batch=found[0],
            api="/api/v1/review/batches/" + urllib.parse.quote(batch_id, safe=""),
            severities=SEVERITIES,
            login=self._login,
        )

    # -- API -----------------------------------------------------------------------------------

    async def api_batches(self, request: web.Request) -> web.Response:
        batches = await list_batches(self._store)
        return _json({"batches": [b.model_dump(mode="json") for b in batches]})

    async def api_batch(self, request: web.Request) -> web.Response:
        try:
            view = await load_batch(self._store, request.match_info["batch_id"])
        except PermanentError as exc:
            return _error(exc.reason, 404)
        return _json(view)

    async def api_save_label(self, request: web.Request) -> web.Response:
        try:
            given = LabelIn.model_validate_json(await request.read())
        except ValidationError as exc:
            return _error(_validation_message(exc))
        try:
            saved = await save_label(self._store, given, promote_bad=self._config.promote_bad)
        except PermanentError as exc:
            return _error(exc.reason)
        return _json(saved)
