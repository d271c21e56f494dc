//! `GET /api/v1/sessions`: the project's sessions (conversations, `gen_ai.conversation.id`),
//! most recently active first, keyset-paginated with an opaque cursor. A session's traces are
//! `GET /api/v1/traces?session=ID`.

use agentstack_exporter_sqlite::store::{SessionCursor, SessionQuery, SessionSummary};
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use super::params::{QueryParams, format_time, millis};
use super::traces::{DEFAULT_LIMIT, MAX_LIMIT};
use super::{ApiError, ApiState, Project, json_response};

const PARAMETERS: &[&str] = &["since", "until", "user", "limit", "cursor"];

/// A session of the list: its summary, with its start as RFC 3339 and its duration.
#[derive(Debug, Serialize)]
struct SessionItem {
    #[serde(flatten)]
    summary: SessionSummary,
    start_time: String,
    duration_ms: f64,
    status: &'static str,
}

/// `GET /api/v1/sessions`.
pub async fn list(
    State(state): State<ApiState>,
    Project(project): Project,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = QueryParams::parse(raw.as_deref(), PARAMETERS)?;
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
    let query = SessionQuery {
        project: Some(project),
        since_unix_nanos: params.time("since")?,
        until_unix_nanos: params.time("until")?,
        user_id: params.string("user"),
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
        before: params.text("cursor").map(decode_cursor).transpose()?,
    };
    let page = state.store.session_page(&query).await?;
    let next_cursor = page.next.as_ref().map(encode_cursor);
    let sessions: Vec<SessionItem> = page
        .sessions
        .into_iter()
        .map(|summary| SessionItem {
            start_time: format_time(summary.start_unix_nanos),
            duration_ms: millis(summary.end_unix_nanos - summary.start_unix_nanos),
            status: if summary.error_count > 0 {
                "error"
            } else {
                "ok"
            },
            summary,
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "sessions": sessions, "next_cursor": next_cursor }),
    ))
}

/// The opaque `next_cursor`: base64url of `s1:LAST_START:SESSION_ID`.
fn encode_cursor(cursor: &SessionCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "s1:{}:{}",
        cursor.last_start_unix_nanos, cursor.session_id
    ))
}

fn decode_cursor(text: &str) -> Result<SessionCursor, ApiError> {
    let refuse = super::params::foreign_cursor;
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| refuse())?;
    let text = String::from_utf8(bytes).map_err(|_| refuse())?;
    let mut parts = text.splitn(3, ':');
    let (Some("s1"), Some(start), Some(session_id)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(refuse());
    };
    Ok(SessionCursor {
        last_start_unix_nanos: start.parse().map_err(|_| refuse())?,
        session_id: session_id.to_string(),
    })
}
