//! The REST API of `agentstack serve` (axum): reads the span store only, every query scoped to
//! the request's [`Project`]. One file per resource — [`traces`] (list and one trace),
//! [`stats`], [`costs`] (costs, budgets, price overrides), [`openapi`] — and the shared
//! [`error`] shape and [`params`] parsing.

pub mod alerts;
pub mod conversation;
pub mod costs;
pub mod dashboard;
pub mod error;
pub mod keys;
pub mod live;
pub mod openapi;
pub mod params;
pub mod project;
pub mod sessions;
pub mod stats;
pub mod traces;

use std::path::PathBuf;
use std::sync::Arc;

use agentstack_exporter_sqlite::SqliteSpanStore;
use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};

use crate::auth::KeyRing;
use crate::health::Health;
use crate::live::{AlertFeed, LiveFeed};
use crate::metrics::Metrics;
use crate::store::{SqliteStore, Store};
use serde::Serialize;

pub use error::ApiError;
pub use project::Project;

/// Where the API's versioned routes start.
pub const API_PREFIX: &str = "/api/v1";
/// `GET`: the trace list.
pub const TRACES_ROUTE: &str = "/api/v1/traces";
/// `GET`: one trace.
pub const TRACE_ROUTE: &str = "/api/v1/traces/{trace_id}";
/// `GET`: sessions (conversations), most recently active first.
pub const SESSIONS_ROUTE: &str = "/api/v1/sessions";
/// `GET` (WebSocket): the live tail of new traces and spans.
pub const LIVE_TRACES_ROUTE: &str = "/ws/traces";
/// `GET`: the conversation of a trace (the traces linked to it, either way).
pub const CONVERSATION_ROUTE: &str = "/api/v1/traces/{trace_id}/conversation";
/// `GET`: security and budget alerts, newest first.
pub const ALERTS_ROUTE: &str = "/api/v1/alerts";
/// `GET` (WebSocket): new alerts as they are stored.
pub const LIVE_ALERTS_ROUTE: &str = "/ws/alerts";
pub use crate::health::{HEALTH_ROUTE, METRICS_ROUTE, READY_ROUTE};
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
// Costs (`costs.rs`).
/// `GET`: costs grouped by model, day, agent, session or user, with a time series.
pub const COSTS_ROUTE: &str = "/api/v1/costs";
/// `GET`: the project's budgets and their spend in the current period.
pub const BUDGETS_ROUTE: &str = "/api/v1/budgets";
/// `GET`, `PUT` (admin): a project's price overrides.
pub const PROJECT_PRICES_ROUTE: &str = "/api/v1/projects/{name}/prices";
/// Every `GET` route the router serves for a project, in OpenAPI's path syntax.
pub const ROUTES: &[&str] = &[
    TRACES_ROUTE,
    TRACE_ROUTE,
    SESSIONS_ROUTE,
    CONVERSATION_ROUTE,
    STATS_ROUTE,
    OPENAPI_ROUTE,
    LIVE_TRACES_ROUTE,
    ALERTS_ROUTE,
    LIVE_ALERTS_ROUTE,
    COSTS_ROUTE,
    BUDGETS_ROUTE,
    HEALTH_ROUTE,
    READY_ROUTE,
    METRICS_ROUTE,
];
/// The admin routes (method, path), behind the admin token.
pub const ADMIN_ROUTES: &[(&str, &str)] = &[
    ("post", PROJECT_KEYS_ROUTE),
    ("get", KEYS_ROUTE),
    ("delete", KEY_ROUTE),
    ("get", PROJECT_PRICES_ROUTE),
    ("put", PROJECT_PRICES_ROUTE),
];

/// What the handlers share: the store they read, the keys the admin routes manage, and the
/// live feed of the WebSocket tail.
#[derive(Debug, Clone)]
pub struct ApiState {
    store: Arc<dyn Store>,
    admin: Option<Arc<keys::Admin>>,
    live: Option<LiveFeed>,
    alerts: Option<AlertFeed>,
    costs: Arc<costs::CostApi>,
}

/// The API's router over `store`, every request in [`agentstack_exporter_sqlite::DEFAULT_PROJECT`]
/// (no keys; the admin routes answer 403), without live tail or dashboard.
pub fn router(store: SqliteSpanStore) -> Router {
    ApiRouter::new(Arc::new(SqliteStore::new(store))).build()
}

/// What the API's router is made of: the store it reads and, optionally, the API keys that
/// scope each request to a project, the live feed of `WS /ws/traces` and the dashboard's
/// built assets served at `/`.
#[derive(Debug)]
pub struct ApiRouter {
    store: Arc<dyn Store>,
    keys: Option<(Arc<KeyRing>, Option<String>)>,
    live: Option<LiveFeed>,
    alerts: Option<AlertFeed>,
    dashboard: Option<PathBuf>,
    costs: costs::CostApi,
    health: Option<Health>,
}

impl ApiRouter {
    /// An API over `store` with no keys (every request in the default project), no live tail
    /// and no dashboard.
    pub fn new(store: Arc<dyn Store>) -> ApiRouter {
        ApiRouter {
            store,
            keys: None,
            live: None,
            alerts: None,
            dashboard: None,
            costs: costs::CostApi::default(),
            health: None,
        }
    }

    /// Prices with `pricing` (shared with the cost worker) and reports on `budgets`; without
    /// this, the bundled prices and no budgets.
    pub fn costs(
        mut self,
        pricing: Arc<crate::pricing::ProjectPricing>,
        budgets: Vec<agentstack_cost::Budget>,
    ) -> ApiRouter {
        self.costs = costs::CostApi { pricing, budgets };
        self
    }

    /// Scopes each request to the project of its API key in `keys`; the admin routes open with
    /// `admin_token` (`None` or empty: 403).
    pub fn keys(mut self, keys: Arc<KeyRing>, admin_token: Option<String>) -> ApiRouter {
        self.keys = Some((keys, admin_token.filter(|token| !token.is_empty())));
        self
    }

    /// Serves `WS /ws/traces` from `live`.
    pub fn live(mut self, live: LiveFeed) -> ApiRouter {
        self.live = Some(live);
        self
    }

    /// Serves `WS /ws/alerts` from `alerts`.
    pub fn alerts(mut self, alerts: AlertFeed) -> ApiRouter {
        self.alerts = Some(alerts);
        self
    }

    /// Serves the dashboard's built assets from `dir` at `/` (see [`dashboard`]).
    pub fn dashboard(mut self, dir: PathBuf) -> ApiRouter {
        self.dashboard = Some(dir);
        self
    }

    /// Answers `/readyz` and `/metrics` from `health`; without this, ready when the store
    /// answers, and metrics of this router alone.
    pub fn health(mut self, health: Health) -> ApiRouter {
        self.health = Some(health);
        self
    }

    /// The router.
    pub fn build(self) -> Router {
        let health = self
            .health
            .unwrap_or_else(|| Health::new(Metrics::new()).store(Arc::clone(&self.store)));
        let admin = self.keys.as_ref().map(|(keys, token)| {
            Arc::new(keys::Admin {
                keys: Arc::clone(keys),
                token: token.clone(),
            })
        });
        let state = ApiState {
            store: self.store,
            admin,
            live: self.live,
            alerts: self.alerts,
            costs: Arc::new(self.costs),
        };
        let fallback = dashboard::Fallback::new(self.dashboard);
        let routes = Router::new()
            .route(TRACES_ROUTE, get(traces::list))
            .route(TRACE_ROUTE, get(traces::detail))
            .route(CONVERSATION_ROUTE, get(conversation::conversation))
            .route(SESSIONS_ROUTE, get(sessions::list))
            .route(STATS_ROUTE, get(stats::stats))
            .route(OPENAPI_ROUTE, get(openapi::document))
            .route(LIVE_TRACES_ROUTE, get(live::traces))
            .route(ALERTS_ROUTE, get(alerts::list))
            .route(LIVE_ALERTS_ROUTE, get(alerts::live))
            .route(PROJECT_KEYS_ROUTE, post(keys::create))
            .route(KEYS_ROUTE, get(keys::list))
            .route(KEY_ROUTE, delete(keys::revoke))
            .route(COSTS_ROUTE, get(costs::costs))
            .route(BUDGETS_ROUTE, get(costs::budgets))
            .route(
                PROJECT_PRICES_ROUTE,
                get(costs::get_prices).put(costs::put_prices),
            )
            .merge(health.router())
            .fallback(move |request: Request| fallback.clone().answer(request))
            .method_not_allowed_fallback(method_not_allowed);
        let routes = match self.keys {
            Some((keys, _)) => routes.layer(axum::Extension(keys)),
            None => routes,
        };
        // gzip for clients that ask (browsers do); answers below 1 KiB stay as they are.
        routes
            .layer(tower_http::compression::CompressionLayer::new())
            .with_state(state)
    }
}

/// The JSON 404 of a path under the API (anything else is the dashboard's).
pub(crate) fn not_found() -> ApiError {
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
