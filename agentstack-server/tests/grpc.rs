//! OTLP/gRPC of a running `agentstack serve` (tonic's client of opentelemetry-proto's
//! TraceService): spans sent over gRPC, plain or gzip, come back from the API like OTLP/HTTP's;
//! keys are read from the request metadata; spans with invalid ids are a partial success.

mod support;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use support::otlp::{kv, kv_int, now_nanos, request_of, span_of, trace_hex, with};
use support::{Server, create_key, db_in};
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn client(server: &Server) -> TraceServiceClient<Channel> {
    TraceServiceClient::connect(server.grpc.clone())
        .await
        .expect("the gRPC collector accepts connections")
}

/// An agent trace `n` with one llm child carrying a model and tokens.
fn agent_trace(n: u8) -> ExportTraceServiceRequest {
    let start = now_nanos();
    request_of(
        "grpc-svc",
        vec![
            with(
                span_of(n, 1, None, "grpc agent", start, 40),
                vec![kv("gen_ai.operation.name", "invoke_agent")],
            ),
            with(
                span_of(n, 2, Some(1), "chat gpt-4o", start + 1_000, 20),
                vec![
                    kv("gen_ai.operation.name", "chat"),
                    kv("gen_ai.request.model", "gpt-4o"),
                    kv_int("gen_ai.usage.input_tokens", 12),
                    kv_int("gen_ai.usage.output_tokens", 3),
                ],
            ),
        ],
    )
}

#[test]
fn spans_sent_over_grpc_come_back_from_the_api() {
    let server = Server::start(&[]);
    let runtime = runtime();
    runtime.block_on(async {
        let mut plain = client(&server).await;
        let answer = plain.export(agent_trace(1)).await.unwrap().into_inner();
        assert_eq!(answer.partial_success, None);
        let mut gzip = client(&server)
            .await
            .send_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Gzip);
        gzip.export(agent_trace(2)).await.unwrap();
    });
    server.store_with(4);
    for n in [1, 2] {
        let (status, trace) = server.get_json(&format!("/api/v1/traces/{}", trace_hex(n)));
        assert_eq!(status, 200, "{trace}");
        let spans = trace["spans"].as_array().unwrap();
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0]["name"], "grpc agent");
        assert_eq!(spans[0]["kind"], "agent");
        assert_eq!(spans[1]["parent_span_id"], spans[0]["span_id"]);
        assert_eq!(spans[1]["kind"], "llm");
        assert_eq!(spans[1]["model"], "gpt-4o");
        assert_eq!(spans[1]["input_tokens"], 12);
        assert_eq!(spans[0]["service_name"], "grpc-svc");
    }
}

#[test]
fn a_span_with_an_invalid_id_is_a_partial_success_and_the_rest_is_kept() {
    let server = Server::start(&[]);
    let mut request = agent_trace(3);
    let mut bad = span_of(3, 9, None, "broken", now_nanos(), 1);
    bad.span_id = vec![1, 2, 3];
    request.resource_spans[0].scope_spans[0].spans.push(bad);
    let answer = runtime().block_on(async {
        client(&server)
            .await
            .export(request)
            .await
            .unwrap()
            .into_inner()
    });
    let partial = answer.partial_success.expect("a partial success");
    assert_eq!(partial.rejected_spans, 1);
    assert!(
        partial.error_message.contains("span_id"),
        "{}",
        partial.error_message
    );
    server.store_with(2);
    let (_, trace) = server.get_json(&format!("/api/v1/traces/{}", trace_hex(3)));
    assert_eq!(trace["spans"].as_array().unwrap().len(), 2);
}

#[test]
fn keys_travel_in_the_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let key = create_key(&db, "grpc-team");
    let server = Server::start_in(dir, &[]);
    runtime().block_on(async {
        let refused = client(&server).await.export(agent_trace(4)).await;
        assert_eq!(
            refused.unwrap_err().code(),
            tonic::Code::Unauthenticated,
            "no key"
        );
        let mut wrong = tonic::Request::new(agent_trace(4));
        wrong.metadata_mut().insert(
            "authorization",
            "Bearer ask_0000000000000000000000000000000000000000"
                .parse()
                .unwrap(),
        );
        let refused = client(&server).await.export(wrong).await;
        assert_eq!(refused.unwrap_err().code(), tonic::Code::Unauthenticated);

        let mut keyed = tonic::Request::new(agent_trace(4));
        keyed
            .metadata_mut()
            .insert("x-agentstack-api-key", key.parse().unwrap());
        client(&server).await.export(keyed).await.unwrap();
    });
    let store = server.store_with(2);
    let spans = store.trace(&trace_hex(4)).unwrap();
    assert!(spans.iter().all(|span| span.project == "grpc-team"));
}
