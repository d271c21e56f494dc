-- Step 3: security and budget alerts, one per (project, dedup_key): a repeat (a span scanned again
-- after a replay) is folded away by the ReplacingMergeTree and by FINAL in reads; the first write
-- wins (write_rank as in `spans`). Not partitioned, so a repeat is folded whatever its time.
CREATE TABLE IF NOT EXISTS security_alerts (
    project         String,
    dedup_key       String,
    trace_id        Nullable(String),
    span_id         Nullable(String),
    detector        String,
    title           String,
    evidence        String,
    score           Int64,
    severity        String,
    severity_rank   UInt8,
    time_unix_nanos UInt64,
    write_rank      UInt64
) ENGINE = ReplacingMergeTree(write_rank)
ORDER BY (project, dedup_key);
