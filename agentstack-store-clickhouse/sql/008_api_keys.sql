-- Step 8: the server's API keys, one per prefix: only the key's SHA-256 (lower hex) is kept. A
-- revocation writes the key again with its revocation time and a higher version; reads use FINAL.
-- Versions: a key's first write wins over a repeat, and its first revocation over a later one
-- (see api_keys.rs).
CREATE TABLE IF NOT EXISTS api_keys (
    prefix              String,
    sha256              String,
    project             String,
    created_unix_nanos  Int64,
    revoked_unix_nanos  Nullable(Int64),
    version             UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY prefix;
