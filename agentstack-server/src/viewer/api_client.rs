//! `--server URL`: the viewer as a client of the REST API of `agentstack serve`
//! (`GET /api/v1/traces`, `GET /api/v1/traces/{trace_id}`), blocking, each request bounded by
//! [`TIMEOUT`]. The API's JSON is mapped back into the store's types; what the API does not
//! return (the project) keeps its default. The costs the API puts on traces and spans
//! (`cost_usd`, `cost_estimated`, `cost`) are kept beside them for [`TraceSource::trace_costs`]
//! and [`TraceSource::span_costs`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use agentstack_exporter_sqlite::{SpanRecord, SpanStatus, TraceFilter, TraceSummary};
use anyhow::{Result, anyhow, bail};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use serde_json::Value;

use super::source::{Cost, TraceSource};

/// The longest one request may take, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The most traces one list request asks for (the API's cap).
const PAGE_LIMIT: usize = 1000;

/// How many pages `tail` follows on one poll (so at most 10 000 recently started traces).
const TAIL_PAGES: usize = 10;

/// The REST API of one `agentstack serve`.
pub struct ApiSource {
    /// `http://host:port`, without `/api/v1` and without a trailing slash.
    base: String,
    agent: ureq::Agent,
    /// `Bearer <key>` for a server with API keys.
    authorization: Option<String>,
    /// The costs of the traces listed last, by trace id.
    trace_costs: RefCell<HashMap<String, Cost>>,
    /// The costs of the spans of the trace read last, by span id.
    span_costs: RefCell<HashMap<String, Cost>>,
}

impl ApiSource {
    /// A client of the API at `url`: the server's address (`http://127.0.0.1:8000`), with or
    /// without the `/api/v1` that `agentstack serve` prints.
    pub fn new(url: &str, api_key: Option<&str>) -> Result<ApiSource> {
        let base = base_url(url)?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(TIMEOUT))
            .user_agent(concat!("agentstack-viewer/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let authorization = api_key.map(|key| format!("Bearer {}", key.trim()));
        Ok(ApiSource {
            base,
            agent,
            authorization,
            trace_costs: RefCell::default(),
            span_costs: RefCell::default(),
        })
    }

    /// GETs `path` (under `/api/v1`) with `query` and parses the JSON answer; any other answer
    /// than 200 is an error carrying the server's message.
    fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T> {
        let mut url = format!("{}/api/v1{path}", self.base);
        for (n, (name, value)) in query.iter().enumerate() {
            url.push(if n == 0 { '?' } else { '&' });
            url.push_str(name);
            url.push('=');
            url.extend(utf8_percent_encode(value, NON_ALPHANUMERIC));
        }
        let mut request = self.agent.get(&url).header("accept", "application/json");
        if let Some(authorization) = &self.authorization {
            request = request.header("authorization", authorization);
        }
        let response = request
            .call()
            .map_err(|error| unreachable(&self.base, &error))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .with_config()
            .limit(256 << 20)
            .read_to_string()
            .map_err(|error| {
                anyhow!(
                    "the server at {} stopped answering in the middle of {url}: {error}",
                    self.base
                )
            })?;
        if status != 200 {
            let message = match api_error_message(&body) {
                Some(message) => message,
                None => format!(
                    "{}; is --server the address of the REST API, as `agentstack serve` prints \
                     it (\"API listening on …\"), and not the collector's?",
                    start_of(&body)
                ),
            };
            bail!("the server answered {status}: {message}");
        }
        serde_json::from_str(&body).map_err(|error| {
            anyhow!(
                "the answer of {url} is not the AgentStack API's JSON ({error}); give --server \
                 the address of the REST API, as `agentstack serve` prints it (\"API listening \
                 on …\"), not the collector's"
            )
        })
    }

    /// One page of the list.
    fn page(&self, query: &[(&str, String)]) -> Result<ListAnswer> {
        self.get("/traces", query)
    }
}

/// `url` without a trailing slash or `/api/v1`; refuses what is not an http(s) URL.
fn base_url(url: &str) -> Result<String> {
    let trimmed = url.trim();
    let lower = trimmed.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        bail!(
            "--server {url:?} is not an http(s) URL; give the address of `agentstack serve`'s \
             API, such as http://127.0.0.1:8000"
        );
    }
    let mut base = trimmed.trim_end_matches('/');
    for suffix in ["/api/v1", "/api"] {
        if let Some(rest) = base.strip_suffix(suffix) {
            base = rest.trim_end_matches('/');
            break;
        }
    }
    Ok(base.to_string())
}

/// A request that got no HTTP answer (refused, timed out, name not found): `tail` waits for
/// the server to come back; every other command stops with it.
#[derive(Debug)]
pub struct Unreachable {
    message: String,
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Unreachable {}

/// The error of a request that got no HTTP answer.
fn unreachable(base: &str, error: &ureq::Error) -> anyhow::Error {
    anyhow::Error::new(Unreachable {
        message: format!(
            "cannot reach the AgentStack server at {base}: {error}; start it with `agentstack \
             serve` (its API listens on http://127.0.0.1:8000 by default), or point --server \
             (or AGENTSTACK_SERVER) at the address it prints"
        ),
    })
}

/// The message of the API's error shape, if the body is one.
fn api_error_message(body: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Answer {
        error: Detail,
    }
    #[derive(Deserialize)]
    struct Detail {
        message: String,
    }
    serde_json::from_str::<Answer>(body)
        .ok()
        .map(|answer| answer.error.message)
}

/// The start of a body that is not the API's, for the error message.
fn start_of(body: &str) -> String {
    let text: String = body.trim().chars().take(300).collect();
    if text.is_empty() {
        "(an empty answer)".to_string()
    } else {
        text
    }
}

/// `GET /api/v1/traces`.
#[derive(Deserialize)]
struct ListAnswer {
    traces: Vec<TraceItem>,
    next_cursor: Option<String>,
}

/// A trace of the list (the store's summary, flattened, plus fields the viewer computes).
#[derive(Deserialize, Default)]
#[serde(default)]
struct TraceItem {
    trace_id: String,
    root_name: String,
    service_name: Option<String>,
    session_id: Option<String>,
    start_unix_nanos: i64,
    end_unix_nanos: i64,
    span_count: i64,
    input_tokens: i64,
    output_tokens: i64,
    error_count: i64,
    cost_usd: Option<f64>,
    cost_estimated: bool,
}

/// A cost the API sent as a number of dollars (rounded to the millionth).
fn cost_of(usd: Option<f64>, estimated: bool, detail: Option<String>) -> Option<Cost> {
    let usd = agentstack_cost::Usd::from_f64_lossy(usd?)?;
    Some(Cost {
        femtos: usd.femtos(),
        estimated,
        detail,
    })
}

/// The cost engine's account of a span (the API's `cost`), in words.
fn detail_of(cost: Option<&Value>) -> Option<String> {
    let cost = cost?;
    if cost.get("status")?.as_str()? != "priced" {
        return Some("the producer's own cost".to_string());
    }
    let mut parts = vec![format!(
        "priced as {} ({} match)",
        cost.get("model")?.as_str()?,
        cost.get("rule")?.as_str()?.replace('_', " ")
    )];
    for (name, key) in [
        ("input", "input"),
        ("cache read", "cache_read"),
        ("cache write", "cache_write"),
        ("output", "output"),
        ("reasoning", "reasoning"),
    ] {
        let tokens = cost.get("tokens")?.get(key)?.as_u64()?;
        if tokens > 0 {
            parts.push(format!("{name} {tokens} tok ${}", cost.get(key)?.as_str()?));
        }
    }
    Some(parts.join(" · "))
}

impl From<TraceItem> for TraceSummary {
    fn from(item: TraceItem) -> TraceSummary {
        TraceSummary {
            trace_id: item.trace_id,
            root_name: item.root_name,
            service_name: item.service_name,
            session_id: item.session_id,
            start_unix_nanos: item.start_unix_nanos,
            end_unix_nanos: item.end_unix_nanos,
            span_count: item.span_count,
            input_tokens: item.input_tokens,
            output_tokens: item.output_tokens,
            error_count: item.error_count,
        }
    }
}

/// `GET /api/v1/traces/{trace_id}`.
#[derive(Deserialize)]
struct TraceAnswer {
    spans: Vec<SpanItem>,
}

/// A span of a trace's answer; its JSON texts come parsed, `depth`/`children` are ignored (the
/// viewer lays out its own tree).
#[derive(Deserialize, Default)]
#[serde(default)]
struct SpanItem {
    trace_id: String,
    span_id: String,
    parent_span_id: Option<String>,
    name: String,
    kind: Option<String>,
    service_name: Option<String>,
    start_unix_nanos: i64,
    end_unix_nanos: i64,
    status: String,
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
    input: Option<Value>,
    output: Option<Value>,
    attributes: Option<Value>,
    events: Option<Value>,
    links: Option<Value>,
    resource: Option<Value>,
    cost_usd: Option<f64>,
    cost_estimated: bool,
    cost: Option<Value>,
}

/// A JSON value back as the stored text. The API parses stored text that is JSON and sends
/// other text as a string; both come back as JSON text here (a plain text then shows quoted).
fn text_of(value: Value) -> String {
    value.to_string()
}

/// A JSON value as stored text, `empty` when absent or null.
fn text_or(value: Option<Value>, empty: &str) -> String {
    match value {
        None | Some(Value::Null) => empty.to_string(),
        Some(value) => text_of(value),
    }
}

impl From<SpanItem> for SpanRecord {
    fn from(item: SpanItem) -> SpanRecord {
        let mut span = SpanRecord::new(
            item.trace_id,
            item.span_id,
            item.name,
            item.start_unix_nanos,
            item.end_unix_nanos,
        );
        span.parent_span_id = item.parent_span_id;
        span.kind = item.kind;
        span.service_name = item.service_name;
        span.status = match item.status.as_str() {
            "ok" => SpanStatus::Ok,
            "error" => SpanStatus::Error,
            _ => SpanStatus::Unset,
        };
        span.status_message = item.status_message;
        span.provider = item.provider;
        span.model = item.model;
        span.input_tokens = item.input_tokens;
        span.output_tokens = item.output_tokens;
        span.cache_read_input_tokens = item.cache_read_input_tokens;
        span.cache_creation_input_tokens = item.cache_creation_input_tokens;
        span.reasoning_output_tokens = item.reasoning_output_tokens;
        span.session_id = item.session_id;
        span.user_id = item.user_id;
        span.input = item.input.filter(|v| !v.is_null()).map(text_of);
        span.output = item.output.filter(|v| !v.is_null()).map(text_of);
        span.attributes = text_or(item.attributes, "{}");
        span.events = text_or(item.events, "[]");
        span.links = text_or(item.links, "[]");
        span.resource = text_or(item.resource, "{}");
        span
    }
}

/// The list's query parameters for `filter`.
fn list_query(filter: &TraceFilter) -> Vec<(&'static str, String)> {
    let mut query = Vec::new();
    if let Some(since) = filter.since_unix_nanos {
        query.push(("since", since.max(0).to_string()));
    }
    if let Some(until) = filter.until_unix_nanos {
        query.push(("until", until.max(0).to_string()));
    }
    if let Some(name) = filter.name_contains.as_ref().filter(|n| !n.is_empty()) {
        query.push(("name", name.clone()));
    }
    match filter.status {
        Some(SpanStatus::Ok) => query.push(("status", "ok".to_string())),
        Some(SpanStatus::Error) => query.push(("status", "error".to_string())),
        Some(SpanStatus::Unset) | None => {}
    }
    if let Some(session) = filter.session_id.as_ref().filter(|s| !s.is_empty()) {
        query.push(("session", session.clone()));
    }
    query.push((
        "limit",
        filter.effective_limit().min(PAGE_LIMIT).to_string(),
    ));
    query
}

impl TraceSource for ApiSource {
    fn recent_traces(&self, filter: &TraceFilter) -> Result<Vec<TraceSummary>> {
        let answer = self.page(&list_query(filter))?;
        let mut costs = self.trace_costs.borrow_mut();
        costs.clear();
        for item in &answer.traces {
            if let Some(cost) = cost_of(item.cost_usd, item.cost_estimated, None) {
                costs.insert(item.trace_id.clone(), cost);
            }
        }
        Ok(answer.traces.into_iter().map(TraceSummary::from).collect())
    }

    fn has_traces(&self) -> Result<bool> {
        let answer = self.page(&[("limit", "1".to_string())])?;
        Ok(!answer.traces.is_empty())
    }

    fn trace(&self, trace_id: &str) -> Result<Vec<SpanRecord>> {
        let id: String = utf8_percent_encode(trace_id.trim(), NON_ALPHANUMERIC).collect();
        let answer: TraceAnswer = self.get(&format!("/traces/{id}"), &[])?;
        let mut costs = self.span_costs.borrow_mut();
        costs.clear();
        for item in &answer.spans {
            let detail = detail_of(item.cost.as_ref());
            if let Some(cost) = cost_of(item.cost_usd, item.cost_estimated, detail) {
                costs.insert(item.span_id.clone(), cost);
            }
        }
        drop(costs);
        let mut spans: Vec<SpanRecord> = answer.spans.into_iter().map(SpanRecord::from).collect();
        // The file's order (start, then span id); the viewer lays out the tree itself.
        spans.sort_by(|a, b| {
            (a.start_unix_nanos, &a.span_id).cmp(&(b.start_unix_nanos, &b.span_id))
        });
        Ok(spans)
    }

    /// The API lists traces by start: these are the traces that started since
    /// `since_unix_nanos` (the file's query goes by span end), oldest first.
    fn traces_updated_since(&self, since_unix_nanos: i64) -> Result<Vec<TraceSummary>> {
        let mut query = vec![
            ("since", since_unix_nanos.max(0).to_string()),
            ("limit", PAGE_LIMIT.to_string()),
        ];
        let mut traces: Vec<TraceSummary> = Vec::new();
        for _ in 0..TAIL_PAGES {
            let answer = self.page(&query)?;
            traces.extend(answer.traces.into_iter().map(TraceSummary::from));
            let Some(cursor) = answer.next_cursor else {
                break;
            };
            query.retain(|(name, _)| *name != "cursor");
            query.push(("cursor", cursor));
        }
        traces.reverse();
        Ok(traces)
    }

    fn describe(&self) -> String {
        format!("the server at {}", self.base)
    }

    /// The costs the list just answered with.
    fn trace_costs(&self, traces: &[TraceSummary]) -> Result<HashMap<String, Cost>> {
        let costs = self.trace_costs.borrow();
        Ok(traces
            .iter()
            .filter_map(|t| Some((t.trace_id.clone(), costs.get(&t.trace_id)?.clone())))
            .collect())
    }

    /// The costs the trace's detail just answered with.
    fn span_costs(&self, spans: &[SpanRecord]) -> HashMap<String, Cost> {
        let costs = self.span_costs.borrow();
        spans
            .iter()
            .filter_map(|s| Some((s.span_id.clone(), costs.get(&s.span_id)?.clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_take_the_api_path_or_not() {
        for url in [
            "http://127.0.0.1:8000",
            "http://127.0.0.1:8000/",
            "http://127.0.0.1:8000/api/v1",
            "http://127.0.0.1:8000/api/v1/",
            " http://127.0.0.1:8000/api ",
        ] {
            assert_eq!(base_url(url).unwrap(), "http://127.0.0.1:8000", "{url}");
        }
        assert_eq!(
            base_url("https://example.com/prefix/api/v1").unwrap(),
            "https://example.com/prefix"
        );
        let error = base_url("127.0.0.1:8000").unwrap_err().to_string();
        assert!(error.contains("not an http(s) URL"), "{error}");
    }

    #[test]
    fn error_bodies_give_their_message() {
        let body =
            r#"{"error":{"status":400,"message":"limit=0 is out of range","parameter":"limit"}}"#;
        assert_eq!(
            api_error_message(body).as_deref(),
            Some("limit=0 is out of range")
        );
        assert_eq!(api_error_message("Bad Gateway\n"), None);
        assert_eq!(start_of("Bad Gateway\n"), "Bad Gateway");
        assert_eq!(start_of(""), "(an empty answer)");
    }

    #[test]
    fn spans_map_back_to_records() {
        let item: SpanItem = serde_json::from_value(serde_json::json!({
            "trace_id": "a".repeat(32),
            "span_id": "b".repeat(16),
            "parent_span_id": null,
            "depth": 0,
            "children": 0,
            "name": "chat",
            "status": "error",
            "status_message": "boom",
            "input_tokens": 3,
            "input": {"q": "hi"},
            "output": "plain",
            "attributes": {"k": 1},
            "events": [],
            "start_unix_nanos": 10,
            "end_unix_nanos": 25,
            "duration_ms": 0.000015,
        }))
        .unwrap();
        let span = SpanRecord::from(item);
        assert_eq!(span.status, SpanStatus::Error);
        assert_eq!(span.status_message.as_deref(), Some("boom"));
        assert_eq!(span.input.as_deref(), Some(r#"{"q":"hi"}"#));
        assert_eq!(span.output.as_deref(), Some(r#""plain""#));
        assert_eq!(span.attributes, r#"{"k":1}"#);
        assert_eq!(span.events, "[]");
        assert_eq!(span.links, "[]");
        assert_eq!(span.resource, "{}");
        assert_eq!(span.input_tokens, Some(3));
        assert_eq!(span.output_tokens, None);
        assert_eq!(span.duration_nanos(), 15);
    }

    #[test]
    fn filters_become_query_parameters() {
        let filter = TraceFilter {
            since_unix_nanos: Some(5),
            name_contains: Some("a b".into()),
            status: Some(SpanStatus::Error),
            limit: 30,
            ..TraceFilter::default()
        };
        let query = list_query(&filter);
        assert_eq!(
            query,
            [
                ("since", "5".to_string()),
                ("name", "a b".to_string()),
                ("status", "error".to_string()),
                ("limit", "30".to_string()),
            ]
        );
    }
}
