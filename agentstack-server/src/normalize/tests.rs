//! Tests of the whole mapping: precedence across producers, token counting, id validation,
//! and a request in the shape the Rust SDK sends.

use agentstack_exporter_sqlite::{SpanRecord, SpanStatus};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};
use serde_json::{Value as Json, json};

use super::test_support::{
    PARENT_ID, SPAN_ID, TRACE_ID, V, attributes_of, kv, kvs, normalize_one, request, span,
};
use super::{RejectReason, RejectedSpan, normalize_request};

/// Every producer's name for every field at once, each with a different value.
fn every_producer() -> Vec<(&'static str, V)> {
    vec![
        // ours
        ("agentstack.span.kind", V::S("agent")),
        ("agentstack.input", V::S(r#"{"ours":true}"#)),
        ("agentstack.output", V::S(r#""ours""#)),
        // OTel GenAI, current
        ("gen_ai.operation.name", V::S("chat")),
        ("gen_ai.provider.name", V::S("genai-provider")),
        ("gen_ai.response.model", V::S("genai-response-model")),
        ("gen_ai.request.model", V::S("genai-request-model")),
        ("gen_ai.usage.input_tokens", V::I(1)),
        ("gen_ai.usage.output_tokens", V::I(2)),
        ("gen_ai.usage.cache_read.input_tokens", V::I(3)),
        ("gen_ai.usage.cache_creation.input_tokens", V::I(4)),
        ("gen_ai.usage.reasoning.output_tokens", V::I(5)),
        ("gen_ai.input.messages", V::S("[\"genai-input\"]")),
        ("gen_ai.output.messages", V::S("[\"genai-output\"]")),
        ("gen_ai.tool.call.arguments", V::S("[\"tool-arguments\"]")),
        ("gen_ai.tool.call.result", V::S("[\"tool-result\"]")),
        ("gen_ai.conversation.id", V::S("genai-session")),
        ("user.id", V::S("otel-user")),
        // OTel GenAI, deprecated
        ("gen_ai.system", V::S("deprecated-provider")),
        ("gen_ai.usage.prompt_tokens", V::I(10)),
        ("gen_ai.usage.completion_tokens", V::I(20)),
        ("gen_ai.usage.cache_read_input_tokens", V::I(30)),
        ("gen_ai.usage.cache_creation_input_tokens", V::I(40)),
        ("gen_ai.usage.reasoning_tokens", V::I(50)),
        ("gen_ai.prompt", V::S("[\"deprecated-prompt\"]")),
        ("gen_ai.prompt.0.content", V::S("flattened-prompt")),
        ("gen_ai.completion", V::S("[\"deprecated-completion\"]")),
        ("enduser.id", V::S("deprecated-user")),
        // OpenInference
        ("openinference.span.kind", V::S("TOOL")),
        ("llm.model_name", V::S("openinference-model")),
        ("llm.provider", V::S("openinference-provider")),
        ("llm.system", V::S("openinference-system")),
        ("llm.token_count.prompt", V::I(100)),
        ("llm.token_count.completion", V::I(200)),
        ("llm.token_count.total", V::I(300)),
        ("llm.token_count.prompt_details.cache_read", V::I(300)),
        ("llm.token_count.prompt_details.cache_write", V::I(400)),
        ("llm.token_count.completion_details.reasoning", V::I(500)),
        ("input.value", V::S("openinference input")),
        ("output.value", V::S("openinference output")),
        (
            "llm.input_messages.0.message.content",
            V::S("flattened input"),
        ),
        ("session.id", V::S("openinference-session")),
        // OpenLLMetry
        ("traceloop.span.kind", V::S("workflow")),
        ("traceloop.entity.name", V::S("entity")),
        ("traceloop.entity.input", V::S("[\"traceloop-input\"]")),
        ("traceloop.entity.output", V::S("[\"traceloop-output\"]")),
        ("gen_ai.task.input", V::S("[\"task-input\"]")),
        ("gen_ai.task.output", V::S("[\"task-output\"]")),
        (
            "traceloop.association.properties.session_id",
            V::S("traceloop-session"),
        ),
        (
            "traceloop.association.properties.user_id",
            V::S("traceloop-user"),
        ),
        ("llm.request.model", V::S("legacy-request-model")),
        ("llm.response.model", V::S("legacy-response-model")),
        ("llm.request.type", V::S("embedding")),
    ]
}

fn without(mut attributes: Vec<(&'static str, V)>, keys: &[&str]) -> Vec<(&'static str, V)> {
    attributes.retain(|(key, _)| !keys.contains(key));
    attributes
}

#[test]
fn ours_wins_then_genai_current_then_deprecated_then_openinference_then_openllmetry() {
    let s = normalize_one("conflict", every_producer());
    let r = &s.record;
    assert_eq!(r.kind.as_deref(), Some("agent"));
    assert_eq!(r.model.as_deref(), Some("genai-response-model"));
    assert_eq!(r.provider.as_deref(), Some("genai-provider"));
    assert_eq!(
        (
            r.input_tokens,
            r.output_tokens,
            r.cache_read_input_tokens,
            r.cache_creation_input_tokens,
            r.reasoning_output_tokens
        ),
        (Some(1), Some(2), Some(3), Some(4), Some(5))
    );
    assert_eq!(r.input.as_deref(), Some(r#"{"ours":true}"#));
    assert_eq!(r.output.as_deref(), Some(r#""ours""#));
    assert_eq!(r.session_id.as_deref(), Some("genai-session"));
    assert_eq!(r.user_id.as_deref(), Some("otel-user"));
    // Only the keys that filled input and output leave the attributes.
    let attributes = attributes_of(&s);
    assert!(!attributes.contains_key("agentstack.input"));
    assert!(!attributes.contains_key("agentstack.output"));
    for kept in [
        "input.value",
        "gen_ai.input.messages",
        "gen_ai.tool.call.arguments",
        "traceloop.entity.input",
        "gen_ai.task.input",
        "gen_ai.prompt",
        "gen_ai.prompt.0.content",
        "llm.input_messages.0.message.content",
        "llm.token_count.total",
    ] {
        assert!(attributes.contains_key(kept), "{kept} was dropped");
    }
    // The agent span had no gen_ai.agent.name: OpenLLMetry's entity name fills it.
    assert_eq!(attributes["gen_ai.agent.name"], json!("entity"));
}

/// Taking the winner away, field by field, shows the next source in line.
#[test]
fn each_source_takes_over_when_the_ones_before_it_are_absent() {
    let mut attributes = every_producer();
    let mut step = |remove: &[&str]| {
        attributes = without(std::mem::take(&mut attributes), remove);
        normalize_one(
            "ladder",
            attributes.iter().map(|(k, v)| (*k, v.clone())).collect(),
        )
        .record
    };

    let r = step(&[
        "agentstack.span.kind",
        "agentstack.input",
        "agentstack.output",
    ]);
    assert_eq!(r.kind.as_deref(), Some("llm"));
    assert_eq!(r.input.as_deref(), Some("openinference input"));
    assert_eq!(r.output.as_deref(), Some("openinference output"));

    let r = step(&[
        "gen_ai.operation.name",
        "gen_ai.response.model",
        "gen_ai.provider.name",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.reasoning.output_tokens",
        "gen_ai.conversation.id",
        "user.id",
        "input.value",
        "output.value",
    ]);
    assert_eq!(r.kind.as_deref(), Some("tool"));
    assert_eq!(r.model.as_deref(), Some("genai-request-model"));
    assert_eq!(r.provider.as_deref(), Some("deprecated-provider"));
    assert_eq!(
        (
            r.input_tokens,
            r.output_tokens,
            r.cache_read_input_tokens,
            r.cache_creation_input_tokens,
            r.reasoning_output_tokens
        ),
        (Some(10), Some(20), Some(30), Some(40), Some(50))
    );
    assert_eq!(r.input.as_deref(), Some("[\"genai-input\"]"));
    assert_eq!(r.output.as_deref(), Some("[\"genai-output\"]"));
    assert_eq!(r.session_id.as_deref(), Some("openinference-session"));
    assert_eq!(r.user_id.as_deref(), Some("deprecated-user"));

    let r = step(&["gen_ai.input.messages", "gen_ai.output.messages"]);
    assert_eq!(r.input.as_deref(), Some("[\"tool-arguments\"]"));
    assert_eq!(r.output.as_deref(), Some("[\"tool-result\"]"));

    let r = step(&[
        "openinference.span.kind",
        "gen_ai.request.model",
        "gen_ai.system",
        "gen_ai.usage.prompt_tokens",
        "gen_ai.usage.completion_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "gen_ai.usage.cache_creation_input_tokens",
        "gen_ai.usage.reasoning_tokens",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "session.id",
        "enduser.id",
    ]);
    assert_eq!(r.kind.as_deref(), Some("chain"));
    assert_eq!(r.model.as_deref(), Some("openinference-model"));
    assert_eq!(r.provider.as_deref(), Some("openinference-provider"));
    assert_eq!(
        (
            r.input_tokens,
            r.output_tokens,
            r.cache_read_input_tokens,
            r.cache_creation_input_tokens,
            r.reasoning_output_tokens
        ),
        (Some(100), Some(200), Some(300), Some(400), Some(500))
    );
    assert_eq!(r.input.as_deref(), Some("[\"traceloop-input\"]"));
    assert_eq!(r.output.as_deref(), Some("[\"traceloop-output\"]"));
    assert_eq!(r.session_id.as_deref(), Some("traceloop-session"));
    assert_eq!(r.user_id.as_deref(), Some("traceloop-user"));

    let r = step(&[
        "traceloop.span.kind",
        "llm.model_name",
        "llm.provider",
        "traceloop.entity.input",
        "traceloop.entity.output",
    ]);
    assert_eq!(r.kind.as_deref(), Some("embedding"));
    assert_eq!(r.input.as_deref(), Some("[\"task-input\"]"));
    assert_eq!(r.output.as_deref(), Some("[\"task-output\"]"));

    let r = step(&["gen_ai.task.input", "gen_ai.task.output"]);
    assert_eq!(r.model.as_deref(), Some("legacy-response-model"));
    assert_eq!(r.provider.as_deref(), Some("openinference-system"));
    assert_eq!(r.input.as_deref(), Some("[\"deprecated-prompt\"]"));
    assert_eq!(r.output.as_deref(), Some("[\"deprecated-completion\"]"));

    let r = step(&["gen_ai.prompt", "gen_ai.completion", "llm.response.model"]);
    assert_eq!(r.model.as_deref(), Some("legacy-request-model"));
    assert_eq!(
        r.input.as_deref(),
        Some(r#"[{"content":"flattened-prompt"}]"#)
    );
    assert_eq!(r.output, None);

    let r = step(&["gen_ai.prompt.0.content", "llm.request.type"]);
    assert_eq!(r.kind, None);
    assert_eq!(
        r.input.as_deref(),
        Some(r#"[{"content":"flattened input"}]"#)
    );
}

/// A custom `gen_ai.operation.name` is only a guess of `chain`: another producer's kind wins.
#[test]
fn a_custom_operation_name_yields_to_a_specific_kind() {
    let r = normalize_one(
        "s",
        vec![
            ("gen_ai.operation.name", V::S("my_step")),
            ("openinference.span.kind", V::S("RETRIEVER")),
        ],
    )
    .record;
    assert_eq!(r.kind.as_deref(), Some("retriever"));
    let r = normalize_one(
        "s",
        vec![
            ("gen_ai.operation.name", V::S("crew_kickoff")),
            ("traceloop.span.kind", V::S("agent")),
        ],
    )
    .record;
    assert_eq!(r.kind.as_deref(), Some("agent"));
    let r = normalize_one(
        "s",
        vec![
            ("agentstack.span.kind", V::S("not-a-kind")),
            ("gen_ai.operation.name", V::S("my_step")),
        ],
    )
    .record;
    assert_eq!(r.kind.as_deref(), Some("chain"));
    assert_eq!(normalize_one("s", vec![]).record.kind, None);
}

#[test]
fn tokens_are_never_added_up() {
    // Every producer's count of one call, plus totals: the first source is taken alone.
    let r = normalize_one(
        "chat",
        vec![
            ("gen_ai.usage.input_tokens", V::I(100)),
            ("gen_ai.usage.prompt_tokens", V::I(100)),
            ("llm.token_count.prompt", V::I(100)),
            ("gen_ai.usage.output_tokens", V::I(20)),
            ("gen_ai.usage.completion_tokens", V::I(20)),
            ("llm.token_count.completion", V::I(20)),
            ("gen_ai.usage.total_tokens", V::I(120)),
            ("llm.token_count.total", V::I(120)),
            ("llm.usage.total_tokens", V::I(120)),
        ],
    )
    .record;
    assert_eq!((r.input_tokens, r.output_tokens), (Some(100), Some(20)));

    // A total alone is no input nor output count.
    let s = normalize_one("chat", vec![("gen_ai.usage.total_tokens", V::I(120))]);
    assert_eq!(
        (s.record.input_tokens, s.record.output_tokens),
        (None, None)
    );
    assert_eq!(attributes_of(&s)["gen_ai.usage.total_tokens"], json!(120));
}

/// One text under several producers' names (OpenLLMetry 0.62 writes `traceloop.entity.*` and
/// `gen_ai.task.*` or `gen_ai.tool.call.*` with the same value; an SDK may add `input.value`):
/// the column keeps it once and every identical copy leaves the attributes; a copy that says
/// something else is another value, and stays.
#[test]
fn identical_copies_of_the_input_and_output_are_stored_once() {
    let input = r#"{"inputs": {"city": "Paris"}}"#;
    let output = r#"{"output": "sunny"}"#;
    let s = normalize_one(
        "execute_tool get_weather",
        vec![
            ("gen_ai.operation.name", V::S("execute_tool")),
            ("input.value", V::S(input)),
            ("gen_ai.tool.call.arguments", V::S(input)),
            ("traceloop.entity.input", V::S(input)),
            ("gen_ai.task.input", V::S(r#"{"inputs": "another"}"#)),
            ("gen_ai.tool.call.result", V::S(output)),
            ("traceloop.entity.output", V::S(output)),
            ("gen_ai.task.output", V::S(output)),
            // Not an input source, though it holds the same text: kept.
            ("tool.parameters", V::S(input)),
        ],
    );
    assert_eq!(s.record.input.as_deref(), Some(input));
    assert_eq!(s.record.output.as_deref(), Some(output));
    let attributes = attributes_of(&s);
    for copy in [
        "input.value",
        "gen_ai.tool.call.arguments",
        "traceloop.entity.input",
        "gen_ai.tool.call.result",
        "traceloop.entity.output",
        "gen_ai.task.output",
    ] {
        assert!(!attributes.contains_key(copy), "{copy} kept twice");
    }
    assert_eq!(
        attributes["gen_ai.task.input"],
        json!(r#"{"inputs": "another"}"#)
    );
    assert_eq!(attributes["tool.parameters"], json!(input));

    // The same across an input and an output is no copy: an echo tool keeps both.
    let s = normalize_one(
        "echo",
        vec![
            ("input.value", V::S("hello")),
            ("output.value", V::S("hello")),
            ("traceloop.entity.output", V::S("hello")),
        ],
    );
    assert_eq!(
        (s.record.input.as_deref(), s.record.output.as_deref()),
        (Some("hello"), Some("hello"))
    );
    assert!(!attributes_of(&s).contains_key("traceloop.entity.output"));
}

#[test]
fn token_counts_arrive_as_int_double_or_string() {
    let r = normalize_one(
        "chat",
        vec![
            ("gen_ai.usage.input_tokens", V::D(1200.0)),
            ("gen_ai.usage.output_tokens", V::S("300")),
            ("gen_ai.usage.cache_read.input_tokens", V::I(1024)),
            ("gen_ai.usage.cache_creation.input_tokens", V::S("8.0")),
            // Unusable here, so the older name is read.
            ("gen_ai.usage.reasoning.output_tokens", V::S("many")),
            ("gen_ai.usage.reasoning_tokens", V::D(64.0)),
        ],
    )
    .record;
    assert_eq!(r.input_tokens, Some(1200));
    assert_eq!(r.output_tokens, Some(300));
    assert_eq!(r.cache_read_input_tokens, Some(1024));
    assert_eq!(r.cache_creation_input_tokens, Some(8));
    assert_eq!(r.reasoning_output_tokens, Some(64));

    let r = normalize_one(
        "chat",
        vec![
            ("llm.token_count.prompt", V::D(12.5)),
            ("llm.token_count.completion", V::I(-1)),
        ],
    )
    .record;
    assert_eq!((r.input_tokens, r.output_tokens), (None, None));
}

#[test]
fn spans_with_invalid_ids_are_rejected_and_the_rest_goes_through() {
    let good = |name: &str, id: u8| {
        let mut s = span(name, vec![]);
        s.span_id = [id; 8].to_vec();
        s
    };
    let with = |f: fn(&mut opentelemetry_proto::tonic::trace::v1::Span)| {
        let mut s = span("bad", vec![]);
        f(&mut s);
        s
    };
    let mut first = request(
        "svc-a",
        "scope-a",
        vec![
            with(|s| s.trace_id = vec![1; 15]),
            good("a", 1),
            with(|s| s.trace_id = vec![0; 16]),
        ],
    );
    let second = request(
        "svc-b",
        "scope-b",
        vec![
            with(|s| s.span_id = vec![]),
            with(|s| s.span_id = vec![0; 8]),
            with(|s| s.parent_span_id = vec![1; 4]),
            good("b", 2),
            with(|s| s.parent_span_id = vec![0; 8]),
        ],
    );
    first.resource_spans.extend(second.resource_spans);
    let normalized = normalize_request(first, "proj");

    assert_eq!(
        normalized.rejected,
        [
            RejectedSpan {
                index: 0,
                reason: RejectReason::TraceIdLength { len: 15 }
            },
            RejectedSpan {
                index: 2,
                reason: RejectReason::TraceIdZero
            },
            RejectedSpan {
                index: 3,
                reason: RejectReason::SpanIdLength { len: 0 }
            },
            RejectedSpan {
                index: 4,
                reason: RejectReason::SpanIdZero
            },
            RejectedSpan {
                index: 5,
                reason: RejectReason::ParentSpanIdLength { len: 4 }
            },
        ]
    );
    let names: Vec<(&str, Option<&str>)> = normalized
        .spans
        .iter()
        .map(|s| (s.record.name.as_str(), s.record.service_name.as_deref()))
        .collect();
    assert_eq!(
        names,
        [
            ("a", Some("svc-a")),
            ("b", Some("svc-b")),
            ("bad", Some("svc-b"))
        ]
    );
    // An all-zero parent is a root.
    assert_eq!(normalized.spans[2].record.parent_span_id, None);
    assert_eq!(normalized.spans[1].scope_name, "scope-b");

    let message = normalized.partial_success_message().unwrap();
    assert!(
        message.starts_with("5 of 8 spans rejected: span 0: trace_id is 15 bytes"),
        "{message}"
    );
    assert!(
        message.contains("; span 5: parent_span_id is 4 bytes"),
        "{message}"
    );
    assert_eq!(
        normalize_request(request("s", "s", vec![good("ok", 1)]), "p").partial_success_message(),
        None
    );
}

#[test]
fn partial_success_message_lists_the_first_five() {
    let spans = (0..7)
        .map(|_| {
            let mut s = span("bad", vec![]);
            s.trace_id.clear();
            s
        })
        .collect();
    let message = normalize_request(request("s", "s", spans), "p")
        .partial_success_message()
        .unwrap();
    assert!(
        message.starts_with("7 of 7 spans rejected: span 0: "),
        "{message}"
    );
    assert!(
        message.contains("span 4: ") && !message.contains("span 5: "),
        "{message}"
    );
    assert!(message.ends_with("; and 2 more"), "{message}");
}

#[test]
fn status_events_resource_scope_and_unknown_attributes_are_kept() {
    let mut s = span(
        "boom",
        vec![
            ("custom.flag", V::B(true)),
            ("custom.ratio", V::D(0.25)),
            ("custom.list", V::Strings(&["a", "b"])),
        ],
    );
    s.attributes.push(KeyValue {
        key: "custom.bytes".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::BytesValue(vec![1, 2, 3])),
        }),
        ..Default::default()
    });
    s.kind = 3;
    s.status = Some(Status {
        code: 2,
        message: "rate limited".into(),
    });
    s.events = vec![Event {
        time_unix_nano: 1_700_000_000_500_000_000,
        name: "exception".into(),
        attributes: kvs(vec![
            ("exception.type", V::S("RateLimitError")),
            ("exception.message", V::S("429")),
            ("exception.stacktrace", V::S("Traceback …")),
        ]),
        ..Default::default()
    }];
    let mut request = request("py-agent", "openinference.instrumentation.openai", vec![s]);
    request.resource_spans[0]
        .resource
        .as_mut()
        .unwrap()
        .attributes
        .push(kv("deployment.environment", V::S("staging")));
    let normalized = normalize_request(request, "proj-1");
    let s = &normalized.spans[0];
    assert_eq!(s.project, "proj-1");
    assert_eq!(s.otel_span_kind, 3);
    assert_eq!(s.scope_name, "openinference.instrumentation.openai");
    assert_eq!(s.record.status, SpanStatus::Error);
    assert_eq!(s.record.status_message.as_deref(), Some("rate limited"));
    assert_eq!(
        serde_json::from_str::<Json>(&s.resource_attributes).unwrap(),
        json!({
            "service.name": "py-agent",
            "telemetry.sdk.language": "python",
            "deployment.environment": "staging",
        })
    );
    assert_eq!(
        serde_json::from_str::<Json>(&s.record.events).unwrap(),
        json!([{
            "name": "exception",
            "time_unix_nanos": 1_700_000_000_500_000_000_i64,
            "attributes": {
                "exception.type": "RateLimitError",
                "exception.message": "429",
                "exception.stacktrace": "Traceback …",
            },
        }])
    );
    assert_eq!(
        serde_json::from_str::<Json>(&s.record.attributes).unwrap(),
        json!({
            "custom.flag": true,
            "custom.ratio": 0.25,
            "custom.list": ["a", "b"],
            "custom.bytes": "AQID",
        })
    );

    for (code, message, status, kept) in [
        (0, "", SpanStatus::Unset, None),
        (1, "", SpanStatus::Ok, None),
        (1, "fine", SpanStatus::Ok, Some("fine")),
        (7, "", SpanStatus::Unset, None),
    ] {
        let mut s = span("s", vec![]);
        s.status = Some(Status {
            code,
            message: message.into(),
        });
        let normalized = normalize_request(request_of(s), "p");
        let r = &normalized.spans[0].record;
        assert_eq!(
            (r.status, r.status_message.as_deref()),
            (status, kept),
            "code {code}"
        );
    }
}

fn request_of(
    span: opentelemetry_proto::tonic::trace::v1::Span,
) -> opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
    request("svc", "scope", vec![span])
}

#[test]
fn a_request_without_resource_or_scope() {
    let request = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: None,
            scope_spans: vec![ScopeSpans {
                scope: None,
                spans: vec![span("bare", vec![])],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let normalized = normalize_request(request, "p");
    let s = &normalized.spans[0];
    assert_eq!(s.record.service_name, None);
    assert_eq!(s.resource_attributes, "{}");
    assert_eq!(s.scope_name, "");
    assert_eq!(s.record.events, "[]");
    assert_eq!(s.record.attributes, "{}");
}

/// A request as the Rust SDK sends it (what `#[observe]` and `agentstack::genai` record, the
/// SDK's resource and scope) becomes the same rows the SDK writes itself in local mode.
#[test]
fn the_sdks_own_request_round_trips() {
    let trace = hex::TRACE;
    let mut agent = span(
        "research",
        vec![
            ("code.function.name", V::S("my_agent::research")),
            ("agentstack.span.kind", V::S("agent")),
            ("gen_ai.operation.name", V::S("invoke_agent")),
            ("gen_ai.agent.name", V::S("research")),
            ("gen_ai.conversation.id", V::S("session-1")),
            ("user.id", V::S("user-1")),
            ("agentstack.input", V::S(r#"{"topic":"rust"}"#)),
            ("agentstack.output", V::S(r#""a summary""#)),
        ],
    );
    agent.parent_span_id.clear();
    agent.status = Some(Status {
        code: 1,
        message: String::new(),
    });
    let mut llm = span(
        "call_model",
        vec![
            ("code.function.name", V::S("my_agent::call_model")),
            ("agentstack.span.kind", V::S("llm")),
            ("gen_ai.operation.name", V::S("chat")),
            ("gen_ai.conversation.id", V::S("session-1")),
            ("user.id", V::S("user-1")),
            ("gen_ai.provider.name", V::S("anthropic")),
            ("gen_ai.request.model", V::S("claude-sonnet-4")),
            ("gen_ai.response.model", V::S("claude-sonnet-4-20250514")),
            ("gen_ai.usage.input_tokens", V::I(1500)),
            ("gen_ai.usage.output_tokens", V::I(400)),
            ("gen_ai.usage.cache_read.input_tokens", V::I(1000)),
            ("gen_ai.usage.reasoning.output_tokens", V::I(120)),
            ("gen_ai.response.finish_reasons", V::Strings(&["end_turn"])),
            ("agentstack.input", V::S(r#"{"prompt":"summarize rust"}"#)),
            ("agentstack.redacted", V::S(r#"{"email":1}"#)),
        ],
    );
    llm.span_id = SPAN_ID.to_vec();
    llm.parent_span_id = PARENT_ID.to_vec();
    let mut tool = span(
        "fetch",
        vec![
            ("code.function.name", V::S("my_agent::fetch")),
            ("agentstack.span.kind", V::S("tool")),
            ("gen_ai.operation.name", V::S("execute_tool")),
            ("gen_ai.tool.name", V::S("fetch")),
            ("error.type", V::S("FetchError")),
        ],
    );
    tool.span_id = [0x11; 8].to_vec();
    tool.status = Some(Status {
        code: 2,
        message: "connection refused".into(),
    });
    tool.events = vec![Event {
        time_unix_nano: 1_700_000_000_900_000_000,
        name: "exception".into(),
        attributes: kvs(vec![
            ("exception.type", V::S("my_agent::FetchError")),
            ("exception.message", V::S("connection refused")),
        ]),
        ..Default::default()
    }];
    agent.span_id = PARENT_ID.to_vec();

    let mut request = request("my-agent", "agentstack", vec![agent, llm, tool]);
    let resource = request.resource_spans[0].resource.as_mut().unwrap();
    resource.attributes = kvs(vec![
        ("service.name", V::S("my-agent")),
        ("telemetry.sdk.language", V::S("rust")),
        ("telemetry.sdk.name", V::S("opentelemetry")),
        ("telemetry.sdk.version", V::S("0.33.0")),
    ]);
    let normalized = normalize_request(request, "default");
    assert!(normalized.rejected.is_empty());

    let base = |span_id: &str, parent: Option<&str>, name: &str| SpanRecord {
        parent_span_id: parent.map(str::to_string),
        service_name: Some("my-agent".into()),
        ..SpanRecord::new(
            trace,
            span_id,
            name,
            1_700_000_000_000_000_000,
            1_700_000_001_000_000_000,
        )
    };
    let expected = [
        SpanRecord {
            kind: Some("agent".into()),
            status: SpanStatus::Ok,
            session_id: Some("session-1".into()),
            user_id: Some("user-1".into()),
            input: Some(r#"{"topic":"rust"}"#.into()),
            output: Some(r#""a summary""#.into()),
            attributes: json!({
                "code.function.name": "my_agent::research",
                "agentstack.span.kind": "agent",
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": "research",
                "gen_ai.conversation.id": "session-1",
                "user.id": "user-1",
            })
            .to_string(),
            ..base(hex::PARENT, None, "research")
        },
        SpanRecord {
            kind: Some("llm".into()),
            provider: Some("anthropic".into()),
            model: Some("claude-sonnet-4-20250514".into()),
            input_tokens: Some(1500),
            output_tokens: Some(400),
            cache_read_input_tokens: Some(1000),
            reasoning_output_tokens: Some(120),
            session_id: Some("session-1".into()),
            user_id: Some("user-1".into()),
            input: Some(r#"{"prompt":"summarize rust"}"#.into()),
            attributes: json!({
                "code.function.name": "my_agent::call_model",
                "agentstack.span.kind": "llm",
                "gen_ai.operation.name": "chat",
                "gen_ai.conversation.id": "session-1",
                "user.id": "user-1",
                "gen_ai.provider.name": "anthropic",
                "gen_ai.request.model": "claude-sonnet-4",
                "gen_ai.response.model": "claude-sonnet-4-20250514",
                "gen_ai.usage.input_tokens": 1500,
                "gen_ai.usage.output_tokens": 400,
                "gen_ai.usage.cache_read.input_tokens": 1000,
                "gen_ai.usage.reasoning.output_tokens": 120,
                "gen_ai.response.finish_reasons": ["end_turn"],
                "agentstack.redacted": r#"{"email":1}"#,
            })
            .to_string(),
            ..base(hex::SPAN, Some(hex::PARENT), "call_model")
        },
        SpanRecord {
            kind: Some("tool".into()),
            status: SpanStatus::Error,
            status_message: Some("connection refused".into()),
            attributes: json!({
                "code.function.name": "my_agent::fetch",
                "agentstack.span.kind": "tool",
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "fetch",
                "error.type": "FetchError",
            })
            .to_string(),
            events: json!([{
                "name": "exception",
                "time_unix_nanos": 1_700_000_000_900_000_000_i64,
                "attributes": {
                    "exception.type": "my_agent::FetchError",
                    "exception.message": "connection refused",
                },
            }])
            .to_string(),
            ..base("1111111111111111", Some(hex::PARENT), "fetch")
        },
    ];
    let records: Vec<&SpanRecord> = normalized.spans.iter().map(|s| &s.record).collect();
    assert_eq!(records, expected.iter().collect::<Vec<_>>());
    assert!(normalized.spans.iter().all(|s| s.scope_name == "agentstack"
        && s.project == "default"
        && s.links.is_empty()
        && s.otel_span_kind == 1));
}

/// The test ids in hex.
mod hex {
    pub(super) const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    pub(super) const SPAN: &str = "00f067aa0ba902b7";
    pub(super) const PARENT: &str = "53995c3f42cd8ad8";

    #[test]
    fn match_the_byte_ids() {
        use super::super::value::hex;
        assert_eq!(hex(&super::TRACE_ID), TRACE);
        assert_eq!(hex(&super::SPAN_ID), SPAN);
        assert_eq!(hex(&super::PARENT_ID), PARENT);
    }
}
