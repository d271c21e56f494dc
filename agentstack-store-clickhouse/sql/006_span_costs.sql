-- Step 6: one row per priced span, keyed by (project, trace_id, span_id). The store writes only the
-- rows it did not find stored; a span priced twice at the same moment by two writers lands twice
-- until parts merge, reads use FINAL, and the first write wins (write_rank as in `spans`). The kept
-- cost is exact, Decimal128(15) dollars (the cost engine's femtodollars); NULL when the span has
-- none. Partitioned by the month of the span's end, as `cost_metrics` is.
CREATE TABLE IF NOT EXISTS span_costs (
    project             String,
    trace_id            String,
    span_id             String,
    start_unix_nanos    Int64,
    end_unix_nanos      Int64,
    end_time            DateTime('UTC'),
    model               String,
    matched_model       Nullable(String),
    provider            Nullable(String),
    agent               String,
    session_id          Nullable(String),
    user_id             Nullable(String),
    kept_cost_usd       Nullable(Decimal128(15)),
    estimated           UInt8,
    producer_cost       Nullable(String),
    differs             UInt8,
    input_tokens        Int64,
    output_tokens       Int64,
    cache_read_tokens   Int64,
    cache_write_tokens  Int64,
    reasoning_tokens    Int64,
    breakdown           String,
    write_rank          UInt64
) ENGINE = ReplacingMergeTree(write_rank)
PARTITION BY toYYYYMM(end_time)
ORDER BY (project, trace_id, span_id);
-- Every row written to span_costs is added to its hour of cost_metrics in the same INSERT, so the
-- hourly figures are the sums of the span rows written (the store writes each span once).
CREATE MATERIALIZED VIEW IF NOT EXISTS span_costs_to_cost_metrics TO cost_metrics AS
SELECT
    project,
    model,
    agent,
    toStartOfHour(end_time) AS hour,
    ifNull(kept_cost_usd, toDecimal128(0, 15)) AS cost_usd,
    if(estimated = 1, ifNull(kept_cost_usd, toDecimal128(0, 15)), toDecimal128(0, 15)) AS estimated_cost_usd,
    toUInt64(input_tokens) AS input_tokens,
    toUInt64(output_tokens) AS output_tokens,
    toUInt64(cache_read_tokens) AS cache_read_tokens,
    toUInt64(cache_write_tokens) AS cache_write_tokens,
    toUInt64(reasoning_tokens) AS reasoning_tokens,
    toUInt64(1) AS spans,
    toUInt64(isNotNull(kept_cost_usd)) AS priced_spans,
    toUInt64(estimated = 1 AND isNotNull(kept_cost_usd)) AS estimated_spans
FROM span_costs;
