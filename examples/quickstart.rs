//! A small simulated agent, traced with `#[observe]`: a planner, two tools (one of which fails),
//! and two LLM calls with token counts. Runs offline: the "LLM" is a function.
//!
//! `cargo run --example quickstart` writes the trace to the local file `.agentstack/traces.db`
//! (no configuration needed) and prints the command that shows it. With AGENTSTACK_ENDPOINT
//! set, it exports over OTLP to that collector instead.

use std::sync::OnceLock;

use agentstack::{ExportMode, Usage, observe};
use serde::Serialize;

/// The trace id of the run, to print the command that shows it.
static TRACE_ID: OnceLock<String> = OnceLock::new();

#[derive(Debug, Serialize)]
struct Plan {
    steps: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("calendar API timed out after {0} ms")]
struct CalendarError(u64);

/// A pretend model: answers from a table, with token counts like a real API reports.
#[observe(kind = llm)]
fn call_model(prompt: &str) -> String {
    agentstack::record_model("openai", "gpt-4o-mini");
    agentstack::record_response_model("gpt-4o-mini-2024-07-18");
    let answer = if prompt.starts_with("Plan") {
        "1. look up the weather 2. check the calendar 3. answer"
    } else {
        "Take an umbrella to your 3 pm meeting: light rain in Lisbon."
    };
    let input_tokens = prompt.split_whitespace().count() as u64 * 4 / 3 + 20;
    let output_tokens = answer.split_whitespace().count() as u64 * 4 / 3;
    agentstack::record_usage(Usage::new(input_tokens, output_tokens));
    agentstack::record_finish_reason(&["stop"]);
    answer.to_string()
}

#[observe(kind = chain)]
fn plan(question: &str) -> Plan {
    let outline = call_model(&format!("Plan how to answer: {question}"));
    Plan {
        steps: outline
            .split(|c: char| c.is_ascii_digit())
            .map(str::trim)
            .filter(|s| s.len() > 2)
            .map(String::from)
            .collect(),
    }
}

#[observe(kind = tool)]
fn weather(city: &str) -> String {
    format!("{city}: 17°C, light rain")
}

#[observe(kind = tool)]
fn calendar(day: &str) -> Result<Vec<String>, CalendarError> {
    let _ = day;
    Err(CalendarError(3000))
}

#[observe(kind = agent)]
fn assistant(question: &str) -> String {
    if let Some(trace_id) = agentstack::current_trace().trace_id() {
        let _ = TRACE_ID.set(trace_id);
    }
    agentstack::set_session("quickstart-session");
    let plan = plan(question);
    let forecast = weather("Lisbon");
    let meetings = calendar("today").unwrap_or_else(|_| vec!["(calendar unavailable)".into()]);
    call_model(&format!(
        "Answer {question} given {forecast}, {meetings:?} and plan {:?}",
        plan.steps
    ))
}

fn main() {
    let config = match agentstack::builder()
        .service_name("quickstart-agent")
        .build()
    {
        Ok(config) => config,
        Err(error) => {
            eprintln!("configuration error: {error}");
            std::process::exit(2);
        }
    };
    let mode = config.mode.clone();
    let endpoint = config.traces_endpoint.clone();
    let guard = agentstack::init_with(config).expect("the configuration was validated by build()");

    let answer = assistant("Do I need an umbrella today?");
    println!("agent answered: {answer}");

    drop(guard); // flushes and shuts down
    let stats = agentstack::stats();
    let trace_id = TRACE_ID.get().map_or("(none)", String::as_str);
    let short_id = &trace_id[..trace_id.len().min(12)];
    match mode {
        ExportMode::Local { path } if stats.exported == stats.recorded => {
            println!(
                "trace {trace_id}: {} spans written to {}",
                stats.exported,
                path.display()
            );
            println!(
                "see it with:  cargo run -q -p agentstack-server -- show {short_id} --db {}",
                path.display()
            );
            println!("   or, with the agentstack binary installed:  agentstack show {short_id}");
        }
        ExportMode::Otlp if stats.exported == stats.recorded => {
            println!(
                "trace {trace_id}: {} spans sent to {endpoint}",
                stats.exported
            );
        }
        _ => println!(
            "trace {trace_id}: {} spans recorded, {} delivered, {} spooled for later, {} failed (see the messages above)",
            stats.recorded, stats.exported, stats.spooled, stats.failed
        ),
    }
}
