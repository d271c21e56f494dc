//! `GET /api/v1/traces/{trace_id}/conversation`: the trace and every trace connected to it
//! through span links, in either direction, earliest first, in the request's project. AutoGen's
//! runtime starts a trace per message and ties it to its cause only with a link; this is how
//! such a run reads as one conversation.

use agentstack_exporter_sqlite::store::Conversation;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::params::QueryParams;
use super::traces::TraceItem;
use super::{ApiError, ApiState, Project, json_response};

/// The answer: the conversation's id (its earliest trace's), its traces as the trace list shows
/// them, and whether the bound of the store's walk cut it short.
#[derive(Debug, Serialize)]
struct ConversationAnswer {
    conversation_id: String,
    traces: Vec<TraceItem>,
    truncated: bool,
}

impl ConversationAnswer {
    /// `None` for a conversation without traces (the store answers `None` then already).
    fn of(conversation: Conversation) -> Option<ConversationAnswer> {
        let conversation_id = conversation.id()?.to_string();
        Some(ConversationAnswer {
            conversation_id,
            truncated: conversation.truncated,
            traces: conversation
                .traces
                .into_iter()
                .map(TraceItem::from)
                .collect(),
        })
    }
}

/// `GET /api/v1/traces/{trace_id}/conversation`.
pub async fn conversation(
    State(state): State<ApiState>,
    Project(project): Project,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    QueryParams::parse(raw.as_deref(), &[])?;
    let Path(trace_id) = path.map_err(|rejection| {
        ApiError::bad_parameter(
            "trace_id",
            format!(
                "{rejection}; give the trace id in the path, as in \
                 /api/v1/traces/TRACE_ID/conversation"
            ),
        )
    })?;
    let conversation = state.store.conversation(&project, &trace_id).await?;
    match conversation.and_then(ConversationAnswer::of) {
        Some(answer) => Ok(json_response(StatusCode::OK, &answer)),
        None => Err(ApiError::not_found(format!(
            "no trace {trace_id} in this project; list the traces with GET /api/v1/traces"
        ))),
    }
}
