//! Spans per second through cost computation on one core: model matching (hash lookups),
//! tiers and the five-part breakdown, over a mix of real model spellings and usage shapes.
//! `cost_worker_path` adds what the cost worker does per span beyond pricing: building the
//! usage from the span's columns, looking for a producer cost in its attributes text, and adding
//! the result to the hourly aggregate. Target: at least 200,000 spans/s per core.
//!
//! `cargo bench -p agentstack-cost --bench cost`

use std::hint::black_box;

use agentstack_cost::{
    CostAggregator, CostInput, CostMetricKey, Pricing, TokenUsage,
    producer_cost_from_attributes_json,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// (model, provider) as spans name them: exact names, case, route prefixes, provider routes,
/// listed and unlisted snapshots, Bedrock regions, aliases, and an unknown model.
const MODELS: &[(&str, Option<&str>)] = &[
    ("gpt-4o", Some("openai")),
    ("gpt-4o-mini-2024-07-18", Some("openai")),
    ("openai/gpt-4o-2024-08-06", None),
    ("o3-mini", Some("openai")),
    ("gpt-4o", Some("azure.ai.openai")),
    ("claude-sonnet-4-5-20250929", Some("anthropic")),
    ("Claude-Haiku-4-5", Some("anthropic")),
    ("claude-opus-4-7-20270101", Some("anthropic")),
    ("claude-sonnet-latest", None),
    (
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        Some("aws.bedrock"),
    ),
    ("gemini-2.5-pro", Some("gcp.gemini")),
    ("gemini-2.5-flash", Some("gcp.vertex_ai")),
    ("mistral-large-latest", Some("mistral_ai")),
    ("deepseek-chat", Some("deepseek")),
    ("grok-4.5", Some("x_ai")),
    ("in-house-model", None),
];

fn spans() -> Vec<(CostInput<'static>, &'static str)> {
    let mut spans = Vec::new();
    for i in 0..1024u64 {
        let (model, provider) = MODELS[(i as usize) % MODELS.len()];
        let input = 500 + (i * 7919) % 260_000;
        let usage = TokenUsage {
            input,
            output: 50 + (i * 104_729) % 4_000,
            cache_read: (i * 31) % (input / 2 + 1),
            cache_write: if i % 5 == 0 { 1024 } else { 0 },
            reasoning: (i * 13) % 50,
        };
        let attributes = if i % 3 == 0 {
            r#"{"gen_ai.operation.name":"chat","gen_ai.request.temperature":0.2,"server.address":"api.example.com","gen_ai.response.finish_reasons":["stop"]}"#
        } else {
            r#"{"openinference.span.kind":"LLM","llm.invocation_parameters":"{\"model\": \"x\"}","metadata":"{\"langgraph_node\": \"agent\"}"}"#
        };
        spans.push((
            CostInput {
                model: Some(model),
                provider,
                usage: Some(usage),
                ..CostInput::default()
            },
            attributes,
        ));
    }
    spans
}

fn bench(c: &mut Criterion) {
    let pricing = Pricing::bundled();
    let spans = spans();
    let mut group = c.benchmark_group("cost");
    group.throughput(Throughput::Elements(spans.len() as u64));
    group.bench_function("pricing_cost", |b| {
        b.iter(|| {
            for (span, _) in &spans {
                black_box(pricing.cost(black_box(span)));
            }
        })
    });
    group.bench_function("cost_worker_path", |b| {
        let mut aggregator = CostAggregator::new();
        b.iter(|| {
            for (i, (span, attributes)) in spans.iter().enumerate() {
                let usage = span.usage.unwrap();
                let input = CostInput {
                    usage: TokenUsage::from_otel(
                        Some(usage.input as i64),
                        Some(usage.output as i64),
                        Some(usage.cache_read as i64),
                        Some(usage.cache_write as i64),
                        Some(usage.reasoning as i64),
                    ),
                    producer_cost: producer_cost_from_attributes_json(attributes),
                    ..*span
                };
                let cost = pricing.cost(&input);
                let key = CostMetricKey::new(
                    "default",
                    span.model,
                    Some("agent"),
                    1_796_083_200_000_000_000 + (i as i64) * 1_000_000_000,
                );
                aggregator.add(key, &cost);
            }
            black_box(aggregator.drain());
        })
    });
    group.finish();
    // Spans without usage: tokens estimated from ~1 KB of captured messages (tiktoken o200k
    // for gpt-4o, 4 characters a token for Claude). Slower by design; such spans are the
    // exception.
    let input = r#"[{"role":"system","content":"You are a careful travel planner who answers in short numbered lists."},{"role":"user","content":"Plan three days in Lisbon for a family of four in March, with one rainy-day alternative per day, public transport only, and a budget of about 150 euros a day excluding the hotel. Include where to eat lunch each day."}]"#;
    let output = r#"[{"role":"assistant","content":"Day 1: Alfama and the castle in the morning, tram 28 to Baixa, lunch at a tasca near Rossio; rainy day: the Tile Museum. Day 2: Belem by train, the monastery and the tower, pasteis at the old bakery, lunch at the riverside market; rainy day: the Coach Museum. Day 3: Oceanarium and Parque das Nacoes by metro, lunch in the food court; rainy day: the science museum next door."}]"#;
    let estimated: Vec<CostInput<'static>> = ["gpt-4o", "claude-sonnet-4-5"]
        .iter()
        .map(|model| CostInput {
            model: Some(model),
            input_text: Some(input),
            output_text: Some(output),
            ..CostInput::default()
        })
        .collect();
    let mut group = c.benchmark_group("estimated");
    group.throughput(Throughput::Elements(estimated.len() as u64));
    group.bench_function("pricing_cost_from_text", |b| {
        b.iter(|| {
            for span in &estimated {
                black_box(pricing.cost(black_box(span)));
            }
        })
    });
    group.finish();
    let mut resolve = c.benchmark_group("resolve");
    resolve.throughput(Throughput::Elements(MODELS.len() as u64));
    resolve.bench_function("model_names", |b| {
        b.iter(|| {
            for (model, provider) in MODELS {
                black_box(pricing.resolve(black_box(model), *provider));
            }
        })
    });
    resolve.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
