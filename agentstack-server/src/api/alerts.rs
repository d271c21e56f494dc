//! `GET /api/v1/alerts` (security and budget alerts of the caller's project, newest first,
//! filtered, keyset-paginated with an opaque cursor) and `WS /ws/alerts` (each new alert as it
//! is stored: `{"type":"alerts","alerts":[…]}`, filtered by severity and detector).

use std::sync::Arc;

use agentstack_exporter_sqlite::store::{AlertQuery, AlertRecord, AlertSeverity};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::sync::broadcast::error::RecvError;

use super::params::QueryParams;
use super::traces::{DEFAULT_LIMIT, MAX_LIMIT};
use super::{ApiError, ApiState, Project, json_response};
use crate::alerts::webhooks::alert_json;
use crate::auth::KeyRing;
use crate::live::Listener;

const LIST_PARAMETERS: &[&str] = &[
    "trace_id", "severity", "detector", "since", "until", "limit", "cursor",
];
const LIVE_PARAMETERS: &[&str] = &["severity", "detector", "api_key"];

/// `severity=` as the least severity shown.
fn min_severity(params: &QueryParams) -> Result<Option<AlertSeverity>, ApiError> {
    params
        .text("severity")
        .map(|given| {
            AlertSeverity::from_name(given).ok_or_else(|| {
                ApiError::bad_parameter(
                    "severity",
                    format!(
                        "severity={given:?} is not a severity; give low, medium, high or critical \
                         (alerts at least that severe are listed)"
                    ),
                )
            })
        })
        .transpose()
}

/// `GET /api/v1/alerts`.
pub async fn list(
    State(state): State<ApiState>,
    Project(project): Project,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = QueryParams::parse(raw.as_deref(), LIST_PARAMETERS)?;
    let limit = params.number("limit")?.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_parameter(
            "limit",
            format!("limit={limit} is out of range; give 1 to {MAX_LIMIT}, and follow next_cursor"),
        ));
    }
    let query = AlertQuery {
        project: Some(project),
        trace_id: params.string("trace_id"),
        detector: params.string("detector"),
        min_severity: min_severity(&params)?,
        since_unix_nanos: params.time("since")?,
        until_unix_nanos: params.time("until")?,
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
        before: params.text("cursor").map(decode_cursor).transpose()?,
    };
    let page = state.store.alert_page(&query).await?;
    let alerts: Vec<_> = page.alerts.iter().map(alert_json).collect();
    let next_cursor = page.next.map(encode_cursor);
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "alerts": alerts, "next_cursor": next_cursor }),
    ))
}

fn encode_cursor((time, id): (i64, i64)) -> String {
    URL_SAFE_NO_PAD.encode(format!("a1:{time}:{id}"))
}

fn decode_cursor(text: &str) -> Result<(i64, i64), ApiError> {
    let refuse = super::params::foreign_cursor;
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| refuse())?;
    let text = String::from_utf8(bytes).map_err(|_| refuse())?;
    let mut parts = text.split(':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("a1"), Some(time), Some(id), None) => Ok((
            time.parse().map_err(|_| refuse())?,
            id.parse().map_err(|_| refuse())?,
        )),
        _ => Err(refuse()),
    }
}

/// `WS /ws/alerts`.
pub async fn live(
    State(state): State<ApiState>,
    keys: Option<axum::Extension<Arc<KeyRing>>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let params = QueryParams::parse(raw.as_deref(), LIVE_PARAMETERS)?;
    let project = super::live::socket_project(keys, headers, &params).await?;
    let filter = LiveAlertFilter {
        project,
        min_severity: min_severity(&params)?,
        detector: params.string("detector"),
    };
    let upgrade =
        upgrade.map_err(|rejection| super::live::upgrade_refusal(&rejection, "/ws/alerts"))?;
    let Some(feed) = state.alerts.clone() else {
        return Err(ApiError::not_found(
            "this server has no live alerts (it is not the embedded `agentstack serve`)",
        ));
    };
    let listener = feed.listen();
    Ok(upgrade.on_upgrade(move |socket| stream(socket, filter, listener)))
}

/// Which new alerts a socket receives.
struct LiveAlertFilter {
    project: String,
    min_severity: Option<AlertSeverity>,
    detector: Option<String>,
}

impl LiveAlertFilter {
    fn passes(&self, alert: &AlertRecord) -> bool {
        alert.project == self.project
            && self.min_severity.is_none_or(|min| alert.severity >= min)
            && self.detector.as_ref().is_none_or(|d| *d == alert.detector)
    }
}

async fn stream(mut socket: WebSocket, filter: LiveAlertFilter, mut live: Listener<AlertRecord>) {
    loop {
        tokio::select! {
            stored = live.stored.recv() => match stored {
                Ok(alerts) => {
                    let passing: Vec<_> =
                        alerts.iter().filter(|a| filter.passes(a)).map(alert_json).collect();
                    if passing.is_empty() {
                        continue;
                    }
                    let message = serde_json::json!({ "type": "alerts", "alerts": passing });
                    if socket.send(Message::Text(message.to_string().into())).await.is_err() {
                        return;
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
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            () = super::live::shut_down(&mut live.closed) => break,
        }
    }
    super::live::going_away(socket).await;
}
