"""The admin port: the token guards every route but /healthz, the query API cannot write, and an
unauthenticated browser gets no prompt or answer text from the review UI (headless Chromium)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Response, async_playwright

ADMIN_TOKEN = "s3cret-admin-token"
CHROMIUM = "/usr/bin/chromium"
PROMPT = "SECRET-PROMPT-4111"
ANSWER = "SECRET-ANSWER-4242"


def _review_fixtures() -> ModuleType:
    # tests/evals/review/conftest.py writes review batches as the sampler does; loaded by path
    # (the test folders are not packages) under a name of its own.
    name = "tracesieve_tests_review_conftest"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[2] / "evals" / "review" / "conftest.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture
async def admin(service_factory: Any, database_name: str) -> Any:
    """A collector with an admin token, one stored model call and one review batch holding
    :data:`PROMPT` and :data:`ANSWER`."""
    service = await service_factory("admin", database_name, **{"admin.token": ADMIN_TOKEN})
    rows = _review_fixtures().batch_rows(
        "W1", [{"UserMessage": PROMPT, "OutputText": ANSWER, "InputMessages": f'[{{"content": "{PROMPT}"}}]'}]
    )
    await service.eval_store.insert("review_batches", rows)
    return service


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: "W1" if "batch" in m.group(1) else "x", path)


async def test_without_the_token_no_admin_route_but_healthz_answers(admin: Any) -> None:
    base = f"http://127.0.0.1:{admin.admin.port}"
    routes = list(admin.admin.app.router.routes())
    paths = {_concrete(route.resource.canonical) for route in routes if route.resource is not None}
    paths |= {"/metrics", "/no-such-page", "/api/v1/ops/x", "/review/W1"}
    assert {"/api/v1/query", "/api/v1/rows", "/review", "/api/v1/review/batches"} <= paths
    # Handlers marked public serve no stored content by contract (the login form, its assets).
    public = {
        _concrete(route.resource.canonical)
        for route in routes
        if route.resource is not None and getattr(route.handler, "__tracesieve_admin_public__", False)
    }
    assert public == {"/review/login", "/review/logout", "/review/static/x"}
    public.add("/healthz")
    async with aiohttp.ClientSession() as http:
        for path in sorted(paths - public):
            for method in ("GET", "POST"):
                for accept in ("application/json", "text/html"):
                    headers = {"Accept": accept, "Authorization": "Bearer wrong"}
                    for sent in ({"Accept": accept}, headers):
                        async with http.request(
                            method, base + path, headers=sent, json={"sql": "SELECT 1"}, allow_redirects=False
                        ) as r:
                            body = await r.text()
                            if r.status == 303:  # a browser's page request goes to the login form
                                assert r.headers["Location"].startswith("/review/login?next=")
                            else:
                                assert r.status == 401, (method, path, accept, sent)
                                assert r.headers["WWW-Authenticate"].startswith("Bearer")
                            assert PROMPT not in body and ANSWER not in body
        for path in sorted(public):
            for method in ("GET", "POST"):
                async with http.request(method, base + path, allow_redirects=False) as r:
                    assert r.status < 500
                    body = await r.text()
                    assert PROMPT not in body and ANSWER not in body
        bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with http.post(f"{base}/api/v1/query", json={"sql": "SELECT 1 AS one"}, headers=bearer) as r:
            assert r.status == 200 and (await r.json())["rows"] == [[1]]


WRITES = [
    "INSERT INTO {db}.spans (SpanName) VALUES ('x')",
    "INSERT INTO FUNCTION file('/tmp/tracesieve-pwned.csv', 'CSV', 'a String') VALUES ('x')",
    "ALTER TABLE {db}.spans DELETE WHERE 1",
    "ALTER TABLE {db}.spans ADD COLUMN pwned String",
    "DROP TABLE {db}.spans",
    "DROP DATABASE {db}",
    "TRUNCATE TABLE {db}.spans",
    "CREATE TABLE {db}.pwned (a String) ENGINE = Memory",
    "RENAME TABLE {db}.spans TO {db}.gone",
    "OPTIMIZE TABLE {db}.spans FINAL",
    "SET readonly = 0",
    "SELECT count() FROM {db}.spans SETTINGS readonly = 0",
    "SELECT * FROM {db}.spans INTO OUTFILE '{outfile}'",
    "select * from {db}.spans into   outfile '{outfile}'",
    "SELECT * FROM {db}.spans INTO/**/OUTFILE '{outfile}'",
    "SELECT 1 INTO OUTFILE '{outfile}' FORMAT CSV",
    "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "SELECT 1; DROP TABLE {db}.spans",
    "/* comment */ DROP TABLE {db}.spans",
    "WITH 1 AS x SELECT x INTO OUTFILE '{outfile}'",
    "SYSTEM STOP MERGES",
    "KILL QUERY WHERE 1",
    "GRANT ALL ON *.* TO default",
]


async def test_the_query_api_refuses_every_write_and_the_store_does_not_change(
    admin: Any, database_name: str, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{admin.admin.port}"
    outfile = tmp_path / "dump.csv"
    bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    schema = (
        f"SELECT name, engine, total_rows FROM system.tables WHERE database = '{database_name}' ORDER BY name"
    )

    async def query(http: aiohttp.ClientSession, sql: str) -> tuple[int, Any]:
        async with http.post(f"{base}/api/v1/query", json={"sql": sql}, headers=bearer) as r:
            return r.status, await r.json()

    async with aiohttp.ClientSession() as http:
        status, before = await query(http, schema)
        assert status == 200 and any(row[0] == "spans" for row in before["rows"])
        for template in WRITES:
            sql = template.format(db=database_name, outfile=outfile)
            status, answer = await query(http, sql)
            assert status == 400 and answer.get("error"), sql
        status, after = await query(http, schema)
        assert (status, after) == (200, before)
        _, batches = await query(http, f"SELECT count() FROM {database_name}.review_batches")
        assert batches["rows"] == [[1]]
    assert not outfile.exists()
    assert not Path("/tmp/tracesieve-pwned.csv").exists()


async def test_an_unauthenticated_browser_receives_no_prompt_or_answer(admin: Any) -> None:
    base = f"http://127.0.0.1:{admin.admin.port}"
    bodies: list[str] = []

    async def keep(response: Response) -> None:
        try:
            bodies.append(await response.text())
        except Exception:  # a redirect has no body to read
            bodies.append("")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            context = await browser.new_context()
            page = await context.new_page()
            page.on("response", keep)
            for path in ("/review", "/review/W1", "/review/W1?case=1", "/api/v1/review/batches/W1"):
                await page.goto(base + path)
                await page.wait_for_load_state("networkidle")
                assert PROMPT not in await page.content() and ANSWER not in await page.content()
            status = await page.evaluate("fetch('/api/v1/review/batches/W1').then(r => r.status)")
            assert status == 401
            query = "fetch('/api/v1/query', {method: 'POST', body: '{}'}).then(r => r.status)"
            assert await page.evaluate(query) == 401
            await page.wait_for_load_state("networkidle")
            await context.close()
        finally:
            await browser.close()
    assert len(bodies) >= 5
    assert not [body for body in bodies if PROMPT in body or ANSWER in body]
