//! The REST API of `agentstack serve`, end to end: the real binary, spans posted over OTLP/HTTP
//! (and exported by the real SDK), read back with real HTTP requests to `/api/v1/…`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use serde_json::Value;

mod support;

use support::Server;
use support::otlp::{failed, kv, kv_int, with};

/// The start of the hand-built traces, 2023-11-14T22:13:20Z.
const T0: u64 = 1_700_000_000_000_000_000;
const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;

/// Trace id `n` in hex.
fn tid(n: u8) -> String {
    format!("{:030x}{n:02x}", 0xabu8)
}

fn trace_bytes(n: u8) -> Vec<u8> {
    let mut id = vec![0u8; 16];
    id[14] = 0xab;
    id[15] = n;
    id
}

/// Span `id` of trace `n`.
fn span(n: u8, id: u8, parent: Option<u8>, name: &str, start: u64, millis: u64) -> Span {
    Span {
        trace_id: trace_bytes(n),
        span_id: vec![0, 0, 0, 0, 0, 0, n, id],
        parent_span_id: parent.map_or_else(Vec::new, |p| vec![0, 0, 0, 0, 0, 0, n, p]),
        name: name.into(),
        kind: 1,
        start_time_unix_nano: start,
        end_time_unix_nano: start + millis * MS,
        ..Default::default()
    }
}

fn resource_spans(service: &str, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", service)],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The hand-built set:
/// - 1 "Research agent" (svc-a), T0, 2000 ms: agent root (session sess-1, user user-1) with an
///   llm child (gpt-4o, 100/20 tokens, input `{"prompt":"Hello World"}`), 500 ms
/// - 2 "search tool" (svc-b), T0+10s, 100 ms: one tool span, error, user user-2, output
///   `"50% off_sale"`
/// - 3 "plan" (svc-a), T0+20s, 1000 ms: one chain span, session sess-2, model claude-3, 10/5
///   tokens, input `{"sql":"' OR 1=1 --"}`, output `"\"; DROP TABLE spans; --"`
/// - 4 "odd 100%_done" (svc-c), T0+90s, 50 ms: one span without a kind
fn hand_built() -> ExportTraceServiceRequest {
    let agent = with(
        span(1, 1, None, "Research agent", T0, 2000),
        vec![
            kv("agentstack.span.kind", "agent"),
            kv("gen_ai.conversation.id", "sess-1"),
            kv("user.id", "user-1"),
        ],
    );
    let llm = with(
        span(1, 2, Some(1), "chat gpt-4o", T0 + 100 * MS, 500),
        vec![
            kv("agentstack.span.kind", "llm"),
            kv("gen_ai.provider.name", "openai"),
            kv("gen_ai.request.model", "gpt-4o"),
            kv_int("gen_ai.usage.input_tokens", 100),
            kv_int("gen_ai.usage.output_tokens", 20),
            kv("agentstack.input", r#"{"prompt":"Hello World"}"#),
        ],
    );
    let tool = failed(
        with(
            span(2, 1, None, "search tool", T0 + 10 * S, 100),
            vec![
                kv("agentstack.span.kind", "tool"),
                kv("user.id", "user-2"),
                kv("agentstack.output", r#""50% off_sale""#),
            ],
        ),
        "index offline",
    );
    let chain = with(
        span(3, 1, None, "plan", T0 + 20 * S, 1000),
        vec![
            kv("agentstack.span.kind", "chain"),
            kv("gen_ai.conversation.id", "sess-2"),
            kv("gen_ai.request.model", "claude-3"),
            kv_int("gen_ai.usage.input_tokens", 10),
            kv_int("gen_ai.usage.output_tokens", 5),
            kv("agentstack.input", r#"{"sql":"' OR 1=1 --"}"#),
            kv("agentstack.output", r#""\"; DROP TABLE spans; --""#),
        ],
    );
    let odd = span(4, 1, None, "odd 100%_done", T0 + 90 * S, 50);
    ExportTraceServiceRequest {
        resource_spans: vec![
            resource_spans("svc-a", vec![agent, llm, chain]),
            resource_spans("svc-b", vec![tool]),
            resource_spans("svc-c", vec![odd]),
        ],
    }
}

/// A server holding [`hand_built`] (5 spans).
fn server_with_hand_built() -> Server {
    let server = Server::start(&[]);
    let answer = server.post(
        "application/x-protobuf",
        None,
        &hand_built().encode_to_vec(),
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    server.store_with(5);
    server
}

/// The trace ids of a list answer, as their numbers.
fn listed(server: &Server, query: &str) -> Vec<u8> {
    let (status, body) = server.get_json(&format!("/api/v1/traces{query}"));
    assert_eq!(status, 200, "{query}: {body}");
    body["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let id = t["trace_id"].as_str().unwrap();
            u8::from_str_radix(&id[30..], 16).unwrap()
        })
        .collect()
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A 400 naming `parameter`.
fn refused(server: &Server, path: &str, parameter: &str) -> String {
    let (status, body) = server.get_json(path);
    assert_eq!(status, 400, "{path}: {body}");
    assert_eq!(body["error"]["status"], 400, "{body}");
    assert_eq!(body["error"]["parameter"], parameter, "{path}: {body}");
    let message = body["error"]["message"].as_str().unwrap().to_string();
    assert!(message.len() > 20, "{message}");
    message
}

#[test]
fn the_list_filters_and_each_filter_excludes() {
    let server = server_with_hand_built();
    assert!(server.stdout.lock().unwrap().iter().any(|line| {
        line.contains("API listening on http://127.0.0.1:") && line.ends_with("/api/v1")
    }));
    assert_eq!(listed(&server, ""), [4, 3, 2, 1], "newest first");
    let (_, body) = server.get_json("/api/v1/traces?limit=10");
    let first = &body["traces"][3];
    assert_eq!(first["trace_id"], tid(1));
    assert_eq!(first["root_name"], "Research agent");
    assert_eq!(first["service_name"], "svc-a");
    assert_eq!(first["span_count"], 2);
    assert_eq!(first["input_tokens"], 100);
    assert_eq!(first["duration_ms"], 2000.0);
    assert_eq!(first["start_time"], "2023-11-14T22:13:20Z");
    assert_eq!(body["traces"][2]["status"], "error");
    assert_eq!(body["next_cursor"], Value::Null);

    let cases: &[(&str, &[u8])] = &[
        ("since=1700000010000000000", &[4, 3, 2]),
        ("since=2023-11-14T22:13:30Z", &[4, 3, 2]),
        ("until=2023-11-14T22:13:30Z", &[1]),
        (
            "since=2023-11-14T23:13:35%2B01:00&until=1700000090000000000",
            &[3],
        ),
        ("service=svc-a", &[3, 1]),
        ("service=svc-z", &[]),
        ("name=research", &[1]),
        ("name=RESEARCH+AGENT", &[1]),
        ("name=nothing", &[]),
        ("status=error", &[2]),
        ("status=ok", &[4, 3, 1]),
        ("kind=llm", &[1]),
        ("kind=tool", &[2]),
        ("kind=guardrail", &[]),
        ("model=gpt-4o", &[1]),
        ("model=claude-3", &[3]),
        ("model=gpt", &[]),
        ("session=sess-1", &[1]),
        ("session=sess-9", &[]),
        ("user=user-2", &[2]),
        ("user=user-9", &[]),
        ("min_duration_ms=1000", &[3, 1]),
        ("min_duration_ms=5000", &[]),
        ("q=hello+world", &[1]),
        ("q=OFF_SALE", &[2]),
        ("q=absent", &[]),
        ("kind=agent&model=gpt-4o&service=svc-a", &[1]),
        ("kind=chain&model=gpt-4o", &[]),
        ("name=", &[4, 3, 2, 1]),
    ];
    for (query, expected) in cases {
        assert_eq!(listed(&server, &format!("?{query}")), *expected, "{query}");
    }
}

#[test]
fn sql_metacharacters_match_literally_and_the_table_survives() {
    let server = server_with_hand_built();
    let nasty = ["' OR 1=1 --", "%", "_", "\"; DROP TABLE spans; --"];
    for text in nasty {
        let value = encode(text);
        // Exact-match filters: nothing has these values.
        for filter in ["service", "kind", "model", "session", "user"] {
            assert_eq!(
                listed(&server, &format!("?{filter}={value}")),
                Vec::<u8>::new(),
                "{filter}={text}"
            );
        }
        // Substring filters: only what holds the text literally.
        let name: &[u8] = if text == "%" || text == "_" {
            &[4]
        } else {
            &[]
        };
        assert_eq!(
            listed(&server, &format!("?name={value}")),
            name,
            "name={text}"
        );
        let q: &[u8] = match text {
            "%" | "_" => &[2],
            _ => &[3],
        };
        assert_eq!(listed(&server, &format!("?q={value}")), q, "q={text}");
    }
    assert_eq!(
        listed(&server, "?q=%25_"),
        Vec::<u8>::new(),
        "no wildcard: %_"
    );
    assert_eq!(listed(&server, "?q=50%25+off_"), [2]);
    assert_eq!(listed(&server, ""), [4, 3, 2, 1], "the table survives");
    let (status, _) = server.get_json(&format!("/api/v1/traces/{}", tid(1)));
    assert_eq!(status, 200);
    assert_eq!(server.store_with(5).span_count().unwrap(), 5);
}

#[test]
fn pages_follow_next_cursor_and_return_every_trace_once() {
    let server = Server::start(&[]);
    // Seven traces of service "pager", two of them starting at the same instant.
    let spans: Vec<Span> = (10..17u8)
        .map(|n| {
            let start = if n == 13 {
                T0 + 12 * S
            } else {
                T0 + u64::from(n) * S
            };
            span(n, 1, None, &format!("page trace {n}"), start, 10)
        })
        .collect();
    let request = ExportTraceServiceRequest {
        resource_spans: vec![
            resource_spans("pager", spans),
            resource_spans("other", vec![span(30, 1, None, "other", T0 + 11 * S, 10)]),
        ],
    };
    let answer = server.post("application/x-protobuf", None, &request.encode_to_vec());
    assert_eq!(answer.status, 200, "{}", answer.text());
    server.store_with(8);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/api/v1/traces?service=pager&limit=3".to_string();
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={}", encode(cursor)));
        }
        let (status, body) = server.get_json(&path);
        assert_eq!(status, 200, "{body}");
        pages += 1;
        let traces = body["traces"].as_array().unwrap();
        assert!(traces.len() <= 3);
        seen.extend(
            traces
                .iter()
                .map(|t| t["trace_id"].as_str().unwrap().to_string()),
        );
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
        assert!(pages < 10, "the pages never end");
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = [16, 15, 14, 13, 12, 11, 10].map(tid).to_vec();
    assert_eq!(seen.len(), 7);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 7, "each once");
    // 13 and 12 start together: the trace id breaks the tie, newest (greatest) first.
    let mut by_order = expected.clone();
    by_order.swap(3, 4);
    assert!(seen == expected || seen == by_order, "{seen:?}");
    refused(&server, "/api/v1/traces?cursor=not-a-cursor", "cursor");
}

#[test]
fn one_trace_comes_as_a_tree_with_totals() {
    let server = Server::start(&[]);
    // 1 ─┬─ 2 (llm, 100/20) ── 4 (tool, error)
    //    └─ 3 (tool, 5/1), starts after 2
    let root = with(
        span(7, 1, None, "agent", T0, 3000),
        vec![kv("agentstack.span.kind", "agent")],
    );
    let first = with(
        span(7, 2, Some(1), "first", T0 + 100 * MS, 1000),
        vec![
            kv("agentstack.span.kind", "llm"),
            kv_int("gen_ai.usage.input_tokens", 100),
            kv_int("gen_ai.usage.output_tokens", 20),
            kv("agentstack.input", r#"{"prompt":"hi"}"#),
        ],
    );
    let second = with(
        span(7, 3, Some(1), "second", T0 + 2000 * MS, 500),
        vec![
            kv_int("gen_ai.usage.input_tokens", 5),
            kv_int("gen_ai.usage.output_tokens", 1),
        ],
    );
    let nested = failed(span(7, 4, Some(2), "nested", T0 + 200 * MS, 100), "boom");
    // Sent children first, out of order.
    let request = ExportTraceServiceRequest {
        resource_spans: vec![resource_spans("tree", vec![second, nested, first, root])],
    };
    assert_eq!(
        server
            .post("application/x-protobuf", None, &request.encode_to_vec())
            .status,
        200
    );
    server.store_with(4);
    let (status, body) = server.get_json(&format!("/api/v1/traces/{}", tid(7)));
    assert_eq!(status, 200, "{body}");
    let order: Vec<(&str, u64, u64)> = body["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap(),
                s["depth"].as_u64().unwrap(),
                s["children"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            ("agent", 0, 2),
            ("first", 1, 1),
            ("nested", 2, 0),
            ("second", 1, 0)
        ]
    );
    assert_eq!(body["trace_id"], tid(7));
    assert_eq!(body["root_name"], "agent");
    let totals = &body["totals"];
    assert_eq!(totals["span_count"], 4);
    assert_eq!(totals["duration_ms"], 3000.0);
    assert_eq!(totals["input_tokens"], 105);
    assert_eq!(totals["output_tokens"], 21);
    assert_eq!(totals["error_count"], 1);
    let nested = &body["spans"][2];
    assert_eq!(nested["status"], "error");
    assert_eq!(nested["status_message"], "boom");
    assert_eq!(nested["parent_span_id"], body["spans"][1]["span_id"]);
    assert_eq!(body["spans"][1]["input"]["prompt"], "hi", "input is JSON");
    assert_eq!(body["spans"][1]["kind"], "llm");
    // A prefix of the id works too.
    let (status, again) = server.get_json(&format!("/api/v1/traces/{}", &tid(7)[..12]));
    assert_eq!(status, 200);
    assert_eq!(again["trace_id"], tid(7));
}

#[test]
fn refusals_are_json_that_names_the_parameter() {
    let server = server_with_hand_built();
    let (status, body) = server.get_json(&format!("/api/v1/traces/{}", tid(99)));
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["status"], 404);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&tid(99))
    );
    refused(&server, "/api/v1/traces/not-hex-at-all", "trace_id");
    refused(&server, "/api/v1/traces/abc", "trace_id");
    refused(&server, &format!("/api/v1/traces/{}0", tid(1)), "trace_id");
    let message = refused(&server, "/api/v1/traces?limt=5", "limt");
    assert!(message.contains("limit"), "lists the known ones: {message}");
    refused(&server, "/api/v1/traces?servce=svc-a", "servce");
    refused(&server, &format!("/api/v1/traces/{}?io=1", tid(1)), "io");
    refused(&server, "/api/v1/stats?bukket=1h", "bukket");
    let message = refused(&server, "/api/v1/traces?limit=1001", "limit");
    assert!(message.contains("1000"), "{message}");
    refused(&server, "/api/v1/traces?limit=0", "limit");
    refused(&server, "/api/v1/traces?limit=ten", "limit");
    assert_eq!(listed(&server, "?limit=1000").len(), 4);
    assert_eq!(listed(&server, "?limit=1"), [4]);
    refused(&server, "/api/v1/traces?status=failed", "status");
    refused(&server, "/api/v1/traces?since=yesterday", "since");
    refused(&server, "/api/v1/traces?until=12:00", "until");
    refused(
        &server,
        "/api/v1/traces?min_duration_ms=-1",
        "min_duration_ms",
    );
    refused(&server, "/api/v1/traces?limit=1&limit=2", "limit");
    refused(&server, "/api/v1/stats?bucket=2h", "bucket");
    let (status, body) = server.get_json("/api/v1/nothing");
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/api/v1/traces")
    );
}

#[test]
fn stats_of_a_hand_built_set() {
    let server = server_with_hand_built();
    let (status, body) = server.get_json("/api/v1/stats?bucket=1m");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["span_count"], 5);
    assert_eq!(body["trace_count"], 4);
    assert_eq!(body["error_span_count"], 1);
    assert_eq!(body["error_trace_count"], 1);
    assert_eq!(body["error_rate"], 0.25);
    // Root durations 50, 100, 1000, 2000 ms; nearest rank.
    assert_eq!(body["root_latency_ms"]["p50"], 100.0);
    assert_eq!(body["root_latency_ms"]["p95"], 2000.0);
    assert_eq!(body["root_latency_ms"]["p99"], 2000.0);
    assert_eq!(body["input_tokens"], 110);
    assert_eq!(body["output_tokens"], 25);
    assert_eq!(body["bucket"], "1m");
    let buckets: Vec<(String, i64, i64, i64)> = body["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["start_time"].as_str().unwrap().to_string(),
                b["span_count"].as_i64().unwrap(),
                b["input_tokens"].as_i64().unwrap(),
                b["output_tokens"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        buckets,
        [
            ("2023-11-14T22:13:00Z".to_string(), 4, 110, 25),
            ("2023-11-14T22:14:00Z".to_string(), 1, 0, 0),
        ]
    );
    // The default bucket is an hour: one bucket here.
    let (_, hourly) = server.get_json("/api/v1/stats");
    assert_eq!(hourly["bucket"], "1h");
    assert_eq!(hourly["buckets"].as_array().unwrap().len(), 1);
    assert_eq!(hourly["buckets"][0]["start_time"], "2023-11-14T22:00:00Z");
    // A window: traces 2 and 3 only.
    let (_, window) =
        server.get_json("/api/v1/stats?since=2023-11-14T22:13:30Z&until=1700000060000000000");
    assert_eq!(window["span_count"], 2);
    assert_eq!(window["trace_count"], 2);
    assert_eq!(window["error_rate"], 0.5);
    assert_eq!(window["input_tokens"], 10);
    assert_eq!(window["root_latency_ms"]["p50"], 100.0);
    assert_eq!(window["root_latency_ms"]["p99"], 1000.0);
    // An empty window.
    let (_, empty) = server.get_json("/api/v1/stats?until=1");
    assert_eq!(empty["span_count"], 0);
    assert_eq!(empty["error_rate"], 0.0);
    assert_eq!(empty["root_latency_ms"], Value::Null);
}

#[test]
fn the_openapi_document_is_served_and_lists_every_route() {
    let server = Server::start(&[]);
    let (status, document) = server.get_json("/api/openapi.json");
    assert_eq!(status, 200);
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    for route in agentstack_server::api::ROUTES {
        let operation = &paths[*route]["get"];
        assert!(operation.is_object(), "{route} is missing");
        // The WebSockets answer their upgrade with 101, every other route with 200.
        let success = if route.starts_with("/ws/") {
            "101"
        } else {
            "200"
        };
        assert!(operation["responses"][success].is_object(), "{route}");
    }
    let list = &paths["/api/v1/traces"]["get"]["parameters"];
    let names: HashSet<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in [
        "since",
        "until",
        "service",
        "name",
        "status",
        "kind",
        "model",
        "session",
        "user",
        "min_duration_ms",
        "q",
        "limit",
        "cursor",
    ] {
        assert!(names.contains(name), "{name} is not documented");
    }
    // Every $ref points at a schema that exists.
    let schemas = document["components"]["schemas"].as_object().unwrap();
    let text = document.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "{name}");
    }
}

#[test]
fn without_api_keys_the_api_refuses_a_non_loopback_address() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_agentstack"))
        .args([
            "serve",
            "--otlp-http",
            "127.0.0.1:0",
            "--api",
            "0.0.0.0:0",
            "--db",
        ])
        .arg(dir.path().join("server.db"))
        .env_remove("AGENTSTACK_API_ADDR")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--api 0.0.0.0:0 is not a loopback address"),
        "{stderr}"
    );
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

#[test]
fn an_sdk_agent_run_reads_back_through_the_api() {
    let server = Server::start(&[]);
    let spool = tempfile::tempdir().unwrap();
    let guard = agentstack::builder()
        .endpoint(&server.base)
        .spool_path(spool.path().join("spool.db"))
        .service_name("e2e-agent")
        .init()
        .unwrap();
    assert_eq!(
        sdk_agent::research("what is OTLP?"),
        "answer to what is OTLP?"
    );
    drop(guard);
    server.store_with(3);

    // The list finds it; then the detail.
    let deadline = Instant::now() + Duration::from_secs(10);
    let trace_id = loop {
        let (_, body) = server.get_json("/api/v1/traces?service=e2e-agent&kind=llm&model=gpt-4o");
        if let Some(id) = body["traces"][0]["trace_id"].as_str() {
            assert_eq!(body["traces"][0]["span_count"], 3);
            assert_eq!(body["traces"][0]["status"], "error");
            break id.to_string();
        }
        assert!(Instant::now() < deadline, "{body}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let (status, trace) = server.get_json(&format!("/api/v1/traces/{trace_id}"));
    assert_eq!(status, 200, "{trace}");
    let spans = trace["spans"].as_array().unwrap();
    let kinds: Vec<&str> = spans.iter().map(|s| s["kind"].as_str().unwrap()).collect();
    // The tool ran before the model call: siblings by start time.
    assert_eq!(kinds, ["agent", "tool", "llm"]);
    let depths: Vec<u64> = spans.iter().map(|s| s["depth"].as_u64().unwrap()).collect();
    assert_eq!(depths, [0, 1, 1]);
    assert_eq!(spans[0]["children"], 2);
    let (agent, tool, llm) = (&spans[0], &spans[1], &spans[2]);
    assert!(agent["name"].as_str().unwrap().ends_with("research"));
    assert_eq!(agent["parent_span_id"], Value::Null);
    assert_eq!(agent["session_id"], "conversation-42");
    assert_eq!(agent["input"]["question"], "what is OTLP?", "{agent}");
    for child in [tool, llm] {
        assert_eq!(child["parent_span_id"], agent["span_id"]);
        assert_eq!(child["service_name"], "e2e-agent");
    }
    assert_eq!(tool["status"], "error");
    assert!(
        tool["status_message"]
            .as_str()
            .unwrap()
            .contains("index offline"),
        "{tool}"
    );
    assert_eq!(llm["provider"], "openai");
    assert_eq!(llm["model"], "gpt-4o");
    assert_eq!(llm["input_tokens"], 120);
    assert_eq!(llm["output_tokens"], 30);
    assert_eq!(llm["cache_read_input_tokens"], 100);
    assert_eq!(llm["output"], "answer to what is OTLP?");
    let totals = &trace["totals"];
    assert_eq!(totals["span_count"], 3);
    assert_eq!(totals["input_tokens"], 120);
    assert_eq!(totals["output_tokens"], 30);
    assert_eq!(totals["error_count"], 1);
    // And the text search finds it by what the model answered.
    let (_, found) = server.get_json("/api/v1/traces?q=ANSWER+TO+what");
    assert_eq!(found["traces"][0]["trace_id"], trace_id.as_str());
}
