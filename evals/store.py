"""The review loop's access to the store, wherever the store lives.

chDB admits one process per data folder, so the eval commands cannot simply open the store
while a collector runs on it. :func:`open_eval_store` picks the way in, as ``tracesieve query``
does:

- a collector runs on the folder: through its admin API (:class:`AdminEvalStore`);
- none does, or ``--store`` names a server: a connection of its own (:class:`DirectEvalStore`);
- inside the collector (the review page, the weekly batch): the sink's connections
  (:class:`SinkEvalStore`).

All three behave the same: ``select`` returns JSON values (a DateTime arrives as an ISO
string; select ``toUnixTimestamp64Milli(..)`` where a number is wanted), ``insert`` appends
rows to one of the review loop's tables and nothing else, and ``call`` runs an operation that
must run where the store lives (for example appending to the hash-chained regression set,
which reads the chain's head and writes after it under one lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import orjson
from clickhouse_connect.driver.client import Client
from tracesieve.collector.errors import PermanentError, RetryableError
from tracesieve.sinks.clickhouse import ClickHouseSink, ClickHouseSinkConfig
from tracesieve.sinks.clickhouse.errors import classify
from tracesieve.sinks.clickhouse.migrate import migrate
from tracesieve.sinks.clickhouse.store import Connection, connect, run_query

__all__ = [
    "CLIENT_TABLES",
    "EVAL_TABLES",
    "AdminEvalStore",
    "DirectEvalStore",
    "EvalStore",
    "SinkEvalStore",
    "open_eval_store",
    "store_op",
]

EVAL_TABLES = frozenset({"review_batches", "labels", "eval_cases", "judge_verdicts"})
"""The only tables ``insert`` writes to. Spans and findings belong to the collector."""
CLIENT_TABLES = EVAL_TABLES - {"eval_cases"}
"""What another process may insert into through the admin API: the regression set only grows
through its operations (``regressions.*``), which keep its hash chain and ledger."""

Record = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
_OP_MARK = "__tracesieve_store_op__"
_OP_PREFIX = "tracesieve.evals."


class EvalStore(Protocol):
    database: str
    dsn: str | None
    """The store's DSN where it is opened in this process; None through another process."""

    async def select(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Record]:
        """One read-only statement; rows as dicts of JSON values."""
        ...

    async def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append ``rows`` (dicts with the same keys) to ``table``, one of EVAL_TABLES."""
        ...

    async def call(self, op: str, payload: Mapping[str, Any]) -> Any:
        """Run the operation ``op`` ("module:function" under tracesieve.evals, marked with
        :func:`store_op`) where the store lives; payload and result are JSON values."""
        ...


def store_op(fn: F) -> F:
    """Marks ``async def fn(store: EvalStore, payload: dict) -> JSON`` as callable by
    :meth:`EvalStore.call`. Only marked functions can be called, also through the admin API."""
    setattr(fn, _OP_MARK, True)
    return fn


def resolve_op(op: str) -> Callable[[EvalStore, dict[str, Any]], Awaitable[Any]]:
    """The function that ``op`` names; PermanentError for anything not marked as an op."""
    module_name, _, attr = op.partition(":")
    qualified = _OP_PREFIX + module_name
    if not module_name or not attr or not module_name.replace(".", "").replace("_", "").isalnum():
        raise PermanentError(f"unknown store operation {op!r}")
    try:
        module = importlib.import_module(qualified)
    except ImportError as exc:
        raise PermanentError(f"unknown store operation {op!r}") from exc
    fn = getattr(module, attr, None)
    if fn is None or not getattr(fn, _OP_MARK, False):
        raise PermanentError(f"unknown store operation {op!r}")
    return fn  # type: ignore[no-any-return]


def json_values(value: Any) -> Any:
    """``value`` as it would arrive through the admin API (so both ways in behave alike)."""
    from tracesieve.collector.admin.server import json_default

    return orjson.loads(orjson.dumps(value, default=json_default))


def _check_rows(
    table: str, rows: Sequence[Mapping[str, Any]], tables: frozenset[str] = EVAL_TABLES
) -> list[str]:
    if table == "eval_cases" and table not in tables:
        raise PermanentError(
            "insert into 'eval_cases' refused: the regression set grows only through its operations "
            "(tracesieve regressions add/sync/tag), which keep its hash chain"
        )
    if table not in tables:
        raise PermanentError(f"insert into {table!r} refused: only {', '.join(sorted(tables))}")
    if not rows:
        return []
    columns = list(rows[0])
    for row in rows:
        if list(row) != columns:
            raise PermanentError(f"insert into {table}: every row must have the columns {columns}")
    return columns


class _LocalStore:
    """Runs ops in this process, one at a time (they read then write)."""

    database: str
    dsn: str | None

    def __init__(self) -> None:
        self._op_lock = asyncio.Lock()

    async def select(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Record]:
        names, rows = await self._query(sql, params)
        records = [dict(zip(names, row, strict=True)) for row in rows]
        result: list[Record] = json_values(records)
        return result

    async def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        columns = _check_rows(table, rows)
        if columns:
            await self._insert(table, columns, [[row[c] for c in columns] for row in rows])

    async def insert_for_client(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """``insert`` on behalf of another process (the admin API): CLIENT_TABLES only."""
        _check_rows(table, rows, CLIENT_TABLES)
        await self.insert(table, rows)

    async def call(self, op: str, payload: Mapping[str, Any]) -> Any:
        fn = resolve_op(op)
        async with self._op_lock:
            return json_values(await fn(self, json_values(dict(payload))))

    async def _query(
        self, sql: str, params: Mapping[str, Any] | None
    ) -> tuple[list[str], Sequence[Sequence[Any]]]:
        raise NotImplementedError

    async def _insert(self, table: str, columns: list[str], rows: list[list[Any]]) -> None:
        raise NotImplementedError


class SinkEvalStore(_LocalStore):
    """Inside the collector: reads on the sink's read-only connection, writes on its own."""

    def __init__(self, sink: ClickHouseSink) -> None:
        super().__init__()
        self._sink = sink
        self.database = sink.config.database
        self.dsn = sink.config.dsn

    async def _query(
        self, sql: str, params: Mapping[str, Any] | None
    ) -> tuple[list[str], Sequence[Sequence[Any]]]:
        return await self._sink.query(sql, dict(params) if params else None, readonly=True)

    async def _insert(self, table: str, columns: list[str], rows: list[list[Any]]) -> None:
        await self._sink.insert_rows(table, columns, rows)


class DirectEvalStore(_LocalStore):
    """A connection of its own, when no collector holds the store. Applies pending migrations
    (a store created by an older tracesieve gets the review loop's tables)."""

    def __init__(self, dsn: str, database: str = "tracesieve", timeout_s: float = 30.0) -> None:
        super().__init__()
        self._own_dsn = dsn
        self.dsn = dsn
        self.database = database
        self._timeout_s = timeout_s
        self._conn: Connection | None = None

    async def open(self) -> None:
        dsn = self._own_dsn

        def prepare() -> Client:
            client = connect(dsn, timeout_s=self._timeout_s)
            try:
                migrate(client, self.database)
                client.database = self.database
            except Exception:
                client.close()
                raise
            return client

        try:
            self._conn = Connection(await asyncio.to_thread(prepare))
        except (PermanentError, RetryableError):
            raise
        except Exception as exc:
            raise classify(exc) from exc

    async def aclose(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await asyncio.to_thread(conn.close)

    def _connection(self) -> Connection:
        if self._conn is None:
            raise PermanentError("the store is not open")
        return self._conn

    async def _query(
        self, sql: str, params: Mapping[str, Any] | None
    ) -> tuple[list[str], Sequence[Sequence[Any]]]:
        return await self._connection().run(lambda client: run_query(client, sql, params, readonly=True))

    async def _insert(self, table: str, columns: list[str], rows: list[list[Any]]) -> None:
        target = f"{self.database}.{table}"

        def insert(client: Client) -> None:
            client.insert(target, rows, column_names=columns)

        try:
            await self._connection().run(insert)
        except Exception as exc:
            raise classify(exc) from exc


class AdminEvalStore:
    """Through a running collector's admin API (``/api/v1/query``, ``/rows``, ``/ops``)."""

    def __init__(self, base_url: str, token: str | None, database: str = "tracesieve") -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self.database = database
        self.dsn: str | None = None

    async def select(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Record]:
        payload = await self._post("/api/v1/query", {"sql": sql, "parameters": dict(params or {}) or None})
        names = payload["columns"]
        return [dict(zip(names, row, strict=True)) for row in payload["rows"]]

    async def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        columns = _check_rows(table, rows, CLIENT_TABLES)
        if columns:
            body = {"table": table, "columns": columns, "rows": [[row[c] for c in columns] for row in rows]}
            await self._post("/api/v1/rows", json_values(body))

    async def call(self, op: str, payload: Mapping[str, Any]) -> Any:
        resolve_op(op)  # refuse an unknown op here too, with the same message
        return (await self._post(f"/api/v1/ops/{op}", json_values(dict(payload))))["result"]

    async def _post(self, path: str, body: Any) -> Any:
        return await asyncio.to_thread(self._post_sync, path, body)

    def _post_sync(self, path: str, body: Any) -> Any:
        request = urllib.request.Request(f"{self._base}{path}", data=orjson.dumps(body), method="POST")
        request.add_header("Content-Type", "application/json")
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            with contextlib.suppress(ValueError, AttributeError):
                detail = json.loads(detail).get("error", detail)
            if exc.code in (502, 503, 504):
                raise RetryableError(f"the running collector answered {exc.code}: {detail}") from exc
            raise PermanentError(f"refused by the running collector ({exc.code}): {detail}") from exc
        except urllib.error.URLError as exc:
            raise RetryableError(f"cannot reach the running collector at {self._base}: {exc.reason}") from exc


@contextlib.asynccontextmanager
async def open_eval_store(
    *,
    store: str | None,
    data_dir: Path,
    database: str | None = None,
    token: str | None = None,
) -> AsyncIterator[EvalStore]:
    """The way into the store for a CLI command; see the module docstring."""
    from tracesieve.collector.service import read_run_file

    data_dir = data_dir.resolve()
    running = read_run_file(data_dir)
    if running and running.get("admin") and (store is None or store == running.get("store")):
        yield AdminEvalStore(
            str(running["admin"]), token, database or str(running.get("database") or "tracesieve")
        )
        return
    fields: dict[str, Any] = {"dsn": store or f"chdb://{data_dir / 'chdb'}"}
    if database:
        fields["database"] = database
    config = ClickHouseSinkConfig(**fields)
    direct = DirectEvalStore(config.dsn, config.database, config.timeout_s)
    await direct.open()
    try:
        yield direct
    finally:
        await direct.aclose()
