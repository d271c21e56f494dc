//! Throughput of the cost worker on one core (a timing program, not criterion: the figure asked
//! for is spans/s). `cargo bench -p agentstack-server --bench cost_worker`.
//!
//! 1. Pricing: [`price_spans`] over 8,192-span writes (what the worker gathers from the bus
//!    when it is behind) of LLM spans as the collector normalizes them (OTel GenAI attributes
//!    with a total token count, so every span's attributes are parsed, captured input and
//!    output), one agent span per 64: matching, usage reconciliation, the agent found up the
//!    tree, the breakdown serialized for its row.
//! 2. Pricing and storing: the same, and each write's rows into a SQLite store file
//!    (`insert_span_costs`: `span_costs` and `cost_metrics` in one transaction).
//!
//! Scale with AGENTSTACK_BENCH_SCALE (default 1.0; e.g. 0.1 for a quick run).

use std::time::Instant;

use agentstack_exporter_sqlite::{SpanRecord, SqliteSpanStore};
use agentstack_server::normalize::NormalizedSpan;
use agentstack_server::pricing::ProjectPricing;
use agentstack_server::workers::cost::price_spans;

const WRITE: usize = 8_192;
const MODELS: [&str; 4] = [
    "gpt-4o-2024-08-06",
    "claude-sonnet-4-5",
    "gemini-2.5-pro",
    "o4-mini",
];

fn spans(count: usize, offset: usize) -> Vec<NormalizedSpan> {
    (0..count)
        .map(|i| {
            let n = i + offset;
            let trace = format!("{:032x}", n / 64 + 1);
            let id = format!("{:016x}", n % 64 + 1);
            let mut record = SpanRecord::new(trace, id, "chat", 1_796_119_409_000_000_000, 1_796_119_410_000_000_000 + n as i64);
            if n.is_multiple_of(64) {
                record.kind = Some("agent".into());
                record.name = "research".into();
                record.attributes = r#"{"agentstack.span.kind":"agent","gen_ai.agent.name":"researcher","gen_ai.operation.name":"invoke_agent"}"#.into();
            } else {
                let model = MODELS[n % MODELS.len()];
                record.parent_span_id = Some(format!("{:016x}", 1));
                record.kind = Some("llm".into());
                record.provider = Some("openai".into());
                record.model = Some(model.into());
                record.input_tokens = Some(1200 + (n % 100) as i64);
                record.output_tokens = Some(300);
                record.cache_read_input_tokens = Some(1024);
                record.reasoning_output_tokens = Some(100);
                record.session_id = Some(format!("s-{}", n % 50));
                record.user_id = Some(format!("u-{}", n % 20));
                record.input = Some(r#"{"messages":[{"role":"system","content":"You are a helpful research assistant."},{"role":"user","content":"Summarize the findings of the attached report in three bullet points."}]}"#.into());
                record.output = Some(r#""- Revenue grew 12% year over year.\n- Costs were flat.\n- The outlook is positive.""#.into());
                record.attributes = format!(
                    r#"{{"agentstack.span.kind":"llm","gen_ai.operation.name":"chat","gen_ai.provider.name":"openai","gen_ai.request.model":"{model}","gen_ai.response.model":"{model}","gen_ai.usage.input_tokens":{},"gen_ai.usage.output_tokens":300,"gen_ai.usage.cache_read.input_tokens":1024,"gen_ai.usage.reasoning.output_tokens":100,"gen_ai.usage.total_tokens":{},"gen_ai.response.finish_reasons":["stop"]}}"#,
                    1200 + n % 100,
                    1500 + n % 100
                );
            }
            NormalizedSpan {
                project: "bench".into(),
                record,
                otel_span_kind: 3,
                links: Vec::new(),
                resource_attributes: r#"{"service.name":"bench"}"#.into(),
                scope_name: "agentstack".into(),
            }
        })
        .collect()
}

fn main() {
    let scale: f64 = std::env::var("AGENTSTACK_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let writes = ((60.0 * scale) as usize).max(1);
    let pricing = ProjectPricing::bundled();
    let batch = spans(WRITE, 0);
    let refs: Vec<&NormalizedSpan> = batch.iter().collect();
    // Warm-up: the table is parsed once per process.
    let warm = price_spans(&refs, &pricing);
    assert_eq!(warm.len(), WRITE - WRITE / 64, "every LLM span is priced");
    assert!(
        warm.iter().all(|row| row.cost_femtos.is_some()),
        "every model is in the table"
    );

    let started = Instant::now();
    let mut rows = 0;
    for _ in 0..writes {
        rows += price_spans(&refs, &pricing).len();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let spans_priced = writes * WRITE;
    println!(
        "cost worker, pricing only: {:.0} spans/s on one core ({spans_priced} spans, {rows} rows, {elapsed:.2} s)",
        spans_priced as f64 / elapsed
    );

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteSpanStore::open(dir.path().join("bench.db")).unwrap();
    let stored_writes = (writes / 3).max(1);
    let started = Instant::now();
    for w in 0..stored_writes {
        let batch = spans(WRITE, w * WRITE);
        let refs: Vec<&NormalizedSpan> = batch.iter().collect();
        let priced = price_spans(&refs, &pricing);
        let new = store.insert_span_costs(&priced).unwrap();
        assert_eq!(new.len(), priced.len());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let spans_stored = stored_writes * WRITE;
    println!(
        "cost worker, pricing and storing (SQLite file, span_costs + cost_metrics): {:.0} spans/s on one core ({spans_stored} spans, {elapsed:.2} s; span building included)",
        spans_stored as f64 / elapsed
    );
}
