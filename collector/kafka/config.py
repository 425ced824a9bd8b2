"""How tracesieve's stages talk when they run apart: in one process (embedded) or over Kafka.

::

    transport:
      kind: kafka
      kafka:
        bootstrap_servers: kafka-0:9092,kafka-1:9092
        group_id: tracesieve
    service: {role: processor}      # or: tracesieve run --role processor

Topic names default to the OpenTelemetry Collector's Kafka exporter and receiver defaults for
the OTLP topics (``otlp_spans``, ``otlp_logs``, encoding ``otlp_proto``), so a fleet of official
Collectors can publish to tracesieve, and read what tracesieve's receivers publish.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["KafkaTopics", "KafkaTransportConfig", "TransportConfig"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KafkaTopics(_Model):
    spans: str = Field(
        "otlp_spans", description="OTLP trace requests (otlp_proto), as the receivers accept them."
    )
    logs: str = Field("otlp_logs", description="OTLP log requests (otlp_proto).")
    feedback: str = Field("tracesieve_feedback", description="POST /v1/feedback bodies (canonical JSON).")
    traces: str = Field(
        "tracesieve_canonical_traces",
        description="Internal: normalised spans, log events and feedback keyed by trace id, for assembly.",
    )
    canonical: str = Field(
        "tracesieve_canonical_spans",
        description="Internal: assembled spans and feedback keyed by session, for the processors.",
    )
    changelog: str = Field(
        "tracesieve_session_changelog",
        description="Internal, compacted: the processors' session state, one record per session.",
    )


class KafkaTransportConfig(_Model):
    bootstrap_servers: str = Field("127.0.0.1:9092", description="Comma-separated host:port list.")
    client_id: str = Field("tracesieve", description="Client id sent to the brokers.")
    group_id: str = Field(
        "tracesieve",
        description="Prefix of the consumer groups: <group_id>-normaliser, -assembler, -processor.",
    )
    topics: KafkaTopics = Field(default_factory=KafkaTopics, description="Topic names.")
    partitions: int = Field(
        12,
        ge=1,
        le=10_000,
        description="Partitions of the topics tracesieve creates (the internal ones match, so that a "
        "session's spans and its changelog share a partition number). The session partitions bound "
        "how many processors can share the work.",
    )
    replication_factor: int = Field(
        1, ge=1, le=32, description="Replication of the topics tracesieve creates."
    )
    create_topics: bool = Field(True, description="Create missing topics at start (false: they must exist).")
    linger_ms: int = Field(
        5,
        ge=0,
        le=10_000,
        description="How long the producer waits to fill a batch; every OTLP request waits for its "
        "broker acknowledgement anyway, so this trades a few ms for fewer, larger produce requests.",
    )
    compression: Literal["none", "lz4", "zstd", "gzip"] = Field(
        "lz4",
        description="How the producers compress record batches. The internal topics carry JSON "
        "that compresses several-fold, and lz4 costs less CPU than the bytes it saves the brokers "
        "and the sockets; none for brokers or readers that cannot take it.",
    )
    compression_lz4_level: int = Field(
        1,
        ge=1,
        le=12,
        description="lz4 level of the batches the producers compress (Kafka's compression.lz4.level; "
        "aiokafka's own is 9, LZ4 HC). 1 measured 2.8 µs a span per hop on the internal topics against "
        "16.4 µs at 9, for 11% more bytes.",
    )
    max_request_bytes: int = Field(
        16 << 20,
        ge=1 << 20,
        description="Largest record the producer sends (an OTLP request is one record); the topics are "
        "created with a matching max.message.bytes.",
    )
    max_poll_records: int = Field(2_000, ge=1, description="Records a stage takes per poll at most.")
    checkpoint_interval_s: float = Field(
        5.0,
        gt=0,
        le=3600,
        description="How often a processor writes the sessions changed since the last time to the "
        "changelog; after a partition moves, the new owner restores them and replays the partition "
        "from that point without writing again what was already written.",
    )
    session_timeout_ms: int = Field(
        10_000,
        ge=1_000,
        description="Consumer-group session timeout: how soon a dead stage's partitions move.",
    )


class TransportConfig(_Model):
    kind: Literal["embedded", "kafka"] = Field(
        "embedded",
        description="embedded: one process, the ingest log is the buffer; kafka: the stages talk "
        "through Kafka topics and may run as separate processes (service.role).",
    )
    kafka: KafkaTransportConfig = Field(
        default_factory=KafkaTransportConfig, description="The Kafka transport."
    )
