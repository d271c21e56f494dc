//! Recording LLM data on the current span, in the OpenTelemetry GenAI semantic conventions.
//!
//! Every helper acts on the span current in this context (the innermost `#[observe]` or
//! `tracing` span) and does nothing when there is none.

use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, KeyValue, Value};

use crate::capture::{Capture, CaptureBySerialize, JsonCapture};
use crate::inherit;

/// Attribute names. `gen_ai.*` follow the OpenTelemetry GenAI conventions; `agentstack.*` are
/// used only where no convention exists.
pub mod attr {
    /// `chat`, `embeddings`, `execute_tool`, `invoke_agent`, …
    pub const OPERATION_NAME: &str = "gen_ai.operation.name";
    /// `openai`, `anthropic`, `gcp.gemini`, …
    pub const PROVIDER_NAME: &str = "gen_ai.provider.name";
    /// The model asked for.
    pub const REQUEST_MODEL: &str = "gen_ai.request.model";
    /// The model that answered.
    pub const RESPONSE_MODEL: &str = "gen_ai.response.model";
    /// Prompt tokens, cached ones included.
    pub const INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
    /// Completion tokens, reasoning ones included.
    pub const OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
    /// Input tokens read from the provider's cache.
    pub const CACHE_READ_INPUT_TOKENS: &str = "gen_ai.usage.cache_read.input_tokens";
    /// Input tokens written to the provider's cache.
    pub const CACHE_CREATION_INPUT_TOKENS: &str = "gen_ai.usage.cache_creation.input_tokens";
    /// Output tokens spent on reasoning.
    pub const REASONING_OUTPUT_TOKENS: &str = "gen_ai.usage.reasoning.output_tokens";
    /// Why the model stopped, one per choice.
    pub const FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
    /// Name of the agent (set for `kind = agent`).
    pub const AGENT_NAME: &str = "gen_ai.agent.name";
    /// Name of the tool (set for `kind = tool`).
    pub const TOOL_NAME: &str = "gen_ai.tool.name";
    /// Id of the tool call.
    pub const TOOL_CALL_ID: &str = "gen_ai.tool.call.id";
    /// The session / conversation a span belongs to; inherited by child spans.
    pub const CONVERSATION_ID: &str = "gen_ai.conversation.id";
    /// The end user; inherited by child spans.
    pub const USER_ID: &str = "user.id";
    /// `agent`, `tool`, `llm`, `chain`, `retriever`, `embedding`, `guardrail`.
    pub const SPAN_KIND: &str = "agentstack.span.kind";
    /// Captured arguments, a JSON object.
    pub const INPUT: &str = "agentstack.input";
    /// Captured return value, JSON.
    pub const OUTPUT: &str = "agentstack.output";
    /// What the sanitizer redacted, a JSON object of type → count.
    pub const REDACTED: &str = "agentstack.redacted";
    /// The span's future was dropped before it finished.
    pub const CANCELLED: &str = "agentstack.cancelled";
    /// `module::function` of the observed function.
    pub const CODE_FUNCTION: &str = "code.function.name";
    /// Short type name of the error.
    pub const ERROR_TYPE: &str = "error.type";
}

/// Token usage of one model call. Follows OpenTelemetry: `input_tokens` includes cached tokens
/// and `output_tokens` includes reasoning tokens; the cache and reasoning counts say how many.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens, cached ones included.
    pub input_tokens: u64,
    /// Completion tokens, reasoning ones included.
    pub output_tokens: u64,
    /// Of `input_tokens`, read from the cache.
    pub cache_read_input_tokens: Option<u64>,
    /// Of `input_tokens`, written to the cache.
    pub cache_creation_input_tokens: Option<u64>,
    /// Of `output_tokens`, spent on reasoning.
    pub reasoning_output_tokens: Option<u64>,
}

impl Usage {
    /// Input and output tokens.
    pub fn new(input_tokens: u64, output_tokens: u64) -> Usage {
        Usage {
            input_tokens,
            output_tokens,
            ..Usage::default()
        }
    }
    /// With tokens read from the cache.
    pub fn cache_read(mut self, tokens: u64) -> Usage {
        self.cache_read_input_tokens = Some(tokens);
        self
    }
    /// With tokens written to the cache.
    pub fn cache_creation(mut self, tokens: u64) -> Usage {
        self.cache_creation_input_tokens = Some(tokens);
        self
    }
    /// With reasoning tokens.
    pub fn reasoning(mut self, tokens: u64) -> Usage {
        self.reasoning_output_tokens = Some(tokens);
        self
    }
}

fn with_current_span(f: impl FnOnce(&opentelemetry::trace::SpanRef<'_>)) {
    let cx = Context::current();
    let span = cx.span();
    if span.span_context().is_valid() {
        f(&span);
    }
}

fn tokens(value: u64) -> Value {
    Value::I64(i64::try_from(value).unwrap_or(i64::MAX))
}

/// Records the provider (`openai`, `anthropic`, …) and the requested model.
pub fn record_model(provider: &str, request_model: &str) {
    with_current_span(|span| {
        span.set_attribute(KeyValue::new(attr::PROVIDER_NAME, provider.to_string()));
        span.set_attribute(KeyValue::new(
            attr::REQUEST_MODEL,
            request_model.to_string(),
        ));
    });
}

/// Records the model that answered (often a dated snapshot of the requested one).
pub fn record_response_model(response_model: &str) {
    with_current_span(|span| {
        span.set_attribute(KeyValue::new(
            attr::RESPONSE_MODEL,
            response_model.to_string(),
        ));
    });
}

/// Records token usage.
pub fn record_usage(usage: Usage) {
    with_current_span(|span| {
        span.set_attribute(KeyValue::new(
            attr::INPUT_TOKENS,
            tokens(usage.input_tokens),
        ));
        span.set_attribute(KeyValue::new(
            attr::OUTPUT_TOKENS,
            tokens(usage.output_tokens),
        ));
        let optional = [
            (attr::CACHE_READ_INPUT_TOKENS, usage.cache_read_input_tokens),
            (
                attr::CACHE_CREATION_INPUT_TOKENS,
                usage.cache_creation_input_tokens,
            ),
            (attr::REASONING_OUTPUT_TOKENS, usage.reasoning_output_tokens),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                span.set_attribute(KeyValue::new(key, tokens(value)));
            }
        }
    });
}

/// Records why the model stopped (`stop`, `length`, `tool_calls`, …), one per choice.
pub fn record_finish_reason(reasons: &[&str]) {
    with_current_span(|span| {
        let reasons: Vec<opentelemetry::StringValue> =
            reasons.iter().map(|r| r.to_string().into()).collect();
        span.set_attribute(KeyValue::new(
            attr::FINISH_REASONS,
            Value::Array(opentelemetry::Array::String(reasons)),
        ));
    });
}

/// Records `value` as the current span's input (`agentstack.input`), replacing what
/// `#[observe]` captured. Useful for the prompt of a model call.
pub fn record_input<T: serde::Serialize + ?Sized>(value: &T) {
    record_json(attr::INPUT, value);
}

/// Records `value` as the current span's output (`agentstack.output`).
pub fn record_output<T: serde::Serialize + ?Sized>(value: &T) {
    record_json(attr::OUTPUT, value);
}

fn record_json<T: serde::Serialize + ?Sized>(key: &'static str, value: &T) {
    with_current_span(|span| {
        let mut capture = JsonCapture::value(crate::pipeline::max_capture_bytes());
        (&&Capture(value)).capture_into(&mut capture);
        span.set_attribute(KeyValue::new(key, capture.finish()));
    });
}

/// Sets any attribute on the current span.
pub fn set_attribute(key: &'static str, value: impl Into<Value>) {
    let value = value.into();
    with_current_span(|span| span.set_attribute(KeyValue::new(key, value)));
}

/// Puts the current span and every span started under it from now on into session `id`
/// (`gen_ai.conversation.id`).
pub fn set_session(id: &str) {
    inherit::set_inherited(attr::CONVERSATION_ID, id);
}

/// Marks the current span and every span started under it from now on with the end user `id`
/// (`user.id`).
pub fn set_user(id: &str) {
    inherit::set_inherited(attr::USER_ID, id);
}
