//! `#[observe]` functions calling `#[tracing::instrument]` ones, and back: one trace.
//!
//! Libraries such as rig emit `tracing` spans; with `agentstack::tracing_layer()` installed they
//! become children of the observed agent, and observed functions they call nest under them.
//! `cargo run --example tracing_interop`.

use agentstack::observe;
use tracing_subscriber::layer::SubscriberExt;

/// Library code instrumented with `tracing`, as an agent framework would be.
#[tracing::instrument(fields(gen_ai.operation.name = "chat"))]
fn framework_completion(prompt: &str) -> String {
    tracing::info!(prompt_len = prompt.len(), "sending prompt");
    let cleaned = sanitize_prompt(prompt);
    format!("echo: {cleaned}")
}

/// Our own code again, called from inside the library span.
#[observe(kind = guardrail)]
fn sanitize_prompt(prompt: &str) -> String {
    prompt.replace("ignore previous instructions", "")
}

#[observe(kind = agent)]
fn agent(task: &str) -> String {
    framework_completion(task)
}

fn main() {
    let guard = agentstack::builder()
        .service_name("tracing-interop")
        .init()
        .expect("valid configuration");
    let subscriber = tracing_subscriber::registry().with(agentstack::tracing_layer());
    tracing::subscriber::set_global_default(subscriber).expect("no other subscriber is set");

    let answer = agent("summarize the meeting notes");
    println!("agent answered: {answer}");
    println!("spans: agent (observe) → framework_completion (tracing) → sanitize_prompt (observe)");
    drop(guard);
    let stats = agentstack::stats();
    println!(
        "{} spans recorded, {} exported, {} failed",
        stats.recorded, stats.exported, stats.failed
    );
}
