//! `GET /api/v1/stats`: span and trace counts, error rate, latency percentiles of root spans and
//! token use over time (in buckets of `1m`, `5m`, `1h` or `1d`) for the project of the request,
//! over the spans that started in `[since, until)`.

use agentstack_exporter_sqlite::store::StatsWindow;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::params::{QueryParams, format_time, millis};
use super::{ApiError, ApiState, Project, json_response};

const PARAMETERS: &[&str] = &["since", "until", "bucket"];

/// The bucket widths `bucket` accepts, in nanoseconds.
const BUCKETS: &[(&str, i64)] = &[
    ("1m", 60_000_000_000),
    ("5m", 300_000_000_000),
    ("1h", 3_600_000_000_000),
    ("1d", 86_400_000_000_000),
];

/// `GET /api/v1/stats`.
pub async fn stats(
    State(state): State<ApiState>,
    Project(project): Project,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = QueryParams::parse(raw.as_deref(), PARAMETERS)?;
    let bucket = params.text("bucket").unwrap_or("1h").to_string();
    let Some(&(_, bucket_nanos)) = BUCKETS.iter().find(|(name, _)| *name == bucket) else {
        return Err(ApiError::bad_parameter(
            "bucket",
            format!("bucket={bucket:?} is not a bucket width; give 1m, 5m, 1h or 1d"),
        ));
    };
    let window = StatsWindow {
        project: Some(project),
        since_unix_nanos: params.time("since")?,
        until_unix_nanos: params.time("until")?,
        bucket_nanos,
    };
    let (since, until) = (window.since_unix_nanos, window.until_unix_nanos);
    let stats = state.store.stats(&window).await?;
    let error_rate = if stats.trace_count == 0 {
        0.0
    } else {
        stats.error_trace_count as f64 / stats.trace_count as f64
    };
    let latency = stats.root_latency.map(|latency| {
        serde_json::json!({
            "p50": millis(latency.p50_nanos),
            "p95": millis(latency.p95_nanos),
            "p99": millis(latency.p99_nanos),
        })
    });
    let buckets: Vec<serde_json::Value> = stats
        .buckets
        .iter()
        .map(|b| {
            serde_json::json!({
                "start_unix_nanos": b.start_unix_nanos,
                "start_time": format_time(b.start_unix_nanos),
                "span_count": b.span_count,
                "input_tokens": b.input_tokens,
                "output_tokens": b.output_tokens,
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({
            "since_unix_nanos": since,
            "until_unix_nanos": until,
            "span_count": stats.span_count,
            "trace_count": stats.trace_count,
            "error_span_count": stats.error_span_count,
            "error_trace_count": stats.error_trace_count,
            "error_rate": error_rate,
            "root_latency_ms": latency,
            "input_tokens": stats.input_tokens,
            "output_tokens": stats.output_tokens,
            "bucket": bucket,
            "buckets": buckets,
        }),
    ))
}
