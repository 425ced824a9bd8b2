-- tracesieve.eval_cases: the regression set. Append-only: tracesieve never deletes or rewrites
-- a row (no TTL, no ALTER, no Replacing engine). A corrected, re-tagged or retired case is a new
-- row (a version) whose Supersedes names the row it replaces; the old row stays.
--
-- CaseId is content-addressed: SHA-256 of the canonical JSON of the row's content (every column
-- but Seq, CaseId, PrevHash, ChainHash, Lineage and CreatedAt; evals/regressions/README.md lists
-- them). Seq numbers the rows 1, 2, 3, ... in the order they were appended, and
-- ChainHash = SHA-256(PrevHash ‖ CaseId) links each row to the one before (PrevHash of Seq 1 is
-- 64 zeros), so `tracesieve regressions verify` finds a row that went missing or changed.
--
-- Lineage is the CaseId of a case's first version: the current set is, per Lineage, the row
-- with the highest Seq, unless its Status is 'retired':
--   SELECT * FROM eval_cases WHERE Seq IN (SELECT max(Seq) FROM eval_cases GROUP BY Lineage)
--   AND Status = 'active'
CREATE TABLE IF NOT EXISTS {database}.eval_cases {on_cluster}
(
    Seq UInt64 CODEC(Delta, ZSTD(1)),
    CaseId String CODEC(ZSTD(1)),
    PrevHash String CODEC(ZSTD(1)),
    ChainHash String CODEC(ZSTD(1)),
    Lineage String CODEC(ZSTD(1)),
    Supersedes String CODEC(ZSTD(1)),
    Status LowCardinality(String) CODEC(ZSTD(1)),
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
