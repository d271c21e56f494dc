-- Step 2: the archive of spans past the hot window. Same structure, partitioning and key as
-- `spans`, so retention moves a whole daily partition with ATTACH PARTITION ... FROM spans (hard
-- links, no rows rewritten) and then drops it from `spans`.
CREATE TABLE IF NOT EXISTS spans_archive AS spans;
