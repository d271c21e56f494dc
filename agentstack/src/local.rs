//! Local mode (stage 1): spans go straight into a SQLite file that `agentstack traces` and
//! `agentstack show` read, with no collector at all.
//!
//! Converts the SDK's finished spans into the store's `SpanRecord` rows (the schema shared with
//! the server's SQLite store) and writes each batch in one transaction.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use agentstack_exporter_sqlite::{SpanRecord, SpanStatus, SqliteSpanStore};
use opentelemetry::trace::{SpanId, Status};
use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;
use serde_json::{Map, Value as Json, json};

use crate::diag;
use crate::genai::attr;
use crate::pipeline::COUNTERS;

pub(crate) struct LocalStore {
    path: PathBuf,
    store: Option<SqliteSpanStore>,
    failing: bool,
}

impl LocalStore {
    pub(crate) fn new(path: PathBuf) -> LocalStore {
        LocalStore {
            path,
            store: None,
            failing: false,
        }
    }

    pub(crate) fn write(&mut self, batch: Vec<SpanData>, service_name: Option<&str>) {
        let spans = batch.len() as u64;
        if self.store.is_none() {
            match SqliteSpanStore::open(&self.path) {
                Ok(store) => self.store = Some(store),
                Err(error) => {
                    COUNTERS.failed.fetch_add(spans, Ordering::Relaxed);
                    let message = format!(
                        "cannot open the local trace file {} ({error}); {spans} spans lost. \
                         Set AGENTSTACK_LOCAL_PATH to a writable place",
                        self.path.display()
                    );
                    self.warn_once(message);
                    return;
                }
            }
        }
        let records: Vec<SpanRecord> = batch
            .iter()
            .map(|span| span_record(span, service_name))
            .collect();
        let Some(store) = &self.store else { return };
        match store.insert_spans(&records) {
            Ok(_) => {
                COUNTERS.exported.fetch_add(spans, Ordering::Relaxed);
                self.failing = false;
            }
            Err(error) => {
                COUNTERS.failed.fetch_add(spans, Ordering::Relaxed);
                let message = format!(
                    "writing {spans} spans to {} failed: {error}",
                    self.path.display()
                );
                self.warn_once(message);
            }
        }
    }

    fn warn_once(&mut self, message: String) {
        if !self.failing {
            self.failing = true;
            diag::warn(format_args!("{message}"));
        }
    }
}

fn unix_nanos(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

pub(crate) fn json_value(value: &Value) -> Json {
    match value {
        Value::Bool(b) => json!(b),
        Value::I64(i) => json!(i),
        Value::F64(f) => json!(f),
        Value::String(s) => json!(s.as_str()),
        Value::Array(Array::Bool(items)) => json!(items),
        Value::Array(Array::I64(items)) => json!(items),
        Value::Array(Array::F64(items)) => json!(items),
        Value::Array(Array::String(items)) => {
            json!(items.iter().map(|s| s.as_str()).collect::<Vec<_>>())
        }
        other => json!(other.to_string()),
    }
}

fn attributes_json(attributes: &[KeyValue], skip: &[&str]) -> Map<String, Json> {
    attributes
        .iter()
        .filter(|kv| !skip.contains(&kv.key.as_str()))
        .map(|kv| (kv.key.as_str().to_string(), json_value(&kv.value)))
        .collect()
}

/// One finished span as a row of the local store.
pub(crate) fn span_record(span: &SpanData, service_name: Option<&str>) -> SpanRecord {
    let find = |key: &str| {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    };
    let text = |key: &str| find(key).map(|value| value.as_str().into_owned());
    let int = |key: &str| match find(key) {
        Some(Value::I64(i)) => Some(*i),
        _ => None,
    };
    let (status, status_message) = match &span.status {
        Status::Unset => (SpanStatus::Unset, None),
        Status::Ok => (SpanStatus::Ok, None),
        Status::Error { description } => (SpanStatus::Error, Some(description.to_string())),
    };
    let events: Vec<Json> = span
        .events
        .iter()
        .map(|event| {
            json!({
                "name": event.name.as_ref(),
                "time_unix_nanos": unix_nanos(event.timestamp),
                "attributes": attributes_json(&event.attributes, &[]),
            })
        })
        .collect();
    SpanRecord {
        trace_id: span.span_context.trace_id().to_string(),
        span_id: span.span_context.span_id().to_string(),
        parent_span_id: (span.parent_span_id != SpanId::INVALID)
            .then(|| span.parent_span_id.to_string()),
        name: span.name.to_string(),
        kind: text(attr::SPAN_KIND),
        service_name: service_name.map(str::to_string),
        start_unix_nanos: unix_nanos(span.start_time),
        end_unix_nanos: unix_nanos(span.end_time),
        status,
        status_message,
        provider: text(attr::PROVIDER_NAME),
        model: text(attr::RESPONSE_MODEL).or_else(|| text(attr::REQUEST_MODEL)),
        input_tokens: int(attr::INPUT_TOKENS),
        output_tokens: int(attr::OUTPUT_TOKENS),
        cache_read_input_tokens: int(attr::CACHE_READ_INPUT_TOKENS),
        cache_creation_input_tokens: int(attr::CACHE_CREATION_INPUT_TOKENS),
        reasoning_output_tokens: int(attr::REASONING_OUTPUT_TOKENS),
        session_id: text(attr::CONVERSATION_ID),
        user_id: text(attr::USER_ID),
        input: text(attr::INPUT),
        output: text(attr::OUTPUT),
        attributes: Json::Object(attributes_json(
            &span.attributes,
            &[attr::INPUT, attr::OUTPUT],
        ))
        .to_string(),
        events: Json::Array(events).to_string(),
        project: agentstack_exporter_sqlite::DEFAULT_PROJECT.to_string(),
        links: "[]".to_string(),
        resource: "{}".to_string(),
    }
}
