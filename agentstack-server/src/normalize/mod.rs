//! Normalize: every OTLP span the collector accepts becomes the server's one Span model
//! ([`SpanRecord`], the store's row), once, whichever instrumentation produced it.
//!
//! The collector calls [`normalize_request`] on each decoded `ExportTraceServiceRequest`. Spans
//! with invalid ids come back in [`Normalized::rejected`] (for OTLP's `partial_success`); the
//! rest of the request goes through. Each producer's attribute names and value mappings live in
//! their own file (`native.rs` for AgentStack's own, `genai.rs`, `openinference.rs`,
//! `openllmetry.rs`); the order in which they are consulted lives here, in one place.
//!
//! # Mapping
//!
//! Each column takes the first source that holds a usable value (→ reads "else"). Where two
//! producers conflict the order is: ours > OTel GenAI current > GenAI deprecated > OpenInference
//! > OpenLLMetry, except for input/output, which follow the order below.
//!
//! | column | sources, first usable wins |
//! |---|---|
//! | `kind` | `agentstack.span.kind` → `gen_ai.operation.name` (known values) → `openinference.span.kind` → `traceloop.span.kind` → `llm.request.type` (OpenLLMetry, deprecated) → any other `gen_ai.operation.name` → none; values below |
//! | `model` | `gen_ai.response.model` → `gen_ai.request.model` → `llm.response.model_name` → `llm.model_name` → `llm.request.model_name` → `embedding.model_name` → `llm.response.model` → `llm.request.model` (OpenLLMetry, deprecated) |
//! | `provider` | `gen_ai.provider.name` → `gen_ai.system` (deprecated) → `llm.provider` → `llm.system`; except that OpenLLMetry's `langchain` (its fallback for a chat model class it does not know) gives way to LangChain's own `traceloop.association.properties.ls_provider`, which OpenInference reports too |
//! | `input_tokens` | `gen_ai.usage.input_tokens` → `gen_ai.usage.prompt_tokens` (deprecated) → `llm.token_count.prompt` |
//! | `output_tokens` | `gen_ai.usage.output_tokens` → `gen_ai.usage.completion_tokens` (deprecated) → `llm.token_count.completion` |
//! | `cache_read_input_tokens` | `gen_ai.usage.cache_read.input_tokens` → `gen_ai.usage.cache_read_input_tokens` (older) → `llm.token_count.prompt_details.cache_read` |
//! | `cache_creation_input_tokens` | `gen_ai.usage.cache_creation.input_tokens` → `gen_ai.usage.cache_creation_input_tokens` (older) → `gen_ai.usage.cache_write_input_tokens` (Strands) → `llm.token_count.prompt_details.cache_write` |
//! | `reasoning_output_tokens` | `gen_ai.usage.reasoning.output_tokens` → `gen_ai.usage.reasoning_tokens` (older) → `llm.token_count.completion_details.reasoning` |
//! | `input` | `agentstack.input` → `input.value` → `gen_ai.input.messages` → `gen_ai.tool.call.arguments` → `traceloop.entity.input` → `gen_ai.task.input` (OpenLLMetry) → `gen_ai.prompt` (deprecated) → `gen_ai.prompt.N.*` (flattened, reassembled) → `llm.input_messages.N.message.*` (flattened, reassembled) |
//! | `output` | `agentstack.output` → `output.value` → `gen_ai.output.messages` → `gen_ai.tool.call.result` → `traceloop.entity.output` → `gen_ai.task.output` (OpenLLMetry) → `gen_ai.completion` (deprecated) → `gen_ai.completion.N.*` → `llm.output_messages.N.message.*` |
//! | `session_id` | `gen_ai.conversation.id` → `session.id` → `traceloop.association.properties.session_id` → `….conversation_id` → `….thread_id` (LangChain's run metadata and LangGraph's thread, as OpenLLMetry copies them; OpenInference reads the same three into `session.id`) |
//! | `user_id` | `user.id` → `enduser.id` → `traceloop.association.properties.user_id` |
//! | `service_name` | the resource's `service.name` |
//! | `status`, `status_message` | OTLP code 0 / 1 / 2 → Unset / Ok / Error (an undefined code → Unset); the message when not empty |
//! | `trace_id`, `span_id`, `parent_span_id` | lowercase hex; an empty or all-zero parent is a root |
//! | `attributes` | every span attribute (unknown ones too), minus the keys moved into `input`/`output` (with any other single-attribute input or output source holding the very same text: OpenLLMetry 0.62 writes each input and output twice), plus the names below |
//! | `events` | every event (exceptions too): `[{"name", "time_unix_nanos", "attributes"}]` |
//! | attribute `gen_ai.agent.name`, added when absent on an agent span | `agent.name` → `graph.node.id` → `metadata` JSON's `langgraph_node` → `traceloop.association.properties.langgraph_node` → `traceloop.entity.name` |
//! | attribute `gen_ai.tool.name`, added when absent on a tool span | `tool.name` → `traceloop.entity.name` |
//!
//! Kind values (a value not listed is no kind, and the next source is read):
//!
//! | source | value → kind |
//! |---|---|
//! | `agentstack.span.kind` | one of [`KINDS`], as itself |
//! | `gen_ai.operation.name` | chat, text_completion, generate_content → llm; embeddings → embedding; execute_tool → tool; invoke_agent, create_agent → agent; retrieval, vector_db_retrieve (OpenLLMetry) → retriever; invoke_workflow, execute_task (OpenLLMetry) → chain |
//! | `openinference.span.kind` (any case) | LLM, TOOL, AGENT, CHAIN, RETRIEVER, EMBEDDING, GUARDRAIL → themselves; RERANKER → retriever; EVALUATOR → guardrail; PROMPT → chain |
//! | `traceloop.span.kind` | workflow, task → chain; agent → agent; tool → tool |
//! | `llm.request.type` | chat, completion → llm; embedding → embedding; rerank → retriever |
//! | `gen_ai.operation.name`, last | any other non-empty value (OpenLLMetry's `workflow`, AG2's `conversation`, …) → chain, ranked last so that a producer saying more wins over the guess |
//!
//! Tokens are never added up: a later source is read only when the earlier ones are absent,
//! and a total (`llm.token_count.total`, `gen_ai.usage.total_tokens`) is never a column (with
//! no parts beside it, it stays only in the attributes). The total does decide one thing: when
//! input + output misses it by exactly the cached tokens, the producer counted its input
//! without the cache (Anthropic's way), and the input column gets the cache added. A token count may arrive as an int, a
//! whole double or a string of either; negative or fractional counts are ignored. Text columns
//! (model, provider, session, user) skip empty strings and take numbers as their decimal text.
//!
//! Attribute values become JSON as in the SDK's local mode: string, bool, int, double as
//! themselves, arrays as arrays, kvlists as objects, bytes as base64 text.

mod flattened;
mod genai;
mod native;
mod openinference;
mod openllmetry;
mod value;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use agentstack_exporter_sqlite::{SpanRecord, SpanStatus, StorableSpan};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use serde_json::{Value as Json, json};

use value::{Attributes, Moved, first_text, first_tokens, hex, text};

/// A store kind (one of [`KINDS`]).
pub(crate) type Kind = &'static str;

/// The span kinds of the store's `kind` column.
pub const KINDS: [&str; 7] = [
    "agent",
    "tool",
    "llm",
    "chain",
    "retriever",
    "embedding",
    "guardrail",
];

/// What one OTLP request became.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Normalized {
    /// The spans that went through, in request order.
    pub spans: Vec<NormalizedSpan>,
    /// The spans that did not, for the `partial_success` of the OTLP answer.
    pub rejected: Vec<RejectedSpan>,
}

impl Normalized {
    /// The `partial_success.error_message` of the OTLP answer: how many spans were rejected and
    /// why (the first few), or `None` when every span went through.
    pub fn partial_success_message(&self) -> Option<String> {
        const LISTED: usize = 5;
        if self.rejected.is_empty() {
            return None;
        }
        let listed: Vec<String> = self
            .rejected
            .iter()
            .take(LISTED)
            .map(|rejected| format!("span {}: {}", rejected.index, rejected.reason))
            .collect();
        let total = self.spans.len() + self.rejected.len();
        let mut message = format!(
            "{} of {total} spans rejected: {}",
            self.rejected.len(),
            listed.join("; ")
        );
        if self.rejected.len() > LISTED {
            message.push_str(&format!("; and {} more", self.rejected.len() - LISTED));
        }
        Some(message)
    }
}

/// One span in the server's model, ready for the bus and the store (and, serialized with
/// MessagePack, for the Redis bus).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NormalizedSpan {
    /// The project the request's API key belongs to; with the trace and span ids, the span's
    /// identity.
    pub project: String,
    /// The store's row.
    pub record: SpanRecord,
    /// The OTLP `SpanKind` as sent (0 unspecified, 1 internal, 2 server, 3 client, 4 producer,
    /// 5 consumer).
    pub otel_span_kind: i32,
    /// Links to other spans (AutoGen ties its runtime's roots to their cause only with links).
    pub links: Vec<SpanLink>,
    /// The resource's attributes, whole: JSON object text.
    pub resource_attributes: String,
    /// The instrumentation scope's name (`agentstack`, `openinference.instrumentation.langchain`,
    /// …); empty if none was sent.
    pub scope_name: String,
}

impl StorableSpan for NormalizedSpan {
    fn record(&self) -> &SpanRecord {
        &self.record
    }

    fn project(&self) -> &str {
        &self.project
    }

    /// `[]` when the span has none (most have none); else the links as JSON text, each link's
    /// attributes an object (normalize made them object text).
    fn links(&self) -> Cow<'_, str> {
        if self.links.is_empty() {
            return Cow::Borrowed("[]");
        }
        let links: Vec<Json> = self
            .links
            .iter()
            .map(|link| {
                json!({
                    "trace_id": link.trace_id,
                    "span_id": link.span_id,
                    "attributes": serde_json::from_str::<Json>(&link.attributes)
                        .unwrap_or_else(|_| json!({})),
                })
            })
            .collect();
        Cow::Owned(Json::Array(links).to_string())
    }

    fn resource(&self) -> &str {
        &self.resource_attributes
    }
}

/// A link from a span to another span, of this trace or another.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SpanLink {
    /// The linked span's trace: 32 lowercase hex characters.
    pub trace_id: String,
    /// The linked span: 16 lowercase hex characters.
    pub span_id: String,
    /// The link's attributes: JSON object text.
    pub attributes: String,
}

/// A span that was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedSpan {
    /// Its position in the request, counting every span of every resource and scope in order,
    /// from 0.
    pub index: usize,
    /// Why.
    pub reason: RejectReason,
}

/// Why a span was rejected: its ids cannot identify it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RejectReason {
    /// The trace id is not 16 bytes.
    #[error(
        "trace_id is {len} bytes; a trace id is 16 bytes (32 hex characters in OTLP/JSON), so \
         the producer's SDK or exporter is sending malformed spans"
    )]
    TraceIdLength {
        /// Its length in bytes.
        len: usize,
    },
    /// The trace id is all zeros, which OpenTelemetry reserves for "no trace".
    #[error("trace_id is all zeros, which OpenTelemetry reserves for an invalid trace")]
    TraceIdZero,
    /// The span id is not 8 bytes.
    #[error(
        "span_id is {len} bytes; a span id is 8 bytes (16 hex characters in OTLP/JSON), so the \
         producer's SDK or exporter is sending malformed spans"
    )]
    SpanIdLength {
        /// Its length in bytes.
        len: usize,
    },
    /// The span id is all zeros, which OpenTelemetry reserves for "no span".
    #[error("span_id is all zeros, which OpenTelemetry reserves for an invalid span")]
    SpanIdZero,
    /// The parent span id is neither empty (a root) nor 8 bytes.
    #[error(
        "parent_span_id is {len} bytes; it must be 8 bytes, or empty for a root span, so the \
         span cannot be placed in its trace"
    )]
    ParentSpanIdLength {
        /// Its length in bytes.
        len: usize,
    },
}

/// Normalizes every span of one OTLP request for `project`. Never fails: a span with invalid
/// ids is listed in [`Normalized::rejected`] and the others go through.
pub fn normalize_request(request: ExportTraceServiceRequest, project: &str) -> Normalized {
    let mut normalized = Normalized::default();
    let mut index = 0;
    for resource_spans in request.resource_spans {
        let resource = value::attributes(
            resource_spans
                .resource
                .map(|resource| resource.attributes)
                .unwrap_or_default(),
        );
        let service_name = text(&resource, "service.name");
        let resource_attributes = value::json_text(&resource);
        for scope_spans in resource_spans.scope_spans {
            let scope_name = scope_spans
                .scope
                .map(|scope| scope.name)
                .unwrap_or_default();
            for span in scope_spans.spans {
                match normalize_span(span, service_name.as_deref()) {
                    Ok((record, otel_span_kind, links)) => normalized.spans.push(NormalizedSpan {
                        project: project.to_string(),
                        record,
                        otel_span_kind,
                        links,
                        resource_attributes: resource_attributes.clone(),
                        scope_name: scope_name.clone(),
                    }),
                    Err(reason) => normalized.rejected.push(RejectedSpan { index, reason }),
                }
                index += 1;
            }
        }
    }
    normalized
}

/// One span as a store row, with its OTLP kind and links.
fn normalize_span(
    span: Span,
    service_name: Option<&str>,
) -> Result<(SpanRecord, i32, Vec<SpanLink>), RejectReason> {
    let trace_id = trace_id(&span.trace_id)?;
    let span_id = span_id(&span.span_id)?;
    let parent_span_id = match span.parent_span_id.len() {
        0 => None,
        8 if span.parent_span_id.iter().all(|b| *b == 0) => None,
        8 => Some(hex(&span.parent_span_id)),
        len => return Err(RejectReason::ParentSpanIdLength { len }),
    };

    let mut attributes = value::attributes(span.attributes);
    let mut reading = Reading::of(&attributes);
    reading.count_cache_in_input(first_tokens(
        &attributes,
        &[genai::TOTAL_TOKENS, openinference::TOKEN_COUNT_TOTAL],
    ));
    let input = reading
        .input
        .take()
        .map(|moved| moved.take(&mut attributes));
    let output = reading
        .output
        .take()
        .map(|moved| moved.take(&mut attributes));
    add_names(&mut attributes, reading.kind);

    let (status, status_message) = match span.status {
        Some(status) => (
            SpanStatus::from_otlp_code(i64::from(status.code)).unwrap_or_default(),
            (!status.message.is_empty()).then_some(status.message),
        ),
        None => (SpanStatus::Unset, None),
    };
    let record = SpanRecord {
        trace_id,
        span_id,
        parent_span_id,
        name: span.name,
        kind: reading.kind.map(str::to_string),
        service_name: service_name.map(str::to_string),
        start_unix_nanos: unix_nanos(span.start_time_unix_nano),
        end_unix_nanos: unix_nanos(span.end_time_unix_nano),
        status,
        status_message,
        provider: reading.provider,
        model: reading.model,
        input_tokens: reading.input_tokens,
        output_tokens: reading.output_tokens,
        cache_read_input_tokens: reading.cache_read_input_tokens,
        cache_creation_input_tokens: reading.cache_creation_input_tokens,
        reasoning_output_tokens: reading.reasoning_output_tokens,
        session_id: reading.session_id,
        user_id: reading.user_id,
        input,
        output,
        attributes: value::json_text(&attributes),
        events: Json::Array(span.events.into_iter().map(event_json).collect()).to_string(),
        // The project, links and resource travel beside the record in `NormalizedSpan`, which
        // the stores read through `StorableSpan`.
        project: agentstack_exporter_sqlite::DEFAULT_PROJECT.to_string(),
        links: "[]".to_string(),
        resource: "{}".to_string(),
    };
    let links = span.links.into_iter().filter_map(span_link).collect();
    Ok((record, span.kind, links))
}

/// The single-attribute sources of `input`: besides the one the column is taken from, any of
/// them holding the very same text leaves the attributes too (the value is kept once).
const INPUT_KEYS: &[&str] = &[
    native::INPUT,
    openinference::INPUT_VALUE,
    genai::INPUT_MESSAGES,
    genai::TOOL_CALL_ARGUMENTS,
    openllmetry::ENTITY_INPUT,
    openllmetry::TASK_INPUT,
    genai::PROMPT,
];

/// The single-attribute sources of `output` (see [`INPUT_KEYS`]).
const OUTPUT_KEYS: &[&str] = &[
    native::OUTPUT,
    openinference::OUTPUT_VALUE,
    genai::OUTPUT_MESSAGES,
    genai::TOOL_CALL_RESULT,
    openllmetry::ENTITY_OUTPUT,
    openllmetry::TASK_OUTPUT,
    genai::COMPLETION,
];

/// What the conventions say about one span, each field from the first source that says it
/// (the precedence of the module's mapping table).
struct Reading {
    kind: Option<Kind>,
    model: Option<String>,
    provider: Option<String>,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    cache_read_input_tokens: Option<i64>,
    cache_creation_input_tokens: Option<i64>,
    reasoning_output_tokens: Option<i64>,
    input: Option<Moved>,
    output: Option<Moved>,
    session_id: Option<String>,
    user_id: Option<String>,
}

impl Reading {
    /// Makes the input count include the cache, as OpenTelemetry counts it, when the producer's
    /// own total shows that it left the cache out (Anthropic's accounting, which Strands Agents
    /// sends under GenAI names): input + output ≠ total but input + cached + output = total.
    fn count_cache_in_input(&mut self, total: Option<i64>) {
        let (Some(input), Some(output), Some(total)) =
            (self.input_tokens, self.output_tokens, total)
        else {
            return;
        };
        let cached = self.cache_read_input_tokens.unwrap_or(0)
            + self.cache_creation_input_tokens.unwrap_or(0);
        if cached > 0 && input + output != total && input + cached + output == total {
            self.input_tokens = Some(input + cached);
        }
    }

    fn of(a: &Attributes) -> Reading {
        Reading {
            kind: native::kind(a)
                .or_else(|| genai::kind(a))
                .or_else(|| openinference::kind(a))
                .or_else(|| openllmetry::kind(a))
                .or_else(|| genai::other_operation_kind(a)),
            model: first_text(
                a,
                &[
                    genai::RESPONSE_MODEL,
                    genai::REQUEST_MODEL,
                    openinference::RESPONSE_MODEL_NAME,
                    openinference::MODEL_NAME,
                    openinference::REQUEST_MODEL_NAME,
                    openinference::EMBEDDING_MODEL_NAME,
                    openllmetry::LEGACY_RESPONSE_MODEL,
                    openllmetry::LEGACY_REQUEST_MODEL,
                ],
            ),
            provider: openllmetry::langchain_provider(a).or_else(|| {
                first_text(
                    a,
                    &[
                        genai::PROVIDER_NAME,
                        genai::SYSTEM,
                        openinference::PROVIDER,
                        openinference::SYSTEM,
                    ],
                )
            }),
            input_tokens: first_tokens(
                a,
                &[
                    genai::INPUT_TOKENS,
                    genai::PROMPT_TOKENS,
                    openinference::TOKEN_COUNT_PROMPT,
                ],
            ),
            output_tokens: first_tokens(
                a,
                &[
                    genai::OUTPUT_TOKENS,
                    genai::COMPLETION_TOKENS,
                    openinference::TOKEN_COUNT_COMPLETION,
                ],
            ),
            cache_read_input_tokens: first_tokens(
                a,
                &[
                    genai::CACHE_READ_INPUT_TOKENS,
                    genai::CACHE_READ_INPUT_TOKENS_OLD,
                    openinference::TOKEN_COUNT_CACHE_READ,
                ],
            ),
            cache_creation_input_tokens: first_tokens(
                a,
                &[
                    genai::CACHE_CREATION_INPUT_TOKENS,
                    genai::CACHE_CREATION_INPUT_TOKENS_OLD,
                    genai::CACHE_WRITE_INPUT_TOKENS,
                    openinference::TOKEN_COUNT_CACHE_WRITE,
                ],
            ),
            reasoning_output_tokens: first_tokens(
                a,
                &[
                    genai::REASONING_OUTPUT_TOKENS,
                    genai::REASONING_TOKENS_OLD,
                    openinference::TOKEN_COUNT_REASONING,
                ],
            ),
            input: native::input(a)
                .or_else(|| openinference::input_value(a))
                .or_else(|| genai::input_messages(a))
                .or_else(|| genai::tool_call_arguments(a))
                .or_else(|| openllmetry::entity_input(a))
                .or_else(|| openllmetry::task_input(a))
                .or_else(|| genai::deprecated_prompt(a))
                .or_else(|| openinference::input_messages(a))
                .map(|moved| moved.with_identical_copies(a, INPUT_KEYS)),
            output: native::output(a)
                .or_else(|| openinference::output_value(a))
                .or_else(|| genai::output_messages(a))
                .or_else(|| genai::tool_call_result(a))
                .or_else(|| openllmetry::entity_output(a))
                .or_else(|| openllmetry::task_output(a))
                .or_else(|| genai::deprecated_completion(a))
                .or_else(|| openinference::output_messages(a))
                .map(|moved| moved.with_identical_copies(a, OUTPUT_KEYS)),
            session_id: first_text(
                a,
                &[
                    genai::CONVERSATION_ID,
                    openinference::SESSION_ID,
                    openllmetry::SESSION_ID,
                    openllmetry::CONVERSATION_ID,
                    openllmetry::THREAD_ID,
                ],
            ),
            user_id: first_text(
                a,
                &[genai::USER_ID, genai::ENDUSER_ID, openllmetry::USER_ID],
            ),
        }
    }
}

/// Sets `gen_ai.agent.name` on an agent span and `gen_ai.tool.name` on a tool span from the
/// producer's own key, when the span does not carry the GenAI one already (never overwritten).
fn add_names(attributes: &mut Attributes, kind: Option<Kind>) {
    let (key, name) = match kind {
        Some("agent") if !attributes.contains_key(genai::AGENT_NAME) => (
            genai::AGENT_NAME,
            first_text(
                attributes,
                &[openinference::AGENT_NAME, openinference::GRAPH_NODE_ID],
            )
            .or_else(|| openinference::langgraph_node(attributes))
            .or_else(|| {
                first_text(
                    attributes,
                    &[openllmetry::LANGGRAPH_NODE, openllmetry::ENTITY_NAME],
                )
            }),
        ),
        Some("tool") if !attributes.contains_key(genai::TOOL_NAME) => (
            genai::TOOL_NAME,
            first_text(
                attributes,
                &[openinference::TOOL_NAME, openllmetry::ENTITY_NAME],
            ),
        ),
        _ => return,
    };
    if let Some(name) = name {
        attributes.insert(key.to_string(), Json::String(name));
    }
}

/// 16 bytes, not all zero.
fn trace_id(bytes: &[u8]) -> Result<String, RejectReason> {
    match bytes.len() {
        16 if bytes.iter().all(|b| *b == 0) => Err(RejectReason::TraceIdZero),
        16 => Ok(hex(bytes)),
        len => Err(RejectReason::TraceIdLength { len }),
    }
}

/// 8 bytes, not all zero.
fn span_id(bytes: &[u8]) -> Result<String, RejectReason> {
    match bytes.len() {
        8 if bytes.iter().all(|b| *b == 0) => Err(RejectReason::SpanIdZero),
        8 => Ok(hex(bytes)),
        len => Err(RejectReason::SpanIdLength { len }),
    }
}

/// A link, when both its ids are valid (a link that cannot point anywhere is dropped).
fn span_link(link: Link) -> Option<SpanLink> {
    Some(SpanLink {
        trace_id: trace_id(&link.trace_id).ok()?,
        span_id: span_id(&link.span_id).ok()?,
        attributes: Json::Object(value::json_object(link.attributes)).to_string(),
    })
}

/// One event in the shape of the store's `events` column (the SDK's local mode writes the same).
fn event_json(event: Event) -> Json {
    json!({
        "name": event.name,
        "time_unix_nanos": unix_nanos(event.time_unix_nano),
        "attributes": Json::Object(value::json_object(event.attributes)),
    })
}

/// OTLP's unsigned nanoseconds as the store's signed ones (saturating past the year 2262).
fn unix_nanos(nanos: u64) -> i64 {
    i64::try_from(nanos).unwrap_or(i64::MAX)
}
