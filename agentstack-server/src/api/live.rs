//! `WS /ws/traces`: the live tail. After each batch the writer stores, the socket receives the
//! summaries of the caller's traces it touched that pass the list's filters (`{"type":"traces"}`)
//! and those spans without their payloads (`{"type":"spans"}`). A browser cannot set headers on
//! a WebSocket, so the API key may also come as the `api_key` query parameter.

use std::collections::HashSet;
use std::sync::Arc;

use agentstack_exporter_sqlite::SpanRecord;
use agentstack_exporter_sqlite::store::TraceQuery;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use super::params::{QueryParams, format_time, millis};
use super::traces::{TraceItem, status_name, trace_query};
use super::{ApiError, ApiState};
use crate::auth::{API_KEY_HEADER, KeyRing};
use crate::bus::SpanBatch;
use crate::live::LiveListener;
use agentstack_exporter_sqlite::DEFAULT_PROJECT;

/// The query parameters of `WS /ws/traces`: the list's filters and the key.
const LIVE_PARAMETERS: &[&str] = &[
    "service",
    "name",
    "status",
    "kind",
    "model",
    "session",
    "user",
    "min_duration_ms",
    "q",
    "api_key",
];

/// A span of the live tail: what a table row needs, without input, output or attributes.
#[derive(Debug, Serialize)]
struct LiveSpan<'a> {
    trace_id: &'a str,
    span_id: &'a str,
    parent_span_id: Option<&'a str>,
    name: &'a str,
    kind: Option<&'a str>,
    service_name: Option<&'a str>,
    start_unix_nanos: i64,
    end_unix_nanos: i64,
    start_time: String,
    duration_ms: f64,
    status: &'static str,
    status_message: Option<&'a str>,
    provider: Option<&'a str>,
    model: Option<&'a str>,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    session_id: Option<&'a str>,
    user_id: Option<&'a str>,
}

impl<'a> From<&'a SpanRecord> for LiveSpan<'a> {
    fn from(span: &'a SpanRecord) -> LiveSpan<'a> {
        LiveSpan {
            trace_id: &span.trace_id,
            span_id: &span.span_id,
            parent_span_id: span.parent_span_id.as_deref(),
            name: &span.name,
            kind: span.kind.as_deref(),
            service_name: span.service_name.as_deref(),
            start_unix_nanos: span.start_unix_nanos,
            end_unix_nanos: span.end_unix_nanos,
            start_time: format_time(span.start_unix_nanos),
            duration_ms: millis(span.duration_nanos()),
            status: status_name(span.status),
            status_message: span.status_message.as_deref(),
            provider: span.provider.as_deref(),
            model: span.model.as_deref(),
            input_tokens: span.input_tokens,
            output_tokens: span.output_tokens,
            session_id: span.session_id.as_deref(),
            user_id: span.user_id.as_deref(),
        }
    }
}

/// `WS /ws/traces`: checks the key and the filters before the upgrade (a refusal is a plain JSON
/// error), then streams.
pub async fn traces(
    State(state): State<ApiState>,
    keys: Option<axum::Extension<Arc<KeyRing>>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let params = QueryParams::parse(raw.as_deref(), LIVE_PARAMETERS)?;
    let project = socket_project(keys, headers, &params).await?;
    let query = trace_query(&params, project)?;
    let upgrade = upgrade.map_err(|rejection| upgrade_refusal(&rejection, "/ws/traces"))?;
    let Some(live) = state.live.clone() else {
        return Err(ApiError::not_found(
            "this server has no live tail (it is not the embedded `agentstack serve`)",
        ));
    };
    let listener = live.listen();
    Ok(upgrade.on_upgrade(move |socket| stream(socket, state, query, listener)))
}

/// Sends what the writer stores until the client leaves or the server shuts down.
async fn stream(mut socket: WebSocket, state: ApiState, query: TraceQuery, mut live: LiveListener) {
    let project = query.filter.project.clone().unwrap_or_default();
    let query = Arc::new(query);
    loop {
        tokio::select! {
            stored = live.stored.recv() => match stored {
                Ok(spans) => {
                    let Some(messages) = messages_for(&state, &query, &project, &spans).await else {
                        continue;
                    };
                    for message in messages {
                        if socket.send(Message::Text(message.into())).await.is_err() {
                            return;
                        }
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    let note = serde_json::json!({ "type": "lagged", "missed_batches": missed });
                    if socket.send(Message::Text(note.to_string().into())).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                // Pings are answered by the socket itself; text from the client means nothing.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            () = shut_down(&mut live.closed) => break,
        }
    }
    going_away(socket).await;
}

/// The project of a WebSocket request: its API key from the headers or, since a browser cannot
/// set headers on a WebSocket, from the `api_key` query parameter; the default project when the
/// server has no key ring.
pub(super) async fn socket_project(
    keys: Option<axum::Extension<Arc<KeyRing>>>,
    mut headers: HeaderMap,
    params: &QueryParams,
) -> Result<String, ApiError> {
    let Some(axum::Extension(keys)) = keys else {
        return Ok(DEFAULT_PROJECT.to_string());
    };
    if let Some(key) = params.text("api_key") {
        let value = HeaderValue::from_str(key)
            .map_err(|_| ApiError::bad_parameter("api_key", "api_key is not a valid API key"))?;
        headers.insert(API_KEY_HEADER, value);
    }
    keys.authenticate(&headers).await.map_err(ApiError::from)
}

/// The 400 of a plain request to a WebSocket route.
pub(super) fn upgrade_refusal(rejection: &impl std::fmt::Display, route: &str) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        message: format!(
            "{rejection}: {route} is a WebSocket; connect with a WebSocket client (ws://…{route})"
        ),
        parameter: None,
    }
}

/// Closes `socket` with 1001 (going away): the server is shutting down.
pub(super) async fn going_away(mut socket: WebSocket) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: close_code::AWAY,
            reason: "the server is shutting down".into(),
        })))
        .await;
}

/// Completes once the server shuts down.
pub(super) async fn shut_down(closed: &mut tokio::sync::watch::Receiver<bool>) {
    // An error means the feed is gone, which is a shutdown too.
    let _ = closed.wait_for(|closed| *closed).await;
}

/// The `traces` and `spans` messages of one stored batch for this tail, `None` when nothing in
/// it is the caller's or passes the filters.
async fn messages_for(
    state: &ApiState,
    query: &Arc<TraceQuery>,
    project: &str,
    stored: &Arc<Vec<Arc<SpanBatch>>>,
) -> Option<Vec<String>> {
    // The project's spans of the write.
    let spans: Vec<&SpanRecord> = stored
        .iter()
        .flat_map(|batch| &batch.spans)
        .filter(|span| span.project == project)
        .map(|span| &span.record)
        .collect();
    let mut seen = HashSet::new();
    let trace_ids: Vec<String> = spans
        .iter()
        .filter(|span| seen.insert(span.trace_id.as_str()))
        .map(|span| span.trace_id.clone())
        .collect();
    if trace_ids.is_empty() {
        return None;
    }
    let summaries = {
        let query = Arc::clone(query);
        match state.store.traces_matching(&query, &trace_ids).await {
            Ok(summaries) => summaries,
            Err(error) => {
                tracing::warn!(%error, "live tail: the store did not answer; this batch is not pushed");
                return None;
            }
        }
    };
    if summaries.is_empty() {
        return None;
    }
    let matched: HashSet<&str> = summaries.iter().map(|t| t.trace_id.as_str()).collect();
    let live_spans: Vec<LiveSpan<'_>> = spans
        .iter()
        .filter(|span| matched.contains(span.trace_id.as_str()))
        .map(|span| LiveSpan::from(*span))
        .collect();
    let spans_message = serde_json::json!({ "type": "spans", "spans": live_spans }).to_string();
    let traces: Vec<TraceItem> = summaries.into_iter().map(TraceItem::from).collect();
    let traces_message = serde_json::json!({ "type": "traces", "traces": traces }).to_string();
    Some(vec![traces_message, spans_message])
}
