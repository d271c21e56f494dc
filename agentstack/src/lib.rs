//! AgentStack SDK: trace LLM agents with `#[observe]`.
//!
//! Each observed call becomes an OpenTelemetry span that follows the GenAI semantic conventions
//! (`gen_ai.*` attributes). Finished spans go into a bounded lock-free ring buffer, and a
//! background thread exports them over OTLP/HTTP (protobuf, gzip) to any OpenTelemetry endpoint:
//! the AgentStack server or any other backend.
//!
//! ```no_run
//! use agentstack::observe;
//!
//! #[observe(kind = tool)]
//! fn search(query: &str) -> Vec<String> {
//!     vec![format!("result for {query}")]
//! }
//!
//! #[observe(kind = agent)]
//! fn research_agent(question: &str) -> usize {
//!     search(question).len()
//! }
//!
//! fn main() {
//!     let _guard = agentstack::init(); // flushes and shuts down when dropped
//!     research_agent("what is OTLP?");
//! }
//! ```
//!
//! The SDK never blocks the caller on I/O and never panics into the program it traces: when the
//! buffer is full, spans are dropped and counted ([`stats`]); when the endpoint is down, export
//! failures are counted and logged to stderr.

mod capture;
mod config;
mod context;
mod delivery;
mod diag;
pub mod genai;
mod inherit;
mod local;
mod observed;
mod otlp_http;
mod pipeline;
mod sanitize;
mod span;

pub use agentstack_macros::observe;
pub use config::{
    Config, ConfigBuilder, ConfigError, DEFAULT_BUFFER_CAPACITY, DEFAULT_LOCAL_PATH,
    DEFAULT_SPOOL_MAX_BYTES, DEFAULT_SPOOL_PATH, ExportMode,
};
#[cfg(feature = "tokio")]
pub use context::spawn;
pub use context::{InCurrentTrace, TraceContext, current_trace, spawn_thread};
pub use genai::{
    Usage, record_finish_reason, record_input, record_model, record_output, record_response_model,
    record_usage, set_attribute, set_session, set_user,
};
pub use pipeline::{AgentStackGuard, Stats, flush, shutdown, stats};
pub use span::SpanKind;

/// Starts AgentStack configured from the environment (see [`Config::from_env`]).
///
/// Returns a guard that flushes and shuts the pipeline down when dropped: keep it alive in
/// `main`. Calling `init` again while a guard is alive keeps the first configuration and returns
/// another guard. Needs no async runtime. A configuration error is printed to stderr and tracing
/// stays off; it never panics.
#[must_use = "dropping the guard flushes and shuts down tracing at once"]
pub fn init() -> AgentStackGuard {
    match Config::from_env().and_then(|config| config.validate().map(|()| config)) {
        Ok(config) => pipeline::start(config),
        Err(error) => {
            diag::error(format_args!("tracing is off: {error}"));
            AgentStackGuard::disabled()
        }
    }
}

/// Starts AgentStack with a configuration resolved beforehand (see [`ConfigBuilder::build`]).
pub fn init_with(config: Config) -> Result<AgentStackGuard, ConfigError> {
    config.validate()?;
    sanitize::SpanSanitizer::from_config(&config)?;
    Ok(pipeline::start(config))
}

/// A builder for configuring AgentStack in code; values not set fall back to the environment,
/// then to the defaults. Finish with [`ConfigBuilder::init`].
pub fn builder() -> ConfigBuilder {
    ConfigBuilder::default()
}

/// A `tracing` layer that turns `tracing` spans (from `#[tracing::instrument]`, and those that
/// libraries such as rig emit) into spans of the same traces as `#[observe]`, in both directions.
///
/// Call it after [`init`]: the layer holds the tracer of the pipeline that is running then.
///
/// ```no_run
/// use tracing_subscriber::layer::SubscriberExt;
/// let _guard = agentstack::init();
/// let subscriber = tracing_subscriber::registry().with(agentstack::tracing_layer());
/// tracing::subscriber::set_global_default(subscriber).unwrap();
/// ```
#[cfg(feature = "tracing")]
pub fn tracing_layer<S>()
-> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer().with_tracer(pipeline::tracer_for_layer())
}

/// Items the `#[observe]` expansion refers to. Not a public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::capture::{
        Capture, CaptureByDebug, CaptureBySerialize, CaptureByTypeName, ErrorByDebug,
        ErrorByDisplay, ErrorByTypeName, ErrorOf, ErrorOfDebug, ErrorOfDisplay, ErrorOfOther,
        JsonCapture,
    };
    pub use crate::span::{ObservedSpan, SpanKind, SpanMeta};
    pub use opentelemetry::context::FutureExt;
}
