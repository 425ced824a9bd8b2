-- tracesieve.review_batches: the weekly review batches, one row per case.
--
-- A batch is written once, all its rows in one INSERT; a batch is never rewritten (a new batch
-- for the same week gets a new BatchId). Rows carry everything a reviewer sees, copied from
-- flagged_spans when the batch was drawn, so a batch reads the same after spans expire.
-- Timestamps of the sampled turn are event time (ns); CreatedAt is when the batch was drawn.
--
-- BatchId: "<Week>-<12 hex of SHA-256(week, seed, case ids in order)>" (the same draw, the same
--   id). Week: ISO week of the turns, "2026-W48" (UTC). Position: 1, 2, ... in drawing order.
-- CaseId: review_case_id(TraceId, SpanId) (tracesieve.evals.ids), shared with labels.
-- Category: the failure category (stratum) the case was drawn for, one of Categories.
-- Evidence: JSON {signal: {...evidence, "score", "span_id", "category"}}, strongest first (the
--   shape of flagged_spans.Evidence, with each signal's category and score from signals FINAL).
-- ClusterSize: flagged turns of the week asking the same question in near-identical words
--   (this case included); ClusterExamples: JSON list of a few other wordings of it.
-- Params: JSON {"size", "seed", "ordinal" (1 = the week's first batch), "source" ("schedule" or
--   "cli"), "cases", "flagged_turns", "category_counts", "counts_exact", "excluded_cases",
--   "reservoir_size", "count_sketch_size", "version"}; the same on every row of a batch.
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
