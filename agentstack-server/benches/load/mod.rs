//! What the load benchmarks share: LLM-sized OTLP spans in 64-span gzip requests, a client that
//! posts them, and percentiles.
#![allow(dead_code)]

use std::io::Write;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

/// Spans per request.
pub const BATCH: usize = 64;

pub fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

pub fn text(s: &str) -> any_value::Value {
    any_value::Value::StringValue(s.into())
}

/// The 128-bit id of trace number `trace`: spread over the whole id space, as the random ids
/// of real tracers are (sequential ids would make every index insert an append, which no
/// producer gives a store), yet the same in every run and computable from the number.
pub fn trace_id(trace: u64) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&splitmix64(trace).to_be_bytes());
    id[8..].copy_from_slice(&splitmix64(trace ^ 0x5eed).to_be_bytes());
    id
}

/// [`trace_id`] as the lower-case hex the API takes.
pub fn trace_hex(trace: u64) -> String {
    trace_id(trace).iter().map(|b| format!("{b:02x}")).collect()
}

/// One step of SplitMix64: a bijection of `u64` that scatters consecutive numbers.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// An LLM-sized span: GenAI attributes, a ~1 KB prompt and a ~400 B answer.
pub fn llm_span(trace: u64, span: u64, parent: Option<u64>) -> Span {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let prompt = format!(
        "{{\"messages\":[{{\"role\":\"system\",\"content\":\"You are a careful research assistant. {}\"}},{{\"role\":\"user\",\"content\":\"Question {trace}: summarize the findings.\"}}]}}",
        "Cite sources and answer briefly. ".repeat(28)
    );
    let answer = format!(
        "\"The findings of study {trace} show {}\"",
        "a consistent effect across cohorts, ".repeat(10)
    );
    Span {
        trace_id: trace_id(trace).to_vec(),
        span_id: (span + 1).to_be_bytes().to_vec(),
        parent_span_id: parent
            .map(|p| (p + 1).to_be_bytes().to_vec())
            .unwrap_or_default(),
        name: if parent.is_none() {
            "research_agent".into()
        } else {
            "chat gpt-4o".into()
        },
        kind: 3,
        start_time_unix_nano: now,
        end_time_unix_nano: now + 850_000_000,
        attributes: vec![
            kv(
                "gen_ai.operation.name",
                text(if parent.is_none() {
                    "invoke_agent"
                } else {
                    "chat"
                }),
            ),
            kv("gen_ai.provider.name", text("openai")),
            kv("gen_ai.request.model", text("gpt-4o")),
            kv("gen_ai.response.model", text("gpt-4o-2024-08-06")),
            kv("gen_ai.usage.input_tokens", any_value::Value::IntValue(812)),
            kv(
                "gen_ai.usage.output_tokens",
                any_value::Value::IntValue(120),
            ),
            kv(
                "gen_ai.conversation.id",
                text(&format!("session-{}", trace % 1000)),
            ),
            kv("agentstack.input", text(&prompt)),
            kv("agentstack.output", text(&answer)),
        ],
        ..Default::default()
    }
}

/// Request `n` of the run: 64 spans, 8 traces of 8 spans, ids unique across the run.
pub fn request(n: u64) -> Vec<u8> {
    let spans = (0..BATCH as u64)
        .map(|i| {
            let span = n * BATCH as u64 + i;
            let trace = span / 8;
            let parent = (!span.is_multiple_of(8)).then_some(trace * 8);
            llm_span(trace, span, parent)
        })
        .collect();
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", text("load"))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(&request.encode_to_vec()).unwrap();
    gz.finish().unwrap()
}

pub fn post(agent: &ureq::Agent, url: &str, body: &[u8]) -> u16 {
    match agent
        .post(url)
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .send(body)
    {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}
