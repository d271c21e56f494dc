//! `GET /api/v1/traces/{trace_id}/conversation` end to end, without Python: linked spans posted
//! over OTLP/HTTP to the real `agentstack serve`, their links indexed by the writer, the
//! conversation read back through the API, scoped to the key's project. The real producer of
//! such runs (AutoGen's built-in tracing) is in python_clients.rs.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::span::Link;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use serde_json::Value;

mod support;

use support::{Server, create_key, db_in, request};

const T0: u64 = 1_700_000_000_000_000_000;
const S: u64 = 1_000_000_000;

/// Trace `n`: its number first, so that its first 8 hex characters pick it.
fn trace_bytes(n: u8) -> Vec<u8> {
    let mut id = vec![0u8; 16];
    id[0] = n;
    id[1] = 0xc0;
    id
}

fn tid(n: u8) -> String {
    format!("{n:02x}c0{:028x}", 0)
}

/// The root of trace `n`, started `n` seconds after T0 unless `start` says otherwise, linked to
/// the roots of `links`.
fn root(n: u8, start: u64, links: &[u8]) -> Span {
    Span {
        trace_id: trace_bytes(n),
        span_id: vec![0, 0, 0, 0, 0, 0, 0, n],
        name: format!("autogen publish {n}"),
        kind: 4,
        start_time_unix_nano: T0 + start * S,
        end_time_unix_nano: T0 + start * S + 1_000_000,
        links: links
            .iter()
            .map(|l| Link {
                trace_id: trace_bytes(*l),
                span_id: vec![0, 0, 0, 0, 0, 0, 0, *l],
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn body(spans: Vec<Span>) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn post(server: &Server, key: &str, spans: Vec<Span>) {
    let answer = request(
        "POST",
        &server.traces_url(),
        &[("x-agentstack-api-key", key)],
        Some(("application/x-protobuf", &body(spans))),
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
}

fn get(server: &Server, path: &str, key: &str) -> (u16, Value) {
    let answer = request(
        "GET",
        &format!("{}{path}", server.api),
        &[("x-agentstack-api-key", key)],
        None,
    );
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    (answer.status, serde_json::from_slice(&answer.body).unwrap())
}

fn member_ids(body: &Value) -> Vec<String> {
    body["traces"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn linked_traces_come_back_as_one_conversation_of_their_project() {
    let dir = tempfile::tempdir().unwrap();
    let alpha = create_key(&db_in(&dir), "alpha");
    let beta = create_key(&db_in(&dir), "beta");
    let server = Server::start_in(dir, &[]);
    // alpha: 1 ← 2 ← 3 and 4 → 2 (4 starts first), 5 alone; 3 arrives before what it links to.
    post(&server, &alpha, vec![root(3, 3, &[2])]);
    post(
        &server,
        &alpha,
        vec![
            root(1, 1, &[]),
            root(2, 2, &[1]),
            root(4, 0, &[2]),
            root(5, 5, &[]),
        ],
    );
    // beta: its own 6, linked to alpha's 1 (which beta cannot see).
    post(&server, &beta, vec![root(6, 6, &[1])]);
    server.store_with(6);

    let expected = vec![tid(4), tid(1), tid(2), tid(3)];
    for n in [1, 2, 3, 4] {
        let (status, body) = get(
            &server,
            &format!("/api/v1/traces/{}/conversation", tid(n)),
            &alpha,
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(member_ids(&body), expected, "from trace {n}");
        assert_eq!(body["conversation_id"], tid(4));
        assert_eq!(body["truncated"], false);
        // Each trace as the list shows it.
        assert_eq!(body["traces"][0]["root_name"], "autogen publish 4");
        assert_eq!(body["traces"][0]["span_count"], 1);
        assert_eq!(body["traces"][0]["status"], "ok");
        assert!(
            body["traces"][0]["start_time"]
                .as_str()
                .unwrap()
                .starts_with("2023-11-14T22:13:20")
        );
    }
    let (_, alone) = get(
        &server,
        &format!("/api/v1/traces/{}/conversation", tid(5)),
        &alpha,
    );
    assert_eq!(member_ids(&alone), [tid(5)]);
    // A prefix of the id works as for one trace.
    let (status, body) = get(
        &server,
        &format!("/api/v1/traces/{}/conversation", &tid(3)[..8]),
        &alpha,
    );
    assert_eq!((status, member_ids(&body)), (200, expected.clone()));

    // beta sees its trace alone, and nothing of alpha's.
    let (status, body) = get(
        &server,
        &format!("/api/v1/traces/{}/conversation", tid(6)),
        &beta,
    );
    assert_eq!((status, member_ids(&body)), (200, vec![tid(6)]));
    let (status, body) = get(
        &server,
        &format!("/api/v1/traces/{}/conversation", tid(1)),
        &beta,
    );
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("GET /api/v1/traces")
    );
    // alpha does not see beta's trace either, though it links into alpha's.
    let (status, _) = get(
        &server,
        &format!("/api/v1/traces/{}/conversation", tid(6)),
        &alpha,
    );
    assert_eq!(status, 404);
}

#[test]
fn conversation_refusals_name_the_parameter() {
    let server = Server::start(&[]);
    for (path, parameter) in [
        ("/api/v1/traces/xyz-not-hex/conversation", "trace_id"),
        ("/api/v1/traces/abc/conversation", "trace_id"),
        (
            "/api/v1/traces/0123456789abcdef/conversation?limit=5",
            "limit",
        ),
    ] {
        let (status, body) = server.get_json(path);
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"]["parameter"], parameter, "{path}: {body}");
    }
    let (status, body) = server.get_json(&format!("/api/v1/traces/{}/conversation", tid(1)));
    assert_eq!(status, 404, "{body}");
    let (status, document) = server.get_json("/api/openapi.json");
    assert_eq!(status, 200);
    assert!(document["paths"]["/api/v1/traces/{trace_id}/conversation"]["get"].is_object());
}
