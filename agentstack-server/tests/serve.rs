//! `agentstack serve` end to end: the real binary on a free loopback port with a temporary
//! store, real HTTP requests (and the real SDK), and the spans read back from the SQLite file.

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use agentstack_exporter_sqlite::{SpanRecord, SpanStatus, SqliteSpanStore, TraceFilter};
use flate2::Compression;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::Link;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

mod support;

use support::Server;

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(text: &str) -> any_value::Value {
    any_value::Value::StringValue(text.to_string())
}

/// Trace id `n` as bytes and as hex.
fn trace_id(n: u8) -> (Vec<u8>, String) {
    let mut id = [0xab; 16];
    id[15] = n;
    (id.to_vec(), id.iter().map(|b| format!("{b:02x}")).collect())
}

/// A request with one trace `n`: an agent span and an LLM child, in GenAI conventions, plus
/// (OpenInference) a tool span with an error and a link.
fn request(n: u8) -> ExportTraceServiceRequest {
    let (trace, _) = trace_id(n);
    let agent = Span {
        trace_id: trace.clone(),
        span_id: vec![1, 0, 0, 0, 0, 0, 0, n],
        name: "research".into(),
        kind: 1,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_002_000_000_000,
        attributes: vec![
            kv("gen_ai.operation.name", s("invoke_agent")),
            kv("gen_ai.agent.name", s("research")),
            kv("gen_ai.conversation.id", s("conv-1")),
        ],
        status: Some(Status {
            code: 1,
            ..Default::default()
        }),
        ..Default::default()
    };
    let llm = Span {
        trace_id: trace.clone(),
        span_id: vec![2, 0, 0, 0, 0, 0, 0, n],
        parent_span_id: agent.span_id.clone(),
        name: "chat gpt-4o".into(),
        kind: 3,
        start_time_unix_nano: 1_700_000_000_100_000_000,
        end_time_unix_nano: 1_700_000_001_000_000_000,
        attributes: vec![
            kv("gen_ai.operation.name", s("chat")),
            kv("gen_ai.provider.name", s("openai")),
            kv("gen_ai.request.model", s("gpt-4o")),
            kv("gen_ai.response.model", s("gpt-4o-2024-08-06")),
            kv("gen_ai.usage.input_tokens", any_value::Value::IntValue(120)),
            kv("gen_ai.usage.output_tokens", any_value::Value::IntValue(30)),
        ],
        ..Default::default()
    };
    let tool = Span {
        trace_id: trace.clone(),
        span_id: vec![3, 0, 0, 0, 0, 0, 0, n],
        parent_span_id: agent.span_id.clone(),
        name: "search".into(),
        start_time_unix_nano: 1_700_000_001_000_000_000,
        end_time_unix_nano: 1_700_000_001_500_000_000,
        attributes: vec![
            kv("openinference.span.kind", s("TOOL")),
            kv("tool.name", s("web_search")),
            kv("input.value", s(r#"{"q":"otlp"}"#)),
        ],
        status: Some(Status {
            code: 2,
            message: "index offline".into(),
        }),
        links: vec![Link {
            trace_id: trace_id(200).0,
            span_id: vec![9; 8],
            ..Default::default()
        }],
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", s("support-bot")),
                    kv("telemetry.sdk.language", s("python")),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![agent, llm, tool],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// Checks the three spans of [`request`]`(n)` as the store holds them.
fn check_trace(store: &SqliteSpanStore, n: u8) {
    let (_, hex) = trace_id(n);
    let spans = store.trace(&hex).unwrap();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["research", "chat gpt-4o", "search"], "trace {n}");
    let [agent, llm, tool] = &spans[..] else {
        unreachable!()
    };
    assert!(spans.iter().all(|s| s.project == "default"
        && s.service_name.as_deref() == Some("support-bot")
        && s.trace_id == hex));
    let resource: serde_json::Value = serde_json::from_str(&agent.resource).unwrap();
    assert_eq!(resource["telemetry.sdk.language"], "python");
    assert_eq!(agent.kind.as_deref(), Some("agent"));
    assert_eq!(agent.parent_span_id, None);
    assert_eq!(agent.status, SpanStatus::Ok);
    assert_eq!(agent.session_id.as_deref(), Some("conv-1"));
    assert_eq!(llm.kind.as_deref(), Some("llm"));
    assert_eq!(llm.parent_span_id.as_deref(), Some(agent.span_id.as_str()));
    assert_eq!(llm.provider.as_deref(), Some("openai"));
    assert_eq!(llm.model.as_deref(), Some("gpt-4o-2024-08-06"));
    assert_eq!((llm.input_tokens, llm.output_tokens), (Some(120), Some(30)));
    assert_eq!(tool.kind.as_deref(), Some("tool"));
    assert_eq!(tool.status, SpanStatus::Error);
    assert_eq!(tool.status_message.as_deref(), Some("index offline"));
    assert_eq!(tool.input.as_deref(), Some(r#"{"q":"otlp"}"#));
    let links: serde_json::Value = serde_json::from_str(&tool.links).unwrap();
    assert_eq!(links[0]["trace_id"], trace_id(200).1);
    assert_eq!(links[0]["span_id"], "0909090909090909");
    assert_eq!(agent.links, "[]");
}

/// OTLP/JSON of [`request`]`(n)`, written by hand as the OTLP/JSON spec shows it (hex ids,
/// camelCase, int64 as strings), not by the serializer under test.
fn json_request(n: u8) -> String {
    let (_, trace) = trace_id(n);
    let id = |first: u8| format!("{first:02x}000000000000{n:02x}");
    let (agent, llm, tool) = (id(1), id(2), id(3));
    let link_trace = trace_id(200).1;
    format!(
        r#"{{"resourceSpans":[{{
          "resource":{{"attributes":[
            {{"key":"service.name","value":{{"stringValue":"support-bot"}}}},
            {{"key":"telemetry.sdk.language","value":{{"stringValue":"python"}}}}]}},
          "scopeSpans":[{{"scope":{{"name":"manual"}},"spans":[
            {{"traceId":"{trace}","spanId":"{agent}","parentSpanId":"","name":"research","kind":1,
              "startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000002000000000",
              "attributes":[
                {{"key":"gen_ai.operation.name","value":{{"stringValue":"invoke_agent"}}}},
                {{"key":"gen_ai.conversation.id","value":{{"stringValue":"conv-1"}}}}],
              "status":{{"code":1}}}},
            {{"traceId":"{trace}","spanId":"{llm}","parentSpanId":"{agent}","name":"chat gpt-4o",
              "kind":3,"startTimeUnixNano":"1700000000100000000",
              "endTimeUnixNano":"1700000001000000000",
              "attributes":[
                {{"key":"gen_ai.operation.name","value":{{"stringValue":"chat"}}}},
                {{"key":"gen_ai.provider.name","value":{{"stringValue":"openai"}}}},
                {{"key":"gen_ai.response.model","value":{{"stringValue":"gpt-4o-2024-08-06"}}}},
                {{"key":"gen_ai.usage.input_tokens","value":{{"intValue":"120"}}}},
                {{"key":"gen_ai.usage.output_tokens","value":{{"intValue":30}}}}]}},
            {{"traceId":"{trace}","spanId":"{tool}","parentSpanId":"{agent}","name":"search",
              "startTimeUnixNano":"1700000001000000000","endTimeUnixNano":"1700000001500000000",
              "attributes":[
                {{"key":"openinference.span.kind","value":{{"stringValue":"TOOL"}}}},
                {{"key":"input.value","value":{{"stringValue":"{{\"q\":\"otlp\"}}"}}}}],
              "links":[{{"traceId":"{link_trace}","spanId":"0909090909090909"}}],
              "status":{{"code":2,"message":"index offline"}}}}]}}]}}]}}"#
    )
}

#[test]
fn protobuf_json_and_gzip_requests_are_stored_normalized() {
    let server = Server::start(&[]);
    let out = server.stdout.lock().unwrap().join("\n");
    assert!(
        out.contains(
            "no API keys configured: accepting spans into project `default` (loopback only)"
        ),
        "{out}"
    );
    assert!(out.contains(&server.db.display().to_string()), "{out}");

    let protobuf = server.post(PROTOBUF, None, &request(1).encode_to_vec());
    assert_eq!(protobuf.status, 200, "{}", protobuf.text());
    assert_eq!(protobuf.content_type.as_deref(), Some(PROTOBUF));
    let answer = ExportTraceServiceResponse::decode(&protobuf.body[..]).unwrap();
    assert_eq!(answer.partial_success, None);

    let json = server.post(JSON, None, json_request(2).as_bytes());
    assert_eq!(json.status, 200, "{}", json.text());
    assert_eq!(json.content_type.as_deref(), Some(JSON));
    let answer: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
    assert!(
        answer.get("partialSuccess").is_none_or(|p| p.is_null()),
        "{answer}"
    );

    let gzipped = server.post(PROTOBUF, Some("gzip"), &gzip(&request(3).encode_to_vec()));
    assert_eq!(gzipped.status, 200, "{}", gzipped.text());
    let gzipped_json = server.post(JSON, Some("gzip"), &gzip(json_request(4).as_bytes()));
    assert_eq!(gzipped_json.status, 200, "{}", gzipped_json.text());

    let store = server.store_with(12);
    for n in 1..=4 {
        check_trace(&store, n);
    }
    // The viewer's listing (every project) and the default project's see the same four traces.
    let all = store.recent_traces(&TraceFilter::default()).unwrap();
    assert_eq!(all.len(), 4);
    let default = TraceFilter {
        project: Some("default".into()),
        ..Default::default()
    };
    assert_eq!(store.recent_traces(&default).unwrap(), all);
    assert_eq!(all[0].input_tokens, 120);
    assert_eq!(all[0].error_count, 1);

    // The same spans again are not stored twice.
    let again = server.post(PROTOBUF, None, &request(1).encode_to_vec());
    assert_eq!(again.status, 200);
    let marker = server.post(PROTOBUF, None, &request(5).encode_to_vec());
    assert_eq!(marker.status, 200);
    let store = server.store_with(15);
    check_trace(&store, 5);
}

#[test]
fn rejected_spans_come_back_as_partial_success() {
    let server = Server::start(&[]);
    let mut req = request(1);
    let spans = &mut req.resource_spans[0].scope_spans[0].spans;
    spans[2].trace_id = vec![1, 2, 3];
    let answer = server.post(PROTOBUF, None, &req.encode_to_vec());
    assert_eq!(answer.status, 200, "{}", answer.text());
    let partial = ExportTraceServiceResponse::decode(&answer.body[..])
        .unwrap()
        .partial_success
        .unwrap();
    assert_eq!(partial.rejected_spans, 1);
    assert!(
        partial
            .error_message
            .contains("span 2: trace_id is 3 bytes"),
        "{}",
        partial.error_message
    );

    let json = json_request(2).replace(&trace_id(2).1, "00");
    let answer = server.post(JSON, None, json.as_bytes());
    assert_eq!(answer.status, 200, "{}", answer.text());
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(
        body["partialSuccess"]["rejectedSpans"].as_i64(),
        Some(3),
        "{body}"
    );
    assert!(
        body["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("3 of 3 spans rejected")
    );
    let store = server.store_with(2);
    assert_eq!(store.trace(&trace_id(1).1).unwrap().len(), 2);
}

#[test]
fn bad_requests_are_refused_with_a_reason_and_nothing_is_lost() {
    const MAX_BODY: usize = 64 * 1024;
    const MAX_DECOMPRESSED: usize = 1024 * 1024;
    let server = Server::start(&[
        "--max-body-bytes",
        &MAX_BODY.to_string(),
        "--max-decompressed-bytes",
        &MAX_DECOMPRESSED.to_string(),
    ]);
    let mut sent = 0u8;
    let mut good = |server: &Server| {
        sent += 1;
        let answer = server.post(PROTOBUF, None, &request(sent).encode_to_vec());
        assert_eq!(answer.status, 200, "{}", answer.text());
    };

    let body = request(100).encode_to_vec();
    let truncated = server.post(PROTOBUF, None, &body[..body.len() - 7]);
    assert_eq!(truncated.status, 400);
    assert!(
        truncated
            .text()
            .contains("the body is not a valid OTLP ExportTraceServiceRequest protobuf: "),
        "{}",
        truncated.text()
    );
    good(&server);

    let bad_json = server.post(JSON, None, b"{\"resourceSpans\": [");
    assert_eq!(bad_json.status, 400);
    assert!(
        bad_json
            .text()
            .contains("not a valid OTLP/JSON ExportTraceServiceRequest"),
        "{}",
        bad_json.text()
    );
    good(&server);

    let text = server.post("text/plain", None, &body);
    assert_eq!(text.status, 415);
    assert!(
        text.text()
            .contains("application/x-protobuf or application/json"),
        "{}",
        text.text()
    );
    good(&server);

    let brotli = server.post(PROTOBUF, Some("br"), &body);
    assert_eq!(brotli.status, 415);
    assert!(
        brotli.text().contains("Content-Encoding"),
        "{}",
        brotli.text()
    );
    good(&server);

    let not_gzip = server.post(PROTOBUF, Some("gzip"), &body);
    assert_eq!(not_gzip.status, 400);
    assert!(
        not_gzip.text().contains("not valid gzip"),
        "{}",
        not_gzip.text()
    );
    good(&server);

    let oversized = server.post(PROTOBUF, None, &vec![0x0a; MAX_BODY + 1]);
    assert_eq!(oversized.status, 413);
    assert!(
        oversized
            .text()
            .contains(&format!("larger than {MAX_BODY} bytes")),
        "{}",
        oversized.text()
    );
    good(&server);

    // 100 MiB of zeros, about 100 KB gzipped: over the body limit as sent.
    let bomb = gzip(&vec![0; 100 * 1024 * 1024]);
    assert!(
        bomb.len() > MAX_BODY && bomb.len() < 200 * 1024,
        "{}",
        bomb.len()
    );
    assert_eq!(server.post(PROTOBUF, Some("gzip"), &bomb).status, 413);
    good(&server);
    // 40 MiB of zeros in 40 KB: under the body limit, far over the decompressed one.
    let before = server.peak_rss();
    let bomb = gzip(&vec![0; 40 * 1024 * 1024]);
    assert!(bomb.len() < MAX_BODY, "{}", bomb.len());
    let refused = server.post(PROTOBUF, Some("gzip"), &bomb);
    assert_eq!(refused.status, 413);
    assert!(
        refused.text().contains(&format!(
            "decompresses to more than {MAX_DECOMPRESSED} bytes"
        )),
        "{}",
        refused.text()
    );
    let grown = server.peak_rss().saturating_sub(before);
    assert!(
        grown < 16 * 1024 * 1024,
        "the server's peak memory grew by {grown} bytes on a 40 MiB gzip bomb"
    );
    good(&server);

    let store = server.store_with(i64::from(sent) * 3);
    for n in 1..=sent {
        check_trace(&store, n);
    }
}

#[test]
fn a_full_bus_answers_503_with_retry_after_and_keeps_what_it_accepted() {
    let server = Server::start(&["--bus-capacity", "1"]);
    // Hold SQLite's write lock so the writer cannot drain the bus.
    let blocker = rusqlite::Connection::open(&server.db).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut accepted = 0u8;
    let mut busy = None;
    for n in 1..=20 {
        let answer = server.post(PROTOBUF, None, &request(n).encode_to_vec());
        match answer.status {
            200 => accepted = n,
            503 => {
                busy = Some(answer);
                break;
            }
            other => panic!("unexpected {other}: {}", answer.text()),
        }
    }
    let busy = busy.expect("the bus never filled up");
    assert_eq!(busy.retry_after.as_deref(), Some("1"));
    assert!(busy.text().contains("span bus is full"), "{}", busy.text());
    assert!(accepted >= 1);
    // While it is full, a request is refused before its body is decoded: even a malformed one
    // gets the 503 (its sender retries it, and hears the 400 once there is room).
    let undecoded = server.post(PROTOBUF, None, b"\x0a\xff\xff\xff");
    assert_eq!(undecoded.status, 503, "{}", undecoded.text());
    blocker.execute_batch("ROLLBACK").unwrap();
    drop(blocker);
    // Once the store is free again, everything accepted arrives, and requests go through.
    let store = server.store_with(i64::from(accepted) * 3);
    for n in 1..=accepted {
        check_trace(&store, n);
    }
    let after = server.post(PROTOBUF, None, &request(100).encode_to_vec());
    assert_eq!(after.status, 200, "{}", after.text());
    server.store_with(i64::from(accepted) * 3 + 3);
}

#[test]
fn sigterm_drains_the_bus_into_the_store() {
    let mut server = Server::start(&[]);
    // Many requests of many spans while SQLite's write lock is held, so they wait in the bus;
    // then SIGTERM: the server must store every accepted span before it exits.
    let blocker = rusqlite::Connection::open(&server.db).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut accepted = 0;
    for n in 0..40u8 {
        let mut req = request(n);
        let spans = &mut req.resource_spans[0].scope_spans[0].spans;
        let template = spans[1].clone();
        for i in 0..200u16 {
            let mut span = template.clone();
            span.span_id = vec![4, 0, 0, 0, (i >> 8) as u8, i as u8, 0, n];
            spans.push(span);
        }
        let answer = server.post(PROTOBUF, Some("gzip"), &gzip(&req.encode_to_vec()));
        assert_eq!(answer.status, 200, "{}", answer.text());
        accepted += 203;
    }
    server.sigterm();
    std::thread::sleep(Duration::from_millis(500));
    assert!(server.running(), "serve exited before draining the bus");
    blocker.execute_batch("ROLLBACK").unwrap();
    drop(blocker);
    assert!(server.wait_exit(), "serve exited with a failure");
    let store = SqliteSpanStore::open(&server.db).unwrap();
    assert_eq!(store.span_count().unwrap(), accepted);
    let out = server.stdout.lock().unwrap().join("\n");
    assert!(
        out.contains(&format!("stored {accepted} new spans from 40 requests")),
        "{out}"
    );
}

#[test]
fn without_api_keys_it_refuses_a_non_loopback_address() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_agentstack"))
        .args(["serve", "--otlp-http", "0.0.0.0:0", "--db"])
        .arg(dir.path().join("server.db"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a loopback address"), "{stderr}");
    assert!(!dir.path().join("server.db").exists());
}

mod sdk_agent {
    use agentstack::{Usage, observe};

    #[observe(kind = tool)]
    pub fn search(query: &str) -> Result<Vec<String>, String> {
        Err(format!("index offline while searching {query}"))
    }

    #[observe(kind = llm)]
    pub fn complete(prompt: &str) -> String {
        agentstack::record_model("openai", "gpt-4o");
        agentstack::record_usage(Usage::new(120, 30).cache_read(100));
        format!("answer to {prompt}")
    }

    #[observe(kind = agent)]
    pub fn research(question: &str) -> String {
        agentstack::set_session("conversation-42");
        let hits = search(question).unwrap_or_default();
        complete(hits.first().map_or(question, String::as_str))
    }
}

/// The one span of `kind`.
fn of_kind<'a>(spans: &'a [SpanRecord], kind: &str) -> &'a SpanRecord {
    let found: Vec<&SpanRecord> = spans
        .iter()
        .filter(|s| s.kind.as_deref() == Some(kind))
        .collect();
    assert_eq!(found.len(), 1, "one {kind} span in {spans:#?}");
    found[0]
}

#[test]
fn the_sdk_exports_an_agent_run_into_the_server_store() {
    let server = Server::start(&[]);
    let spool = tempfile::tempdir().unwrap();
    let guard = agentstack::builder()
        .endpoint(&server.base)
        .spool_path(spool.path().join("spool.db"))
        .service_name("e2e-agent")
        .init()
        .unwrap();
    let answer = sdk_agent::research("what is OTLP?");
    assert_eq!(answer, "answer to what is OTLP?");
    drop(guard);
    let stats = agentstack::stats();
    assert_eq!(
        (stats.exported, stats.failed, stats.spooled),
        (3, 0, 0),
        "{stats:?}"
    );

    let store = server.store_with(3);
    let traces = store.recent_traces(&TraceFilter::default()).unwrap();
    assert_eq!(traces.len(), 1);
    let spans = store.trace(&traces[0].trace_id).unwrap();
    assert_eq!(spans.len(), 3);
    let agent = of_kind(&spans, "agent");
    let tool = of_kind(&spans, "tool");
    let llm = of_kind(&spans, "llm");
    assert!(agent.name.ends_with("research"), "{}", agent.name);
    assert!(tool.name.ends_with("search"), "{}", tool.name);
    assert!(llm.name.ends_with("complete"), "{}", llm.name);
    assert_eq!(agent.parent_span_id, None);
    assert_eq!(agent.session_id.as_deref(), Some("conversation-42"));
    for child in [tool, llm] {
        assert_eq!(
            child.parent_span_id.as_deref(),
            Some(agent.span_id.as_str())
        );
        assert_eq!(child.session_id.as_deref(), Some("conversation-42"));
    }
    assert_eq!(tool.status, SpanStatus::Error);
    assert!(
        tool.status_message
            .as_deref()
            .is_some_and(|m| m.contains("index offline")),
        "{tool:?}"
    );
    assert_eq!(llm.provider.as_deref(), Some("openai"));
    assert_eq!(llm.model.as_deref(), Some("gpt-4o"));
    assert_eq!(llm.input_tokens, Some(120));
    assert_eq!(llm.output_tokens, Some(30));
    assert_eq!(llm.cache_read_input_tokens, Some(100));
    assert!(
        spans
            .iter()
            .all(|s| s.project == "default" && s.service_name.as_deref() == Some("e2e-agent"))
    );
    assert_eq!(traces[0].error_count, 1);
    assert_eq!(traces[0].input_tokens, 120);

    // The viewer reads the server's store.
    let listing = Command::new(env!("CARGO_BIN_EXE_agentstack"))
        .args(["traces", "--color", "never", "--db"])
        .arg(&server.db)
        .output()
        .unwrap();
    assert!(listing.status.success());
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.contains(&traces[0].trace_id[..8]), "{listing}");
    assert!(listing.contains("research"), "{listing}");
}
