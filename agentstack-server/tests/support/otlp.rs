//! Builders of OTLP spans for the tests that post raw requests to `agentstack serve`.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{Span, Status};

pub fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

pub fn kv_int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

pub fn with(mut span: Span, attributes: Vec<KeyValue>) -> Span {
    span.attributes.extend(attributes);
    span
}

pub fn failed(mut span: Span, message: &str) -> Span {
    span.status = Some(Status {
        code: 2,
        message: message.into(),
    });
    span
}

/// Trace `n` (`…00cd0n`) as OTLP bytes, and [`trace_hex`] its hex form.
pub fn trace_bytes(n: u8) -> Vec<u8> {
    let mut id = vec![0u8; 16];
    id[14] = 0xcd;
    id[15] = n;
    id
}

/// The hex trace id of [`trace_bytes`].
pub fn trace_hex(n: u8) -> String {
    format!("{:028x}cd{n:02x}", 0)
}

/// Span `id` of trace `n`, child of span `parent` of the same trace, starting `start` ns after
/// the Unix epoch and lasting `millis` ms.
pub fn span_of(n: u8, id: u8, parent: Option<u8>, name: &str, start: u64, millis: u64) -> Span {
    Span {
        trace_id: trace_bytes(n),
        span_id: vec![0, 0, 0, 0, 0, 0, n, id],
        parent_span_id: parent.map_or_else(Vec::new, |p| vec![0, 0, 0, 0, 0, 0, n, p]),
        name: name.into(),
        kind: 1,
        start_time_unix_nano: start,
        end_time_unix_nano: start + millis * 1_000_000,
        ..Default::default()
    }
}

/// One request of `spans` from the service `service`.
pub fn request_of(
    service: &str,
    spans: Vec<Span>,
) -> opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
    opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Now, in nanoseconds since the Unix epoch.
pub fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}
