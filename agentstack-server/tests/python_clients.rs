//! Real OTLP clients nobody here wrote: the Python OpenTelemetry SDK's OTLP/HTTP exporter, and a
//! LangGraph agent instrumented by OpenInference, exporting to `agentstack serve`. Their spans
//! are read back from the store: tree, kinds, models, tokens, tool and agent names.
//!
//! The Python packages are pinned in tests/python/requirements.txt; `.ci/run` installs them.

mod support;

use std::path::Path;
use std::process::Command;

use agentstack_exporter_sqlite::{SpanRecord, SpanStatus, SqliteSpanStore, TraceFilter};
use serde_json::Value;
use support::Server;

/// Runs `tests/python/<script>` with the standard OTEL_* variables pointing at `server`.
fn run_python(server: &Server, script: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let output = Command::new("python3")
        .arg(&path)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &server.base)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
        .env("OTEL_SERVICE_NAME", script.trim_end_matches(".py"))
        .env("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{script} failed (are the packages of tests/python/requirements.txt installed? .ci/run \
         installs them):\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn the_only_trace(store: &SqliteSpanStore) -> Vec<SpanRecord> {
    let traces = store.recent_traces(&TraceFilter::default()).unwrap();
    assert_eq!(traces.len(), 1, "{traces:?}");
    store.trace(&traces[0].trace_id).unwrap()
}

fn named<'a>(spans: &'a [SpanRecord], name: &str) -> Vec<&'a SpanRecord> {
    spans.iter().filter(|s| s.name == name).collect()
}

fn attributes(span: &SpanRecord) -> Value {
    serde_json::from_str(&span.attributes).unwrap()
}

#[test]
fn the_python_otel_sdk_exporter_with_genai_attributes() {
    let server = Server::start(&[]);
    run_python(&server, "otel_sdk_genai.py");
    let store = server.store_with(3);
    let spans = the_only_trace(&store);

    let agent = named(&spans, "invoke_agent planner")[0];
    assert_eq!(agent.parent_span_id, None);
    assert_eq!(agent.kind.as_deref(), Some("agent"));
    assert_eq!(agent.session_id.as_deref(), Some("py-session-1"));
    assert_eq!(agent.service_name.as_deref(), Some("otel_sdk_genai"));

    let chat = named(&spans, "chat gpt-4o")[0];
    assert_eq!(chat.parent_span_id.as_deref(), Some(agent.span_id.as_str()));
    assert_eq!(chat.kind.as_deref(), Some("llm"));
    assert_eq!(chat.provider.as_deref(), Some("openai"));
    assert_eq!(chat.model.as_deref(), Some("gpt-4o-2024-08-06"));
    assert_eq!(
        (
            chat.input_tokens,
            chat.output_tokens,
            chat.cache_read_input_tokens
        ),
        (Some(120), Some(30), Some(100))
    );

    let tool = named(&spans, "execute_tool search")[0];
    assert_eq!(tool.kind.as_deref(), Some("tool"));
    assert_eq!(tool.status, SpanStatus::Error);
    assert_eq!(
        tool.status_message.as_deref(),
        Some("search backend timed out")
    );
    assert_eq!(attributes(tool)["gen_ai.tool.name"], "search");
}

#[test]
fn a_langgraph_agent_instrumented_by_openinference() {
    let server = Server::start(&[]);
    run_python(&server, "langgraph_openinference.py");
    // LangGraph root, 2 × (agent node, model, route), tools node, get_weather tool.
    let store = server.store_with(9);
    let spans = the_only_trace(&store);
    assert_eq!(spans.len(), 9);

    let root = named(&spans, "LangGraph")[0];
    assert_eq!(root.parent_span_id, None);
    assert_eq!(root.kind.as_deref(), Some("chain"));

    let agents = named(&spans, "agent");
    assert_eq!(agents.len(), 2, "the agent node ran twice");
    for agent in &agents {
        assert_eq!(agent.parent_span_id.as_deref(), Some(root.span_id.as_str()));
        assert_eq!(agent.kind.as_deref(), Some("agent"));
        assert_eq!(
            attributes(agent)["gen_ai.agent.name"],
            "agent",
            "the graph node's name"
        );
    }

    let models = named(&spans, "ToolCallingFakeModel");
    assert_eq!(models.len(), 2);
    for model in &models {
        assert_eq!(model.kind.as_deref(), Some("llm"));
        assert_eq!(model.model.as_deref(), Some("fake-gpt-4o"));
        let parent = model.parent_span_id.as_deref().unwrap();
        assert!(
            agents.iter().any(|a| a.span_id == parent),
            "a model call sits under an agent node"
        );
        assert!(
            model
                .input
                .as_deref()
                .is_some_and(|i| i.contains("weather in Paris"))
        );
    }
    let mut tokens: Vec<_> = models
        .iter()
        .map(|m| (m.input_tokens, m.output_tokens))
        .collect();
    tokens.sort();
    assert_eq!(
        tokens,
        [(Some(42), Some(7)), (Some(60), Some(9))],
        "no total added on top"
    );

    let tool = named(&spans, "get_weather")[0];
    assert_eq!(tool.kind.as_deref(), Some("tool"));
    assert_eq!(attributes(tool)["gen_ai.tool.name"], "get_weather");
    let tools_node = named(&spans, "tools")[0];
    assert_eq!(
        tool.parent_span_id.as_deref(),
        Some(tools_node.span_id.as_str())
    );
    assert!(
        tool.output
            .as_deref()
            .is_some_and(|o| o.contains("sunny in Paris"))
    );

    let summary = &store.recent_traces(&TraceFilter::default()).unwrap()[0];
    assert_eq!((summary.input_tokens, summary.output_tokens), (102, 16));
}
