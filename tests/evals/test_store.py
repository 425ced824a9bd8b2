"""The review loop's way into the store: opened here, or through a running collector's admin API."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request

import orjson
import pytest
from tracesieve.collector.errors import PermanentError
from tracesieve.collector.service import Service
from tracesieve.evals.store import AdminEvalStore, DirectEvalStore, open_eval_store

LABEL = {
    "CaseId": "c1",
    "Verdict": "bad",
    "Categories": ["rephrase", "ungrounded_answer"],
    "Notes": "wrong plan name",
    "Reviewer": "ana",
    "LabelledAt": 1_764_300_000_123,
}
SELECT = (
    "SELECT CaseId, Verdict, Categories, Notes, Reviewer, toUnixTimestamp64Milli(LabelledAt) AS LabelledAt "
    "FROM labels ORDER BY LabelledAt"
)


async def test_direct_store_creates_the_tables_and_round_trips_rows(
    chdb_dsn: str, database_name: str
) -> None:
    store = DirectEvalStore(chdb_dsn, database_name)
    await store.open()
    try:
        await store.insert("labels", [LABEL])
        assert await store.select(SELECT) == [LABEL]
        # Unset columns take their defaults; DateTime values arrive as ISO text, as through the API.
        [row] = await store.select("SELECT Expected, LabelledAt FROM labels")
        assert row == {"Expected": "", "LabelledAt": "2025-11-28T03:20:00.123000"}
    finally:
        await store.aclose()


async def test_direct_store_refuses_other_tables_and_writing_sql(chdb_dsn: str, database_name: str) -> None:
    store = DirectEvalStore(chdb_dsn, database_name)
    await store.open()
    try:
        with pytest.raises(PermanentError, match="only eval_cases, judge_verdicts, labels, review_batches"):
            await store.insert("spans", [{"TraceId": "ab"}])
        with pytest.raises(PermanentError, match="read-only query"):
            await store.select("ALTER TABLE eval_cases DELETE WHERE 1")
        with pytest.raises(PermanentError, match="every row must have the columns"):
            await store.insert("labels", [{"CaseId": "a"}, {"Verdict": "bad"}])
        assert await store.select("SELECT count() AS n FROM labels") == [{"n": 0}]
    finally:
        await store.aclose()


async def test_cli_goes_through_the_running_collector(service: Service) -> None:
    data_dir = service.data_dir
    async with open_eval_store(store=None, data_dir=data_dir, token="s3cret") as store:
        assert isinstance(store, AdminEvalStore)
        await store.insert("labels", [LABEL])
        assert await store.select(SELECT) == [LABEL]
        with pytest.raises(PermanentError, match="only judge_verdicts, labels, review_batches"):
            await store.insert("spans", [{"TraceId": "ab"}])
        # The regression set keeps its chain: another process cannot append to it directly.
        with pytest.raises(PermanentError, match="grows only through its operations"):
            await store.insert("eval_cases", [{"CaseId": "forged"}])
    # What arrived through the API is what the collector's own store reads.
    assert await service.eval_store.select(SELECT) == [LABEL]


async def test_admin_rows_endpoint_needs_the_token_and_refuses_other_tables(service: Service) -> None:
    assert service.admin is not None
    url = f"http://127.0.0.1:{service.admin.port}/api/v1/rows"

    def post(body: object, token: str | None) -> tuple[int, dict[str, object]]:
        request = urllib.request.Request(url, data=orjson.dumps(body), method="POST")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, orjson.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, orjson.loads(exc.read())

    async def apost(body: object, token: str | None) -> tuple[int, dict[str, object]]:
        return await asyncio.to_thread(post, body, token)  # the server runs on this loop

    row = {"table": "labels", "columns": ["CaseId"], "rows": [["c9"]]}
    assert (await apost(row, None))[0] == 401
    assert (await apost(row, "wrong"))[0] == 401
    status, body = await apost({**row, "table": "spans"}, "s3cret")
    assert status == 400 and "refused" in str(body["error"])
    status, body = await apost({"table": "eval_cases", "columns": ["CaseId"], "rows": [["x"]]}, "s3cret")
    assert status == 400 and "hash chain" in str(body["error"])
    assert await service.eval_store.select("SELECT count() AS n FROM eval_cases") == [{"n": 0}]
    status, body = await apost({"table": "labels", "columns": ["CaseId"], "rows": [["a", "b"]]}, "s3cret")
    assert status == 400
    assert await apost(row, "s3cret") == (200, {"inserted": 1})
    assert await service.eval_store.select("SELECT CaseId FROM labels") == [{"CaseId": "c9"}]


@pytest.mark.parametrize(
    "op",
    [
        "store:open_eval_store",  # a real function, but not marked as an operation
        "ids:review_case_id",
        "nosuchmodule:run",
        "../collector/service:Service",
        "store",
    ],
)
async def test_only_marked_operations_run(service: Service, op: str) -> None:
    async with open_eval_store(store=None, data_dir=service.data_dir, token="s3cret") as store:
        with pytest.raises(PermanentError, match="unknown store operation"):
            await store.call(op, {})
    with pytest.raises(PermanentError, match="unknown store operation"):
        await service.eval_store.call(op, {})
