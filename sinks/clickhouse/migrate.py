"""Versioned schema migrations: ``migrations/NNNN_name.sql`` applied in order, once each.

Each file is a template: ``{database}`` is replaced by the database name and ``{on_cluster}``
by ``ON CLUSTER <name>`` (or nothing), so one file serves every deployment. With a cluster,
each statement is then rewritten by :func:`~._cluster.cluster_statements` into replicated,
sharded tables behind Distributed tables of the same names (``_cluster.py`` says which table is
laid out how, and why); ``schema_migrations`` is replicated on every node. Applied files are
recorded in ``{database}.schema_migrations`` (version, name, checksum, applied_at) with the
SHA-256 of the file's *template* text. Running again applies nothing; a recorded file whose
text changed stops start-up with a :class:`PermanentError` naming it: add a new migration
instead of editing one that has shipped. Statements must be idempotent (``IF NOT EXISTS``):
a migration interrupted half-way is re-run from its first statement.

``python -m tracesieve.sinks.clickhouse.ddl --cluster tracesieve --print`` prints what
:func:`migrate` runs on a fresh database (``deploy/clickhouse/cluster.sql`` is that output).
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

from tracesieve.collector.errors import PermanentError

from ._cluster import cluster_statements
from ._sql import split_statements

__all__ = ["Migration", "MigrationClient", "applied_migrations", "load_migrations", "migrate"]

logger = logging.getLogger(__name__)

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class MigrationClient(Protocol):
    """The part of a clickhouse-connect ``Client`` that migrations use."""

    def command(self, cmd: str, parameters: Any = None) -> Any: ...

    def query(self, query: str, parameters: Any = None) -> Any: ...


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file: ``version`` from its ``NNNN_`` prefix, ``sql`` its template text."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self, database: str, cluster: str | None = None) -> list[str]:
        """The statements to run, with the placeholders filled in (and rewritten for ``cluster``)."""
        on_cluster = f"ON CLUSTER {cluster}" if cluster else ""
        text = self.sql.replace("{database}", database).replace("{on_cluster}", on_cluster)
        statements = split_statements(text)
        if not cluster:
            return statements
        try:
            return [out for s in statements for out in cluster_statements(s, database, cluster)]
        except PermanentError as exc:
            raise PermanentError(f"migration {self.name}: {exc}") from exc


def load_migrations() -> list[Migration]:
    """The packaged migrations in version order; raises PermanentError on a malformed set."""
    folder = resources.files(__name__.rpartition(".")[0]).joinpath("migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        m = _FILE_NAME.match(entry.name)
        if m is None:
            raise PermanentError(f"migration file {entry.name!r} is not named NNNN_name.sql")
        found.append(Migration(int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda mig: mig.version)
    for previous, current in itertools.pairwise(found):
        if previous.version == current.version:
            raise PermanentError(
                f"migrations {previous.name} and {current.name} share version {current.version}"
            )
    return found


def applied_migrations(client: MigrationClient, database: str) -> dict[int, tuple[str, str]]:
    """``{version: (name, checksum)}`` of the migrations recorded in ``database``."""
    result = client.query(
        f"SELECT version, argMax(name, applied_at), argMax(checksum, applied_at) "
        f"FROM {database}.schema_migrations GROUP BY version ORDER BY version"
    )
    return {int(v): (str(n), str(c)) for v, n, c in result.result_rows}


def migrate(
    client: MigrationClient,
    database: str,
    migrations: list[Migration] | None = None,
    cluster: str | None = None,
) -> list[str]:
    """Create ``database`` if needed and apply the migrations not yet recorded, in order.

    Returns the names of the files applied (empty when the schema is current). Raises
    PermanentError naming the file when an applied migration's text has changed since.
    """
    for label, value in (("database", database), ("cluster", cluster)):
        if value is not None and not _IDENTIFIER.match(value):
            raise PermanentError(f"{label} {value!r} is not a plain identifier")
    migrations = load_migrations() if migrations is None else migrations
    record_table = (
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations ("
        "version UInt32, name String, checksum String, applied_at DateTime64(3) DEFAULT now64(3)"
        ") ENGINE = ReplacingMergeTree(applied_at) ORDER BY version"
    )
    if cluster:
        client.command(f"CREATE DATABASE IF NOT EXISTS {database} ON CLUSTER {cluster}")
        for statement in cluster_statements(record_table, database, cluster):
            client.command(statement)
    else:
        client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
        client.command(record_table)
    applied = applied_migrations(client, database)
    known = {m.version for m in migrations}
    for version, (name, _) in applied.items():
        if version not in known:
            logger.warning(
                "database %s has migration %s, which this tracesieve does not know: it is newer "
                "than this code",
                database,
                name,
            )
    done: list[str] = []
    for mig in migrations:
        recorded = applied.get(mig.version)
        if recorded is not None:
            name, checksum = recorded
            if checksum != mig.checksum:
                raise PermanentError(
                    f"migration {mig.name} was changed after it was applied to database {database} "
                    f"(recorded checksum {checksum[:12]}…, file {mig.checksum[:12]}…); "
                    "restore the file and add a new migration instead"
                )
            continue
        logger.info("applying migration %s to database %s", mig.name, database)
        for statement in mig.statements(database, cluster):
            client.command(statement)
        client.command(
            f"INSERT INTO {database}.schema_migrations (version, name, checksum) "
            "VALUES ({version:UInt32}, {name:String}, {checksum:String})",
            parameters={"version": mig.version, "name": mig.name, "checksum": mig.checksum},
        )
        done.append(mig.name)
    return done
