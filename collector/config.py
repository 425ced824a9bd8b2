"""The service configuration: one YAML file in the OTel Collector's style, overridable by env.

::

    receivers:
      otlp:
        protocols:
          grpc: {endpoint: 0.0.0.0:4317}
          http: {endpoint: 0.0.0.0:4318}
    processors:
      normalise: {session_id_keys: [session.id, gen_ai.conversation.id]}
      assembly: {context_wait_s: 2}
      sessions: {allowed_lateness_s: 5}
      detectors: {abandoned_session: {idle_s: 300}, latency_outlier: {factor: 3}}
      scoring: {flag_threshold: 0.5}
    sinks:
      clickhouse: {dsn: "chdb://./tracesieve-data/chdb"}
    admin: {endpoint: 127.0.0.1:4319}
    service: {data_dir: ./tracesieve-data}

Every key can be set from the environment: ``TRACESIEVE_`` + the key path joined by ``__``,
e.g. ``TRACESIEVE_SINKS__CLICKHOUSE__DSN=http://ch:8123`` or
``TRACESIEVE_RECEIVERS__OTLP__PROTOCOLS__GRPC__ENDPOINT=127.0.0.1:14317``. Values are read as
YAML scalars (``true``, ``5``, ``[a, b]``). A protocol set to ``null`` is disabled.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from tracesieve.collector.errors import PermanentError
from tracesieve.collector.kafka.config import TransportConfig
from tracesieve.collector.receivers._auth import BearerAuthConfig
from tracesieve.collector.receivers.otlp_grpc.config import OtlpGrpcConfig
from tracesieve.collector.receivers.otlp_http.config import OtlpHttpConfig
from tracesieve.collector.tls import TlsServerConfig
from tracesieve.evals.config import EvalsConfig
from tracesieve.processors.assembly import AssemblyConfig
from tracesieve.processors.detectors.config import DetectorsConfig
from tracesieve.processors.memory_limiter import MemoryLimiterConfig
from tracesieve.processors.normalise import NormaliseConfig
from tracesieve.processors.redaction.config import RedactionConfig
from tracesieve.processors.scoring import ScoringConfig
from tracesieve.processors.sessions import SessionsConfig
from tracesieve.sinks.clickhouse.config import ClickHouseSinkConfig

__all__ = ["ENV_PREFIX", "Config", "ConfigError", "load_config"]

ENV_PREFIX = "TRACESIEVE_"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OtlpProtocols(_Model):
    grpc: OtlpGrpcConfig | None = Field(
        default_factory=OtlpGrpcConfig, description="OTLP/gRPC; null disables it."
    )
    http: OtlpHttpConfig | None = Field(
        default_factory=OtlpHttpConfig, description="OTLP/HTTP; null disables it."
    )


class OtlpReceiverSection(_Model):
    protocols: OtlpProtocols = Field(
        default_factory=OtlpProtocols, description="The OTLP transports to serve."
    )
    auth: BearerAuthConfig | None = Field(
        None,
        description="Bearer token both protocols require (a protocol's own `auth` takes precedence); "
        "unset: none.",
    )

    @model_validator(mode="before")
    @classmethod
    def _share_auth(cls, data: Any) -> Any:
        # One token for both protocols, as one bearertokenauth extension would serve both in the
        # OTel Collector; copied into each enabled protocol that has no `auth` of its own.
        if not isinstance(data, dict) or data.get("auth") is None:
            return data
        protocols = data.get("protocols")
        if protocols is None:
            protocols = {"grpc": {}, "http": {}}
        if not isinstance(protocols, dict):
            return data  # the model reports the wrong shape
        shared = {}
        for name in ("grpc", "http"):
            settings = protocols.get(name, {})
            if isinstance(settings, dict) and settings.get("auth") is None:
                settings = {**settings, "auth": data["auth"]}
            shared[name] = settings
        return {**data, "protocols": {**protocols, **shared}}


class ReceiversConfig(_Model):
    otlp: OtlpReceiverSection = Field(default_factory=OtlpReceiverSection, description="The OTLP receiver.")


class ProcessorsConfig(_Model):
    normalise: NormaliseConfig = Field(default_factory=NormaliseConfig, description="Normalisation.")
    assembly: AssemblyConfig = Field(default_factory=AssemblyConfig, description="Trace assembly.")
    sessions: SessionsConfig = Field(default_factory=SessionsConfig, description="Session state.")
    detectors: DetectorsConfig = Field(  # type: ignore[valid-type]
        default_factory=DetectorsConfig, description="Failure-signal detectors, by name."
    )
    scoring: ScoringConfig = Field(default_factory=ScoringConfig, description="Flag scoring.")
    memory_limiter: MemoryLimiterConfig = Field(
        default_factory=MemoryLimiterConfig,
        description="Refuse requests (retryable) while resident memory is over the soft limit.",
    )
    redaction: RedactionConfig = Field(
        default_factory=RedactionConfig,
        description="Redact personal data and secrets before anything is logged, stored or published.",
    )


class SinksConfig(_Model):
    clickhouse: ClickHouseSinkConfig = Field(default_factory=ClickHouseSinkConfig, description="ClickHouse.")


class IngestLogConfig(_Model):
    max_bytes: int = Field(
        1 << 30, gt=0, description="Bytes of acknowledged requests that may await storage; past it, 429."
    )
    segment_bytes: int = Field(64 << 20, gt=0, description="Size at which a new log segment file is started.")
    fsync: bool = Field(True, description="fsync each group of records before acknowledging them.")


class ServiceConfig(_Model):
    data_dir: Path = Field(Path("tracesieve-data"), description="Folder for the ingest log and the run file.")
    ingest_log: IngestLogConfig = Field(default_factory=IngestLogConfig, description="The ingest log.")
    writers: int = Field(
        256,
        ge=1,
        le=1024,
        description="Batches handed to the sink at once; the sink merges them into one INSERT (up to its "
        "batch.max_items), so too few starves its batches: 4 capped INSERTs at 4,000 spans and stored "
        "40% less, and after a 20 s store outage at 500 spans/s the backlog (small batches) took 17.7 s "
        "to store with 16 and 5.4 s with 256. The sink's queue.max_items bounds what they hold.",
    )
    write_batch_max_items: int = Field(20_000, ge=1, description="Spans handed to the sink in one call.")
    poll_interval_s: float = Field(0.05, gt=0, le=5, description="How often waiting spans are checked.")
    shutdown_timeout_s: float = Field(20.0, gt=0, description="Time allowed to drain on shutdown.")
    log_level: str = Field("INFO", description="Python logging level.")
    log_format: Literal["text", "json"] = Field(
        "text",
        description="Log lines as text, or as JSON objects (ts, level, logger, component, msg, exc, "
        "and any extra fields) for a log pipeline.",
    )
    role: Literal["all", "receiver", "normaliser", "processor"] = Field(
        "all",
        description="What this process runs: all stages, or one of them (transport.kind: kafka only): "
        "receiver (OTLP in, to Kafka), normaliser (OTLP topics to canonical spans by session), "
        "processor (session state, detectors, ClickHouse).",
    )
    analysis_worker: bool = Field(
        True,
        description="Run the session state, detectors and scorer in a worker process of their own "
        "(false: on the collector's event loop). The event loop is ingest's bottleneck and the "
        "detectors cost it tens of µs per span; in the worker they cost it the 8-10 µs per span of "
        "handing the span over.",
    )
    gc_gen0_threshold: int = Field(
        50_000,
        ge=0,
        description="Allocations between young-generation garbage collections (Python's default is "
        "700; 0 keeps the default). Every span allocates dozens of short-lived acyclic objects, so "
        "the default collects hundreds of times a second for nothing: raising it measured +20-28% "
        "spans/s.",
    )
    gc_full_interval_s: float = Field(
        600.0,
        ge=0,
        description="In the analysis worker, seconds between full garbage collections; between "
        "them, what survives a batch is frozen out of the collector's sight (the session state "
        "makes no reference cycles). A full collection stalls detection ~1 µs per live object "
        "(1.2 s at 1.1 million); Python's own policy ran one each time the state grew by a "
        "quarter, and cost 17-20 µs per span. 0 keeps Python's policy.",
    )


class AdminConfig(_Model):
    endpoint: str | None = Field(
        "127.0.0.1:4319",
        description="host:port of the admin API (health, read-only query); null disables it.",
    )
    token: str | None = Field(None, repr=False, description="Bearer token the admin API requires, if set.")
    token_file: Path | None = Field(
        None, description="File holding the admin token (whitespace stripped), read at start; or `token`."
    )
    tls: TlsServerConfig | None = Field(None, description="Serve the admin API over TLS (unset: plaintext).")

    @model_validator(mode="after")
    def _one_token(self) -> Self:
        if self.token is not None and self.token_file is not None:
            raise ValueError("set one of `admin.token` and `admin.token_file`, not both")
        return self


class Config(_Model):
    receivers: ReceiversConfig = Field(default_factory=ReceiversConfig, description="What listens.")
    processors: ProcessorsConfig = Field(default_factory=ProcessorsConfig, description="What transforms.")
    sinks: SinksConfig = Field(default_factory=SinksConfig, description="Where spans are stored.")
    admin: AdminConfig = Field(default_factory=AdminConfig, description="The admin API.")
    evals: EvalsConfig = Field(default_factory=EvalsConfig, description="The review loop.")
    service: ServiceConfig = Field(default_factory=ServiceConfig, description="The process itself.")
    transport: TransportConfig = Field(
        default_factory=TransportConfig, description="How the stages talk: in process, or over Kafka."
    )

    @model_validator(mode="after")
    def _role_needs_kafka(self) -> Self:
        if self.service.role != "all" and self.transport.kind != "kafka":
            raise ValueError(
                f"service.role {self.service.role!r} runs one stage of a scaled deployment: "
                "set transport.kind to kafka (the embedded transport runs every stage in one process)"
            )
        return self


class ConfigError(PermanentError):
    """An invalid configuration; the message names the key and the reason."""


def load_config(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Read ``path`` (if any), apply ``TRACESIEVE_*`` variables, then ``overrides`` (dotted keys).

    Raises :class:`ConfigError` naming the offending key.
    """
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping at the top level")
        data = loaded
    env = os.environ if environ is None else environ
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX:
            continue
        keys = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        _set_path(data, keys, value, source=name)
    for dotted, value in (overrides or {}).items():
        _set_path(data, dotted.split("."), value, source=f"--{dotted}")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from exc


def _set_path(data: dict[str, Any], keys: list[str], value: Any, *, source: str) -> None:
    node = data
    for key in keys[:-1]:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"{source}: `{'.'.join(keys)}` goes through `{key}`, which is not a mapping")
        node = child
    node[keys[-1]] = value


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"`{key}`: {message}")
    return "invalid configuration:\n  " + "\n  ".join(lines)
