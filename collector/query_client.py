"""``tracesieve query``: read-only SQL, through the running collector when there is one.

The embedded engine (chDB) lets one process at a time open a data folder. So when a collector
runs on the folder (its run file names a live pid), the SQL goes to that collector's admin API;
otherwise the store is opened here, read-only. An admin API served over TLS (``https`` in the
run file) is verified against ``ca_file`` (else the system's CAs and ``$SSL_CERT_FILE``), and a
client certificate is presented when the port asks for one (``admin.tls.client_ca_file``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tracesieve.collector.errors import PermanentError, RetryableError
from tracesieve.collector.service import read_run_file
from tracesieve.collector.tls import client_ssl_context
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
    ca_file: Path | None = None,
    client_cert: Path | None = None,
    client_key: Path | None = None,
) -> tuple[list[str], Sequence[Sequence[Any]]]:
    data_dir = data_dir.resolve()
    running = read_run_file(data_dir)
    local_dsn = f"chdb://{data_dir / 'chdb'}"
    if running and running.get("admin") and (store is None or store == running.get("store")):
        base = str(running["admin"])
        context = client_ssl_context(ca_file, client_cert, client_key) if base.startswith("https:") else None
        return _via_admin(base, sql, params, token, context)
    dsn = store or local_dsn
    fields: dict[str, Any] = {"dsn": dsn}
    if database:
        fields["database"] = database
    return asyncio.run(query_store(ClickHouseSinkConfig(**fields), sql, params))


def _via_admin(
    base: str, sql: str, params: dict[str, Any] | None, token: str | None, context: ssl.SSLContext | None
) -> tuple[list[str], Sequence[Sequence[Any]]]:
    body = json.dumps({"sql": sql, "parameters": params}).encode()
    request = urllib.request.Request(f"{base}/api/v1/query", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=120, context=context) as response:
            payload = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        with contextlib.suppress(ValueError):
            detail = json.loads(detail).get("error", detail)
        raise PermanentError(f"query refused by the running collector ({exc.code}): {detail}") from exc
    except urllib.error.URLError as exc:
        raise RetryableError(f"cannot reach the running collector at {base}: {exc.reason}") from exc
    return payload["columns"], payload["rows"]
