//! The OpenTelemetry GenAI semantic conventions, current names and the deprecated ones still
//! sent by older instrumentations (and OpenLLMetry, which writes `gen_ai.*` too), plus the
//! general OTel attributes for the end user.

use super::Kind;
use super::flattened;
use super::value::{Attributes, Moved, moved};

/// `chat`, `embeddings`, `execute_tool`, `invoke_agent`, … (custom values are allowed).
pub(crate) const OPERATION_NAME: &str = "gen_ai.operation.name";
/// The provider (current name).
pub(crate) const PROVIDER_NAME: &str = "gen_ai.provider.name";
/// The provider (deprecated name, still sent by AutoGen and older instrumentations).
pub(crate) const SYSTEM: &str = "gen_ai.system";
/// The model asked for.
pub(crate) const REQUEST_MODEL: &str = "gen_ai.request.model";
/// The model that answered.
pub(crate) const RESPONSE_MODEL: &str = "gen_ai.response.model";

/// Prompt tokens, cached ones included.
pub(crate) const INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// Completion tokens, reasoning ones included.
pub(crate) const OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// Input tokens read from the cache.
pub(crate) const CACHE_READ_INPUT_TOKENS: &str = "gen_ai.usage.cache_read.input_tokens";
/// Input tokens written to the cache.
pub(crate) const CACHE_CREATION_INPUT_TOKENS: &str = "gen_ai.usage.cache_creation.input_tokens";
/// Output tokens spent on reasoning.
pub(crate) const REASONING_OUTPUT_TOKENS: &str = "gen_ai.usage.reasoning.output_tokens";
/// Deprecated name of [`INPUT_TOKENS`].
pub(crate) const PROMPT_TOKENS: &str = "gen_ai.usage.prompt_tokens";
/// Deprecated name of [`OUTPUT_TOKENS`].
pub(crate) const COMPLETION_TOKENS: &str = "gen_ai.usage.completion_tokens";
/// Older name of [`CACHE_READ_INPUT_TOKENS`] (OpenLLMetry before its rename).
pub(crate) const CACHE_READ_INPUT_TOKENS_OLD: &str = "gen_ai.usage.cache_read_input_tokens";
/// Older name of [`CACHE_CREATION_INPUT_TOKENS`].
pub(crate) const CACHE_CREATION_INPUT_TOKENS_OLD: &str = "gen_ai.usage.cache_creation_input_tokens";
/// Strands Agents' name of [`CACHE_CREATION_INPUT_TOKENS`] (Anthropic's "cache write").
pub(crate) const CACHE_WRITE_INPUT_TOKENS: &str = "gen_ai.usage.cache_write_input_tokens";
/// The producer's total of input and output tokens (never a column; it tells Anthropic-style
/// input, which leaves the cache out, from OpenTelemetry's, which counts it).
pub(crate) const TOTAL_TOKENS: &str = "gen_ai.usage.total_tokens";
/// Older name of [`REASONING_OUTPUT_TOKENS`] (OpenLLMetry).
pub(crate) const REASONING_TOKENS_OLD: &str = "gen_ai.usage.reasoning_tokens";

/// Input messages, a JSON string.
pub(crate) const INPUT_MESSAGES: &str = "gen_ai.input.messages";
/// Output messages, a JSON string.
pub(crate) const OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
/// A tool call's arguments, JSON text, on an `execute_tool` span.
pub(crate) const TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
/// A tool call's result, on an `execute_tool` span.
pub(crate) const TOOL_CALL_RESULT: &str = "gen_ai.tool.call.result";
/// Deprecated prompt: a JSON string, or flattened as `gen_ai.prompt.N.role` / `.content` / ….
pub(crate) const PROMPT: &str = "gen_ai.prompt";
/// Deprecated completion: a JSON string, or flattened as `gen_ai.completion.N.*`.
pub(crate) const COMPLETION: &str = "gen_ai.completion";

/// The session / conversation.
pub(crate) const CONVERSATION_ID: &str = "gen_ai.conversation.id";
/// The agent's name.
pub(crate) const AGENT_NAME: &str = "gen_ai.agent.name";
/// The tool's name.
pub(crate) const TOOL_NAME: &str = "gen_ai.tool.name";

/// The end user (general OTel convention; OpenInference and the SDK use it too).
pub(crate) const USER_ID: &str = "user.id";
/// The end user (deprecated general OTel name).
pub(crate) const ENDUSER_ID: &str = "enduser.id";

/// The kind of a well-known (or widely sent) `gen_ai.operation.name`.
pub(crate) fn kind(attributes: &Attributes) -> Option<Kind> {
    Some(match attributes.get(OPERATION_NAME)?.as_str()? {
        "chat" | "text_completion" | "generate_content" => "llm",
        "embeddings" => "embedding",
        "execute_tool" => "tool",
        "invoke_agent" | "create_agent" => "agent",
        // OTel's retrieval operation; OpenLLMetry's vector store queries.
        "retrieval" | "vector_db_retrieve" => "retriever",
        // OTel's workflow operation; OpenLLMetry's tasks (LangGraph nodes, CrewAI tasks).
        "invoke_workflow" | "execute_task" => "chain",
        _ => return None,
    })
}

/// Any other non-empty `gen_ai.operation.name` is a step of the agent's work: `chain`. Ranked
/// last, so a producer that says more about the span wins over this guess.
pub(crate) fn other_operation_kind(attributes: &Attributes) -> Option<Kind> {
    let operation = attributes.get(OPERATION_NAME)?.as_str()?;
    (!operation.is_empty()).then_some("chain")
}

/// `gen_ai.input.messages`.
pub(crate) fn input_messages(attributes: &Attributes) -> Option<Moved> {
    moved(attributes, INPUT_MESSAGES)
}

/// `gen_ai.output.messages`.
pub(crate) fn output_messages(attributes: &Attributes) -> Option<Moved> {
    moved(attributes, OUTPUT_MESSAGES)
}

/// `gen_ai.tool.call.arguments`.
pub(crate) fn tool_call_arguments(attributes: &Attributes) -> Option<Moved> {
    moved(attributes, TOOL_CALL_ARGUMENTS)
}

/// `gen_ai.tool.call.result`.
pub(crate) fn tool_call_result(attributes: &Attributes) -> Option<Moved> {
    moved(attributes, TOOL_CALL_RESULT)
}

/// Deprecated `gen_ai.prompt`, else its flattened form reassembled into a JSON array.
pub(crate) fn deprecated_prompt(attributes: &Attributes) -> Option<Moved> {
    moved(attributes, PROMPT).or_else(|| flattened::messages(attributes, PROMPT, None))
}

/// Deprecated `gen_ai.completion`, else its flattened form reassembled into a JSON array.
pub(crate) fn deprecated_completion(attributes: &Attributes) -> Option<Moved> {
    moved(attributes, COMPLETION).or_else(|| flattened::messages(attributes, COMPLETION, None))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::normalize_request;
    use super::super::test_support::{V, attributes_of, kvs, normalize_one, parsed, request, span};
    use opentelemetry_proto::tonic::trace::v1::span::Link;

    /// A chat span of `opentelemetry-instrumentation-openai-v2` (with opentelemetry-util-genai
    /// capturing content on the span): current names, cache and reasoning tokens.
    #[test]
    fn current_convention_chat_span_with_cache_and_reasoning_tokens() {
        let input = r#"[{"role":"user","parts":[{"type":"text","content":"Plan a trip"}]}]"#;
        let output = r#"[{"role":"assistant","parts":[{"type":"text","content":"Day 1"}],"finish_reason":"stop"}]"#;
        let s = normalize_one(
            "chat o3-mini",
            vec![
                ("gen_ai.operation.name", V::S("chat")),
                ("gen_ai.provider.name", V::S("openai")),
                ("gen_ai.request.model", V::S("o3-mini")),
                ("gen_ai.response.model", V::S("o3-mini-2025-01-31")),
                ("gen_ai.response.id", V::S("chatcmpl-123")),
                ("gen_ai.response.finish_reasons", V::Strings(&["stop"])),
                ("gen_ai.usage.input_tokens", V::I(1200)),
                ("gen_ai.usage.output_tokens", V::I(300)),
                ("gen_ai.usage.cache_read.input_tokens", V::I(1024)),
                ("gen_ai.usage.cache_creation.input_tokens", V::I(64)),
                ("gen_ai.usage.reasoning.output_tokens", V::I(256)),
                ("gen_ai.conversation.id", V::S("conv-7")),
                ("gen_ai.input.messages", V::S(input)),
                ("gen_ai.output.messages", V::S(output)),
                ("server.address", V::S("127.0.0.1")),
                ("server.port", V::I(8080)),
            ],
        );
        let r = &s.record;
        assert_eq!(r.kind.as_deref(), Some("llm"));
        assert_eq!(r.provider.as_deref(), Some("openai"));
        assert_eq!(r.model.as_deref(), Some("o3-mini-2025-01-31"));
        assert_eq!(r.input_tokens, Some(1200));
        assert_eq!(r.output_tokens, Some(300));
        assert_eq!(r.cache_read_input_tokens, Some(1024));
        assert_eq!(r.cache_creation_input_tokens, Some(64));
        assert_eq!(r.reasoning_output_tokens, Some(256));
        assert_eq!(r.session_id.as_deref(), Some("conv-7"));
        assert_eq!(r.input.as_deref(), Some(input));
        assert_eq!(r.output.as_deref(), Some(output));
        let attributes = attributes_of(&s);
        assert!(!attributes.contains_key("gen_ai.input.messages"));
        assert!(!attributes.contains_key("gen_ai.output.messages"));
        assert_eq!(
            attributes["gen_ai.response.finish_reasons"],
            json!(["stop"])
        );
        assert_eq!(attributes["server.port"], json!(8080));
        assert_eq!(attributes["gen_ai.request.model"], json!("o3-mini"));
    }

    /// Strands Agents (≤ 1.33) sends Anthropic's accounting under GenAI names: its input leaves
    /// the cache out, and only the total shows it. Stored as OpenTelemetry counts: input 4299
    /// + cache read 35574 + cache write 17787 = 57660.
    #[test]
    fn anthropic_accounted_input_gets_its_cache_added_when_the_total_says_so() {
        let s = normalize_one(
            "chat",
            vec![
                ("gen_ai.operation.name", V::S("chat")),
                ("gen_ai.request.model", V::S("claude-sonnet-4-20250514")),
                ("gen_ai.usage.input_tokens", V::I(4299)),
                ("gen_ai.usage.output_tokens", V::I(631)),
                ("gen_ai.usage.cache_read_input_tokens", V::I(35574)),
                ("gen_ai.usage.cache_write_input_tokens", V::I(17787)),
                ("gen_ai.usage.total_tokens", V::I(58291)),
            ],
        );
        let r = &s.record;
        assert_eq!(r.input_tokens, Some(57660));
        assert_eq!(r.cache_read_input_tokens, Some(35574));
        assert_eq!(r.cache_creation_input_tokens, Some(17787));
        assert_eq!(r.output_tokens, Some(631));
    }

    /// Strands 1.34+ counts the cache in its input already: input + output = total, left as is.
    #[test]
    fn otel_accounted_input_is_left_as_sent() {
        let s = normalize_one(
            "chat",
            vec![
                ("gen_ai.operation.name", V::S("chat")),
                ("gen_ai.usage.input_tokens", V::I(8)),
                ("gen_ai.usage.output_tokens", V::I(2)),
                ("gen_ai.usage.cache_read_input_tokens", V::I(3)),
                ("gen_ai.usage.cache_write_input_tokens", V::I(1)),
                ("gen_ai.usage.total_tokens", V::I(10)),
            ],
        );
        assert_eq!(s.record.input_tokens, Some(8));
        assert_eq!(s.record.cache_creation_input_tokens, Some(1));
    }

    /// Instrumentations that predate the renames: `gen_ai.system`, `prompt_tokens`,
    /// `completion_tokens`, and `gen_ai.prompt` / `gen_ai.completion` as JSON strings.
    #[test]
    fn deprecated_names_alone_are_read() {
        let s = normalize_one(
            "chat gpt-4",
            vec![
                ("gen_ai.operation.name", V::S("chat")),
                ("gen_ai.system", V::S("openai")),
                ("gen_ai.request.model", V::S("gpt-4")),
                ("gen_ai.usage.prompt_tokens", V::I(40)),
                ("gen_ai.usage.completion_tokens", V::I(2)),
                ("gen_ai.usage.cache_read_input_tokens", V::I(32)),
                ("gen_ai.usage.cache_creation_input_tokens", V::I(8)),
                ("gen_ai.usage.reasoning_tokens", V::I(1)),
                ("gen_ai.prompt", V::S(r#"[{"role":"user","content":"hi"}]"#)),
                (
                    "gen_ai.completion",
                    V::S(r#"[{"role":"assistant","content":"hello"}]"#),
                ),
                ("enduser.id", V::S("u-1")),
            ],
        );
        let r = &s.record;
        assert_eq!(r.provider.as_deref(), Some("openai"));
        assert_eq!(r.model.as_deref(), Some("gpt-4"));
        assert_eq!((r.input_tokens, r.output_tokens), (Some(40), Some(2)));
        assert_eq!(r.cache_read_input_tokens, Some(32));
        assert_eq!(r.cache_creation_input_tokens, Some(8));
        assert_eq!(r.reasoning_output_tokens, Some(1));
        assert_eq!(r.user_id.as_deref(), Some("u-1"));
        assert_eq!(
            parsed(r.input.as_deref()),
            json!([{"role": "user", "content": "hi"}])
        );
        assert_eq!(
            parsed(r.output.as_deref()),
            json!([{"role": "assistant", "content": "hello"}])
        );
        let attributes = attributes_of(&s);
        assert!(!attributes.contains_key("gen_ai.prompt"));
        assert!(!attributes.contains_key("gen_ai.completion"));
        assert_eq!(attributes["gen_ai.usage.prompt_tokens"], json!(40));
    }

    /// Transitional instrumentations send both names: the current one is taken, not the sum.
    #[test]
    fn current_names_win_over_deprecated_ones() {
        let r = normalize_one(
            "chat",
            vec![
                ("gen_ai.operation.name", V::S("chat")),
                ("gen_ai.provider.name", V::S("anthropic")),
                ("gen_ai.system", V::S("Anthropic")),
                ("gen_ai.usage.input_tokens", V::I(10)),
                ("gen_ai.usage.prompt_tokens", V::I(99)),
                ("gen_ai.usage.output_tokens", V::I(5)),
                ("gen_ai.usage.completion_tokens", V::I(98)),
                ("gen_ai.usage.cache_read.input_tokens", V::I(3)),
                ("gen_ai.usage.cache_read_input_tokens", V::I(97)),
                ("gen_ai.usage.cache_creation.input_tokens", V::I(2)),
                ("gen_ai.usage.cache_creation_input_tokens", V::I(96)),
                ("gen_ai.usage.reasoning.output_tokens", V::I(1)),
                ("gen_ai.usage.reasoning_tokens", V::I(95)),
                ("gen_ai.input.messages", V::S("[1]")),
                ("gen_ai.prompt", V::S("[2]")),
            ],
        )
        .record;
        assert_eq!(r.provider.as_deref(), Some("anthropic"));
        assert_eq!(r.input_tokens, Some(10));
        assert_eq!(r.output_tokens, Some(5));
        assert_eq!(r.cache_read_input_tokens, Some(3));
        assert_eq!(r.cache_creation_input_tokens, Some(2));
        assert_eq!(r.reasoning_output_tokens, Some(1));
        assert_eq!(r.input.as_deref(), Some("[1]"));
    }

    /// An `execute_tool` span in the current conventions carries its call's arguments and
    /// result (opt-in content): they are the span's input and output.
    #[test]
    fn tool_call_arguments_and_result_are_input_and_output() {
        let s = normalize_one(
            "execute_tool get_weather",
            vec![
                ("gen_ai.operation.name", V::S("execute_tool")),
                ("gen_ai.tool.name", V::S("get_weather")),
                ("gen_ai.tool.call.id", V::S("call_1")),
                ("gen_ai.tool.call.arguments", V::S(r#"{"city":"Paris"}"#)),
                ("gen_ai.tool.call.result", V::S("It is sunny in Paris.")),
            ],
        );
        assert_eq!(s.record.kind.as_deref(), Some("tool"));
        assert_eq!(s.record.input.as_deref(), Some(r#"{"city":"Paris"}"#));
        assert_eq!(s.record.output.as_deref(), Some("It is sunny in Paris."));
        let attributes = attributes_of(&s);
        assert!(!attributes.contains_key("gen_ai.tool.call.arguments"));
        assert!(!attributes.contains_key("gen_ai.tool.call.result"));
        assert_eq!(attributes["gen_ai.tool.call.id"], json!("call_1"));
    }

    #[test]
    fn operation_names_map_to_kinds() {
        let cases = [
            ("chat", Some("llm")),
            ("text_completion", Some("llm")),
            ("generate_content", Some("llm")),
            ("embeddings", Some("embedding")),
            ("execute_tool", Some("tool")),
            ("invoke_agent", Some("agent")),
            ("create_agent", Some("agent")),
            ("retrieval", Some("retriever")),
            ("vector_db_retrieve", Some("retriever")),
            ("execute_task", Some("chain")),
            ("invoke_workflow", Some("chain")),
            ("workflow", Some("chain")),
            ("conversation", Some("chain")),
            ("", None),
        ];
        for (operation, kind) in cases {
            let r = normalize_one("s", vec![("gen_ai.operation.name", V::S(operation))]).record;
            assert_eq!(r.kind.as_deref(), kind, "{operation:?}");
        }
    }

    /// AutoGen's built-in tracing: one root per runtime message (a producer span for the
    /// publish, a consumer span for the process, in another trace) tied only by links, and
    /// GenAI agent and tool spans with the deprecated `gen_ai.system` = `autogen`.
    #[test]
    fn autogen_runtime_spans_keep_their_links() {
        let cause_trace = [7u8; 16];
        let cause_span = [9u8; 8];
        let mut publish = span(
            "autogen publish group_topic_abc.(default)-T",
            vec![
                ("messaging.operation", V::S("publish")),
                ("messaging.destination", V::S("group_topic_abc.(default)-T")),
                ("messaging.message.type", V::S("GroupChatStart")),
            ],
        );
        publish.parent_span_id.clear();
        publish.kind = 4;
        let mut process = span(
            "autogen process assistant_abc.(default)-A",
            vec![
                ("messaging.operation", V::S("process")),
                ("messaging.destination", V::S("assistant_abc.(default)-A")),
            ],
        );
        process.trace_id = [3u8; 16].to_vec();
        process.span_id = [4u8; 8].to_vec();
        process.parent_span_id.clear();
        process.kind = 5;
        process.links = vec![
            Link {
                trace_id: cause_trace.to_vec(),
                span_id: cause_span.to_vec(),
                ..Default::default()
            },
            Link {
                trace_id: [1u8; 16].to_vec(),
                span_id: [2u8; 8].to_vec(),
                attributes: kvs(vec![("autogen.link.reason", V::S("reply"))]),
                ..Default::default()
            },
            // A link that cannot point anywhere is dropped.
            Link {
                trace_id: vec![1, 2, 3],
                span_id: cause_span.to_vec(),
                ..Default::default()
            },
        ];
        let mut agent = span(
            "invoke_agent assistant",
            vec![
                ("gen_ai.operation.name", V::S("invoke_agent")),
                ("gen_ai.system", V::S("autogen")),
                ("gen_ai.agent.name", V::S("assistant")),
                ("gen_ai.agent.id", V::S("assistant_abc/default")),
                ("gen_ai.agent.description", V::S("A helpful assistant.")),
            ],
        );
        agent.trace_id = [3u8; 16].to_vec();
        agent.span_id = [5u8; 8].to_vec();
        agent.parent_span_id = [4u8; 8].to_vec();
        agent.kind = 3;
        let mut tool = span(
            "execute_tool get_weather",
            vec![
                ("gen_ai.operation.name", V::S("execute_tool")),
                ("gen_ai.system", V::S("autogen")),
                ("gen_ai.tool.name", V::S("get_weather")),
                ("gen_ai.tool.call.id", V::S("call_1")),
            ],
        );
        tool.trace_id = [3u8; 16].to_vec();
        tool.span_id = [6u8; 8].to_vec();
        tool.parent_span_id = [5u8; 8].to_vec();
        let normalized = normalize_request(
            request(
                "autogen-team",
                "autogen SingleThreadedAgentRuntime",
                vec![publish, process, agent, tool],
            ),
            "proj",
        );
        assert!(normalized.rejected.is_empty());
        let [publish, process, agent, tool] = &normalized.spans[..] else {
            panic!("4 spans expected, got {:?}", normalized.spans);
        };
        assert_eq!(publish.record.parent_span_id, None);
        assert_eq!(publish.record.kind, None);
        assert_eq!(publish.otel_span_kind, 4);
        assert_eq!(process.otel_span_kind, 5);
        assert_eq!(process.record.parent_span_id, None);
        assert_eq!(process.links.len(), 2);
        assert_eq!(process.links[0].trace_id, "07".repeat(16));
        assert_eq!(process.links[0].span_id, "09".repeat(8));
        assert_eq!(process.links[0].attributes, "{}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&process.links[1].attributes).unwrap(),
            json!({"autogen.link.reason": "reply"})
        );
        assert_eq!(agent.record.kind.as_deref(), Some("agent"));
        assert_eq!(agent.record.provider.as_deref(), Some("autogen"));
        assert_eq!(
            agent.record.parent_span_id.as_deref(),
            Some("0404040404040404")
        );
        assert_eq!(
            attributes_of(agent)["gen_ai.agent.name"],
            json!("assistant")
        );
        assert_eq!(tool.record.kind.as_deref(), Some("tool"));
        assert_eq!(
            attributes_of(tool)["gen_ai.tool.name"],
            json!("get_weather")
        );
        assert!(
            normalized
                .spans
                .iter()
                .all(|s| s.scope_name == "autogen SingleThreadedAgentRuntime"
                    && s.record.service_name.as_deref() == Some("autogen-team"))
        );
    }
}
