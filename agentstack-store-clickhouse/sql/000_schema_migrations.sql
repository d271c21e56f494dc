-- The ledger of applied migration steps: one row per step (a step applied by two processes at once
-- leaves two identical rows, which the ReplacingMergeTree folds into one). Created before any step.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version         UInt32,
    name            String,
    applied_at      DateTime('UTC')
) ENGINE = ReplacingMergeTree
ORDER BY version;
