"""Connections to the store, SQL queries on them, and read-only access for the CLI.

``open_store`` is what ``tracesieve query`` uses when no collector runs::

    with open_store("chdb:///srv/tracesieve-data/chdb") as store:
        names, rows = store.query("SELECT count() FROM spans WHERE Kind = {k:String}", {"k": "llm"})

chDB lets one process hold a data folder at a time: while a collector runs on it, query
through the collector instead (``ClickHouseSink.query``); ``open_store`` then raises
RetryableError saying so.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from tracesieve.collector.errors import PermanentError, RetryableError

from ._sql import first_keyword, split_statements, words
from .config import ClickHouseSinkConfig, resolve_dsn
from .errors import classify

__all__ = [
    "READONLY_KEYWORDS",
    "Connection",
    "ReadOnlyStore",
    "chdb_path",
    "check_readonly",
    "connect",
    "open_store",
    "query_store",
    "run_query",
]

T = TypeVar("T")

QueryResult = tuple[list[str], list[tuple[Any, ...]]]
_ROW_RETURNING = frozenset({"SELECT", "WITH"})
READONLY_KEYWORDS = frozenset({"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS"})


def chdb_path(dsn: str) -> str | None:
    """The absolute data folder of a ``chdb://`` DSN; None for memory and server DSNs."""
    dsn = resolve_dsn(dsn)
    if not dsn.lower().startswith("chdb://"):
        return None
    location = dsn[len("chdb://") :].partition("?")[0]
    return location if location.startswith("/") else None


def connect(
    dsn: str,
    *,
    database: str | None = None,
    readonly: bool = False,
    timeout_s: float = 30.0,
    create_path: bool = True,
) -> Client:
    """A clickhouse-connect client for ``dsn`` (chDB in-process, or HTTP to a server).

    ``readonly`` sets ClickHouse's session setting ``readonly=1``: the server (or chDB) then
    refuses INSERT, DDL, ``SYSTEM`` and setting changes on this client. Raises
    RetryableError when the chDB folder is held by another process, PermanentError when
    this process already has another chDB folder open or the folder is missing and
    ``create_path`` is false.
    """
    dsn = resolve_dsn(dsn)
    settings: dict[str, Any] = {"readonly": 1} if readonly else {}
    path = chdb_path(dsn)
    if path is None and not dsn.lower().startswith("chdb://"):
        parsed = urlparse(dsn)
        try:
            return clickhouse_connect.get_client(
                dsn=dsn,
                database=database,
                settings=settings,
                connect_timeout=timeout_s,
                send_receive_timeout=timeout_s,
            )
        except Exception as exc:
            err = classify(exc)
            where = f"{parsed.hostname}:{parsed.port}"
            raise type(err)(f"cannot connect to ClickHouse at {where}: {err.reason}") from exc
    if path is not None:
        if create_path:
            os.makedirs(path, exist_ok=True)
        elif not os.path.isdir(path):
            raise PermanentError(f"no tracesieve store at {path} (start `tracesieve run` once to create it)")
    try:
        return clickhouse_connect.get_client(dsn=dsn, database=database, settings=settings)
    except Exception as exc:
        message = str(exc)
        if "already initialized with path" in message:
            raise PermanentError(
                f"cannot open chDB store {path}: this process already has another chDB folder open "
                f"(chDB allows one per process): {message}"
            ) from exc
        if "Error initializing EmbeddedServer" in message:
            raise RetryableError(
                f"cannot open chDB store {path}: another process holds it (a running collector? "
                "query through its admin API instead)"
            ) from exc
        raise classify(exc) from exc


def check_readonly(statement: str) -> None:
    """Refuse what ``readonly=1`` lets through: only reading statements, no ``INTO OUTFILE``.

    Measured on chDB 4.4: with ``readonly=1`` it still runs ``SELECT … INTO OUTFILE`` (writes
    a local file), ``SYSTEM START/STOP MERGES``, ``KILL QUERY`` and ``USE``; it refuses INSERT,
    DDL, ``SET``, most ``SYSTEM`` commands and table functions (``file``, ``url``).
    """
    keyword = first_keyword(statement)
    if keyword not in READONLY_KEYWORDS:
        allowed = ", ".join(sorted(READONLY_KEYWORDS))
        refused = keyword or "this"
        raise PermanentError(f"read-only query: {refused} statements are refused (allowed: {allowed})")
    tokens = words(statement)
    if any(a == "INTO" and b == "OUTFILE" for a, b in itertools.pairwise(tokens)):
        raise PermanentError("read-only query: INTO OUTFILE is refused")


def run_query(
    client: Client, sql: str, parameters: Mapping[str, Any] | None = None, readonly: bool = True
) -> QueryResult:
    """Run one statement; return its column names and rows (tuples of Python values).

    Parameters bind with ClickHouse's ``{name:Type}`` syntax. Several statements separated by
    ``;`` are refused (a ClickHouse server refuses them too; chDB would run them). With
    ``readonly``, statements other than SELECT/WITH/SHOW/DESCRIBE/EXPLAIN/EXISTS are refused
    here (see :func:`check_readonly`), on top of the client's ``readonly=1``. Column names are
    returned for an empty SELECT result as well. Raises the classified error.
    """
    statements = split_statements(sql)
    if len(statements) != 1:
        raise PermanentError(f"expected exactly one SQL statement, got {len(statements)}")
    statement = statements[0]
    if readonly:
        check_readonly(statement)
    params = dict(parameters) if parameters else None
    try:
        result = client.query(statement, parameters=params)
        names = list(result.column_names)
        rows = [tuple(row) for row in result.result_rows]
        if not names and first_keyword(statement) in _ROW_RETURNING:
            # chDB sends no Native block at all for an empty result, so no column names:
            # ask for them with a LIMIT 0 probe, which both backends answer with metadata.
            try:
                probe = client.query(f"SELECT * FROM (\n{statement}\n) LIMIT 0", parameters=params)
                names = list(probe.column_names)
            except Exception:  # a statement that cannot be a subquery (FORMAT ...)
                names = []
    except Exception as exc:
        raise classify(exc) from exc
    return names, rows


class Connection:
    """One client used by one thread at a time, from async code through ``asyncio.to_thread``.

    The lock lives in the worker thread, so a cancelled caller never lets a second call onto
    a client that is still busy (clickhouse-connect clients are not safe for concurrent use).
    """

    def __init__(self, client: Client) -> None:
        self.client = client
        self._lock = threading.Lock()

    def call(self, fn: Callable[[Client], T]) -> T:
        with self._lock:
            return fn(self.client)

    async def run(self, fn: Callable[[Client], T]) -> T:
        return await asyncio.to_thread(self.call, fn)

    def close(self) -> None:
        with self._lock:
            self.client.close()


class ReadOnlyStore:
    """Read-only access to a tracesieve database, for the CLI when no collector runs.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, client: Client, database: str) -> None:
        self._conn = Connection(client)
        self.database = database
        self._closed = False

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> QueryResult:
        """Run one read-only statement (``readonly=1``); see :func:`run_query`."""
        if self._closed:
            raise PermanentError("the store is closed")
        return self._conn.call(lambda client: run_query(client, sql, parameters, readonly=True))

    def close(self) -> None:
        """Close the connection (idempotent); releases the chDB folder for other processes."""
        if not self._closed:
            self._closed = True
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_store(dsn: str, database: str = "tracesieve", timeout_s: float = 30.0) -> ReadOnlyStore:
    """Open ``database`` at ``dsn`` read-only (queries run with ``readonly=1``).

    Unqualified table names resolve in ``database``. Raises PermanentError when a chDB
    folder does not exist, RetryableError when another process holds it.
    """
    client = connect(dsn, database=database, readonly=True, timeout_s=timeout_s, create_path=False)
    return ReadOnlyStore(client, database)


async def query_store(
    config: ClickHouseSinkConfig, sql: str, parameters: Mapping[str, Any] | None = None
) -> QueryResult:
    """Open the store of ``config`` read-only, run one statement, close it again.

    For ``tracesieve query`` when no collector holds the store; same errors as :func:`open_store`.
    """

    def run() -> QueryResult:
        with open_store(config.dsn, config.database, timeout_s=config.timeout_s) as store:
            return store.query(sql, parameters)

    return await asyncio.to_thread(run)
