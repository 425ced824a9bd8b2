"""The review API and the login, over real HTTP against a running collector."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from tracesieve.collector.admin.server import SESSION_COOKIE
from tracesieve.collector.config import Config
from tracesieve.collector.service import Service

LABELS = (
    "SELECT CaseId, BatchId, TraceId, SpanId, Verdict, Categories, Expected, Criteria, Notes, Severity, "
    "Reviewer FROM labels ORDER BY LabelledAt, LabelId"
)


def base(service: Service) -> str:
    assert service.admin is not None
    return f"http://127.0.0.1:{service.admin.port}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post_label(
    http: aiohttp.ClientSession, service: Service, token: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{base(service)}/api/v1/review/labels", json=body, headers=bearer(token)) as r:
        return r.status, await r.json()


async def test_labels_are_saved_as_rows_and_the_batch_resumes_after_them(
    service: Service, make_batch: Any, admin_token: str
) -> None:
    rows = make_batch("B1", [{}, {"Category": "hallucination"}, {}])
    await service.eval_store.insert("review_batches", rows)
    ids = [r["CaseId"] for r in rows]
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base(service)}/api/v1/review/batches", headers=bearer(admin_token)) as r:
            assert r.status == 200
            [summary] = (await r.json())["batches"]
        assert summary == {
            "batch_id": "B1", "week": "2026-W48", "created_at": 1_764_300_000_000, "total": 3, "labelled": 0,
            "bad": 0,
        }  # fmt: skip

        fine = {"case_id": ids[0], "batch_id": "B1", "verdict": "fine", "reviewer": "ana"}
        status, saved = await post_label(http, service, admin_token, fine)
        assert status == 200, saved
        assert saved["promotion"] is None  # only bad labels go to the regression set
        assert (saved["labelled"], saved["total"]) == (1, 3)
        bad = {
            "case_id": ids[1], "batch_id": "B1", "verdict": "bad",
            "categories": ["Wrong plan", "hallucination"], "expected": "The Pro plan costs $20 a month.",
            "criteria": "names the Pro plan's price", "severity": "high", "notes": "made up a price",
            "reviewer": "ana",
        }  # fmt: skip
        status, saved = await post_label(http, service, admin_token, bad)
        assert status == 200, saved
        assert saved["label"]["categories"] == ["wrong_plan", "hallucination"]
        # The case went into the regression set, with the label's provenance.
        assert saved["promotion"]["ok"] is True, saved["promotion"]
        label_id = saved["label"]["label_id"]

        async with http.get(f"{base(service)}/api/v1/review/batches/B1", headers=bearer(admin_token)) as r:
            view = await r.json()
    assert (view["labelled"], view["bad"], view["resume_at"]) == (2, 1, 2)
    assert view["cases"][1]["label"]["expected"] == "The Pro plan costs $20 a month."
    assert view["cases"][2]["label"] is None
    assert view["categories"][:8] == [
        "negative_feedback", "unhelpful_answer", "retrieval", "hallucination", "refusal", "truncation",
        "error", "latency",
    ]  # fmt: skip
    assert "wrong_plan" in view["categories"]
    case = view["cases"][0]
    assert case["signals"] == [
        {"signal": "rephrase", "category": "unhelpful_answer", "score": 0.8,
         "evidence": {"score": 0.8, "later_user_message": "again, question 0?"}},
    ]  # fmt: skip
    assert case["retrieved_documents"] == [
        {"id": "kb-0", "score": 0.42, "content": "Password resets, doc 0."}
    ]
    assert case["session_context"][0]["user"] == "hello 0"

    [case_row] = await service.eval_store.select(
        "SELECT ReviewCaseId, LabelId, BatchId, Expected, Criteria, Categories, Severity, Reviewer "
        "FROM eval_cases"
    )
    case_row["Categories"].sort()
    assert case_row == {
        "ReviewCaseId": ids[1], "LabelId": label_id, "BatchId": "B1",
        "Expected": "The Pro plan costs $20 a month.", "Criteria": "names the Pro plan's price",
        "Categories": ["hallucination", "wrong_plan"], "Severity": "high", "Reviewer": "ana",
    }  # fmt: skip
    stored = await service.eval_store.select(LABELS)
    assert stored == [
        {"CaseId": ids[0], "BatchId": "B1", "TraceId": rows[0]["TraceId"], "SpanId": rows[0]["SpanId"],
         "Verdict": "fine", "Categories": [], "Expected": "", "Criteria": "", "Notes": "", "Severity": "",
         "Reviewer": "ana"},
        {"CaseId": ids[1], "BatchId": "B1", "TraceId": rows[1]["TraceId"], "SpanId": rows[1]["SpanId"],
         "Verdict": "bad", "Categories": ["wrong_plan", "hallucination"],
         "Expected": "The Pro plan costs $20 a month.", "Criteria": "names the Pro plan's price",
         "Notes": "made up a price", "Severity": "high", "Reviewer": "ana"},
    ]  # fmt: skip


async def test_a_new_label_of_a_case_supersedes_the_old_one_which_stays(
    service: Service, make_batch: Any, admin_token: str
) -> None:
    rows = make_batch("B2", [{}])
    await service.eval_store.insert("review_batches", rows)
    first = {"case_id": rows[0]["CaseId"], "batch_id": "B2", "verdict": "fine", "reviewer": "ana"}
    async with aiohttp.ClientSession() as http:
        assert (await post_label(http, service, admin_token, first))[0] == 200
        second = {**first, "verdict": "bad", "categories": ["refusal"], "reviewer": "bo"}
        assert (await post_label(http, service, admin_token, second))[0] == 200
        async with http.get(f"{base(service)}/api/v1/review/batches/B2", headers=bearer(admin_token)) as r:
            view = await r.json()
    assert view["cases"][0]["label"]["verdict"] == "bad"
    assert view["cases"][0]["label"]["reviewer"] == "bo"
    history = await service.eval_store.select("SELECT Verdict FROM labels ORDER BY LabelledAt, LabelId")
    assert sorted(r["Verdict"] for r in history) == ["bad", "fine"]


REFUSED = [
    ({"verdict": "meh"}, "verdict: Input should be 'bad' or 'fine'"),
    ({"case_id": "nope"}, "unknown case 'nope' in batch 'B3'"),
    ({"batch_id": "other"}, "in batch 'other'"),
    ({"verdict": "bad", "categories": []}, "a bad verdict needs at least one failure category"),
    ({"categories": ["!!"]}, "categories: category '!!': use letters, digits"),
    ({"reviewer": None}, "reviewer: Input should be a valid string"),
    ({"reviewer": "  "}, "reviewer: String should have at least 1 character"),
    ({"severity": "apocalyptic"}, "severity: Input should be"),
    ({"colour": "red"}, "colour: Extra inputs are not permitted"),
]


async def test_a_bad_label_is_refused_with_400_and_says_why(
    service: Service, make_batch: Any, admin_token: str
) -> None:
    rows = make_batch("B3", [{}])
    await service.eval_store.insert("review_batches", rows)
    good = {"case_id": rows[0]["CaseId"], "batch_id": "B3", "verdict": "fine", "reviewer": "ana"}
    async with aiohttp.ClientSession() as http:
        for change, message in REFUSED:
            status, answer = await post_label(http, service, admin_token, {**good, **change})
            assert status == 400, change
            assert message in answer["error"], (change, answer)
        url = f"{base(service)}/api/v1/review/labels"
        async with http.post(url, data=b"{not json", headers=bearer(admin_token)) as r:
            assert r.status == 400
            assert "Invalid JSON" in (await r.json())["error"]
        async with http.get(f"{base(service)}/api/v1/review/batches/nope", headers=bearer(admin_token)) as r:
            assert r.status == 404
            assert (await r.json())["error"] == "no review batch 'nope'"
    assert await service.eval_store.select("SELECT count() AS n FROM labels") == [{"n": 0}]


async def test_the_login_gives_a_strict_http_only_cookie_that_opens_the_pages(
    service: Service, make_batch: Any, admin_token: str
) -> None:
    await service.eval_store.insert("review_batches", make_batch("B4", [{"OutputText": "SECRET ANSWER"}]))
    url = base(service)
    html = {"Accept": "text/html"}
    async with aiohttp.ClientSession() as http:
        # No credentials: the API refuses, a page sends the browser to the login.
        for path in ("/api/v1/review/batches", "/api/v1/review/batches/B4", "/api/v1/query"):
            async with http.get(url + path) as r:
                assert r.status in (401, 405) and "SECRET" not in await r.text()
        async with http.get(f"{url}/review/B4", headers=html, allow_redirects=False) as r:
            assert r.status == 303
            location = urllib.parse.urlsplit(r.headers["Location"])
            assert location.path == "/review/login"
            assert urllib.parse.parse_qs(location.query) == {"next": ["/review/B4"]}
        async with http.get(f"{url}/review/login?next=/review/B4", headers=html) as r:
            assert r.status == 200 and "Admin token" in await r.text()
        async with http.get(f"{url}/review/static/review.css") as r:
            assert r.status == 200

        async with http.post(
            f"{url}/review/login", data={"token": "wrong", "next": "/review/B4"}, allow_redirects=False
        ) as r:
            assert r.status == 401
            assert SESSION_COOKIE not in r.cookies
            assert "Wrong token." in await r.text()
        async with http.post(
            f"{url}/review/login", data={"token": admin_token, "next": "/review/B4"}, allow_redirects=False
        ) as r:
            assert r.status == 303 and r.headers["Location"] == "/review/B4"
            set_cookie = r.headers["Set-Cookie"]
            cookie = r.cookies[SESSION_COOKIE].value
        assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie and "Path=/" in set_cookie
        assert admin_token not in set_cookie  # the cookie proves the token, it does not carry it

        with_cookie = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
        async with http.get(f"{url}/api/v1/review/batches/B4", headers=with_cookie) as r:
            assert r.status == 200 and "SECRET ANSWER" in await r.text()
        async with http.get(f"{url}/review/B4", headers={**html, **with_cookie}, allow_redirects=False) as r:
            assert r.status == 200
        assert service.admin is not None
        expired = service.admin.session_cookie(60, now_s=time.time() - 120)
        expires, _, mac = cookie.partition(".")
        forged = f"{int(expires) + 86400}.{mac}"  # a later expiry with the old signature
        for value in (expired, forged, "1.abc", cookie[:-1] + ("0" if cookie[-1] != "0" else "1")):
            async with http.get(
                f"{url}/api/v1/review/batches/B4", headers={"Cookie": f"{SESSION_COOKIE}={value}"}
            ) as r:
                assert r.status == 401, value

        # Only a local path is a place to go after logging in.
        away = {"token": admin_token, "next": "//evil.example/"}
        async with http.post(f"{url}/review/login", data=away, allow_redirects=False) as r:
            assert r.headers["Location"] == "/review"
        async with http.post(f"{url}/review/logout", headers=with_cookie, allow_redirects=False) as r:
            assert r.status == 303
            assert r.cookies[SESSION_COOKIE].value == ""


async def test_the_batch_list_page_escapes_what_it_shows(
    service: Service, make_batch: Any, admin_token: str
) -> None:
    await service.eval_store.insert("review_batches", make_batch("B5", [{}, {}], week="<b>W48</b>"))
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base(service)}/review", headers=bearer(admin_token)) as r,
    ):
        page = await r.text()
        assert r.status == 200
        assert "Content-Security-Policy" in r.headers
    assert "&lt;b&gt;W48&lt;/b&gt;" in page and "<b>W48" not in page
    assert 'href="/review/B5"' in page and "0 / 2" in page


async def test_the_review_page_can_be_turned_off(
    tmp_path: Path, chdb_dsn: str, database_name: str, make_service_config: Callable[..., Config]
) -> None:
    config = make_service_config(tmp_path, chdb_dsn, database_name, **{"evals.review.enabled": False})
    async with Service(config) as service, aiohttp.ClientSession() as http:
        for path in ("/review", "/api/v1/review/batches"):
            async with http.get(base(service) + path, headers=bearer(str(config.admin.token))) as r:
                assert r.status == 404, path


async def test_without_a_token_the_review_page_serves_no_content(
    tmp_path: Path,
    chdb_dsn: str,
    database_name: str,
    make_service_config: Callable[..., Config],
    make_batch: Any,
) -> None:
    config = make_service_config(tmp_path, chdb_dsn, database_name, token=None)
    async with Service(config) as service, aiohttp.ClientSession() as http:
        await service.eval_store.insert("review_batches", make_batch("B9", [{"UserMessage": "my card 4111"}]))
        for path in ("/review", "/review/B9", "/review/login"):
            async with http.get(base(service) + path, headers={"Accept": "text/html"}) as r:
                page = await r.text()
                assert r.status == 403, path
                assert "admin.token" in page and "4111" not in page
        for path in ("/api/v1/review/batches", "/api/v1/review/batches/B9"):
            async with http.get(base(service) + path) as r:
                assert r.status == 403 and "admin.token" in (await r.json())["error"], path
        async with http.post(base(service) + "/api/v1/review/labels", json={"case_id": "x"}) as r:
            assert r.status == 403
