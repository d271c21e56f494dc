//! [`ScanSpan`], the borrowed view of one span that every detector reads.
//!
//! The crate does not depend on the server or a store: the caller fills a `ScanSpan` from its own
//! span model (see the mapping from the server's `SpanRecord` below) and the engine never copies it.

/// One span as the detectors see it: every field is borrowed from the caller's span.
///
/// # Filling it from the server's `SpanRecord`
///
/// | `ScanSpan` field | `agentstack_exporter_sqlite::SpanRecord` |
/// |---|---|
/// | `project` | `record.project` |
/// | `trace_id`, `span_id` | `record.trace_id`, `record.span_id` |
/// | `parent_span_id` | `record.parent_span_id.as_deref()` |
/// | `name` | `record.name` |
/// | `kind` | `record.kind.as_deref()` (`agent`, `tool`, `llm`, `chain`, `retriever`, `embedding`, `guardrail`) |
/// | `is_error` | `record.status == SpanStatus::Error` |
/// | `status_message` | `record.status_message.as_deref()` |
/// | `start_unix_nanos`, `end_unix_nanos` | the same fields |
/// | `input`, `output` | `record.input.as_deref()`, `record.output.as_deref()` (JSON text, as stored) |
/// | `tool_name` | `gen_ai.tool.name` from `record.attributes` |
/// | `agent_name` | `gen_ai.agent.name` from `record.attributes` |
/// | `model` | `record.model.as_deref()` |
/// | `input_tokens`, `output_tokens` | `record.input_tokens`, `record.output_tokens` |
/// | `redacted` | `agentstack.redacted` from `record.attributes` (JSON object text such as `{"email":2}`) |
/// | `attributes` | `record.attributes` (the whole JSON object text; retrieved documents are read from it) |
///
/// The attribute look-ups are the caller's: it parses `record.attributes` once and borrows the
/// strings from there. [`ScanSpan::new`] sets the identity and leaves everything else empty.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ScanSpan<'a> {
    /// The project the span belongs to.
    pub project: &'a str,
    /// The trace: with `span_id`, the span's identity.
    pub trace_id: &'a str,
    /// The span, unique within its trace.
    pub span_id: &'a str,
    /// The parent span, `None` for a root.
    pub parent_span_id: Option<&'a str>,
    /// The span name.
    pub name: &'a str,
    /// `agentstack.span.kind`: `agent`, `tool`, `llm`, `chain`, `retriever`, `embedding`,
    /// `guardrail`; `None` when unknown (scanned like an `llm` span).
    pub kind: Option<&'a str>,
    /// Whether the span's status is an error.
    pub is_error: bool,
    /// The status description, if any (a timeout is recognised from it).
    pub status_message: Option<&'a str>,
    /// Start time, nanoseconds since the Unix epoch.
    pub start_unix_nanos: i64,
    /// End time, nanoseconds since the Unix epoch.
    pub end_unix_nanos: i64,
    /// The captured input: JSON text as stored, or plain text.
    pub input: Option<&'a str>,
    /// The captured output: JSON text as stored, or plain text.
    pub output: Option<&'a str>,
    /// `gen_ai.tool.name`.
    pub tool_name: Option<&'a str>,
    /// `gen_ai.agent.name`.
    pub agent_name: Option<&'a str>,
    /// The model (`gen_ai.response.model`, else `gen_ai.request.model`).
    pub model: Option<&'a str>,
    /// `gen_ai.usage.input_tokens`.
    pub input_tokens: Option<i64>,
    /// `gen_ai.usage.output_tokens`.
    pub output_tokens: Option<i64>,
    /// `agentstack.redacted`: JSON object text of kind → count, set when the SDK already redacted.
    pub redacted: Option<&'a str>,
    /// All span attributes as JSON object text (`"{}"` or empty when there are none).
    pub attributes: &'a str,
}

impl<'a> ScanSpan<'a> {
    /// A span with the given identity and nothing else.
    pub fn new(project: &'a str, trace_id: &'a str, span_id: &'a str) -> Self {
        ScanSpan {
            project,
            trace_id,
            span_id,
            ..ScanSpan::default()
        }
    }

    /// The span kind as a [`SpanKind`].
    pub fn span_kind(&self) -> SpanKind {
        SpanKind::parse(self.kind)
    }

    /// Input plus output tokens, when at least one is known.
    pub fn total_tokens(&self) -> Option<i64> {
        match (self.input_tokens, self.output_tokens) {
            (None, None) => None,
            (i, o) => Some(i.unwrap_or(0).max(0) + o.unwrap_or(0).max(0)),
        }
    }

    /// The span's duration in nanoseconds (0 when the end is before the start).
    pub fn duration_nanos(&self) -> i64 {
        (self.end_unix_nanos - self.start_unix_nanos).max(0)
    }
}

/// The kinds of span the detectors treat differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// An agent invocation: its input comes from a user or another agent.
    Agent,
    /// A tool call: its output is untrusted data that flows back to the model.
    Tool,
    /// A model call.
    Llm,
    /// A chain or workflow step.
    Chain,
    /// A retrieval: its output holds retrieved documents, untrusted.
    Retriever,
    /// An embedding call.
    Embedding,
    /// A guardrail check.
    Guardrail,
    /// No kind, or one this crate does not know.
    Unknown,
}

impl SpanKind {
    /// Parses `agentstack.span.kind` (case-insensitive); anything else is [`SpanKind::Unknown`].
    pub fn parse(kind: Option<&str>) -> Self {
        let Some(kind) = kind else {
            return SpanKind::Unknown;
        };
        match kind.to_ascii_lowercase().as_str() {
            "agent" => SpanKind::Agent,
            "tool" => SpanKind::Tool,
            "llm" => SpanKind::Llm,
            "chain" => SpanKind::Chain,
            "retriever" => SpanKind::Retriever,
            "embedding" => SpanKind::Embedding,
            "guardrail" => SpanKind::Guardrail,
            _ => SpanKind::Unknown,
        }
    }
}
