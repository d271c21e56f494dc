//! Building OTLP requests in tests: attribute values, spans with valid ids, and the request
//! around them, as the Python and Rust exporters send them.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use serde_json::Value as Json;

use super::{NormalizedSpan, normalize_request};

pub(super) const TRACE_ID: [u8; 16] = [
    0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36,
];
pub(super) const SPAN_ID: [u8; 8] = [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7];
pub(super) const PARENT_ID: [u8; 8] = [0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8];

/// An attribute value.
#[derive(Clone)]
pub(super) enum V {
    S(&'static str),
    I(i64),
    D(f64),
    B(bool),
    Strings(&'static [&'static str]),
}

pub(super) fn any(value: V) -> AnyValue {
    let value = match value {
        V::S(s) => any_value::Value::StringValue(s.to_string()),
        V::I(i) => any_value::Value::IntValue(i),
        V::D(d) => any_value::Value::DoubleValue(d),
        V::B(b) => any_value::Value::BoolValue(b),
        V::Strings(items) => any_value::Value::ArrayValue(ArrayValue {
            values: items.iter().map(|s| any(V::S(s))).collect(),
        }),
    };
    AnyValue { value: Some(value) }
}

pub(super) fn kv(key: &str, value: V) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(any(value)),
        ..Default::default()
    }
}

/// `(key, value)` pairs as OTLP attributes.
pub(super) fn kvs(pairs: Vec<(&str, V)>) -> Vec<KeyValue> {
    pairs.into_iter().map(|(k, v)| kv(k, v)).collect()
}

/// A child span with valid ids, a name, one second long, and these attributes.
pub(super) fn span(name: &str, attributes: Vec<(&str, V)>) -> Span {
    Span {
        trace_id: TRACE_ID.to_vec(),
        span_id: SPAN_ID.to_vec(),
        parent_span_id: PARENT_ID.to_vec(),
        name: name.to_string(),
        kind: 1,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_001_000_000_000,
        attributes: kvs(attributes),
        ..Default::default()
    }
}

/// One resource (`service.name` = `service`) with one scope holding `spans`.
pub(super) fn request(
    service: &'static str,
    scope: &str,
    spans: Vec<Span>,
) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", V::S(service)),
                    kv("telemetry.sdk.language", V::S("python")),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: scope.to_string(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// The one span a request of this one span normalizes to.
pub(super) fn normalize_one(name: &str, attributes: Vec<(&str, V)>) -> NormalizedSpan {
    let normalized = normalize_request(
        request("py-agent", "test.scope", vec![span(name, attributes)]),
        "proj",
    );
    assert!(normalized.rejected.is_empty(), "{:?}", normalized.rejected);
    assert_eq!(normalized.spans.len(), 1);
    normalized.spans.into_iter().next().unwrap()
}

/// A span's attributes column, parsed.
pub(super) fn attributes_of(span: &NormalizedSpan) -> serde_json::Map<String, Json> {
    match serde_json::from_str(&span.record.attributes).unwrap() {
        Json::Object(map) => map,
        other => panic!("attributes are not an object: {other}"),
    }
}

/// JSON text parsed, for comparing captured input/output regardless of formatting.
pub(super) fn parsed(text: Option<&str>) -> Json {
    serde_json::from_str(text.expect("a value")).expect("JSON text")
}
