//! A real OTLP/HTTP collector stand-in for the SDK's tests: an HTTP server on a free loopback
//! port that decodes every request with opentelemetry-proto and keeps the spans.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flate2::read::GzDecoder;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;
use serde_json::Value;

/// One span as received, flattened for assertions.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub kind: i32,
    pub attributes: HashMap<String, Value>,
    pub resource: HashMap<String, Value>,
    pub scope: String,
    pub status_code: i32,
    pub status_message: String,
    pub events: Vec<(String, HashMap<String, Value>)>,
}

impl ReceivedSpan {
    pub fn attr(&self, key: &str) -> Option<&Value> {
        self.attributes.get(key)
    }
    pub fn str_attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(Value::as_str)
    }
    /// A JSON-string attribute (`agentstack.input` / `agentstack.output`), parsed.
    pub fn json_attr(&self, key: &str) -> Option<Value> {
        self.str_attr(key).map(|text| {
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{key} is not JSON ({e}): {text}"))
        })
    }
    pub fn is_root(&self) -> bool {
        self.parent_span_id.is_empty()
    }
}

/// Status code 2 in OTLP is ERROR.
pub const STATUS_ERROR: i32 = 2;

#[derive(Default)]
struct State {
    spans: Vec<ReceivedSpan>,
    /// Requests answered 200 (their spans are in `spans`).
    requests: usize,
    /// Every request, whatever it was answered.
    attempts: usize,
    /// Answers for the next requests: (status, Retry-After seconds); 200 once empty.
    script: std::collections::VecDeque<(u16, Option<u64>)>,
    headers: Vec<HashMap<String, String>>,
    stall_until: Option<Instant>,
}

pub struct Collector {
    port: u16,
    state: Arc<(Mutex<State>, Condvar)>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl Collector {
    pub fn start() -> Collector {
        Self::start_on(0)
    }

    /// A port that was free a moment ago, for a collector that starts later.
    pub fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// Starts on `port` (0: any free port).
    pub fn start_on(port: u16) -> Collector {
        let server =
            Arc::new(tiny_http::Server::http(("127.0.0.1", port)).expect("bind a loopback port"));
        let port = server.server_addr().to_ip().expect("an IP address").port();
        let state: Arc<(Mutex<State>, Condvar)> = Arc::default();
        let thread = {
            let server = Arc::clone(&server);
            let state = Arc::clone(&state);
            std::thread::spawn(move || serve(&server, &state))
        };
        Collector {
            port,
            state,
            server,
            thread: Some(thread),
        }
    }

    /// Base URL to give the SDK as its endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Requests wait until `duration` from now before they are answered.
    pub fn stall_for(&self, duration: Duration) {
        self.state.0.lock().unwrap().stall_until = Some(Instant::now() + duration);
    }

    /// Answers the next requests with these (status, Retry-After seconds), then 200 again.
    pub fn respond_with(&self, answers: &[(u16, Option<u64>)]) {
        self.state
            .0
            .lock()
            .unwrap()
            .script
            .extend(answers.iter().copied());
    }

    /// Every request received, whatever it was answered.
    pub fn attempts(&self) -> usize {
        self.state.0.lock().unwrap().attempts
    }

    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.state.0.lock().unwrap().spans.clone()
    }

    pub fn request_count(&self) -> usize {
        self.state.0.lock().unwrap().requests
    }

    pub fn headers(&self) -> Vec<HashMap<String, String>> {
        self.state.0.lock().unwrap().headers.clone()
    }

    /// Waits until at least `count` spans arrived (or `timeout` passed) and returns them all.
    pub fn wait_for_spans(&self, count: usize, timeout: Duration) -> Vec<ReceivedSpan> {
        let deadline = Instant::now() + timeout;
        let (lock, arrived) = &*self.state;
        let mut state = lock.lock().unwrap();
        while state.spans.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = arrived.wait_timeout(state, left).unwrap().0;
        }
        state.spans.clone()
    }

    pub fn span_named(&self, name: &str) -> ReceivedSpan {
        let spans = self.spans();
        spans
            .iter()
            .find(|s| s.name == name)
            .cloned()
            .unwrap_or_else(|| {
                panic!(
                    "no span named {name:?} among {:?}",
                    spans.iter().map(|s| &s.name).collect::<Vec<_>>()
                )
            })
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(server: &tiny_http::Server, state: &(Mutex<State>, Condvar)) {
    for mut request in server.incoming_requests() {
        let headers: HashMap<String, String> = request
            .headers()
            .iter()
            .map(|h| {
                (
                    h.field.as_str().as_str().to_ascii_lowercase(),
                    h.value.as_str().to_string(),
                )
            })
            .collect();
        let mut body = Vec::new();
        request.as_reader().read_to_end(&mut body).unwrap();
        if headers.get("content-encoding").map(String::as_str) == Some("gzip") {
            let mut decoded = Vec::new();
            GzDecoder::new(body.as_slice())
                .read_to_end(&mut decoded)
                .expect("valid gzip");
            body = decoded;
        }
        let stall_until = state.0.lock().unwrap().stall_until;
        if let Some(until) = stall_until {
            std::thread::sleep(until.saturating_duration_since(Instant::now()));
        }
        let export = ExportTraceServiceRequest::decode(body.as_slice())
            .expect("a valid OTLP protobuf request");
        let scripted = {
            let mut state = state.0.lock().unwrap();
            state.attempts += 1;
            state.script.pop_front()
        };
        if let Some((status, retry_after)) = scripted {
            let mut response =
                tiny_http::Response::from_string(format!("scripted answer {status}"))
                    .with_status_code(status);
            if let Some(seconds) = retry_after {
                let header = format!("retry-after: {seconds}");
                response = response.with_header(header.parse::<tiny_http::Header>().unwrap());
            }
            let _ = request.respond(response);
            continue;
        }
        {
            let (lock, arrived) = state;
            let mut state = lock.lock().unwrap();
            state.requests += 1;
            state.headers.push(headers);
            state.spans.extend(flatten(export));
            arrived.notify_all();
        }
        let answer = ExportTraceServiceResponse {
            partial_success: None,
        }
        .encode_to_vec();
        let _ = request.respond(
            tiny_http::Response::from_data(answer).with_header(
                "content-type: application/x-protobuf"
                    .parse::<tiny_http::Header>()
                    .unwrap(),
            ),
        );
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn any_value(value: &AnyValue) -> Value {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => Value::from(s.clone()),
        Some(any_value::Value::BoolValue(b)) => Value::from(*b),
        Some(any_value::Value::IntValue(i)) => Value::from(*i),
        Some(any_value::Value::DoubleValue(d)) => Value::from(*d),
        Some(any_value::Value::ArrayValue(array)) => {
            Value::Array(array.values.iter().map(any_value).collect())
        }
        Some(other) => Value::from(format!("{other:?}")),
        None => Value::Null,
    }
}

fn attributes(kvs: &[KeyValue]) -> HashMap<String, Value> {
    kvs.iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map_or(Value::Null, any_value),
            )
        })
        .collect()
}

fn flatten(export: ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for resource_spans in export.resource_spans {
        let resource = resource_spans
            .resource
            .as_ref()
            .map(|r| attributes(&r.attributes))
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            let scope = scope_spans
                .scope
                .as_ref()
                .map(|s| s.name.clone())
                .unwrap_or_default();
            for span in scope_spans.spans {
                let status = span.status.clone().unwrap_or_default();
                out.push(ReceivedSpan {
                    name: span.name.clone(),
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    kind: span.kind,
                    attributes: attributes(&span.attributes),
                    resource: resource.clone(),
                    scope: scope.clone(),
                    status_code: status.code,
                    status_message: status.message,
                    events: span
                        .events
                        .iter()
                        .map(|e| (e.name.clone(), attributes(&e.attributes)))
                        .collect(),
                });
            }
        }
    }
    out
}

/// Asserts that `spans` form well-formed trees: every parent id names a span of the same trace.
pub fn assert_well_formed(spans: &[ReceivedSpan]) {
    let ids: HashMap<(&str, &str), &ReceivedSpan> = spans
        .iter()
        .map(|s| ((s.trace_id.as_str(), s.span_id.as_str()), s))
        .collect();
    assert_eq!(ids.len(), spans.len(), "a span id appears twice");
    for span in spans {
        if !span.is_root() {
            assert!(
                ids.contains_key(&(span.trace_id.as_str(), span.parent_span_id.as_str())),
                "span {} has parent {} that is not in trace {}",
                span.name,
                span.parent_span_id,
                span.trace_id
            );
        }
    }
}

/// The SDK configured for a test against `collector`: small batches, fast timer.
pub fn sdk_for(collector: &Collector) -> agentstack::ConfigBuilder {
    agentstack::builder()
        .endpoint(collector.endpoint())
        .service_name("sdk-test")
        .flush_interval(Duration::from_millis(200))
        .spool_path(scratch_path("spool.db"))
}

/// A path in a fresh directory of its own, so that tests never share a spool or trace file.
pub fn scratch_path(file: &str) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "agentstack-test-{}-{nanos}-{n}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(file)
}
