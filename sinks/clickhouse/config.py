"""Configuration of the ClickHouse sink (``sinks: clickhouse/<name>:`` in the YAML file)."""

from __future__ import annotations

import os
import re
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "EXPIRING_TABLES",
    "BatchConfig",
    "ClickHouseSinkConfig",
    "QueueConfig",
    "TableTtlConfig",
    "resolve_dsn",
]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MEMORY_LOCATIONS = ("", "memory", ":memory:")


def resolve_dsn(dsn: str) -> str:
    """Return ``dsn`` with a relative ``chdb://`` path made absolute (from the working dir).

    ``chdb://./data`` and ``chdb://data`` become ``chdb:///<cwd>/data``; ``chdb:///abs``,
    ``chdb://memory`` and ``http(s)://`` DSNs are returned unchanged. Raises ``ValueError``
    for any other scheme.

    >>> resolve_dsn("chdb:///srv/ts") == "chdb:///srv/ts"
    True
    """
    scheme, sep, rest = dsn.partition("://")
    if not sep or scheme.lower() not in ("chdb", "http", "https"):
        raise ValueError(f"must start with chdb://, http:// or https:// (got {dsn!r})")
    if scheme.lower() != "chdb":
        return dsn
    location, qmark, query = rest.partition("?")
    if location in _MEMORY_LOCATIONS or location.startswith("/"):
        return dsn
    path = os.path.abspath(os.path.expanduser(location))
    return f"chdb://{path}{qmark}{query}"


class BatchConfig(BaseModel):
    """How concurrent ``consume()`` calls are grouped into one INSERT (group commit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_items: int = Field(
        default=20_000,
        ge=1,
        description="Spans per INSERT at most; a batch this full is written without waiting.",
    )
    flush_interval_s: float = Field(
        default=0.2,
        ge=0.0,
        le=60.0,
        description=(
            "How long the first pending span may wait for others to join its INSERT. Every "
            "consume() returns only after its INSERT, so this bounds the latency added to an "
            "OTLP response; 0 writes as soon as the previous INSERT is done."
        ),
    )


class QueueConfig(BaseModel):
    """Bound on spans accepted by ``consume()`` but not yet written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_items: int = Field(
        default=200_000,
        ge=1,
        description=(
            "Spans waiting to be written at most; consume() beyond this raises OverloadedError "
            "(retryable) instead of growing memory."
        ),
    )


# The tables that may expire, and the DateTime column their TTL counts from. The evaluation
# record (eval_cases, the append-only hash-chained regression set; labels, the human verdicts it
# is built from; judge_verdicts, what calibration compares them with) never expires.
EXPIRING_TABLES: dict[str, str] = {
    "spans": "Timestamp",
    "signals": "Timestamp",
    "flagged_spans": "Timestamp",
    "feedback": "Timestamp",
    "review_batches": "CreatedAt",
}
_NEVER_EXPIRE = ("eval_cases", "labels", "judge_verdicts")


class TableTtlConfig(BaseModel):
    """Retention per table, in days; unset follows ``ttl_days``, 0 keeps rows forever."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spans: int | None = Field(default=None, ge=0, description="Spans, by `Timestamp` (their start).")
    signals: int | None = Field(
        default=None, ge=0, description="Failure signals, by `Timestamp` (the event time of their span)."
    )
    flagged_spans: int | None = Field(
        default=None,
        ge=0,
        description="Flagged turns (with copies of their prompt and answer), by `Timestamp`.",
    )
    feedback: int | None = Field(default=None, ge=0, description="Feedback, by `Timestamp`.")
    review_batches: int = Field(
        default=0,
        ge=0,
        description="Weekly review batches (copies of the flagged turns reviewers saw), by `CreatedAt`; 0 "
        "(the default) keeps them, since labels and eval cases point at them.",
    )

    @model_validator(mode="before")
    @classmethod
    def _refuse_the_evaluation_record(cls, data: object) -> object:
        if isinstance(data, dict):
            for table in _NEVER_EXPIRE:
                if table in data:
                    raise ValueError(
                        f"`table_ttl_days.{table}`: {table} is part of the evaluation record, which is "
                        "append-only and never expires"
                    )
        return data


class ClickHouseSinkConfig(BaseModel):
    """Where and how canonical spans are stored in ClickHouse (embedded chDB or a server)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dsn: str = Field(
        default="chdb://./tracesieve-data/chdb",
        validate_default=True,
        description=(
            "chdb://PATH for the embedded engine (a relative PATH is resolved against the "
            "working directory at start-up), or http(s)://[user:password@]host:port for a "
            "ClickHouse server."
        ),
    )
    database: str = Field(
        default="tracesieve",
        description="Database holding the spans table and the migration record; created if missing.",
    )
    batch: BatchConfig = Field(default_factory=BatchConfig, description=BatchConfig.__doc__)
    queue: QueueConfig = Field(default_factory=QueueConfig, description=QueueConfig.__doc__)
    dedupe_window_s: float = Field(
        default=3600.0,
        ge=0.0,
        description=(
            "How long (by ingest time) the keys (TraceId, SpanId) of stored spans are kept in "
            "memory so that a resent span is not written again; 0 leaves deduplication to "
            "ReplacingMergeTree merges only."
        ),
    )
    dedupe_max_keys: int = Field(
        default=1_000_000,
        ge=0,
        description="Upper bound on remembered keys (about 150 bytes each); the oldest go first.",
    )
    fsync: bool = Field(
        default=False,
        description=(
            "fsync every written part (MergeTree fsync_after_insert, fsync_part_directory): "
            "survives power loss, at a cost per INSERT. A process crash loses nothing acknowledged "
            "either way, since a part is renamed into place only once complete."
        ),
    )
    ttl_days: int = Field(
        default=0,
        ge=0,
        description=(
            "Drop rows older than this many days from spans, signals, flagged_spans and feedback "
            "(whole daily parts where the table is partitioned by day); 0 keeps them. "
            "`table_ttl_days` overrides it per table."
        ),
    )
    table_ttl_days: TableTtlConfig = Field(
        default_factory=TableTtlConfig,
        description="Retention per table (spans, signals, flagged_spans, feedback, review_batches), "
        "overriding `ttl_days`. eval_cases, labels and judge_verdicts never expire.",
    )
    timeout_s: float = Field(
        default=30.0,
        gt=0.0,
        description="Connect and send/receive timeout for a ClickHouse server (http/https DSNs).",
    )
    cluster: str | None = Field(
        default=None,
        description=(
            "Name of a ClickHouse cluster (remote_servers) to create the tables on, ON CLUSTER: "
            "replicated `<table>_local` tables spread over the shards behind Distributed tables of "
            "the same names (deploy/clickhouse/). Needs an http(s):// DSN; null for one node."
        ),
    )

    @field_validator("dsn")
    @classmethod
    def _resolve_dsn(cls, value: str) -> str:
        return resolve_dsn(value)

    @field_validator("database")
    @classmethod
    def _check_database(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError(f"must be a plain identifier [A-Za-z_][A-Za-z0-9_]* (got {value!r})")
        return value

    @field_validator("cluster")
    @classmethod
    def _check_cluster(cls, value: str | None) -> str | None:
        if value is not None and not _IDENTIFIER.match(value):
            raise ValueError(f"must be a plain identifier [A-Za-z_][A-Za-z0-9_]* (got {value!r})")
        return value

    @model_validator(mode="after")
    def _check_cluster_has_a_server(self) -> Self:
        if self.cluster is not None and self.is_embedded:
            raise ValueError(
                f"`cluster` needs a ClickHouse server DSN, http(s)://… (got cluster {self.cluster!r} "
                f"with the embedded {self.dsn!r})"
            )
        return self

    @model_validator(mode="after")
    def _check_batch_fits_queue(self) -> Self:
        if self.batch.max_items > self.queue.max_items:
            raise ValueError(
                f"`batch.max_items` must be ≤ `queue.max_items` "
                f"(got {self.batch.max_items} > {self.queue.max_items})"
            )
        return self

    def ttl_days_by_table(self) -> dict[str, int]:
        """Days of retention of every table that may expire (0: forever)."""
        given = self.table_ttl_days.model_dump()
        return {
            table: self.ttl_days if given[table] is None else int(given[table]) for table in EXPIRING_TABLES
        }

    @property
    def is_embedded(self) -> bool:
        """True for a chdb:// DSN (the engine runs in this process)."""
        return self.dsn.lower().startswith("chdb://")
