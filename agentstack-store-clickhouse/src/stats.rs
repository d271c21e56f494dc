//! Span statistics of a window, as the SQLite store computes them: counts of spans and traces,
//! errors, tokens, nearest-rank percentiles of root span durations and token use per time
//! bucket, every span counted once (`FINAL`).

use agentstack_exporter_sqlite::store::{RootLatency, SpanStats, StatsWindow, TokenBucket};

use crate::statement::Statement;
use crate::{ClickHouseStore, ClickHouseStoreError};

/// `project = ? AND start in [since, until)` of `window`, with the values clamped to what a
/// UInt64 start can be; `None` when no span can be in it.
fn window_condition(window: &StatsWindow) -> Option<Statement> {
    let since = window.since_unix_nanos.unwrap_or(0).max(0) as u64;
    let until = match window.until_unix_nanos {
        None => u64::MAX,
        Some(until) if until <= 0 => return None,
        Some(until) => until as u64,
    };
    let mut sql = Statement::new(" WHERE ");
    if let Some(project) = &window.project {
        sql.bind("project = ? AND ", project.as_str());
    }
    sql.bind("start_unix_nanos >= ?", since)
        .bind(" AND start_unix_nanos < ?", until);
    Some(sql)
}

/// Spans, error spans, input and output tokens of the window.
pub(crate) fn span_totals_statement(window: &StatsWindow) -> Option<Statement> {
    let mut sql = Statement::new(
        "SELECT toInt64(count()), toInt64(countIf(status = 2)), \
         toInt64(sum(ifNull(input_tokens, 0))), toInt64(sum(ifNull(output_tokens, 0))) \
         FROM spans FINAL",
    );
    sql.append(window_condition(window)?);
    Some(sql)
}

/// Traces (per project) with a span in the window, and those with an error span there.
pub(crate) fn trace_totals_statement(window: &StatsWindow) -> Option<Statement> {
    let mut sql = Statement::new(
        "SELECT toInt64(count()), toInt64(countIf(errors > 0)) FROM (\
         SELECT trace_id, project, countIf(status = 2) AS errors FROM spans FINAL",
    );
    sql.append(window_condition(window)?)
        .push(" GROUP BY trace_id, project)");
    Some(sql)
}

/// How many root spans the window has and the nearest-rank p50, p95 and p99 of their durations
/// (the smallest duration with at least p% of them at or below it; 0 when there is none).
pub(crate) fn root_latency_statement(window: &StatsWindow) -> Option<Statement> {
    let mut sql = Statement::new(
        "SELECT toInt64(n), \
         if(n = 0, toInt64(0), sorted[greatest(intDiv(50 * n + 99, 100), 1)]), \
         if(n = 0, toInt64(0), sorted[greatest(intDiv(95 * n + 99, 100), 1)]), \
         if(n = 0, toInt64(0), sorted[greatest(intDiv(99 * n + 99, 100), 1)]) \
         FROM (SELECT count() AS n, arraySort(groupArray(\
         greatest(toInt64(end_unix_nanos) - toInt64(start_unix_nanos), toInt64(0)))) AS sorted \
         FROM spans FINAL",
    );
    sql.append(window_condition(window)?)
        .push(" AND isNull(parent_span_id))");
    Some(sql)
}

/// Spans and tokens per bucket of the window (by start), oldest first, buckets with spans only.
pub(crate) fn token_buckets_statement(window: &StatsWindow) -> Option<Statement> {
    let bucket = window.bucket_nanos.max(1) as u64;
    let mut sql = Statement::new("SELECT toInt64(intDiv(start_unix_nanos, ");
    sql.bind("?", bucket)
        .bind(") * ?) AS bucket, toInt64(count()), ", bucket)
        .push(
            "toInt64(sum(ifNull(input_tokens, 0))), toInt64(sum(ifNull(output_tokens, 0))) \
             FROM spans FINAL",
        )
        .append(window_condition(window)?)
        .push(" GROUP BY bucket ORDER BY bucket");
    Some(sql)
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct Totals {
    a: i64,
    b: i64,
    c: i64,
    d: i64,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct Pair {
    a: i64,
    b: i64,
}

impl ClickHouseStore {
    /// Counts, error rate, root latency percentiles and token use over time of the spans of
    /// `window`, the same figures as `SqliteSpanStore::stats`.
    pub async fn stats(&self, window: &StatsWindow) -> Result<SpanStats, ClickHouseStoreError> {
        let action = "computing statistics";
        let (Some(spans), Some(traces), Some(latency), Some(buckets)) = (
            span_totals_statement(window),
            trace_totals_statement(window),
            root_latency_statement(window),
            token_buckets_statement(window),
        ) else {
            return Ok(SpanStats {
                span_count: 0,
                trace_count: 0,
                error_span_count: 0,
                error_trace_count: 0,
                input_tokens: 0,
                output_tokens: 0,
                root_latency: None,
                buckets: Vec::new(),
            });
        };
        let client = self.client();
        let spans: Totals = spans
            .query(client)
            .fetch_one()
            .await
            .map_err(|source| self.error(action, source))?;
        let traces: Pair = traces
            .query(client)
            .fetch_one()
            .await
            .map_err(|source| self.error(action, source))?;
        let roots: Totals = latency
            .query(client)
            .fetch_one()
            .await
            .map_err(|source| self.error(action, source))?;
        let buckets: Vec<Totals> = buckets
            .query(client)
            .fetch_all()
            .await
            .map_err(|source| self.error(action, source))?;
        Ok(SpanStats {
            span_count: spans.a,
            trace_count: traces.a,
            error_span_count: spans.b,
            error_trace_count: traces.b,
            input_tokens: spans.c,
            output_tokens: spans.d,
            root_latency: (roots.a > 0).then_some(RootLatency {
                p50_nanos: roots.b,
                p95_nanos: roots.c,
                p99_nanos: roots.d,
            }),
            buckets: buckets
                .into_iter()
                .map(|bucket| TokenBucket {
                    start_unix_nanos: bucket.a,
                    span_count: bucket.b,
                    input_tokens: bucket.c,
                    output_tokens: bucket.d,
                })
                .collect(),
        })
    }
}
