-- Step 7: the price overrides of each project (JSON text), one row per set; the latest set wins
-- (ReplacingMergeTree on the write time, reads with FINAL).
CREATE TABLE IF NOT EXISTS price_overrides (
    project             String,
    overrides           String,
    updated_unix_nanos  Int64,
    write_version       UInt64
) ENGINE = ReplacingMergeTree(write_version)
ORDER BY project;
