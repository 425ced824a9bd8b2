-- tracesieve.eval_cases: the regression set. Append-only: tracesieve never deletes or rewrites
-- a row (no TTL, no ALTER, no Replacing engine). A corrected case is a new row whose
-- Supersedes names the case it replaces; the old row stays.
--
-- CaseId is content-addressed (SHA-256 of the case's canonical content), Seq numbers the rows
-- 1, 2, 3, ... in the order they were appended, and ChainHash = SHA-256(PrevHash, CaseId) links
-- each row to the one before, so `tracesieve regressions verify` finds a row that went missing
-- or changed.
CREATE TABLE IF NOT EXISTS {database}.eval_cases {on_cluster}
(
    Seq UInt64 CODEC(Delta, ZSTD(1)),
    CaseId String CODEC(ZSTD(1)),
    PrevHash String CODEC(ZSTD(1)),
    ChainHash String CODEC(ZSTD(1)),
    Supersedes String CODEC(ZSTD(1)),
    CreatedAt DateTime64(3) CODEC(Delta, ZSTD(1)),
    Source LowCardinality(String) CODEC(ZSTD(1)),
    Input String CODEC(ZSTD(1)),
    Context String CODEC(ZSTD(1)),
    RetrievedDocuments String CODEC(ZSTD(1)),
    Output String CODEC(ZSTD(1)),
    Expected String CODEC(ZSTD(1)),
    Criteria String CODEC(ZSTD(1)),
    Categories Array(LowCardinality(String)) CODEC(ZSTD(1)),
    Severity LowCardinality(String) CODEC(ZSTD(1)),
    IncidentId String CODEC(ZSTD(1)),
    Tags Array(String) CODEC(ZSTD(1)),
    Signals Array(LowCardinality(String)) CODEC(ZSTD(1)),
    SessionId String CODEC(ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ReviewCaseId String CODEC(ZSTD(1)),
    BatchId String CODEC(ZSTD(1)),
    LabelId String CODEC(ZSTD(1)),
    Reviewer LowCardinality(String) CODEC(ZSTD(1)),
    Provenance String CODEC(ZSTD(1))
)
ENGINE = MergeTree
ORDER BY Seq
SETTINGS index_granularity = 8192;
