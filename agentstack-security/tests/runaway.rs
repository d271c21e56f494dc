//! The runaway-agent detectors on true and false cases: tool loops, agent cycles, token
//! explosions, error and timeout chains, duplicate spans and bounded memory.

use agentstack_security::{Detector, Finding, RunawayConfig, RunawayTracker, ScanSpan};

const NOW: i64 = 1_700_000_000_000_000_000;
const SEC: i64 = 1_000_000_000;

fn has(findings: &[Finding], detector: Detector) -> bool {
    findings.iter().any(|f| f.detector == detector)
}

fn tool_call<'a>(trace: &'a str, span_id: &'a str, args: &'a str) -> ScanSpan<'a> {
    let mut span = ScanSpan::new("p", trace, span_id);
    span.kind = Some("tool");
    span.name = "search";
    span.tool_name = Some("search");
    span.input = Some(args);
    span
}

#[test]
fn same_tool_same_arguments_n_times_is_a_loop() {
    let mut tracker = RunawayTracker::new(RunawayConfig::default());
    let ids: Vec<String> = (0..6).map(|i| format!("{i:016x}")).collect();
    for (i, id) in ids.iter().enumerate().take(4) {
        let f = tracker.observe(
            &tool_call("t1", id, r#"{"q":"weather paris"}"#),
            NOW + i as i64,
        );
        assert!(!has(&f, Detector::ToolLoop), "call {i}");
    }
    let f = tracker.observe(
        &tool_call("t1", &ids[4], r#"{"q":"weather paris"}"#),
        NOW + 5,
    );
    let lp = f
        .iter()
        .find(|f| f.detector == Detector::ToolLoop)
        .expect("fifth call is a loop");
    assert_eq!(lp.score, 60);
    assert!(lp.evidence[0].detail.contains("called 5 times"));
    let f = tracker.observe(
        &tool_call("t1", &ids[5], r#"{"q":"weather paris"}"#),
        NOW + 6,
    );
    assert_eq!(
        f.iter()
            .find(|f| f.detector == Detector::ToolLoop)
            .unwrap()
            .score,
        65
    );
}

#[test]
fn different_arguments_or_traces_are_not_a_loop() {
    let mut tracker = RunawayTracker::new(RunawayConfig::default());
    let ids: Vec<String> = (0..10).map(|i| format!("{i:016x}")).collect();
    let args: Vec<String> = (0..10).map(|i| format!(r#"{{"page":{i}}}"#)).collect();
    for i in 0..10 {
        let f = tracker.observe(&tool_call("t1", &ids[i], &args[i]), NOW + i as i64);
        assert!(!has(&f, Detector::ToolLoop));
    }
    // Same call, but spread over separate traces.
    let traces: Vec<String> = (0..10).map(|i| format!("trace{i}")).collect();
    for (i, trace) in traces.iter().enumerate() {
        let f = tracker.observe(
            &tool_call(trace, "0000000000000001", r#"{"q":"x"}"#),
            NOW + i as i64,
        );
        assert!(!has(&f, Detector::ToolLoop));
    }
}

#[test]
fn a_span_delivered_twice_counts_once() {
    let mut tracker = RunawayTracker::new(RunawayConfig::default());
    for i in 0..10 {
        let f = tracker.observe(
            &tool_call("t1", "0000000000000001", r#"{"q":"x"}"#),
            NOW + i,
        );
        assert!(f.is_empty());
    }
}

fn agent<'a>(trace: &'a str, span_id: &'a str, name: &'a str, start: i64) -> ScanSpan<'a> {
    let mut span = ScanSpan::new("p", trace, span_id);
    span.kind = Some("agent");
    span.name = "invoke_agent";
    span.agent_name = Some(name);
    span.start_unix_nanos = start;
    span.end_unix_nanos = start + 1;
    span
}

#[test]
fn agents_handing_over_in_a_cycle_are_a_loop_even_out_of_order() {
    let mut tracker = RunawayTracker::new(RunawayConfig::default());
    let names = [
        "planner", "critic", "planner", "critic", "planner", "critic",
    ];
    let ids: Vec<String> = (0..6).map(|i| format!("{i:016x}")).collect();
    // Spans arrive in reverse start order (children end first).
    let mut found = Vec::new();
    for i in (0..6).rev() {
        found = tracker.observe(&agent("t", &ids[i], names[i], NOW + i as i64 * SEC), NOW);
        if i > 0 {
            assert!(!has(&found, Detector::AgentCycle), "span {i}");
        }
    }
    let cycle = found
        .iter()
        .find(|f| f.detector == Detector::AgentCycle)
        .expect("cycle");
    assert!(cycle.evidence[0].detail.contains("3 times"), "{cycle:?}");
}

#[test]
fn a_pipeline_of_agents_is_not_a_cycle() {
    let mut tracker = RunawayTracker::new(RunawayConfig::default());
    let names = [
        "supervisor",
        "researcher",
        "supervisor",
        "writer",
        "supervisor",
        "reviewer",
        "supervisor",
        "publisher",
    ];
    let ids: Vec<String> = (0..names.len()).map(|i| format!("{i:016x}")).collect();
    for (i, name) in names.iter().enumerate() {
        let f = tracker.observe(&agent("t", &ids[i], name, NOW + i as i64 * SEC), NOW);
        assert!(!has(&f, Detector::AgentCycle));
    }
}

fn llm<'a>(trace: &'a str, span_id: &'a str, tokens: i64) -> ScanSpan<'a> {
    let mut span = ScanSpan::new("p", trace, span_id);
    span.kind = Some("llm");
    span.model = Some("gpt-4o");
    span.input_tokens = Some(tokens * 3 / 4);
    span.output_tokens = Some(tokens - tokens * 3 / 4);
    span
}

#[test]
fn tokens_far_above_the_models_usual_are_an_explosion() {
    let mut tracker = RunawayTracker::new(RunawayConfig::default());
    let ids: Vec<String> = (0..40).map(|i| format!("{i:016x}")).collect();
    let traces: Vec<String> = (0..40).map(|i| format!("trace{i}")).collect();
    // Before the usual is trusted (20 samples), nothing fires even for a big span.
    let f = tracker.observe(&llm("warm", "ffffffffffffffff", 1000), NOW);
    assert!(f.is_empty());
    for i in 0..25 {
        let f = tracker.observe(
            &llm(&traces[i], &ids[i], 1000 + (i as i64 % 5) * 50),
            NOW + i as i64,
        );
        assert!(!has(&f, Detector::TokenExplosion), "{i}");
    }
    // 5× the usual: not an explosion with the default factor 10.
    assert!(!has(
        &tracker.observe(&llm("x1", "a1", 5_000), NOW + 100),
        Detector::TokenExplosion
    ));
    // 12× the usual: an explosion.
    let f = tracker.observe(&llm("x2", "a2", 14_000), NOW + 101);
    let boom = f
        .iter()
        .find(|f| f.detector == Detector::TokenExplosion)
        .expect("explosion");
    assert_eq!(boom.score, 55);
    // 60×: a bigger one.
    let f = tracker.observe(&llm("x3", "a3", 80_000), NOW + 102);
    assert_eq!(
        f.iter()
            .find(|f| f.detector == Detector::TokenExplosion)
            .unwrap()
            .score,
        85
    );
}

#[test]
fn a_trace_far_above_the_projects_usual_trace_is_an_explosion() {
    let config = RunawayConfig {
        trace_idle_nanos: 60 * SEC,
        min_baseline_samples: 5,
        ..RunawayConfig::default()
    };
    let mut tracker = RunawayTracker::new(config);
    let traces: Vec<String> = (0..6).map(|i| format!("trace{i}")).collect();
    // Six finished traces of about 2 × 800 tokens, each forgotten after a minute of quiet.
    for (i, t) in traces.iter().enumerate() {
        let at = NOW + i as i64 * 120 * SEC;
        tracker.observe(&llm(t, "01", 800), at);
        tracker.observe(&llm(t, "02", 800), at + SEC);
    }
    tracker.evict_idle(NOW + 1000 * SEC);
    assert_eq!(tracker.traces(), 0);
    // A new trace making many small calls: no span is unusual, the trace is.
    let ids: Vec<String> = (0..40).map(|i| format!("{i:016x}")).collect();
    let mut exploded_at = None;
    for (i, id) in ids.iter().enumerate() {
        let f = tracker.observe(&llm("big", id, 800), NOW + 1001 * SEC + i as i64);
        if has(&f, Detector::TokenExplosion) {
            exploded_at = Some(i);
            break;
        }
    }
    // 10 × 1,600 tokens = 16,000: the 20th call of 800 reaches it.
    assert_eq!(exploded_at, Some(19));
}

#[test]
fn absolute_token_limits() {
    let mut tracker = RunawayTracker::new(RunawayConfig {
        max_span_tokens: 50_000,
        ..RunawayConfig::default()
    });
    assert!(!has(
        &tracker.observe(&llm("t", "1", 49_999), NOW),
        Detector::TokenExplosion
    ));
    assert!(has(
        &tracker.observe(&llm("t", "2", 50_000), NOW),
        Detector::TokenExplosion
    ));
}

fn failing<'a>(span_id: &'a str, message: Option<&'a str>) -> ScanSpan<'a> {
    let mut span = ScanSpan::new("p", "t", span_id);
    span.kind = Some("tool");
    span.name = span_id;
    span.is_error = true;
    span.status_message = message;
    span
}

#[test]
fn errors_and_timeouts_piling_up_are_a_chain() {
    let mut tracker = RunawayTracker::new(RunawayConfig::default());
    assert!(!has(
        &tracker.observe(&failing("fetch", Some("HTTP 500")), NOW),
        Detector::ErrorChain
    ));
    assert!(!has(
        &tracker.observe(&failing("retry1", Some("request timed out after 30s")), NOW),
        Detector::ErrorChain
    ));
    let f = tracker.observe(&failing("retry2", Some("deadline exceeded")), NOW);
    let chain = f
        .iter()
        .find(|f| f.detector == Detector::ErrorChain)
        .expect("third failure");
    assert_eq!(chain.score, 40);
    assert_eq!(chain.evidence[0].signal, "timeouts");
    assert!(
        chain.evidence[0].detail.contains("retry1 (timeout)"),
        "{chain:?}"
    );
}

#[test]
fn slow_spans_count_as_timeouts_and_successes_do_not_count() {
    let mut tracker = RunawayTracker::new(RunawayConfig {
        timeout_nanos: 10 * SEC,
        ..RunawayConfig::default()
    });
    let ids = ["a", "b", "c", "d", "e"];
    for id in &ids[..4] {
        let mut ok = ScanSpan::new("p", "t", id);
        ok.end_unix_nanos = 9 * SEC;
        assert!(tracker.observe(&ok, NOW).is_empty());
    }
    let mut f = Vec::new();
    for id in ["s1", "s2", "s3"] {
        let mut slow = ScanSpan::new("p", "t", id);
        slow.end_unix_nanos = 11 * SEC;
        f = tracker.observe(&slow, NOW);
    }
    assert!(has(&f, Detector::ErrorChain));
}

#[test]
fn memory_is_bounded_and_idle_traces_are_forgotten() {
    let mut tracker = RunawayTracker::new(RunawayConfig {
        max_traces: 100,
        trace_idle_nanos: 60 * SEC,
        ..RunawayConfig::default()
    });
    let traces: Vec<String> = (0..1000).map(|i| format!("trace{i}")).collect();
    for (i, t) in traces.iter().enumerate() {
        tracker.observe(&tool_call(t, "1", "{}"), NOW + i as i64);
        assert!(tracker.traces() <= 100);
    }
    assert_eq!(tracker.traces(), 100);
    // The evicted oldest trace starts over: four more calls are not yet five.
    for id in ["2", "3", "4", "5"] {
        assert!(!has(
            &tracker.observe(&tool_call("trace0", id, "{}"), NOW + 2000),
            Detector::ToolLoop
        ));
    }
    tracker.evict_idle(NOW + 2000 + 61 * SEC);
    assert_eq!(tracker.traces(), 0);
}
