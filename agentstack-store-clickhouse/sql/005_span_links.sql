-- Step 5: span links, one row per link of a written span (the `links` JSON of `spans`, indexed),
-- so the traces tied together only by links (AutoGen's runtime) read as one conversation. A span
-- delivered again writes its links again; the ReplacingMergeTree folds the repeats and reads take
-- each link once (DISTINCT). Partitioned by the linking span's start day, as `spans` is, so retention drops whole days.
CREATE TABLE IF NOT EXISTS span_links (
    project         String,
    trace_id        String,
    span_id         String,
    linked_trace_id String,
    linked_span_id  String,
    start_time      DateTime('UTC')
) ENGINE = ReplacingMergeTree
PARTITION BY toDate(start_time)
ORDER BY (project, trace_id, span_id, linked_trace_id, linked_span_id);
