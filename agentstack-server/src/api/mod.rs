//! The REST API of `agentstack serve` (axum): reads the span store only, every query scoped to
//! the request's [`Project`]. One file per resource — [`traces`] (list and one trace),
//! [`stats`], [`openapi`] — and the shared [`error`] shape and [`params`] parsing.

pub mod conversation;
pub mod error;
pub mod keys;
pub mod openapi;
pub mod params;
pub mod project;
pub mod stats;
pub mod traces;

use std::sync::Arc;

use agentstack_exporter_sqlite::{SqliteSpanStore, StoreError};
use axum::Router;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};

use crate::auth::KeyRing;
use serde::Serialize;

pub use error::ApiError;
pub use project::Project;

/// Where the API's versioned routes start.
pub const API_PREFIX: &str = "/api/v1";
/// `GET`: the trace list.
pub const TRACES_ROUTE: &str = "/api/v1/traces";
/// `GET`: one trace.
pub const TRACE_ROUTE: &str = "/api/v1/traces/{trace_id}";
/// `GET`: the conversation of a trace (the traces linked to it, either way).
pub const CONVERSATION_ROUTE: &str = "/api/v1/traces/{trace_id}/conversation";
/// `GET`: statistics.
pub const STATS_ROUTE: &str = "/api/v1/stats";
/// `GET`: the OpenAPI document.
pub const OPENAPI_ROUTE: &str = "/api/openapi.json";
/// `POST` (admin): a new API key of a project.
pub const PROJECT_KEYS_ROUTE: &str = "/api/v1/projects/{name}/keys";
/// `GET` (admin): every API key, without secrets.
pub const KEYS_ROUTE: &str = "/api/v1/keys";
/// `DELETE` (admin): revoke an API key.
pub const KEY_ROUTE: &str = "/api/v1/keys/{prefix}";
/// Every `GET` route the router serves for a project, in OpenAPI's path syntax.
pub const ROUTES: &[&str] = &[
    TRACES_ROUTE,
    TRACE_ROUTE,
    CONVERSATION_ROUTE,
    STATS_ROUTE,
    OPENAPI_ROUTE,
];
/// The admin routes (method, path), behind the admin token.
pub const ADMIN_ROUTES: &[(&str, &str)] = &[
    ("post", PROJECT_KEYS_ROUTE),
    ("get", KEYS_ROUTE),
    ("delete", KEY_ROUTE),
];

/// What the handlers share: the store they read, and the keys the admin routes manage.
#[derive(Debug, Clone)]
pub struct ApiState {
    store: Arc<SqliteSpanStore>,
    admin: Option<Arc<keys::Admin>>,
}

impl ApiState {
    /// Runs a store query on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&SqliteSpanStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || query(&store))
            .await
            .map_err(|error| ApiError::internal(format!("the store query failed: {error}")))?
            .map_err(ApiError::from)
    }
}

/// The API's router over `store`, every request in [`agentstack_exporter_sqlite::DEFAULT_PROJECT`]
/// (no keys; the admin routes answer 403).
pub fn router(store: Arc<SqliteSpanStore>) -> Router {
    routes().with_state(ApiState { store, admin: None })
}

/// The API's router over `store`, each request scoped to the project of its API key in `keys`;
/// the admin routes open with `admin_token` (`None`: 403).
pub fn router_with_keys(
    store: Arc<SqliteSpanStore>,
    keys: Arc<KeyRing>,
    admin_token: Option<String>,
) -> Router {
    let admin = keys::Admin {
        keys: Arc::clone(&keys),
        token: admin_token.filter(|token| !token.is_empty()),
    };
    routes().layer(axum::Extension(keys)).with_state(ApiState {
        store,
        admin: Some(Arc::new(admin)),
    })
}

fn routes() -> Router<ApiState> {
    Router::new()
        .route(TRACES_ROUTE, get(traces::list))
        .route(TRACE_ROUTE, get(traces::detail))
        .route(CONVERSATION_ROUTE, get(conversation::conversation))
        .route(STATS_ROUTE, get(stats::stats))
        .route(OPENAPI_ROUTE, get(openapi::document))
        .route(PROJECT_KEYS_ROUTE, post(keys::create))
        .route(KEYS_ROUTE, get(keys::list))
        .route(KEY_ROUTE, delete(keys::revoke))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn not_found() -> ApiError {
    ApiError::not_found(format!(
        "no such endpoint; the API serves {} (described by GET {OPENAPI_ROUTE})",
        ROUTES.join(", ")
    ))
}

async fn method_not_allowed() -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: format!(
            "the API reads with GET; only the admin routes ({}) take other methods",
            ADMIN_ROUTES
                .iter()
                .map(|(method, path)| format!("{} {path}", method.to_uppercase()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        parameter: None,
    }
}

/// `value` as a JSON answer.
fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (status, [(CONTENT_TYPE, "application/json")], body).into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(CONTENT_TYPE, "application/json")],
            format!(
                r#"{{"error":{{"status":500,"message":"cannot encode the answer as JSON: {}"}}}}"#,
                error.to_string().replace(['"', '\\'], "'")
            ),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_lists_every_route() {
        let document: serde_json::Value = serde_json::from_str(openapi::OPENAPI_JSON).unwrap();
        assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
        let paths = document["paths"].as_object().unwrap();
        for route in ROUTES {
            assert!(
                paths[*route]["get"].is_object(),
                "{route} is not in openapi.json"
            );
        }
        for (method, route) in ADMIN_ROUTES {
            assert!(
                paths[*route][*method].is_object(),
                "{method} {route} is not in openapi.json"
            );
        }
        let mut all: Vec<&str> = ROUTES.to_vec();
        all.extend(ADMIN_ROUTES.iter().map(|(_, path)| *path));
        all.sort_unstable();
        all.dedup();
        assert_eq!(
            paths.len(),
            all.len(),
            "openapi.json lists a route the router lacks"
        );
    }
}
