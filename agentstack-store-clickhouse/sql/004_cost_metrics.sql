-- Step 4: cost per (project, model, agent, UTC hour), summed by the SummingMergeTree as parts merge;
-- reads sum again with GROUP BY, so unmerged rows add up the same. Costs are exact: Decimal128(15)
-- holds the cost worker's femtodollars (i128) as dollars.
CREATE TABLE IF NOT EXISTS cost_metrics (
    project             String,
    model               String,
    agent               String,
    hour                DateTime('UTC'),
    cost_usd            Decimal128(15),
    estimated_cost_usd  Decimal128(15),
    input_tokens        UInt64,
    output_tokens       UInt64,
    cache_read_tokens   UInt64,
    cache_write_tokens  UInt64,
    reasoning_tokens    UInt64,
    spans               UInt64,
    priced_spans        UInt64,
    estimated_spans     UInt64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (project, model, agent, hour);
