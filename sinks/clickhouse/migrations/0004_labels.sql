-- tracesieve.labels: what reviewers said about review cases, one row per save.
--
-- Every save is a new row (a reviewer who changes their mind adds one); the current label of a
-- case is its latest row: argMax(..., LabelledAt) grouped by CaseId. Older rows stay as the
-- history of the review.
CREATE TABLE IF NOT EXISTS {database}.labels {on_cluster}
(
    LabelId String CODEC(ZSTD(1)),
    CaseId String CODEC(ZSTD(1)),
    BatchId String CODEC(ZSTD(1)),
    SessionId String CODEC(ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    Verdict LowCardinality(String) CODEC(ZSTD(1)),
    Categories Array(LowCardinality(String)) CODEC(ZSTD(1)),
    Expected String CODEC(ZSTD(1)),
    Criteria String CODEC(ZSTD(1)),
    Notes String CODEC(ZSTD(1)),
    Severity LowCardinality(String) CODEC(ZSTD(1)),
    Reviewer LowCardinality(String) CODEC(ZSTD(1)),
    LabelledAt DateTime64(3) CODEC(Delta, ZSTD(1)),

    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = MergeTree
ORDER BY (CaseId, LabelledAt)
SETTINGS index_granularity = 8192;
