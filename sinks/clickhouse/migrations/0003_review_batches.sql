-- tracesieve.review_batches: the weekly review batches, one row per case.
--
-- A batch is written once, all its rows in one INSERT; a batch is never rewritten (a new batch
-- for the same week gets a new BatchId). Rows carry everything a reviewer sees, copied from
-- flagged_spans when the batch was drawn, so a batch reads the same after spans expire.
-- Timestamps of the sampled turn are event time (ns); CreatedAt is when the batch was drawn.
CREATE TABLE IF NOT EXISTS {database}.review_batches {on_cluster}
(
    BatchId String CODEC(ZSTD(1)),
    Week LowCardinality(String) CODEC(ZSTD(1)),
    CreatedAt DateTime64(3) CODEC(Delta, ZSTD(1)),
    Seed UInt64 CODEC(ZSTD(1)),
    Position UInt16 CODEC(ZSTD(1)),
    CaseId String CODEC(ZSTD(1)),
    Category LowCardinality(String) CODEC(ZSTD(1)),
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
    ClusterSize UInt32 CODEC(ZSTD(1)),
    ClusterExamples String CODEC(ZSTD(1)),
    Params String CODEC(ZSTD(1))
)
ENGINE = MergeTree
ORDER BY (Week, BatchId, Position)
SETTINGS index_granularity = 8192;
