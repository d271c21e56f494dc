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
