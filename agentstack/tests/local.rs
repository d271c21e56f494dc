//! Local mode: with no endpoint, spans go into the SQLite trace file that the viewer reads.

mod support;

use agentstack::{Usage, observe};
use agentstack_exporter_sqlite::{SpanStatus, SqliteSpanStore, TraceFilter};
use serde_json::json;

#[observe(kind = llm)]
fn model(prompt: &str) -> String {
    agentstack::record_model("anthropic", "claude-sonnet-4");
    agentstack::record_usage(Usage::new(200, 50).cache_read(120));
    prompt.to_uppercase()
}

#[observe(kind = tool)]
fn broken_tool() -> Result<(), std::io::Error> {
    Err(std::io::Error::other("tool crashed"))
}

#[observe(kind = agent)]
fn local_agent(task: &str) -> String {
    agentstack::set_session("local-session");
    let _ = broken_tool();
    model(task)
}

#[test]
fn without_an_endpoint_spans_are_written_to_the_local_file() {
    let path = support::scratch_path("traces.db");
    {
        let _guard = agentstack::builder()
            .local(&path)
            .service_name("local-test")
            .init()
            .unwrap();
        local_agent("hello");
    }
    let stats = agentstack::stats();
    assert_eq!(
        (stats.recorded, stats.exported, stats.failed),
        (3, 3, 0),
        "{stats:?}"
    );

    let store = SqliteSpanStore::open(&path).unwrap();
    let traces = store.recent_traces(&TraceFilter::default()).unwrap();
    assert_eq!(traces.len(), 1);
    let summary = &traces[0];
    assert_eq!(summary.root_name, "local_agent");
    assert_eq!(summary.span_count, 3);
    assert_eq!(
        (
            summary.input_tokens,
            summary.output_tokens,
            summary.error_count
        ),
        (200, 50, 1)
    );
    assert_eq!(summary.service_name.as_deref(), Some("local-test"));
    assert_eq!(summary.session_id.as_deref(), Some("local-session"));

    let spans = store.trace(&summary.trace_id).unwrap();
    let root = spans.iter().find(|s| s.name == "local_agent").unwrap();
    assert_eq!(root.parent_span_id, None);
    assert_eq!(root.kind.as_deref(), Some("agent"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(root.input.as_deref().unwrap()).unwrap(),
        json!({"task": "hello"})
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(root.output.as_deref().unwrap()).unwrap(),
        json!("HELLO")
    );
    let llm = spans.iter().find(|s| s.name == "model").unwrap();
    assert_eq!(llm.parent_span_id.as_deref(), Some(root.span_id.as_str()));
    assert_eq!(llm.provider.as_deref(), Some("anthropic"));
    assert_eq!(llm.model.as_deref(), Some("claude-sonnet-4"));
    assert_eq!(
        (
            llm.input_tokens,
            llm.output_tokens,
            llm.cache_read_input_tokens
        ),
        (Some(200), Some(50), Some(120))
    );
    assert_eq!(
        llm.session_id.as_deref(),
        Some("local-session"),
        "inherited from the agent"
    );
    let attributes: serde_json::Value = serde_json::from_str(&llm.attributes).unwrap();
    assert_eq!(attributes["gen_ai.operation.name"], json!("chat"));
    assert!(
        attributes.get("agentstack.input").is_none(),
        "input has its own column"
    );
    let tool = spans.iter().find(|s| s.name == "broken_tool").unwrap();
    assert_eq!(tool.status, SpanStatus::Error);
    assert_eq!(tool.status_message.as_deref(), Some("tool crashed"));
    let events: serde_json::Value = serde_json::from_str(&tool.events).unwrap();
    assert_eq!(events[0]["name"], json!("exception"));
    assert!(
        llm.end_unix_nanos >= llm.start_unix_nanos && root.start_unix_nanos <= llm.start_unix_nanos
    );
}

#[test]
fn an_unusable_local_path_is_reported_and_counted_not_a_crash() {
    let file = support::scratch_path("plain-file");
    std::fs::write(&file, b"x").unwrap();
    {
        let _guard = agentstack::builder()
            .local(file.join("traces.db"))
            .init()
            .unwrap();
        local_agent("lost");
    }
    let stats = agentstack::stats();
    assert_eq!(
        (stats.recorded, stats.exported, stats.failed),
        (3, 0, 3),
        "{stats:?}"
    );
}
