//! The SDK exporting to a real HTTP listener: what arrives is exactly what was recorded.
//! Each test starts its own pipeline; run them with nextest (one process per test).

mod support;

use std::time::Duration;

use agentstack::{Usage, observe};
use serde::Serialize;
use serde_json::json;
use support::{Collector, STATUS_ERROR, sdk_for};

#[derive(Debug, thiserror::Error)]
#[error("weather service unavailable for {city}")]
struct WeatherError {
    city: String,
}

#[derive(Serialize, Debug, Clone)]
struct Plan {
    steps: Vec<String>,
}

#[observe(kind = chain)]
fn make_plan(goal: &str, max_steps: usize) -> Plan {
    Plan {
        steps: vec![format!("search {goal}"), "answer".into()]
            .into_iter()
            .take(max_steps)
            .collect(),
    }
}

#[observe(kind = tool, name = "web.search")]
fn search(query: &str) -> Vec<String> {
    vec![format!("{query}: result 1")]
}

#[observe(kind = tool)]
fn weather(city: &str) -> Result<f64, WeatherError> {
    Err(WeatherError {
        city: city.to_string(),
    })
}

#[observe(kind = llm)]
fn chat(prompt: &str) -> String {
    agentstack::record_model("openai", "gpt-4o");
    agentstack::record_response_model("gpt-4o-2024-08-06");
    agentstack::record_usage(Usage::new(120, 30).cache_read(100).reasoning(10));
    agentstack::record_finish_reason(&["stop"]);
    format!("answer to {prompt}")
}

#[observe(kind = agent)]
fn research_agent(question: &str) -> Result<String, WeatherError> {
    let plan = make_plan(question, 2);
    let hits = search(&plan.steps[0]);
    let _ = weather("Paris");
    Ok(chat(&hits[0]))
}

#[test]
fn tree_names_kinds_genai_attributes_and_captured_json_arrive_as_recorded() {
    let collector = Collector::start();
    {
        let _guard = sdk_for(&collector).api_key("ask_test_key").init().unwrap();
        research_agent("weather in Paris").unwrap();
    }
    let spans = collector.wait_for_spans(5, Duration::from_secs(10));
    assert_eq!(spans.len(), 5, "{spans:#?}");
    support::assert_well_formed(&spans);

    let agent = collector.span_named("research_agent");
    assert!(agent.is_root());
    for child in ["make_plan", "web.search", "weather", "chat"] {
        let span = collector.span_named(child);
        assert_eq!(
            span.parent_span_id, agent.span_id,
            "{child} is a child of the agent"
        );
        assert_eq!(span.trace_id, agent.trace_id);
    }

    assert_eq!(agent.str_attr("agentstack.span.kind"), Some("agent"));
    assert_eq!(
        agent.str_attr("gen_ai.operation.name"),
        Some("invoke_agent")
    );
    assert_eq!(agent.str_attr("gen_ai.agent.name"), Some("research_agent"));
    assert_eq!(
        agent.json_attr("agentstack.input"),
        Some(json!({"question": "weather in Paris"}))
    );
    assert_eq!(
        agent.json_attr("agentstack.output"),
        Some(json!("answer to search weather in Paris: result 1"))
    );
    assert_eq!(
        agent.str_attr("code.function.name"),
        Some("export::research_agent")
    );

    let plan = collector.span_named("make_plan");
    assert_eq!(plan.str_attr("agentstack.span.kind"), Some("chain"));
    assert_eq!(plan.attr("gen_ai.operation.name"), None);
    assert_eq!(
        plan.json_attr("agentstack.input"),
        Some(json!({"goal": "weather in Paris", "max_steps": 2}))
    );
    assert_eq!(
        plan.json_attr("agentstack.output"),
        Some(json!({"steps": ["search weather in Paris", "answer"]}))
    );

    let search = collector.span_named("web.search");
    assert_eq!(search.str_attr("gen_ai.tool.name"), Some("web.search"));
    assert_eq!(
        search.str_attr("gen_ai.operation.name"),
        Some("execute_tool")
    );

    let weather = collector.span_named("weather");
    assert_eq!(weather.status_code, STATUS_ERROR);
    assert_eq!(
        weather.status_message,
        "weather service unavailable for Paris"
    );
    assert_eq!(weather.str_attr("error.type"), Some("WeatherError"));
    assert_eq!(
        weather.attr("agentstack.output"),
        None,
        "an Err has no output"
    );
    let (event, event_attrs) = &weather.events[0];
    assert_eq!(event, "exception");
    assert_eq!(
        event_attrs["exception.message"],
        json!("weather service unavailable for Paris")
    );

    let chat = collector.span_named("chat");
    assert_eq!(chat.kind, 3, "llm spans are CLIENT spans");
    assert_eq!(chat.str_attr("gen_ai.operation.name"), Some("chat"));
    assert_eq!(chat.str_attr("gen_ai.provider.name"), Some("openai"));
    assert_eq!(chat.str_attr("gen_ai.request.model"), Some("gpt-4o"));
    assert_eq!(
        chat.str_attr("gen_ai.response.model"),
        Some("gpt-4o-2024-08-06")
    );
    assert_eq!(chat.attr("gen_ai.usage.input_tokens"), Some(&json!(120)));
    assert_eq!(chat.attr("gen_ai.usage.output_tokens"), Some(&json!(30)));
    assert_eq!(
        chat.attr("gen_ai.usage.cache_read.input_tokens"),
        Some(&json!(100))
    );
    assert_eq!(
        chat.attr("gen_ai.usage.reasoning.output_tokens"),
        Some(&json!(10))
    );
    assert_eq!(chat.attr("gen_ai.usage.cache_creation.input_tokens"), None);
    assert_eq!(
        chat.attr("gen_ai.response.finish_reasons"),
        Some(&json!(["stop"]))
    );
    assert_eq!(agent.status_code, 0, "the agent itself succeeded");

    assert_eq!(agent.resource.get("service.name"), Some(&json!("sdk-test")));
    assert_eq!(agent.scope, "agentstack");
    let headers = collector.headers();
    assert_eq!(
        headers[0].get("authorization").map(String::as_str),
        Some("Bearer ask_test_key")
    );
    assert_eq!(
        headers[0].get("content-type").map(String::as_str),
        Some("application/x-protobuf")
    );
    assert_eq!(
        headers[0].get("content-encoding").map(String::as_str),
        Some("gzip")
    );
    let stats = agentstack::stats();
    assert_eq!(
        (stats.recorded, stats.exported, stats.dropped, stats.failed),
        (5, 5, 0, 0)
    );
}

#[test]
fn resource_and_headers_come_from_the_otel_environment() {
    let collector = Collector::start();
    // SAFETY: nextest runs each test in its own process; no other thread reads the environment.
    unsafe {
        std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint());
        std::env::set_var("OTEL_EXPORTER_OTLP_HEADERS", "x-team=agents%20core");
        std::env::set_var("OTEL_SERVICE_NAME", "env-service");
        std::env::set_var("AGENTSTACK_SPOOL", "false");
        std::env::set_var(
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=staging,team=core",
        );
    }
    {
        let _guard = agentstack::init();
        search("env");
    }
    let spans = collector.wait_for_spans(1, Duration::from_secs(10));
    assert_eq!(spans.len(), 1);
    assert_eq!(
        spans[0].resource.get("service.name"),
        Some(&json!("env-service"))
    );
    assert_eq!(
        spans[0].resource.get("deployment.environment.name"),
        Some(&json!("staging"))
    );
    assert_eq!(spans[0].resource.get("team"), Some(&json!("core")));
    assert_eq!(
        collector.headers()[0].get("x-team").map(String::as_str),
        Some("agents core")
    );
}

#[observe(kind = tool)]
fn lookup_customer(email: &str, note: String) -> String {
    format!("customer {email} pays with card 4111 1111 1111 1111; {note}")
}

#[test]
fn pii_is_redacted_before_export_and_the_span_says_what_was_redacted() {
    let collector = Collector::start();
    {
        let _guard = sdk_for(&collector).init().unwrap();
        lookup_customer("jane.doe@example.com", "SSN 123-45-6789".into());
    }
    let span = &collector.wait_for_spans(1, Duration::from_secs(10))[0];
    let input = span.json_attr("agentstack.input").unwrap();
    assert_eq!(
        input,
        json!({"email": "[REDACTED:email]", "note": "SSN [REDACTED:ssn]"})
    );
    let output = span.json_attr("agentstack.output").unwrap();
    assert_eq!(
        output,
        json!(
            "customer [REDACTED:email] pays with card [REDACTED:payment_card]; SSN [REDACTED:ssn]"
        )
    );
    let redacted = span.json_attr("agentstack.redacted").unwrap();
    assert_eq!(redacted, json!({"email": 2, "payment_card": 1, "ssn": 2}));
}

#[test]
fn sanitizing_can_be_turned_off_and_extended_with_patterns() {
    let collector = Collector::start();
    {
        let _guard = sdk_for(&collector).sanitize(false).init().unwrap();
        lookup_customer("jane.doe@example.com", "plain".into());
    }
    let span = &collector.wait_for_spans(1, Duration::from_secs(10))[0];
    assert_eq!(
        span.json_attr("agentstack.input").unwrap()["email"],
        json!("jane.doe@example.com")
    );
    assert_eq!(span.attr("agentstack.redacted"), None);
}

#[test]
fn custom_redaction_patterns_apply_and_bad_ones_are_refused() {
    let error = agentstack::builder()
        .redact_pattern("broken", "(unclosed")
        .init()
        .unwrap_err();
    assert!(error.to_string().contains("broken"), "{error}");

    let collector = Collector::start();
    {
        let _guard = sdk_for(&collector)
            .redact_pattern("order_id", r"ORD-\d{6}")
            .init()
            .unwrap();
        lookup_customer("nobody", "order ORD-123456".into());
    }
    let span = &collector.wait_for_spans(1, Duration::from_secs(10))[0];
    assert_eq!(
        span.json_attr("agentstack.input").unwrap()["note"],
        json!("order [REDACTED:order_id]")
    );
    assert_eq!(
        span.json_attr("agentstack.redacted").unwrap(),
        json!({"order_id": 2, "payment_card": 1})
    );
}

#[observe(kind = tool)]
fn explode(reason: &str) -> u32 {
    panic!("tool exploded: {reason}");
}

#[test]
fn a_panic_marks_the_span_as_an_error_and_keeps_unwinding() {
    let collector = Collector::start();
    {
        let _guard = sdk_for(&collector).init().unwrap();
        let unwound = std::panic::catch_unwind(|| explode("bad input"));
        assert!(unwound.is_err(), "the panic reached the caller");
    }
    let span = &collector.wait_for_spans(1, Duration::from_secs(10))[0];
    assert_eq!(span.name, "explode");
    assert_eq!(span.status_code, STATUS_ERROR);
    assert_eq!(span.status_message, "the function panicked");
    assert_eq!(span.str_attr("error.type"), Some("panic"));
}

#[derive(Debug)]
struct DebugOnly {
    #[allow(dead_code)]
    id: u8,
}
struct Opaque;

#[observe(skip(secret_client))]
fn mixed_arguments(label: &str, debug: DebugOnly, opaque: Opaque, secret_client: &str) -> Opaque {
    let _ = (label, debug, secret_client);
    opaque
}

#[observe(capture_input = false, capture_output = false)]
fn nothing_captured(password: &str) -> String {
    password.to_uppercase()
}

#[test]
fn serialize_then_debug_then_type_name_and_opt_outs() {
    let collector = Collector::start();
    {
        let _guard = sdk_for(&collector).init().unwrap();
        mixed_arguments("x", DebugOnly { id: 7 }, Opaque, "client");
        nothing_captured("hunter2");
    }
    let spans = collector.wait_for_spans(2, Duration::from_secs(10));
    assert_eq!(spans.len(), 2);
    let mixed = collector.span_named("mixed_arguments");
    assert_eq!(
        mixed.json_attr("agentstack.input"),
        Some(json!({"label": "x", "debug": "DebugOnly { id: 7 }", "opaque": "<export::Opaque>"}))
    );
    assert_eq!(
        mixed.json_attr("agentstack.output"),
        Some(json!("<export::Opaque>"))
    );
    let hidden = collector.span_named("nothing_captured");
    assert_eq!(hidden.attr("agentstack.input"), None);
    assert_eq!(hidden.attr("agentstack.output"), None);
}

#[test]
fn global_capture_switch_turns_capture_off_everywhere() {
    let collector = Collector::start();
    {
        let _guard = sdk_for(&collector).capture(false).init().unwrap();
        search("q");
    }
    let span = &collector.wait_for_spans(1, Duration::from_secs(10))[0];
    assert_eq!(span.attr("agentstack.input"), None);
    assert_eq!(span.attr("agentstack.output"), None);
    assert_eq!(
        span.str_attr("agentstack.span.kind"),
        Some("tool"),
        "the span itself is still recorded"
    );
}

#[test]
fn init_twice_is_safe_and_the_last_guard_flushes() {
    let collector = Collector::start();
    let first = sdk_for(&collector).init().unwrap();
    let second = agentstack::builder()
        .endpoint("http://127.0.0.1:9")
        .spool(false)
        .init()
        .unwrap();
    assert!(first.is_active() && second.is_active());
    search("one");
    drop(first);
    search("two");
    // The second guard keeps the first pipeline (the first configuration stays).
    drop(second);
    let spans = collector.wait_for_spans(2, Duration::from_secs(10));
    assert_eq!(spans.len(), 2, "both spans went to the first endpoint");
    // After the last guard, nothing is recorded until init is called again.
    search("three");
    assert_eq!(agentstack::stats().recorded, 2);
    let _again = sdk_for(&collector).init().unwrap();
    search("four");
    agentstack::flush();
    assert_eq!(collector.spans().len(), 3);
}

#[test]
fn a_full_batch_is_exported_without_waiting_for_the_timer() {
    let collector = Collector::start();
    let _guard = sdk_for(&collector)
        .flush_every_spans(10)
        .flush_interval(Duration::from_secs(3600))
        .init()
        .unwrap();
    for i in 0..9 {
        search(&i.to_string());
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(collector.spans().len(), 0, "9 spans wait for a 10th");
    search("9");
    assert_eq!(
        collector.wait_for_spans(10, Duration::from_secs(10)).len(),
        10
    );
}

#[test]
fn the_timer_exports_a_partial_batch() {
    let collector = Collector::start();
    let _guard = sdk_for(&collector)
        .flush_every_spans(1000)
        .flush_interval(Duration::from_millis(100))
        .init()
        .unwrap();
    search("lonely");
    assert_eq!(
        collector.wait_for_spans(1, Duration::from_secs(10)).len(),
        1
    );
}

#[observe(kind = agent)]
fn session_agent(user: &str) -> usize {
    agentstack::set_session("conv-42");
    agentstack::set_user(user);
    search("inherited").len() + nested_chain()
}

#[observe]
fn nested_chain() -> usize {
    search("deeper").len()
}

#[test]
fn session_and_user_are_inherited_by_every_descendant() {
    let collector = Collector::start();
    {
        let _guard = sdk_for(&collector).init().unwrap();
        session_agent("user-7");
        search("outside");
    }
    let spans = collector.wait_for_spans(5, Duration::from_secs(10));
    assert_eq!(spans.len(), 5);
    for span in spans
        .iter()
        .filter(|s| s.json_attr("agentstack.input") != Some(json!({"query": "outside"})))
    {
        assert_eq!(
            span.str_attr("gen_ai.conversation.id"),
            Some("conv-42"),
            "{}",
            span.name
        );
        assert_eq!(span.str_attr("user.id"), Some("user-7"), "{}", span.name);
    }
    let outside = spans
        .iter()
        .find(|s| s.json_attr("agentstack.input") == Some(json!({"query": "outside"})))
        .unwrap();
    assert_eq!(
        outside.attr("gen_ai.conversation.id"),
        None,
        "a later root is not in the session"
    );
}

#[test]
fn nothing_is_recorded_or_captured_without_init() {
    // No pipeline: the observed function runs and returns normally.
    assert_eq!(
        research_agent("offline").unwrap(),
        "answer to search offline: result 1"
    );
    assert_eq!(agentstack::stats(), agentstack::Stats::default());
}
