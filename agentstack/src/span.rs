//! The span behind one `#[observe]` call: started on entry, ended on return, on `Err`, on panic
//! or when its future is dropped.
//!
//! This is the SDK's hot path. With no pipeline running, [`ObservedSpan::start`] is one atomic
//! load and nothing is captured; with one, it makes a `LightSpan` (see `observed.rs`).

use opentelemetry::trace::{SpanKind as OtelSpanKind, Status, TraceContextExt};
use opentelemetry::{Context, ContextGuard, KeyValue};

use crate::capture::JsonCapture;
use crate::genai::attr;
use crate::{observed, pipeline};

/// What an observed function is, in the vocabulary of agent tracing. Recorded as
/// `agentstack.span.kind`, and mapped to `gen_ai.operation.name` where the GenAI conventions
/// have a name for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpanKind {
    /// An agent: a loop that decides which tools and models to call.
    Agent,
    /// A tool the agent calls.
    Tool,
    /// A call to a language model.
    Llm,
    /// A step of a pipeline that is none of the others.
    Chain,
    /// A retrieval of documents (vector search, RAG).
    Retriever,
    /// A call to an embedding model.
    Embedding,
    /// A check of input or output (moderation, validation).
    Guardrail,
}

impl SpanKind {
    /// The value of `agentstack.span.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Agent => "agent",
            SpanKind::Tool => "tool",
            SpanKind::Llm => "llm",
            SpanKind::Chain => "chain",
            SpanKind::Retriever => "retriever",
            SpanKind::Embedding => "embedding",
            SpanKind::Guardrail => "guardrail",
        }
    }

    /// The `gen_ai.operation.name` of this kind, where the GenAI conventions define one.
    pub fn operation_name(self) -> Option<&'static str> {
        match self {
            SpanKind::Agent => Some("invoke_agent"),
            SpanKind::Tool => Some("execute_tool"),
            SpanKind::Llm => Some("chat"),
            SpanKind::Embedding => Some("embeddings"),
            SpanKind::Chain | SpanKind::Retriever | SpanKind::Guardrail => None,
        }
    }

    /// Model calls leave the process (CLIENT); everything else is INTERNAL.
    pub(crate) fn otel_kind(self) -> OtelSpanKind {
        match self {
            SpanKind::Llm | SpanKind::Embedding => OtelSpanKind::Client,
            _ => OtelSpanKind::Internal,
        }
    }
}

/// What the macro knows about an observed function at compile time; one `static` per function.
#[derive(Debug)]
pub struct SpanMeta {
    /// Span name (the function's name unless `name = "…"` was given).
    pub name: &'static str,
    /// `kind = …`, if given.
    pub kind: Option<SpanKind>,
    /// `module::function`, recorded as `code.function.name`.
    pub function: &'static str,
    /// `capture_input = false` turns this off.
    pub capture_input: bool,
    /// `capture_output = false` turns this off.
    pub capture_output: bool,
}

/// One observed call in flight. Ends when [`ObservedSpan::end`] is called or when dropped
/// (a drop during a panic marks the span as an error; a drop otherwise means the future was
/// cancelled).
#[derive(Debug)]
pub struct ObservedSpan {
    active: Option<ActiveSpan>,
}

#[derive(Debug)]
struct ActiveSpan {
    cx: Context,
    meta: &'static SpanMeta,
    capture: bool,
    max_capture_bytes: usize,
}

impl ObservedSpan {
    /// Starts the span as a child of the current context.
    #[inline]
    pub fn start(meta: &'static SpanMeta) -> ObservedSpan {
        let Some(pipeline) = pipeline::active() else {
            return ObservedSpan { active: None };
        };
        let parent = Context::current();
        let span = observed::start(meta, &parent);
        ObservedSpan {
            active: Some(ActiveSpan {
                cx: parent.with_span(span),
                meta,
                capture: pipeline.config().capture,
                max_capture_bytes: pipeline.config().max_capture_bytes,
            }),
        }
    }

    /// Whether arguments should be captured (a pipeline runs, capture is on globally and here).
    #[inline]
    pub fn captures_input(&self) -> bool {
        self.active
            .as_ref()
            .is_some_and(|a| a.capture && a.meta.capture_input)
    }

    /// Whether the return value should be captured.
    #[inline]
    pub fn captures_output(&self) -> bool {
        self.active
            .as_ref()
            .is_some_and(|a| a.capture && a.meta.capture_output)
    }

    /// An empty JSON object to capture arguments into, sized for this span.
    pub fn input_capture(&self) -> JsonCapture {
        JsonCapture::object(self.active.as_ref().map_or(0, |a| a.max_capture_bytes))
    }

    /// An empty JSON value to capture the return value into.
    pub fn output_capture(&self) -> JsonCapture {
        JsonCapture::value(self.active.as_ref().map_or(0, |a| a.max_capture_bytes))
    }

    /// Records the captured arguments as `agentstack.input`.
    pub fn set_input(&self, input: JsonCapture) {
        if let Some(active) = &self.active {
            active
                .cx
                .span()
                .set_attribute(KeyValue::new(attr::INPUT, input.finish()));
        }
    }

    /// Records the captured return value as `agentstack.output`.
    pub fn set_output(&self, output: JsonCapture) {
        if let Some(active) = &self.active {
            active
                .cx
                .span()
                .set_attribute(KeyValue::new(attr::OUTPUT, output.finish()));
        }
    }

    /// Marks the span as failed: status ERROR with `message`, an `exception` event and
    /// `error.type`.
    pub fn set_error(&self, message: String, error_type: &'static str) {
        if let Some(active) = &self.active {
            let span = active.cx.span();
            span.set_attribute(KeyValue::new(attr::ERROR_TYPE, short_type_name(error_type)));
            span.add_event(
                "exception",
                vec![
                    KeyValue::new("exception.type", error_type),
                    KeyValue::new("exception.message", message.clone()),
                ],
            );
            span.set_status(Status::error(message));
        }
    }

    /// The context to run the function's body in: the parent's, with this span current.
    pub fn context(&self) -> Context {
        match &self.active {
            Some(active) => active.cx.clone(),
            None => Context::current(),
        }
    }

    /// Makes this span current on this thread until the guard drops (sync functions).
    #[inline]
    pub fn enter(&self) -> Option<ContextGuard> {
        self.active
            .as_ref()
            .map(|active| active.cx.clone().attach())
    }

    /// Ends the span normally.
    #[inline]
    pub fn end(mut self) {
        if let Some(active) = self.active.take() {
            active.cx.span().end();
        }
    }
}

impl Drop for ObservedSpan {
    fn drop(&mut self) {
        let Some(active) = self.active.take() else {
            return;
        };
        let span = active.cx.span();
        if std::thread::panicking() {
            span.add_event(
                "exception",
                vec![KeyValue::new("exception.message", "the function panicked")],
            );
            span.set_attribute(KeyValue::new(attr::ERROR_TYPE, "panic"));
            span.set_status(Status::error("the function panicked"));
        } else {
            // Not ended and not panicking: the future was dropped before it finished.
            span.set_attribute(KeyValue::new(attr::CANCELLED, true));
        }
        span.end();
    }
}

/// `std::io::Error` for `std::io::error::Error`; generic arguments kept.
fn short_type_name(name: &'static str) -> &'static str {
    let base = name.split('<').next().unwrap_or(name);
    match base.rfind("::") {
        Some(index) => &name[index + 2..],
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_type_name_drops_the_path() {
        assert_eq!(short_type_name("std::io::error::Error"), "Error");
        assert_eq!(
            short_type_name("my::Wrapper<alloc::string::String>"),
            "Wrapper<alloc::string::String>"
        );
        assert_eq!(short_type_name("u8"), "u8");
    }

    #[test]
    fn kinds_map_to_genai_operation_names() {
        assert_eq!(SpanKind::Llm.operation_name(), Some("chat"));
        assert_eq!(SpanKind::Tool.operation_name(), Some("execute_tool"));
        assert_eq!(SpanKind::Agent.operation_name(), Some("invoke_agent"));
        assert_eq!(SpanKind::Embedding.operation_name(), Some("embeddings"));
        assert_eq!(SpanKind::Chain.operation_name(), None);
    }
}
