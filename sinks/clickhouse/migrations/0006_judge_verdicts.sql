-- tracesieve.judge_verdicts: what an LLM judge said about cases that humans also labelled, for
-- `tracesieve calibrate`. One row per (judge, case, import); the latest import of a judge's
-- verdict on a case wins (argMax by ImportedAt).
CREATE TABLE IF NOT EXISTS {database}.judge_verdicts {on_cluster}
(
    Judge LowCardinality(String) CODEC(ZSTD(1)),
    CaseId String CODEC(ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    Verdict LowCardinality(String) CODEC(ZSTD(1)),
    Score Nullable(Float64) CODEC(ZSTD(1)),
    Category LowCardinality(String) CODEC(ZSTD(1)),
    Rationale String CODEC(ZSTD(1)),
    Output String CODEC(ZSTD(1)),
    JudgedAt DateTime64(3) CODEC(Delta, ZSTD(1)),
    ImportedAt DateTime64(3) CODEC(Delta, ZSTD(1))
)
ENGINE = MergeTree
ORDER BY (Judge, CaseId, ImportedAt)
SETTINGS index_granularity = 8192;
