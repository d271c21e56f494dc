-- Step 1: the spans, one row per (project, trace_id, span_id). A span written twice lands twice
-- until parts merge; reads use FINAL so it is never shown twice. The version column write_rank is
-- u64::MAX minus the write time, so the FIRST write of a span wins, as in the SQLite store.
-- Times are UInt64 nanoseconds; start_time (seconds, UTC) is there for the daily partitions that
-- retention drops whole. Attributes, events, links and resource are JSON text, stored as given.
CREATE TABLE IF NOT EXISTS spans (
    project                     String,
    trace_id                    String,
    span_id                     String,
    parent_span_id              Nullable(String),
    name                        String,
    kind                        Nullable(String),
    service_name                Nullable(String),
    start_unix_nanos            UInt64,
    end_unix_nanos              UInt64,
    start_time                  DateTime('UTC'),
    status                      UInt8,
    status_message              Nullable(String),
    provider                    Nullable(String),
    model                       Nullable(String),
    input_tokens                Nullable(Int64),
    output_tokens               Nullable(Int64),
    cache_read_input_tokens     Nullable(Int64),
    cache_creation_input_tokens Nullable(Int64),
    reasoning_output_tokens     Nullable(Int64),
    session_id                  Nullable(String),
    user_id                     Nullable(String),
    input                       Nullable(String),
    output                      Nullable(String),
    attributes                  String,
    events                      String,
    links                       String,
    resource                    String,
    write_rank                  UInt64
) ENGINE = ReplacingMergeTree(write_rank)
PARTITION BY toDate(start_time)
ORDER BY (project, trace_id, span_id);
