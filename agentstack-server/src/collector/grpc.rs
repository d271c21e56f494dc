//! OTLP/gRPC: the `opentelemetry.proto.collector.trace.v1.TraceService/Export` method (tonic,
//! with opentelemetry-proto's generated service), feeding the same normalize-and-publish path
//! as OTLP/HTTP. Refusals map to the gRPC codes the OTLP specification gives: `UNAVAILABLE`
//! (retryable) when the bus is full, `INVALID_ARGUMENT` for input that cannot pass,
//! `UNAUTHENTICATED` for a missing or wrong key.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::{Code, Request, Response, Status};

use super::{Collector, CollectorConfig, Refusal, ingest};
use crate::auth::{AuthError, KeyRing};
use crate::bus::SpanBus;

/// The gRPC trace service of the collector, publishing into a bus.
pub struct GrpcCollector<B> {
    collector: Arc<Collector<B>>,
}

/// The tonic service to serve on the OTLP/gRPC port: requests up to
/// `config.max_decompressed_bytes` once decompressed, gzip or identity, each request's API key
/// (metadata `authorization: Bearer …` or `x-agentstack-api-key`) checked against `keys` when
/// given.
pub fn grpc_service<B: SpanBus>(
    bus: Arc<B>,
    config: CollectorConfig,
    keys: Option<Arc<KeyRing>>,
) -> TraceServiceServer<GrpcCollector<B>> {
    let limit = config.max_decompressed_bytes;
    TraceServiceServer::new(GrpcCollector {
        collector: Arc::new(Collector { bus, config, keys }),
    })
    .accept_compressed(CompressionEncoding::Gzip)
    .send_compressed(CompressionEncoding::Gzip)
    .max_decoding_message_size(limit)
}

#[tonic::async_trait]
impl<B: SpanBus> TraceService for GrpcCollector<B> {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let collector = &self.collector;
        let project = match &collector.keys {
            None => collector.config.project.clone(),
            Some(keys) => {
                let headers = request.metadata().clone().into_headers();
                keys.authenticate(&headers).await.map_err(auth_status)?
            }
        };
        let answer = ingest(collector, request.into_inner(), project)
            .await
            .map_err(refusal_status)?;
        Ok(Response::new(answer))
    }
}

/// A refused key as a gRPC status.
fn auth_status(error: AuthError) -> Status {
    let code = match error.status().as_u16() {
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        503 => Code::Unavailable,
        _ => Code::Internal,
    };
    Status::new(code, error.to_string())
}

/// A refusal of the shared path as a gRPC status (OTLP/gRPC: `UNAVAILABLE` is retryable).
fn refusal_status(refusal: Refusal) -> Status {
    let code = match refusal {
        Refusal::BusFull(_) | Refusal::ShuttingDown(_) => Code::Unavailable,
        Refusal::Internal(_) => Code::Internal,
        Refusal::TooLarge { .. } | Refusal::DecompressedTooLarge { .. } => Code::ResourceExhausted,
        _ => Code::InvalidArgument,
    };
    Status::new(code, refusal.to_string())
}
