//! Health of a process: `GET /healthz` (it answers), `GET /readyz` (every store and bus it
//! uses answers: 503 naming the one that does not) and `GET /metrics` (Prometheus). The API
//! and the collector serve these on their own port; a worker role on `--health`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::bus::SpanBus;
use crate::metrics::Metrics;
use crate::store::Store;

/// `GET`: liveness (the process answers).
pub const HEALTH_ROUTE: &str = "/healthz";
/// `GET`: readiness (its stores and bus answer).
pub const READY_ROUTE: &str = "/readyz";
/// `GET`: Prometheus metrics.
pub const METRICS_ROUTE: &str = "/metrics";

/// One dependency's check: `Err` says what does not answer.
type Check = Arc<
    dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>
        + Send
        + Sync,
>;

/// What a process checks for readiness, and its metrics.
#[derive(Clone)]
pub struct Health {
    checks: Vec<Check>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("checks", &self.checks.len())
            .finish_non_exhaustive()
    }
}

impl Health {
    /// No checks yet (always ready), reporting `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Health {
        Health {
            checks: Vec::new(),
            metrics,
        }
    }

    /// Also ready only when `store` answers a query.
    pub fn store(mut self, store: Arc<dyn Store>) -> Health {
        self.checks.push(Arc::new(move || {
            let store = Arc::clone(&store);
            Box::pin(async move {
                store
                    .span_count()
                    .await
                    .map(|_| ())
                    .map_err(|error| error.to_string())
            })
        }));
        self
    }

    /// Also ready only when `bus` answers.
    pub fn bus<B: SpanBus>(mut self, bus: Arc<B>) -> Health {
        self.checks.push(Arc::new(move || {
            let bus = Arc::clone(&bus);
            Box::pin(async move { bus.check().await })
        }));
        self
    }

    /// Whether every check passes; the first failure otherwise.
    pub async fn ready(&self) -> Result<(), String> {
        for check in &self.checks {
            check().await?;
        }
        Ok(())
    }

    /// The three routes.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        Router::new()
            .route(HEALTH_ROUTE, get(healthz))
            .route(READY_ROUTE, get(readyz))
            .route(METRICS_ROUTE, get(metrics))
            .with_state(self.clone())
    }
}

fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

async fn healthz() -> Response {
    json(StatusCode::OK, serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(health): State<Health>) -> Response {
    match health.ready().await {
        Ok(()) => json(StatusCode::OK, serde_json::json!({ "status": "ready" })),
        Err(reason) => json(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "status": "not ready", "reason": reason }),
        ),
    }
}

async fn metrics(State(health): State<Health>) -> Response {
    (
        StatusCode::OK,
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        health.metrics.render().await,
    )
        .into_response()
}
