-- tracesieve.signals, flagged_spans and feedback: what the detectors found, and the feedback
-- they judged.
--
-- signals: one row per (span, signal). ReplacingMergeTree(DetectedAt): a signal emitted again
--   (a turn re-evaluated as late spans arrive, a replay after a crash) collapses into its
--   latest row. ORDER BY starts with Signal because "all rephrases this week" is the common
--   question; sessions and traces are found through bloom filters. Partitioned by the day of
--   the span the signal is on (event time), so a re-emitted signal lands in the same part.
CREATE TABLE IF NOT EXISTS {database}.signals {on_cluster}
(
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    SessionId String CODEC(ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Signal LowCardinality(String) CODEC(ZSTD(1)),
    Category LowCardinality(String) CODEC(ZSTD(1)),
    Score Float32 CODEC(ZSTD(1)),
    Evidence String CODEC(ZSTD(1)),
    DetectedAt DateTime64(3) CODEC(Delta, ZSTD(1)),

    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_session_id SessionId TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_id SpanId TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree(DetectedAt)
PARTITION BY toDate(Timestamp)
ORDER BY (Signal, SessionId, TraceId, SpanId)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

-- flagged_spans: one row per flagged turn, on its answer span, with what a reviewer needs.
--   Written again (newer UpdatedAt) whenever the turn gets another signal; read with FINAL
--   (or argMax) for the latest. Session-ordered: a reviewer reads a session's flags together.
CREATE TABLE IF NOT EXISTS {database}.flagged_spans {on_cluster}
(
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    SessionId String CODEC(ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    UserId String CODEC(ZSTD(1)),
    TurnIndex Int32 CODEC(ZSTD(1)),
    FlagScore Float32 CODEC(ZSTD(1)),
    Signals Array(LowCardinality(String)) CODEC(ZSTD(1)),
    Categories Array(LowCardinality(String)) CODEC(ZSTD(1)),
    Evidence String CODEC(ZSTD(1)),
    Model LowCardinality(String) CODEC(ZSTD(1)),
    UserMessage String CODEC(ZSTD(1)),
    OutputText String CODEC(ZSTD(1)),
    InputMessages String CODEC(ZSTD(1)),
    RetrievedDocuments String CODEC(ZSTD(1)),
    SessionContext String CODEC(ZSTD(1)),
    UpdatedAt DateTime64(3) CODEC(Delta, ZSTD(1)),

    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_signals Signals TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplacingMergeTree(UpdatedAt)
PARTITION BY toDate(Timestamp)
ORDER BY (SessionId, TraceId, SpanId)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

-- feedback: every piece of feedback received, as sent (Target*) and as joined (SessionId,
--   TraceId, SpanId; empty while its target has not arrived). Version 0 is the received row,
--   1 the joined one; ReplacingMergeTree keeps the latest per FeedbackId.
CREATE TABLE IF NOT EXISTS {database}.feedback {on_cluster}
(
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    FeedbackId String CODEC(ZSTD(1)),
    Source LowCardinality(String) CODEC(ZSTD(1)),
    Name LowCardinality(String) CODEC(ZSTD(1)),
    TargetSpanId String CODEC(ZSTD(1)),
    TargetTraceId String CODEC(ZSTD(1)),
    TargetResponseId String CODEC(ZSTD(1)),
    TargetSessionId String CODEC(ZSTD(1)),
    UserId String CODEC(ZSTD(1)),
    Thumbs LowCardinality(String) CODEC(ZSTD(1)),
    Score Nullable(Float64) CODEC(ZSTD(1)),
    Label String CODEC(ZSTD(1)),
    Comment String CODEC(ZSTD(1)),
    TicketId String CODEC(ZSTD(1)),
    Annotator LowCardinality(String) CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    SessionId String CODEC(ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    Version UInt8 CODEC(ZSTD(1)),
    ReceivedAt DateTime64(3) CODEC(Delta, ZSTD(1))
)
ENGINE = ReplacingMergeTree(Version)
PARTITION BY toYYYYMM(Timestamp)
ORDER BY FeedbackId
SETTINGS index_granularity = 8192;
