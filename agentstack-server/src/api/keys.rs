//! The admin routes of API keys, behind the server's admin token (`--admin-token`,
//! AGENTSTACK_ADMIN_TOKEN): `POST /api/v1/projects/{name}/keys` (the key is in this answer only),
//! `GET /api/v1/keys` (no secrets), `DELETE /api/v1/keys/{prefix}` (revoked at once).

use std::sync::Arc;

use agentstack_exporter_sqlite::ApiKeyRecord;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use super::{ApiError, ApiState, json_response};
use crate::auth::cli::time;
use crate::auth::{KeyRing, key};

/// The header that carries the admin token besides `Authorization: Bearer`.
pub const ADMIN_TOKEN_HEADER: &str = "x-agentstack-admin-token";

/// The admin side of the API: the key ring and the token that opens it.
#[derive(Debug)]
pub struct Admin {
    /// The keys.
    pub keys: Arc<KeyRing>,
    /// The admin token; `None`: the admin routes are off (403).
    pub token: Option<String>,
}

impl Admin {
    /// Lets the request in if it carries the admin token.
    pub(super) fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(token) = &self.token else {
            return Err(ApiError {
                status: StatusCode::FORBIDDEN,
                message: "the admin routes are off: start `agentstack serve` with --admin-token \
                          TOKEN (or AGENTSTACK_ADMIN_TOKEN), or manage keys with `agentstack keys`"
                    .to_string(),
                parameter: None,
            });
        };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, rest)| rest.trim())
            .or_else(|| {
                headers
                    .get(ADMIN_TOKEN_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::trim)
            });
        match given {
            Some(given) if key::constant_time_eq(given, token) => Ok(()),
            _ => Err(ApiError {
                status: StatusCode::UNAUTHORIZED,
                message: format!(
                    "this admin route needs the server's admin token: send it as \
                     `Authorization: Bearer TOKEN` or `{ADMIN_TOKEN_HEADER}: TOKEN`"
                ),
                parameter: None,
            }),
        }
    }
}

pub(super) fn admin(state: &ApiState) -> Result<&Admin, ApiError> {
    state.admin.as_deref().ok_or_else(|| ApiError {
        status: StatusCode::FORBIDDEN,
        message: "this server has no API keys to administer".to_string(),
        parameter: None,
    })
}

fn key_json(key: &ApiKeyRecord) -> serde_json::Value {
    serde_json::json!({
        "prefix": key.prefix,
        "project": key.project,
        "created_at": time(key.created_unix_nanos),
        "revoked_at": key.revoked_unix_nanos.map(time),
        "active": key.is_active(),
    })
}

/// `POST /api/v1/projects/{name}/keys`.
pub async fn create(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let admin = admin(&state)?;
    admin.check(&headers)?;
    let created = admin.keys.create(&name).await?;
    let mut body = key_json(&created.record);
    body["key"] = serde_json::Value::String(created.secret);
    body["note"] = "the key is shown in this answer only: it is stored hashed".into();
    Ok(json_response(StatusCode::CREATED, &body))
}

/// `GET /api/v1/keys`.
pub async fn list(State(state): State<ApiState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let admin = admin(&state)?;
    admin.check(&headers)?;
    let keys = admin.keys.list().await?;
    let keys: Vec<_> = keys.iter().map(key_json).collect();
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "keys": keys }),
    ))
}

/// `DELETE /api/v1/keys/{prefix}`.
pub async fn revoke(
    State(state): State<ApiState>,
    Path(prefix): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let admin = admin(&state)?;
    admin.check(&headers)?;
    let key = admin.keys.revoke(&prefix).await?;
    Ok(json_response(StatusCode::OK, &key_json(&key)))
}
