"""The review page in Debian's headless Chromium, driven by Playwright with real clicks and keys,
against a running collector with an admin token."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from tracesieve.collector.config import Config
from tracesieve.collector.service import Service

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.asyncio(loop_scope="module")

LABELS = (
    "SELECT CaseId, Verdict, Categories, Expected, Criteria, Notes, Severity, Reviewer FROM labels "
    "WHERE BatchId = {batch:String} ORDER BY LabelledAt, LabelId"
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def review_service(
    tmp_path_factory: pytest.TempPathFactory,
    chdb_dsn: str,
    make_service_config: Callable[..., Config],
) -> AsyncIterator[Service]:
    database = f"t_{uuid.uuid4().hex[:12]}"
    svc = Service(make_service_config(tmp_path_factory.mktemp("review-page"), chdb_dsn, database))
    await svc.start()
    yield svc
    await svc.aclose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context()
    ctx.set_default_timeout(15_000)
    yield ctx
    await ctx.close()


def url(service: Service, path: str) -> str:
    assert service.admin is not None
    return f"http://127.0.0.1:{service.admin.port}{path}"


async def open_page(context: BrowserContext) -> tuple[Page, list[str]]:
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


async def log_in(page: Page, service: Service, token: str, target: str) -> None:
    await page.goto(url(service, target))
    await expect(page).to_have_url(url(service, "/review/login?next=" + target))
    await page.fill("#token", token)
    await page.press("#token", "Enter")
    await expect(page).to_have_url(url(service, target))


async def test_the_page_needs_the_token_and_refuses_a_wrong_one(
    review_service: Service, context: BrowserContext, make_batch: Any, admin_token: str
) -> None:
    await review_service.eval_store.insert("review_batches", make_batch("W1", [{"OutputText": "SECRET"}]))
    page, errors = await open_page(context)
    await page.goto(url(review_service, "/review/W1"))
    await expect(page.locator("#token")).to_be_visible()
    assert "SECRET" not in await page.content()
    assert await page.evaluate("fetch('/api/v1/review/batches/W1').then(r => r.status)") == 401

    await page.fill("#token", "not-the-token")
    await page.click("#login")
    await expect(page.locator("#login-error")).to_have_text("Wrong token.")
    assert await context.cookies() == []

    await page.fill("#token", admin_token)
    await page.click("#login")
    await expect(page).to_have_url(url(review_service, "/review/W1"))
    [cookie] = await context.cookies()
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert await page.evaluate("document.cookie") == ""  # not readable by a script
    await page.goto(url(review_service, "/review"))
    await expect(page.locator("#batches tr[data-batch-id='W1'] .progress-text")).to_have_text("0 / 1")
    assert errors == []


async def test_a_reviewer_walks_a_batch_with_keys_and_clicks_and_resumes_after_a_reload(
    review_service: Service, context: BrowserContext, make_batch: Any, admin_token: str
) -> None:
    rows = make_batch("W2", [{}, {"Category": "retrieval"}, {}, {}, {"Category": "refusal"}])
    await review_service.eval_store.insert("review_batches", rows)
    page, errors = await open_page(context)
    await log_in(page, review_service, admin_token, "/review/W2")

    # The reviewer's name is asked once.
    await expect(page.locator("#reviewer-dialog")).to_be_visible()
    await page.fill("#reviewer-input", "ana")
    await page.press("#reviewer-input", "Enter")
    await expect(page.locator("#reviewer-dialog")).to_be_hidden()
    position = page.locator("#position")
    await expect(position).to_have_text("Case 1 of 5")
    await expect(page.locator("#answer")).to_have_text("answer 0: click 'Forgot password'.")
    await expect(page.locator("#user-message")).to_have_text("question 0: how do I reset my password?")
    await expect(page.locator("#context")).to_contain_text("hello 0")
    await expect(page.locator("#signals")).to_contain_text("rephrase")
    await expect(page.locator("#signals")).to_contain_text("0.80")
    await expect(page.locator("#documents")).to_contain_text("Password resets, doc 0.")

    # Case 1: b, then the expected answer, Ctrl+Enter saves and moves on.
    await page.keyboard.press("b")
    assert await page.evaluate("document.activeElement.id") == "expected"
    await page.keyboard.type("Open Settings > Security > Reset password.")
    await page.keyboard.press("Control+Enter")
    await expect(position).to_have_text("Case 2 of 5")

    # Case 2: f saves a fine label at once.
    await page.keyboard.press("f")
    await expect(position).to_have_text("Case 3 of 5")

    # Case 3: clicks and keys: criteria, categories by number and a new one, severity, Save.
    await page.click("#verdict-bad")
    await page.keyboard.press("Escape")
    await page.keyboard.press("c")
    await page.keyboard.type("names the reset link")
    await page.keyboard.press("Escape")
    await page.keyboard.press("4")  # hallucination on
    await page.keyboard.press("2")  # unhelpful_answer (the case's category, preselected) off
    await page.click("#new-category")
    await page.keyboard.type("Wrong Link")
    await page.keyboard.press("Enter")
    await page.keyboard.press("v")  # medium -> high
    await page.click("#save")
    await expect(position).to_have_text("Case 4 of 5")
    await expect(page.locator("#progress")).to_have_text("3 / 5 labelled")

    # Reloading resumes at the first unlabelled case, with the name remembered.
    await page.reload()
    await expect(position).to_have_text("Case 4 of 5")
    await expect(page.locator("#reviewer-dialog")).to_be_hidden()
    await expect(page.locator("#reviewer-name")).to_have_text("ana")
    await expect(page.locator("#progress")).to_have_text("3 / 5 labelled")
    await page.keyboard.press("k")
    await expect(position).to_have_text("Case 3 of 5")
    await expect(page.locator("#verdict-bad")).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#criteria")).to_have_value("names the reset link")
    await expect(page.locator("#severity")).to_have_value("high")
    checked = page.locator("#category-list input:checked")
    assert await checked.evaluate_all("boxes => boxes.map(b => b.value)") == ["hallucination", "wrong_link"]
    await page.keyboard.press("ArrowRight")
    await expect(position).to_have_text("Case 4 of 5")

    # Shortcuts do nothing while typing in a field; ? opens the help, Esc closes it.
    await page.keyboard.press("?")
    await expect(page.locator("#help")).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(page.locator("#help")).to_be_hidden()
    await page.keyboard.press("n")
    await page.keyboard.type("b f j")
    await expect(page.locator("#notes")).to_have_value("b f j")
    await expect(page.locator("#verdict-bad")).to_have_attribute("aria-pressed", "false")
    await expect(position).to_have_text("Case 4 of 5")
    await page.keyboard.press("Escape")
    await page.keyboard.press("f")
    await expect(position).to_have_text("Case 5 of 5")

    # Leaving a case with unsaved changes asks first; s saves; the batch is then done.
    await page.keyboard.press("b")
    await page.keyboard.press("Escape")
    await page.keyboard.press("k")
    await expect(page.locator("#save-status")).to_contain_text("Unsaved changes")
    await expect(position).to_have_text("Case 5 of 5")
    await page.keyboard.press("s")
    await expect(page.locator("#done")).to_be_visible()
    await expect(page.locator("#progress")).to_have_text("5 / 5 labelled")
    assert errors == []

    promoted = await review_service.eval_store.select(
        "SELECT ReviewCaseId FROM eval_cases WHERE BatchId = 'W2' ORDER BY Seq"
    )
    assert [r["ReviewCaseId"] for r in promoted] == [rows[0]["CaseId"], rows[2]["CaseId"], rows[4]["CaseId"]]
    stored = await review_service.eval_store.select(LABELS, {"batch": "W2"})
    ids = [r["CaseId"] for r in rows]
    assert stored == [
        {"CaseId": ids[0], "Verdict": "bad", "Categories": ["unhelpful_answer"],
         "Expected": "Open Settings > Security > Reset password.", "Criteria": "", "Notes": "",
         "Severity": "medium", "Reviewer": "ana"},
        {"CaseId": ids[1], "Verdict": "fine", "Categories": ["retrieval"], "Expected": "", "Criteria": "",
         "Notes": "", "Severity": "", "Reviewer": "ana"},
        {"CaseId": ids[2], "Verdict": "bad", "Categories": ["hallucination", "wrong_link"], "Expected": "",
         "Criteria": "names the reset link", "Notes": "", "Severity": "high", "Reviewer": "ana"},
        {"CaseId": ids[3], "Verdict": "fine", "Categories": ["unhelpful_answer"], "Expected": "",
         "Criteria": "", "Notes": "b f j", "Severity": "", "Reviewer": "ana"},
        {"CaseId": ids[4], "Verdict": "bad", "Categories": ["refusal"], "Expected": "", "Criteria": "",
         "Notes": "", "Severity": "medium", "Reviewer": "ana"},
    ]  # fmt: skip


async def test_markup_in_model_output_is_shown_as_text(
    review_service: Service, context: BrowserContext, make_batch: Any, admin_token: str
) -> None:
    answer = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">Done'
    rows = make_batch(
        "W3",
        [
            {
                "OutputText": answer,
                "UserMessage": "<b>bold?</b>",
                "Evidence": '{"rephrase": {"score": 0.7, "later_user_message": "<svg onload=alert(1)>"}}',
                "RetrievedDocuments": '[{"id": "<i>kb</i>", "score": 0.3, "content": "<iframe src=x>"}]',
                "SessionContext": '[{"trace_id": "t", "user": "<u>hi</u>", "assistant": "<hr>"}]',
            }
        ],
    )
    await review_service.eval_store.insert("review_batches", rows)
    page, errors = await open_page(context)
    await log_in(page, review_service, admin_token, "/review/W3")
    await page.fill("#reviewer-input", "bo")
    await page.press("#reviewer-input", "Enter")
    await expect(page.locator("#answer")).to_have_text(answer)
    await expect(page.locator("#user-message")).to_have_text("<b>bold?</b>")
    await expect(page.locator("#signals")).to_contain_text("<svg onload=alert(1)>")
    await expect(page.locator("#documents")).to_contain_text("<iframe src=x>")
    await expect(page.locator("#context")).to_contain_text("<u>hi</u>")
    for tag in ("script", "img", "b", "svg", "iframe", "i", "u", "hr"):
        assert await page.locator(f"#case {tag}").count() == 0, tag
    assert await page.evaluate("window.__pwned") is None
    assert errors == []
