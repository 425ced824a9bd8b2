"""Cluster DDL: the one-node migration statements, rewritten for a ClickHouse cluster.

A migration is written once, for one node; :func:`cluster_statements` turns each of its
statements into what a cluster named in ``sinks.clickhouse.cluster`` runs. Every table gets one
of two layouts (:data:`LAYOUT`; a table without one is refused, so a new migration cannot pick
one by accident):

* **sharded** (spans and findings: the volume): ``<db>.<name>_local ON CLUSTER c`` with the
  Replicated variant of its engine, one replica group per shard
  (``ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/<db>/<name>', '{replica}', <args>)``),
  and ``<db>.<name> ON CLUSTER c AS <db>.<name>_local ENGINE = Distributed(c, <db>, <name>_local,
  <key>)``, so that queries and INSERTs use the same names as on one node.
* **every node** (small review tables and ``schema_migrations``): ``<db>.<name> ON CLUSTER c``
  itself, Replicated in ONE replica group that spans all nodes
  (``'/clickhouse/tables/all/<db>/<name>'``, replica ``'{shard}-{replica}'``), with no Distributed
  table: every node holds every row, answers from its own disk and joins locally.

The sharding key of a table whose engine collapses rows (ReplacingMergeTree) is a function of
its ORDER BY columns only: two versions of a row then always land on the same shard, where a
merge can collapse them; on different shards they never would.

>>> cluster_statements("ALTER TABLE db.spans ADD COLUMN IF NOT EXISTS X String", "db", "c")
['ALTER TABLE db.spans_local ON CLUSTER c ADD COLUMN IF NOT EXISTS X String', \
'ALTER TABLE db.spans ON CLUSTER c ADD COLUMN IF NOT EXISTS X String']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tracesieve.collector.errors import PermanentError

__all__ = [
    "EVERY_NODE",
    "LAYOUT",
    "EveryNode",
    "Sharded",
    "alter_target",
    "cluster_statements",
    "storage_table",
]


@dataclass(frozen=True, slots=True)
class Sharded:
    """Rows spread over the shards by ``key``; ``why`` says why that key (it is documentation)."""

    key: str
    why: str


@dataclass(frozen=True, slots=True)
class EveryNode:
    """One replica group over all nodes: every node holds the whole table."""

    why: str


# Sessionless spans (no session id could be found) would otherwise all hash to one shard.
_SESSION_KEY = "cityHash64(if(SessionId = '', TraceId, SessionId))"
_SESSION_WHY = (
    "a session's rows on one shard: 'show me this session', the session views and joins of spans, "
    "signals and flagged_spans by session stay on one shard; sessionless rows spread by trace; "
    "SessionId and TraceId are ORDER BY columns, so a resent row meets its duplicate"
)
_SMALL_WHY = (
    "small (rows per reviewed case, not per span) and joined with sharded tables: a copy on "
    "every node answers locally"
)
EVERY_NODE = EveryNode(_SMALL_WHY)

LAYOUT: dict[str, Sharded | EveryNode] = {
    "spans": Sharded(_SESSION_KEY, _SESSION_WHY),
    "signals": Sharded(_SESSION_KEY, _SESSION_WHY),
    "flagged_spans": Sharded(_SESSION_KEY, _SESSION_WHY),
    "feedback": Sharded(
        "cityHash64(FeedbackId)",
        "the received row (version 0, no session yet) and the joined row (version 1) share only "
        "FeedbackId, the ORDER BY key: both must be on one shard for ReplacingMergeTree to keep the latest",
    ),
    "review_batches": EVERY_NODE,
    "labels": EVERY_NODE,
    "judge_verdicts": EVERY_NODE,
    "eval_cases": EveryNode(
        "the append-only hash chain: one replica group holds one linear history (Seq order, "
        "PrevHash links) that `regressions verify` reads whole on any node; split over shards a "
        "chain would only exist as the union of them"
    ),
    "schema_migrations": EveryNode(
        "every node must agree on which migrations ran, whichever node a process connects to"
    ),
}

_LEADING_COMMENTS = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)
_CREATE = re.compile(
    r"CREATE\s+TABLE\s+(?P<ine>IF\s+NOT\s+EXISTS\s+)?(?P<db>\w+)\.(?P<table>\w+)"
    r"(?:\s+ON\s+CLUSTER\s+\w+)?(?P<gap>\s*)\(",
    re.IGNORECASE,
)
_ALTER = re.compile(
    r"ALTER\s+TABLE\s+(?P<db>\w+)\.(?P<table>\w+)(?:\s+ON\s+CLUSTER\s+\w+)?\s+(?P<body>.*)\Z",
    re.IGNORECASE | re.DOTALL,
)
_ENGINE = re.compile(r"\s*ENGINE\s*=\s*(?P<name>\w+)(?P<open>\s*\()?", re.IGNORECASE)
# Column changes must also reach the Distributed table, which has its own column list.
_COLUMN_OP = re.compile(r"(?:ADD|DROP|MODIFY|RENAME|COMMENT|CLEAR)\s+COLUMN\b", re.IGNORECASE)


def storage_table(table: str, cluster: str | None) -> str:
    """The name of the table that holds ``table``'s rows and engine settings on a node."""
    if cluster and isinstance(_layout(table), Sharded):
        return f"{table}_local"
    return table


def alter_target(database: str, table: str, cluster: str | None) -> str:
    """What ``ALTER TABLE`` names to change ``table``'s storage (TTL, settings, indexes)."""
    if not cluster:
        return f"{database}.{table}"
    return f"{database}.{storage_table(table, cluster)} ON CLUSTER {cluster}"


def cluster_statements(statement: str, database: str, cluster: str) -> list[str]:
    """The statements that do on ``cluster`` what ``statement`` does on one node.

    ``statement`` is one filled-in migration statement: ``CREATE TABLE`` (with an engine of the
    MergeTree family) or ``ALTER TABLE``, with or without ``ON CLUSTER``. Raises PermanentError
    for any other statement, another engine, or a table without a :data:`LAYOUT`.
    """
    start = _LEADING_COMMENTS.match(statement)
    head, code = statement[: start.end() if start else 0], statement[start.end() if start else 0 :]
    if m := _CREATE.match(code):
        return _create(head, code, m, database, cluster)
    if m := _ALTER.match(code):
        table, body = m.group("table"), m.group("body")
        target = f"{m.group('db')}.{storage_table(table, cluster)} ON CLUSTER {cluster}"
        out = [f"{head}ALTER TABLE {target} {body}"]
        if isinstance(_layout(table), Sharded) and _COLUMN_OP.match(body):
            out.append(f"ALTER TABLE {m.group('db')}.{table} ON CLUSTER {cluster} {body}")
        return out
    raise PermanentError(f"cannot run this statement on a cluster (CREATE/ALTER TABLE only): {code[:80]!r}")


def _create(head: str, code: str, m: re.Match[str], database: str, cluster: str) -> list[str]:
    db, table = m.group("db"), m.group("table")
    layout = _layout(table)
    columns_end = _closing_paren(code, m.end() - 1) + 1
    rest = code[columns_end:]
    e = _ENGINE.match(rest)
    if e is None:
        raise PermanentError(f"CREATE TABLE {db}.{table} names no ENGINE: cannot replicate it")
    engine = e.group("name")
    if not engine.endswith("MergeTree") or engine.startswith("Replicated"):
        raise PermanentError(f"table {db}.{table}: no replicated variant of engine {engine} is known here")
    args, after = "", e.end()
    if e.group("open"):
        close = _closing_paren(rest, after - 1)
        args, after = rest[after:close].strip(), close + 1
    if isinstance(layout, Sharded):
        name, path, replica = (
            f"{table}_local",
            f"/clickhouse/tables/{{shard}}/{database}/{table}",
            "{replica}",
        )
    else:
        name, path, replica = table, f"/clickhouse/tables/all/{database}/{table}", "{shard}-{replica}"
    engine_args = ", ".join(a for a in (f"'{path}'", f"'{replica}'", args) if a)
    ine = "IF NOT EXISTS " if m.group("ine") else ""
    created = (
        f"{head}CREATE TABLE {ine}{db}.{name} ON CLUSTER {cluster}{m.group('gap')}"
        f"{code[m.end() - 1 : columns_end]}\nENGINE = Replicated{engine}({engine_args})"
        f"{rest[after:].rstrip()}"
    )
    if isinstance(layout, EveryNode):
        return [created]
    distributed = (
        f"CREATE TABLE {ine}{db}.{table} ON CLUSTER {cluster} AS {db}.{name}\n"
        f"ENGINE = Distributed({cluster}, {db}, {name}, {layout.key})"
    )
    return [created, distributed]


def _layout(table: str) -> Sharded | EveryNode:
    layout = LAYOUT.get(table)
    if layout is None:
        raise PermanentError(
            f"table {table} has no cluster layout: add it to LAYOUT in sinks/clickhouse/_cluster.py"
        )
    return layout


def _closing_paren(sql: str, i: int) -> int:
    """Index of the ``)`` matching the ``(`` at ``sql[i]``, skipping quotes and comments."""
    depth, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"`":
            i = _past_quoted(sql, i)
            continue
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise PermanentError(f"unbalanced parentheses in {sql[:80]!r}")


def _past_quoted(sql: str, i: int) -> int:
    quote, i = sql[i], i + 1
    while i < len(sql):
        if sql[i] == "\\":
            i += 2
        elif sql[i] == quote:
            if sql[i + 1 : i + 2] == quote:
                i += 2
            else:
                return i + 1
        else:
            i += 1
    return i
