//! The collector: `POST /v1/traces` as the OTLP/HTTP specification defines it (binary protobuf
//! or OTLP/JSON, gzip or identity), normalized once ([`crate::normalize`]) and published to the
//! bus. A request is answered 200 only once its spans are in the bus; a full bus answers 503
//! with `Retry-After`, so the sender keeps (retries or spools) what the server cannot take yet.

mod decode;
mod grpc;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tokio::sync::Semaphore;

use crate::auth::{AuthError, KeyRing};
use crate::bus::{PublishError, SpanBatch, SpanBus};
use crate::metrics::Metrics;
use crate::normalize::{Normalized, normalize_request};

pub use decode::{Encoding, Format, Refusal, request as decode_request};
pub use grpc::{GrpcCollector, grpc_service};

/// The OTLP/HTTP path of traces.
pub const TRACES_PATH: &str = "/v1/traces";
/// The largest request body accepted as sent (compressed or not): 16 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The largest request body accepted once decompressed: 64 MiB.
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: usize = 64 * 1024 * 1024;

/// What the collector accepts and where its spans go.
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    /// The largest body accepted as sent, in bytes.
    pub max_body_bytes: usize,
    /// The largest body accepted after gzip decompression, in bytes.
    pub max_decompressed_bytes: usize,
    /// The project of spans sent without an API key, when the router has no [`KeyRing`] or the
    /// key ring lets requests in without one.
    pub project: String,
    /// Where accepted and rejected spans are counted.
    pub metrics: Option<Arc<Metrics>>,
    /// How many requests are decoded and normalized at once, shared by OTLP/HTTP and
    /// OTLP/gRPC (see [`decode_slots`]); the others wait for a slot without holding a thread.
    pub decode_slots: Arc<Semaphore>,
}

/// The decode slots of a collector: one per core, but one core fewer (at least one) when the
/// workers run in the same process (`agentstack serve`). Under a backlog, a collector decoding
/// on every core only fills the bus sooner, while the writer, whose single SQLite connection
/// is what drains it, gets a smaller share of the CPU: measured on 2 cores, one slot stored
/// ~5–10% more spans per second than no limit (the load's four connections decoding at once).
pub fn decode_slots(workers_in_process: bool) -> Arc<Semaphore> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let slots = if workers_in_process {
        cores.saturating_sub(1).max(1)
    } else {
        cores
    };
    Arc::new(Semaphore::new(slots))
}

impl Default for CollectorConfig {
    fn default() -> CollectorConfig {
        CollectorConfig {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_decompressed_bytes: DEFAULT_MAX_DECOMPRESSED_BYTES,
            project: agentstack_exporter_sqlite::DEFAULT_PROJECT.to_string(),
            metrics: None,
            decode_slots: decode_slots(false),
        }
    }
}

struct Collector<B> {
    bus: Arc<B>,
    config: CollectorConfig,
    keys: Option<Arc<KeyRing>>,
}

/// The collector's routes, publishing into `bus`; every span goes to `config.project`.
pub fn router<B: SpanBus>(bus: Arc<B>, config: CollectorConfig) -> Router {
    Router::new()
        .route(TRACES_PATH, post(export_traces::<B>))
        .with_state(Arc::new(Collector {
            bus,
            config,
            keys: None,
        }))
}

/// Like [`router`], but each request's API key picks its project (a request without a valid
/// key is a 401, unless `keys` lets it in, into `config.project`).
pub fn router_with_keys<B: SpanBus>(
    bus: Arc<B>,
    config: CollectorConfig,
    keys: Arc<KeyRing>,
) -> Router {
    Router::new()
        .route(TRACES_PATH, post(export_traces::<B>))
        .with_state(Arc::new(Collector {
            bus,
            config,
            keys: Some(keys),
        }))
}

/// A refused key: its status (401 for the sender, permanent) and why, as text like the other
/// refusals.
fn auth_refusal(error: &AuthError) -> Response {
    let mut response = (error.status(), format!("{error}\n")).into_response();
    if error.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"agentstack\""),
        );
    }
    response
}

async fn export_traces<B: SpanBus>(
    State(collector): State<Arc<Collector<B>>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // The key is checked before the body is read.
    let project = match &collector.keys {
        None => collector.config.project.clone(),
        Some(keys) => match keys.authenticate(&headers).await {
            Ok(project) => project,
            Err(error) => {
                tracing::debug!(status = error.status().as_u16(), %error, "OTLP/HTTP request refused");
                return auth_refusal(&error);
            }
        },
    };
    match accept(&collector, &headers, body, project).await {
        Ok(response) => response,
        Err(refusal) => {
            tracing::debug!(
                status = refusal.status().as_u16(),
                error = %refusal,
                "OTLP/HTTP request refused"
            );
            refusal.into_response()
        }
    }
}

async fn accept<B: SpanBus>(
    collector: &Collector<B>,
    headers: &HeaderMap,
    body: Body,
    project: String,
) -> Result<Response, Refusal> {
    let config = &collector.config;
    let format = Format::of(headers)?;
    let encoding = Encoding::of(headers)?;
    let too_large = || Refusal::TooLarge {
        limit: config.max_body_bytes,
    };
    // A declared length over the limit is refused before reading anything.
    if headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .is_some_and(|length| length > config.max_body_bytes as u64)
    {
        return Err(too_large());
    }
    let body = match Limited::new(body, config.max_body_bytes).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            return Err(too_large());
        }
        Err(error) => return Err(Refusal::Unreadable(error.to_string())),
    };
    let max_decompressed = config.max_decompressed_bytes;
    let _slot = decode_slot(collector).await?;
    // Decompressing, decoding and normalizing are CPU work: off the async threads, in one
    // hand-off (the decoded request is freed on the thread that allocated it).
    let normalized = tokio::task::spawn_blocking(move || {
        decode::request(&body, format, encoding, max_decompressed)
            .map(|request| normalize_request(request, &project))
    })
    .await
    .map_err(|join| Refusal::Internal(join.to_string()))??;
    let answer = publish(collector, normalized).await?;
    Ok(respond(format, &answer))
}

/// Normalizes a decoded request into `project` and publishes its spans (OTLP/gRPC, whose
/// requests tonic decodes); see [`publish`].
async fn ingest<B: SpanBus>(
    collector: &Collector<B>,
    request: ExportTraceServiceRequest,
    project: String,
) -> Result<ExportTraceServiceResponse, Refusal> {
    let _slot = decode_slot(collector).await?;
    // Normalizing is CPU work: off the async threads.
    let normalized = tokio::task::spawn_blocking(move || normalize_request(request, &project))
        .await
        .map_err(|join| Refusal::Internal(join.to_string()))?;
    publish(collector, normalized).await
}

/// Waits for one of the collector's decode slots ([`CollectorConfig::decode_slots`]), then
/// refuses the request if the bus is full by now: the sender retries it anyway, and decoding it
/// would take the CPU the workers need to make room.
async fn decode_slot<B: SpanBus>(
    collector: &Collector<B>,
) -> Result<tokio::sync::SemaphorePermit<'_>, Refusal> {
    let slot = collector
        .config
        .decode_slots
        .acquire()
        .await
        .map_err(|closed| Refusal::Internal(closed.to_string()))?;
    match collector.bus.full() {
        Some(error) => Err(Refusal::BusFull(error.to_string())),
        None => Ok(slot),
    }
}

/// Publishes a normalized request's spans; the answer is the OTLP success, with
/// `partial_success` naming what was rejected. Shared by OTLP/HTTP and OTLP/gRPC.
async fn publish<B: SpanBus>(
    collector: &Collector<B>,
    normalized: Normalized,
) -> Result<ExportTraceServiceResponse, Refusal> {
    let message = normalized.partial_success_message();
    let rejected = normalized.rejected.len();
    let accepted = normalized.spans.len();
    let metrics = collector.config.metrics.as_deref();
    if let Some(metrics) = metrics {
        metrics.spans_rejected.inc_by(rejected as u64);
    }
    if !normalized.spans.is_empty() {
        let batch = SpanBatch {
            spans: normalized.spans,
        };
        let published = collector.bus.publish(batch).await;
        if let Some(metrics) = metrics {
            match published {
                Ok(()) => metrics.spans_accepted.inc_by(accepted as u64),
                Err(_) => metrics.spans_rejected.inc_by(accepted as u64),
            };
        }
        published.map_err(|error| match error {
            PublishError::Full { .. } | PublishError::Unavailable(_) => {
                Refusal::BusFull(error.to_string())
            }
            _ => Refusal::ShuttingDown(error.to_string()),
        })?;
    }
    Ok(ExportTraceServiceResponse {
        partial_success: message.map(|error_message| ExportTracePartialSuccess {
            rejected_spans: i64::try_from(rejected).unwrap_or(i64::MAX),
            error_message,
        }),
    })
}

/// The 200 answer, in the request's format.
fn respond(format: Format, answer: &ExportTraceServiceResponse) -> Response {
    let body = match format {
        Format::Protobuf => answer.encode_to_vec(),
        // Serializing these plain structs cannot fail; an empty object is a valid answer.
        Format::Json => serde_json::to_vec(answer).unwrap_or_else(|_| b"{}".to_vec()),
    };
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;
    use crate::bus::InProcessBus;

    #[tokio::test]
    async fn a_request_is_decoded_only_in_a_free_slot() {
        let slots = Arc::new(Semaphore::new(1));
        let config = CollectorConfig {
            decode_slots: Arc::clone(&slots),
            ..CollectorConfig::default()
        };
        let app = router(Arc::new(InProcessBus::new(8, &["writer"])), config);
        let request = Request::post(TRACES_PATH)
            .header(header::CONTENT_TYPE, "application/x-protobuf")
            .body(Body::from(
                ExportTraceServiceRequest::default().encode_to_vec(),
            ))
            .unwrap();
        let held = slots.try_acquire().unwrap();
        let mut answer = tokio::spawn(app.oneshot(request));
        // While the only slot is taken the request waits (it would be answered at once).
        assert!(
            tokio::time::timeout(Duration::from_millis(200), &mut answer)
                .await
                .is_err(),
            "answered without a decode slot"
        );
        drop(held);
        let answer = answer.await.unwrap().unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(slots.available_permits(), 1, "the slot is given back");
    }

    #[test]
    fn workers_in_the_same_process_keep_a_core_from_the_decoders() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(decode_slots(false).available_permits(), cores);
        assert_eq!(
            decode_slots(true).available_permits(),
            cores.saturating_sub(1).max(1)
        );
    }
}
