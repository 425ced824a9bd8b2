"""``tracesieve query``: read-only SQL, through the running collector when there is one.

The embedded engine (chDB) lets one process at a time open a data folder. So when a collector
runs on the folder (its run file names a live pid), the SQL goes to that collector's admin API;
otherwise the store is opened here, read-only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tracesieve.collector.errors import PermanentError, RetryableError
from tracesieve.collector.service import read_run_file
from tracesieve.sinks.clickhouse import ClickHouseSinkConfig, query_store

__all__ = ["run_query"]


def run_query(
    sql: str,
    params: dict[str, Any] | None,
    *,
    store: str | None,
    data_dir: Path,
    database: str | None = None,
    token: str | None = None,
) -> tuple[list[str], Sequence[Sequence[Any]]]:
    data_dir = data_dir.resolve()
    running = read_run_file(data_dir)
    local_dsn = f"chdb://{data_dir / 'chdb'}"
    if running and running.get("admin") and (store is None or store == running.get("store")):
        return _via_admin(str(running["admin"]), sql, params, token)
    dsn = store or local_dsn
    fields: dict[str, Any] = {"dsn": dsn}
    if database:
        fields["database"] = database
    return asyncio.run(query_store(ClickHouseSinkConfig(**fields), sql, params))


def _via_admin(
    base: str, sql: str, params: dict[str, Any] | None, token: str | None
) -> tuple[list[str], Sequence[Sequence[Any]]]:
    body = json.dumps({"sql": sql, "parameters": params}).encode()
    request = urllib.request.Request(f"{base}/api/v1/query", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            payload = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        with contextlib.suppress(ValueError):
            detail = json.loads(detail).get("error", detail)
        raise PermanentError(f"query refused by the running collector ({exc.code}): {detail}") from exc
    except urllib.error.URLError as exc:
        raise RetryableError(f"cannot reach the running collector at {base}: {exc.reason}") from exc
    return payload["columns"], payload["rows"]
