//! `GET /api/v1/traces` (filtered, newest first, keyset-paginated with an opaque cursor) and
//! `GET /api/v1/traces/{trace_id}` (every span of one trace in tree order, with totals), both
//! over the project of the request.

use std::collections::HashMap;

use agentstack_exporter_sqlite::store::{
    AlertQuery, AlertSeverity, TraceAlerts, TraceCursor, TraceFilter, TraceQuery,
};

use crate::alerts::webhooks::alert_json;
use agentstack_exporter_sqlite::{SpanRecord, SpanStatus, TraceSummary};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use super::costs::{self, SpanCostFields, TraceCostFields};
use super::params::{QueryParams, format_time, millis};
use super::{ApiError, ApiState, Project, json_response};

/// The page size without `limit`.
pub const DEFAULT_LIMIT: u64 = 50;
/// The largest `limit`.
pub const MAX_LIMIT: u64 = 1000;
/// The most alerts a trace's answer carries (the rest: GET /api/v1/alerts?trace_id=…).
const MAX_TRACE_ALERTS: usize = 1000;

const LIST_PARAMETERS: &[&str] = &[
    "since",
    "until",
    "service",
    "name",
    "status",
    "kind",
    "model",
    "session",
    "user",
    "min_duration_ms",
    "q",
    "has_alerts",
    "sort",
    "limit",
    "cursor",
    // costs.rs
    "min_cost",
];

/// A trace of the list: its summary, its duration in milliseconds and its start as RFC 3339.
#[derive(Debug, Serialize)]
pub(super) struct TraceItem {
    #[serde(flatten)]
    summary: TraceSummary,
    start_time: String,
    duration_ms: f64,
    status: &'static str,
    /// `cost_usd`, `cost_estimated` (costs.rs).
    #[serde(flatten)]
    cost: TraceCostFields,
    /// How many security or budget alerts name the trace.
    alert_count: i64,
    /// The highest severity among them.
    max_severity: Option<AlertSeverity>,
}

impl TraceItem {
    /// Adds the trace's alert count and highest severity, if `alerts` has it.
    pub(super) fn with_alerts(mut self, alerts: &HashMap<String, TraceAlerts>) -> TraceItem {
        if let Some(found) = alerts.get(&self.summary.trace_id) {
            self.alert_count = found.count;
            self.max_severity = Some(found.max_severity);
        }
        self
    }
}

/// The alert counts of `items`' traces, read from the store.
pub(super) async fn with_alerts(
    state: &ApiState,
    project: &str,
    items: Vec<TraceItem>,
) -> Result<Vec<TraceItem>, ApiError> {
    if items.is_empty() {
        return Ok(items);
    }
    let ids: Vec<String> = items.iter().map(|t| t.summary.trace_id.clone()).collect();
    let project = project.to_string();
    let alerts = state.store.trace_alerts(&project, &ids).await?;
    Ok(items.into_iter().map(|t| t.with_alerts(&alerts)).collect())
}

impl From<TraceSummary> for TraceItem {
    fn from(summary: TraceSummary) -> TraceItem {
        TraceItem {
            alert_count: 0,
            max_severity: None,
            start_time: format_time(summary.start_unix_nanos),
            duration_ms: millis(summary.duration_nanos()),
            status: if summary.has_error() { "error" } else { "ok" },
            summary,
            cost: TraceCostFields::default(),
        }
    }
}

/// `GET /api/v1/traces`.
pub async fn list(
    State(state): State<ApiState>,
    Project(project): Project,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = QueryParams::parse(raw.as_deref(), LIST_PARAMETERS)?;
    let query = trace_query(&params, project.clone())?;
    let page = state.store.trace_page(&query).await?;
    let next_cursor = page.next.as_ref().map(encode_cursor);
    let ids = page.traces.iter().map(|t| t.trace_id.clone()).collect();
    let trace_costs = costs::trace_costs(&state, &project, ids).await?;
    let traces: Vec<TraceItem> = page
        .traces
        .into_iter()
        .map(|summary| {
            let cost = TraceCostFields::of(trace_costs.get(&summary.trace_id));
            TraceItem {
                cost,
                ..TraceItem::from(summary)
            }
        })
        .collect();
    let traces = with_alerts(&state, &project, traces).await?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "traces": traces, "next_cursor": next_cursor }),
    ))
}

/// The store query of the list's parameters.
pub(super) fn trace_query(params: &QueryParams, project: String) -> Result<TraceQuery, ApiError> {
    let status = match params.text("status") {
        None => None,
        Some("ok") => Some(SpanStatus::Ok),
        Some("error") => Some(SpanStatus::Error),
        Some(other) => {
            return Err(ApiError::bad_parameter(
                "status",
                format!("status={other:?} is not a status; give ok or error"),
            ));
        }
    };
    let limit = params.number("limit")?.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_parameter(
            "limit",
            format!(
                "limit={limit} is out of range; give 1 to {MAX_LIMIT}, and follow next_cursor \
                 for more"
            ),
        ));
    }
    let min_duration_nanos = params
        .number("min_duration_ms")?
        .map(|ms| i64::try_from(ms.saturating_mul(1_000_000)).unwrap_or(i64::MAX));
    let before = params.text("cursor").map(decode_cursor).transpose()?;
    Ok(TraceQuery {
        filter: TraceFilter {
            since_unix_nanos: params.time("since")?,
            until_unix_nanos: params.time("until")?,
            name_contains: params.string("name"),
            status,
            session_id: params.string("session"),
            project: Some(project),
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
        },
        service_name: params.string("service"),
        kind: params.string("kind"),
        model: params.string("model"),
        user_id: params.string("user"),
        min_duration_nanos,
        text: params.string("q"),
        oldest_first: match params.text("sort") {
            None | Some("newest") => false,
            Some("oldest") => true,
            Some(other) => {
                return Err(ApiError::bad_parameter(
                    "sort",
                    format!(
                        "sort={other:?} is not an order; give newest (the default) or oldest \
                         (by trace start); keep the same sort when following next_cursor"
                    ),
                ));
            }
        },
        has_alerts: match params.text("has_alerts") {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(other) => {
                return Err(ApiError::bad_parameter(
                    "has_alerts",
                    format!("has_alerts={other:?} is not a boolean; give true or false"),
                ));
            }
        },
        before,
        min_cost_femtos: costs::min_cost_param(params)?,
    })
}

/// The opaque `next_cursor`: base64url of `v1:START:TRACE_ID`.
fn encode_cursor(cursor: &TraceCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "v1:{}:{}",
        cursor.start_unix_nanos, cursor.trace_id
    ))
}

fn decode_cursor(text: &str) -> Result<TraceCursor, ApiError> {
    let refuse = super::params::foreign_cursor;
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| refuse())?;
    let text = String::from_utf8(bytes).map_err(|_| refuse())?;
    let mut parts = text.splitn(3, ':');
    let (Some("v1"), Some(start), Some(trace_id)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(refuse());
    };
    let start_unix_nanos = start.parse().map_err(|_| refuse())?;
    if trace_id.len() != 32 || !trace_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(refuse());
    }
    Ok(TraceCursor {
        start_unix_nanos,
        trace_id: trace_id.to_string(),
    })
}

/// One span of a trace's answer: the stored span with its JSON texts parsed, its place in the
/// tree (`depth`: 0 for a root; `children`: how many spans it has directly below it) and its
/// duration.
#[derive(Debug, Serialize)]
struct SpanItem {
    trace_id: String,
    span_id: String,
    parent_span_id: Option<String>,
    depth: usize,
    children: usize,
    name: String,
    kind: Option<String>,
    service_name: Option<String>,
    start_unix_nanos: i64,
    end_unix_nanos: i64,
    start_time: String,
    duration_ms: f64,
    status: &'static str,
    status_message: Option<String>,
    provider: Option<String>,
    model: Option<String>,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    cache_read_input_tokens: Option<i64>,
    cache_creation_input_tokens: Option<i64>,
    reasoning_output_tokens: Option<i64>,
    session_id: Option<String>,
    user_id: Option<String>,
    input: Option<serde_json::Value>,
    output: Option<serde_json::Value>,
    attributes: serde_json::Value,
    events: serde_json::Value,
    links: serde_json::Value,
    resource: serde_json::Value,
    /// `cost_usd`, `cost_estimated`, `cost` (costs.rs).
    #[serde(flatten)]
    cost: SpanCostFields,
}

/// Stored JSON text as JSON; text that is not JSON stays a string.
fn json_of(text: String) -> serde_json::Value {
    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
}

pub(super) fn status_name(status: SpanStatus) -> &'static str {
    match status {
        SpanStatus::Unset => "unset",
        SpanStatus::Ok => "ok",
        SpanStatus::Error => "error",
    }
}

impl SpanItem {
    fn new(span: SpanRecord, depth: usize, children: usize) -> SpanItem {
        SpanItem {
            start_time: format_time(span.start_unix_nanos),
            duration_ms: millis(span.duration_nanos()),
            status: status_name(span.status),
            depth,
            children,
            trace_id: span.trace_id,
            span_id: span.span_id,
            parent_span_id: span.parent_span_id,
            name: span.name,
            kind: span.kind,
            service_name: span.service_name,
            start_unix_nanos: span.start_unix_nanos,
            end_unix_nanos: span.end_unix_nanos,
            status_message: span.status_message,
            provider: span.provider,
            model: span.model,
            input_tokens: span.input_tokens,
            output_tokens: span.output_tokens,
            cache_read_input_tokens: span.cache_read_input_tokens,
            cache_creation_input_tokens: span.cache_creation_input_tokens,
            reasoning_output_tokens: span.reasoning_output_tokens,
            session_id: span.session_id,
            user_id: span.user_id,
            input: span.input.map(json_of),
            output: span.output.map(json_of),
            attributes: json_of(span.attributes),
            events: json_of(span.events),
            links: json_of(span.links),
            resource: json_of(span.resource),
            cost: SpanCostFields::default(),
        }
    }
}

/// `spans` (ordered by start, then span id) in tree order: depth first, siblings by start time.
/// A span whose parent is not in the trace (not arrived, or in another process's trace) is a
/// root. Returns each span with its depth and number of children.
fn tree_order(spans: Vec<SpanRecord>) -> Vec<(SpanRecord, usize, usize)> {
    let index: HashMap<&str, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, span)| (span.span_id.as_str(), i))
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut roots = Vec::new();
    for (i, span) in spans.iter().enumerate() {
        match span
            .parent_span_id
            .as_deref()
            .and_then(|parent| index.get(parent))
        {
            Some(&parent) if parent != i => children[parent].push(i),
            _ => roots.push(i),
        }
    }
    // Children lists are in start order already: spans are, and they were pushed in order.
    let mut order = Vec::with_capacity(spans.len());
    let mut visited = vec![false; spans.len()];
    let mut stack: Vec<(usize, usize)> = roots.iter().rev().map(|&i| (i, 0)).collect();
    while let Some((i, depth)) = stack.pop() {
        if std::mem::replace(&mut visited[i], true) {
            continue;
        }
        order.push((i, depth));
        stack.extend(children[i].iter().rev().map(|&child| (child, depth + 1)));
    }
    // A parent cycle (malformed input) has no root: its spans come last, at depth 0.
    for (i, seen) in visited.iter().enumerate() {
        if !seen {
            order.push((i, 0));
        }
    }
    let counts: Vec<usize> = children.iter().map(Vec::len).collect();
    let mut slots: Vec<Option<SpanRecord>> = spans.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|(i, depth)| slots[i].take().map(|span| (span, depth, counts[i])))
        .collect()
}

/// `GET /api/v1/traces/{trace_id}`.
pub async fn detail(
    State(state): State<ApiState>,
    Project(project): Project,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    QueryParams::parse(raw.as_deref(), &[])?;
    let Path(trace_id) = path.map_err(|rejection| {
        ApiError::bad_parameter(
            "trace_id",
            format!("{rejection}; give the trace id as the last part of the path"),
        )
    })?;
    let id = trace_id.clone();
    let in_project = project.clone();
    let spans = state.store.trace_in_project(Some(&in_project), &id).await?;
    if spans.is_empty() {
        return Err(ApiError::not_found(format!(
            "no trace {trace_id} in this project; list the traces with GET /api/v1/traces"
        )));
    }
    let start = spans.iter().map(|s| s.start_unix_nanos).min().unwrap_or(0);
    let end = spans.iter().map(|s| s.end_unix_nanos).max().unwrap_or(0);
    let input_tokens: i64 = spans.iter().filter_map(|s| s.input_tokens).sum();
    let output_tokens: i64 = spans.iter().filter_map(|s| s.output_tokens).sum();
    let error_count = spans
        .iter()
        .filter(|s| s.status == SpanStatus::Error)
        .count();
    let full_id = spans[0].trace_id.clone();
    let span_count = spans.len();
    let span_costs = costs::span_costs(&state, &project, &full_id).await?;
    let trace_cost = costs::trace_costs(&state, &project, vec![full_id.clone()]).await?;
    let items: Vec<SpanItem> = tree_order(spans)
        .into_iter()
        .map(|(span, depth, children)| {
            let cost = SpanCostFields::of(span_costs.get(&span.span_id));
            SpanItem {
                cost,
                ..SpanItem::new(span, depth, children)
            }
        })
        .collect();
    let root_name = items.first().map(|s| s.name.clone());
    let alerts = {
        let query = AlertQuery {
            project: Some(project.clone()),
            trace_id: Some(full_id.clone()),
            limit: MAX_TRACE_ALERTS,
            ..AlertQuery::default()
        };
        state.store.alert_page(&query).await?
    };
    let cost_fields = TraceCostFields::of(trace_cost.get(&full_id));
    let mut answer = serde_json::json!({
        "trace_id": full_id,
        "root_name": root_name,
        "start_unix_nanos": start,
        "end_unix_nanos": end,
        "start_time": format_time(start),
        "totals": {
            "span_count": span_count,
            "duration_ms": millis(end.saturating_sub(start).max(0)),
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "error_count": error_count,
        },
        "spans": items,
        "alerts": alerts.alerts.iter().map(alert_json).collect::<Vec<_>>(),
    });
    // `cost_usd`, `cost_estimated` (costs.rs).
    if let (Some(map), Ok(serde_json::Value::Object(cost))) =
        (answer.as_object_mut(), serde_json::to_value(cost_fields))
    {
        map.extend(cost);
    }
    Ok(json_response(StatusCode::OK, &answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: u64, parent: Option<u64>, start: i64) -> SpanRecord {
        let mut span = SpanRecord::new(
            "a".repeat(32),
            format!("{id:016x}"),
            id.to_string(),
            start,
            start + 1,
        );
        span.parent_span_id = parent.map(|p| format!("{p:016x}"));
        span
    }

    #[test]
    fn spans_come_depth_first_by_start() {
        // 1 ─┬─ 2 ── 4
        //    └─ 3
        // 5 (orphan: parent 9 missing)
        let spans = vec![
            span(1, None, 0),
            span(2, Some(1), 1),
            span(3, Some(1), 2),
            span(4, Some(2), 3),
            span(5, Some(9), 4),
        ];
        let order: Vec<(String, usize, usize)> = tree_order(spans)
            .into_iter()
            .map(|(s, depth, children)| (s.name, depth, children))
            .collect();
        let expected = [
            ("1", 0, 2),
            ("2", 1, 1),
            ("4", 2, 0),
            ("3", 1, 0),
            ("5", 0, 0),
        ];
        let expected: Vec<(String, usize, usize)> = expected
            .iter()
            .map(|(n, d, c)| (n.to_string(), *d, *c))
            .collect();
        assert_eq!(order, expected);
    }

    #[test]
    fn cursors_round_trip_and_forgeries_are_refused() {
        let cursor = TraceCursor {
            start_unix_nanos: 42,
            trace_id: "b".repeat(32),
        };
        assert_eq!(decode_cursor(&encode_cursor(&cursor)).unwrap(), cursor);
        for bad in ["", "!!", "djE6NDI", &URL_SAFE_NO_PAD.encode("v1:x:abc")] {
            assert_eq!(
                decode_cursor(bad).unwrap_err().parameter.as_deref(),
                Some("cursor")
            );
        }
    }
}
