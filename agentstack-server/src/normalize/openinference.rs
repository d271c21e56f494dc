//! OpenInference (Arize: `openinference-instrumentation-langchain`, `-crewai`,
//! `-autogen-agentchat`, `-openai`, …): `openinference.span.kind`, `llm.*`, `input.value` /
//! `output.value`, flattened `llm.input_messages.N.message.*`, `session.id`, `tool.name`,
//! `graph.node.id`, and LangChain's run `metadata` as a JSON string.

use serde_json::Value as Json;

use super::Kind;
use super::flattened;
use super::value::{Attributes, Moved, moved, text_of};

/// `LLM`, `TOOL`, `AGENT`, `CHAIN`, `RETRIEVER`, `EMBEDDING`, …
pub(crate) const SPAN_KIND: &str = "openinference.span.kind";
/// The model.
pub(crate) const MODEL_NAME: &str = "llm.model_name";
/// The model that answered, when the provider routed the request (newer OpenInference).
pub(crate) const RESPONSE_MODEL_NAME: &str = "llm.response.model_name";
/// The model asked for, when the provider routed the request (newer OpenInference).
pub(crate) const REQUEST_MODEL_NAME: &str = "llm.request.model_name";
/// The model of an EMBEDDING span.
pub(crate) const EMBEDDING_MODEL_NAME: &str = "embedding.model_name";
/// The provider (`openai`, `azure`, …).
pub(crate) const PROVIDER: &str = "llm.provider";
/// The AI product (`openai`, `anthropic`, …).
pub(crate) const SYSTEM: &str = "llm.system";

/// Prompt tokens.
pub(crate) const TOKEN_COUNT_PROMPT: &str = "llm.token_count.prompt";
/// Completion tokens.
pub(crate) const TOKEN_COUNT_COMPLETION: &str = "llm.token_count.completion";
/// Prompt tokens read from the cache.
pub(crate) const TOKEN_COUNT_CACHE_READ: &str = "llm.token_count.prompt_details.cache_read";
/// Prompt tokens written to the cache.
pub(crate) const TOKEN_COUNT_CACHE_WRITE: &str = "llm.token_count.prompt_details.cache_write";
/// Completion tokens spent on reasoning.
pub(crate) const TOKEN_COUNT_REASONING: &str = "llm.token_count.completion_details.reasoning";
/// Prompt and completion tokens together (never a column; see `Reading::count_cache_in_input`).
pub(crate) const TOKEN_COUNT_TOTAL: &str = "llm.token_count.total";

/// The span's input: JSON or plain text (`input.mime_type` says which; it stays in the
/// attributes).
pub(crate) const INPUT_VALUE: &str = "input.value";
/// The span's output.
pub(crate) const OUTPUT_VALUE: &str = "output.value";
/// Prefix of the flattened input messages, `llm.input_messages.N.message.{role,content,…}`.
pub(crate) const INPUT_MESSAGES: &str = "llm.input_messages";
/// Prefix of the flattened output messages.
pub(crate) const OUTPUT_MESSAGES: &str = "llm.output_messages";

/// The session.
pub(crate) const SESSION_ID: &str = "session.id";
/// The tool's name, on TOOL spans.
pub(crate) const TOOL_NAME: &str = "tool.name";
/// The agent's name (newer OpenInference).
pub(crate) const AGENT_NAME: &str = "agent.name";
/// The agent's name in AutoGen AgentChat and CrewAI spans (the agent's role in CrewAI).
pub(crate) const GRAPH_NODE_ID: &str = "graph.node.id";
/// LangChain's run metadata as a JSON string; LangGraph puts the node in `langgraph_node`.
pub(crate) const METADATA: &str = "metadata";

/// The store's kind of `openinference.span.kind` (case-insensitive): the seven kinds as
/// themselves, RERANKER as retriever, EVALUATOR as guardrail, PROMPT (a template rendered) as
/// chain; UNKNOWN and anything else as no kind.
pub(crate) fn kind(attributes: &Attributes) -> Option<Kind> {
    let value = attributes.get(SPAN_KIND)?.as_str()?.to_ascii_uppercase();
    Some(match value.as_str() {
        "LLM" => "llm",
        "TOOL" => "tool",
        "AGENT" => "agent",
        "CHAIN" => "chain",
        "RETRIEVER" | "RERANKER" => "retriever",
        "EMBEDDING" => "embedding",
        "GUARDRAIL" | "EVALUATOR" => "guardrail",
        "PROMPT" => "chain",
        _ => return None,
    })
}

/// `input.value`.
pub(crate) fn input_value(attributes: &Attributes) -> Option<Moved> {
    moved(attributes, INPUT_VALUE)
}

/// `output.value`.
pub(crate) fn output_value(attributes: &Attributes) -> Option<Moved> {
    moved(attributes, OUTPUT_VALUE)
}

/// `llm.input_messages.N.message.*` reassembled into a JSON array of messages.
pub(crate) fn input_messages(attributes: &Attributes) -> Option<Moved> {
    flattened::messages(attributes, INPUT_MESSAGES, Some("message"))
}

/// `llm.output_messages.N.message.*` reassembled into a JSON array of messages.
pub(crate) fn output_messages(attributes: &Attributes) -> Option<Moved> {
    flattened::messages(attributes, OUTPUT_MESSAGES, Some("message"))
}

/// The `langgraph_node` of the `metadata` JSON string (LangGraph runs through LangChain).
pub(crate) fn langgraph_node(attributes: &Attributes) -> Option<String> {
    let metadata = attributes.get(METADATA)?;
    let parsed;
    let object = match metadata {
        Json::String(s) => {
            parsed = serde_json::from_str::<Json>(s).ok()?;
            parsed.as_object()?
        }
        Json::Object(object) => object,
        _ => return None,
    };
    object.get("langgraph_node").and_then(text_of)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{V, attributes_of, normalize_one, parsed};

    const LANGGRAPH_METADATA: &str = r#"{"langgraph_step": 1, "langgraph_node": "agent", "langgraph_triggers": ["branch:to:agent"], "langgraph_path": ["__pregel_pull", "agent"], "langgraph_checkpoint_ns": "agent:5f1c", "checkpoint_ns": "agent:5f1c", "ls_provider": "openai", "ls_model_name": "gpt-4o-mini", "ls_model_type": "chat", "ls_temperature": 0.0}"#;

    /// The LLM span of `openinference-instrumentation-langchain` under LangGraph: model, three
    /// token counts (with a total), `input.value`, and the flattened messages beside it.
    #[test]
    fn langchain_llm_span() {
        let input_value = r#"{"messages": [[{"lc": 1, "type": "constructor", "id": ["langchain", "schema", "messages", "HumanMessage"], "kwargs": {"content": "What is 2+2?", "type": "human"}}]]}"#;
        let output_value =
            r#"{"generations": [[{"text": "4", "type": "ChatGeneration"}]], "llm_output": null}"#;
        let s = normalize_one(
            "ChatOpenAI",
            vec![
                ("openinference.span.kind", V::S("LLM")),
                ("llm.model_name", V::S("gpt-4o-mini")),
                ("llm.provider", V::S("openai")),
                ("llm.system", V::S("openai")),
                (
                    "llm.invocation_parameters",
                    V::S(r#"{"model": "gpt-4o-mini", "stream": false}"#),
                ),
                ("input.value", V::S(input_value)),
                ("input.mime_type", V::S("application/json")),
                ("output.value", V::S(output_value)),
                ("output.mime_type", V::S("application/json")),
                ("llm.input_messages.0.message.role", V::S("user")),
                ("llm.input_messages.0.message.content", V::S("What is 2+2?")),
                ("llm.output_messages.0.message.role", V::S("assistant")),
                ("llm.output_messages.0.message.content", V::S("4")),
                ("llm.token_count.prompt", V::I(12)),
                ("llm.token_count.completion", V::I(3)),
                ("llm.token_count.total", V::I(15)),
                ("metadata", V::S(LANGGRAPH_METADATA)),
                ("session.id", V::S("thread-1")),
            ],
        );
        let r = &s.record;
        assert_eq!(r.kind.as_deref(), Some("llm"));
        assert_eq!(r.model.as_deref(), Some("gpt-4o-mini"));
        assert_eq!(r.provider.as_deref(), Some("openai"));
        assert_eq!((r.input_tokens, r.output_tokens), (Some(12), Some(3)));
        assert_eq!(r.session_id.as_deref(), Some("thread-1"));
        assert_eq!(r.input.as_deref(), Some(input_value));
        assert_eq!(r.output.as_deref(), Some(output_value));
        let attributes = attributes_of(&s);
        assert!(!attributes.contains_key("input.value"));
        assert!(!attributes.contains_key("output.value"));
        // input.value was taken, so the flattened messages stay as they came.
        assert_eq!(
            attributes["llm.input_messages.0.message.content"],
            json!("What is 2+2?")
        );
        assert_eq!(attributes["llm.token_count.total"], json!(15));
        assert_eq!(attributes["input.mime_type"], json!("application/json"));
        // An LLM span inside the "agent" node is not the agent.
        assert!(!attributes.contains_key("gen_ai.agent.name"));
    }

    /// A LangGraph node span named "agent" is labelled AGENT; its name comes from the
    /// `metadata` JSON string.
    #[test]
    fn langgraph_agent_node_gets_its_agent_name_from_metadata() {
        let s = normalize_one(
            "agent",
            vec![
                ("openinference.span.kind", V::S("AGENT")),
                ("input.value", V::S(r#"{"messages": []}"#)),
                ("output.value", V::S(r#"{"messages": []}"#)),
                ("metadata", V::S(LANGGRAPH_METADATA)),
            ],
        );
        assert_eq!(s.record.kind.as_deref(), Some("agent"));
        let attributes = attributes_of(&s);
        assert_eq!(attributes["gen_ai.agent.name"], json!("agent"));
        assert_eq!(attributes["metadata"], json!(LANGGRAPH_METADATA));
    }

    /// Without `input.value` (some instrumentations only flatten), the messages become the
    /// input and output, every field of them kept, and leave the attributes.
    #[test]
    fn flattened_messages_without_input_value() {
        let s = normalize_one(
            "ChatCompletion",
            vec![
                ("openinference.span.kind", V::S("LLM")),
                ("llm.model_name", V::S("gpt-4o")),
                ("llm.input_messages.0.message.role", V::S("system")),
                (
                    "llm.input_messages.0.message.content",
                    V::S("You are terse."),
                ),
                ("llm.input_messages.1.message.role", V::S("user")),
                (
                    "llm.input_messages.1.message.contents.0.message_content.type",
                    V::S("text"),
                ),
                (
                    "llm.input_messages.1.message.contents.0.message_content.text",
                    V::S("Weather?"),
                ),
                ("llm.output_messages.0.message.role", V::S("assistant")),
                (
                    "llm.output_messages.0.message.tool_calls.0.tool_call.id",
                    V::S("call_1"),
                ),
                (
                    "llm.output_messages.0.message.tool_calls.0.tool_call.function.name",
                    V::S("get_weather"),
                ),
                (
                    "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments",
                    V::S(r#"{"city": "Paris"}"#),
                ),
            ],
        );
        assert_eq!(
            parsed(s.record.input.as_deref()),
            json!([
                {"role": "system", "content": "You are terse."},
                {"role": "user", "contents": [
                    {"message_content": {"type": "text", "text": "Weather?"}}
                ]},
            ])
        );
        assert_eq!(
            parsed(s.record.output.as_deref()),
            json!([{"role": "assistant", "tool_calls": [{"tool_call": {
                "id": "call_1",
                "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"},
            }}]}])
        );
        let attributes = attributes_of(&s);
        assert!(
            attributes
                .keys()
                .all(|k| !k.starts_with("llm.input_messages")
                    && !k.starts_with("llm.output_messages"))
        );
        assert_eq!(attributes["llm.model_name"], json!("gpt-4o"));
    }

    /// A LangChain TOOL span: the tool's name is copied to `gen_ai.tool.name`; a plain-text
    /// output is kept as text.
    #[test]
    fn tool_span_gets_gen_ai_tool_name() {
        let s = normalize_one(
            "get_weather",
            vec![
                ("openinference.span.kind", V::S("TOOL")),
                ("tool.name", V::S("get_weather")),
                ("tool.description", V::S("Weather of a city.")),
                ("input.value", V::S(r#"{"city": "Paris"}"#)),
                ("output.value", V::S("sunny, 21°C")),
                ("output.mime_type", V::S("text/plain")),
            ],
        );
        assert_eq!(s.record.kind.as_deref(), Some("tool"));
        assert_eq!(s.record.output.as_deref(), Some("sunny, 21°C"));
        let attributes = attributes_of(&s);
        assert_eq!(attributes["gen_ai.tool.name"], json!("get_weather"));
        assert_eq!(attributes["tool.name"], json!("get_weather"));
    }

    /// `openinference-instrumentation-autogen-agentchat` and `-crewai` name agents in
    /// `graph.node.id`; a `gen_ai.agent.name` already there is never overwritten.
    #[test]
    fn agent_name_from_graph_node_id_but_never_overwritten() {
        let s = normalize_one(
            "assistant.on_messages_stream",
            vec![
                ("openinference.span.kind", V::S("AGENT")),
                ("graph.node.id", V::S("assistant")),
                ("graph.node.parent_id", V::S("user")),
                ("input.value", V::S(r#"{"messages": [{"source": "user"}]}"#)),
            ],
        );
        assert_eq!(attributes_of(&s)["gen_ai.agent.name"], json!("assistant"));

        let s = normalize_one(
            "Researcher",
            vec![
                ("openinference.span.kind", V::S("AGENT")),
                ("graph.node.id", V::S("Senior Researcher")),
                ("gen_ai.agent.name", V::S("researcher")),
            ],
        );
        assert_eq!(attributes_of(&s)["gen_ai.agent.name"], json!("researcher"));

        // On a span that is not an agent, graph.node.id names no agent.
        let s = normalize_one(
            "Crew.kickoff",
            vec![
                ("openinference.span.kind", V::S("CHAIN")),
                ("graph.node.id", V::S("crew")),
            ],
        );
        assert!(!attributes_of(&s).contains_key("gen_ai.agent.name"));
    }

    /// The spans of openinference-instrumentation-autogen-agentchat 0.1.22 (AutoGen 0.7.5) as
    /// they arrived from tests/python/autogen_openinference.py, trimmed: the LLM span has no
    /// `input.value` (its messages are flattened) and no provider; the tool span takes its name
    /// from `tool.name`.
    #[test]
    fn autogen_agentchat_spans_as_observed() {
        let llm = normalize_one(
            "OpenAIChatCompletionClient.create",
            vec![
                ("llm.model_name", V::S("gpt-4o-mini-2024-07-18")),
                ("llm.input_messages.0.message.role", V::S("developer")),
                (
                    "llm.input_messages.0.message.content",
                    V::S("Look the weather up with the get_weather tool."),
                ),
                ("llm.input_messages.1.message.role", V::S("user")),
                (
                    "llm.input_messages.1.message.content",
                    V::S("What is the weather in Paris?"),
                ),
                (
                    "output.value",
                    V::S(
                        r#"{"finish_reason": "function_calls", "content": [{"id": "call_weather_1", "arguments": "{\"city\": \"Paris\"}", "name": "get_weather"}]}"#,
                    ),
                ),
                ("output.mime_type", V::S("application/json")),
                ("llm.output_messages.0.message.role", V::S("assistant")),
                (
                    "llm.output_messages.0.message.tool_calls.0.tool_call.function.name",
                    V::S("get_weather"),
                ),
                ("llm.token_count.prompt", V::I(51)),
                ("llm.token_count.completion", V::I(12)),
                ("llm.token_count.total", V::I(63)),
                ("openinference.span.kind", V::S("LLM")),
            ],
        );
        let r = &llm.record;
        assert_eq!(r.kind.as_deref(), Some("llm"));
        assert_eq!(r.model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
        assert_eq!(r.provider, None);
        assert_eq!((r.input_tokens, r.output_tokens), (Some(51), Some(12)));
        assert_eq!(
            parsed(r.input.as_deref()),
            json!([
                {"role": "developer", "content": "Look the weather up with the get_weather tool."},
                {"role": "user", "content": "What is the weather in Paris?"},
            ])
        );
        assert!(r.output.as_deref().unwrap().contains("function_calls"));
        let attributes = attributes_of(&llm);
        assert!(!attributes.contains_key("llm.input_messages.1.message.content"));
        // The flattened output stays beside output.value, which is the column.
        assert_eq!(
            attributes["llm.output_messages.0.message.role"],
            json!("assistant")
        );

        let tool = normalize_one(
            "weather_agent.get_weather",
            vec![
                ("tool.name", V::S("get_weather")),
                ("tool.description", V::S("The weather in a city.")),
                ("tool.parameters", V::S(r#"{"city": "Paris"}"#)),
                ("input.value", V::S(r#"{"city": "Paris"}"#)),
                ("input.mime_type", V::S("application/json")),
                ("output.value", V::S("It is sunny in Paris.")),
                ("output.mime_type", V::S("text/plain")),
                ("openinference.span.kind", V::S("TOOL")),
            ],
        );
        assert_eq!(tool.record.kind.as_deref(), Some("tool"));
        assert_eq!(tool.record.input.as_deref(), Some(r#"{"city": "Paris"}"#));
        assert_eq!(tool.record.output.as_deref(), Some("It is sunny in Paris."));
        let attributes = attributes_of(&tool);
        assert_eq!(attributes["gen_ai.tool.name"], json!("get_weather"));
        // The tool's declared parameters are not an input source: kept.
        assert_eq!(attributes["tool.parameters"], json!(r#"{"city": "Paris"}"#));
    }

    #[test]
    fn cache_and_reasoning_details_and_a_lone_total() {
        let r = normalize_one(
            "ChatCompletion",
            vec![
                ("openinference.span.kind", V::S("LLM")),
                ("llm.token_count.prompt", V::I(2000)),
                ("llm.token_count.completion", V::I(500)),
                ("llm.token_count.total", V::I(2500)),
                ("llm.token_count.prompt_details.cache_read", V::I(1536)),
                ("llm.token_count.prompt_details.cache_write", V::I(128)),
                ("llm.token_count.completion_details.reasoning", V::I(384)),
            ],
        )
        .record;
        assert_eq!((r.input_tokens, r.output_tokens), (Some(2000), Some(500)));
        assert_eq!(r.cache_read_input_tokens, Some(1536));
        assert_eq!(r.cache_creation_input_tokens, Some(128));
        assert_eq!(r.reasoning_output_tokens, Some(384));

        let s = normalize_one(
            "ChatCompletion",
            vec![
                ("openinference.span.kind", V::S("LLM")),
                ("llm.token_count.total", V::I(2500)),
            ],
        );
        assert_eq!(
            (s.record.input_tokens, s.record.output_tokens),
            (None, None)
        );
        assert_eq!(attributes_of(&s)["llm.token_count.total"], json!(2500));
    }

    #[test]
    fn span_kinds_map_to_store_kinds() {
        let cases = [
            ("LLM", Some("llm")),
            ("TOOL", Some("tool")),
            ("AGENT", Some("agent")),
            ("CHAIN", Some("chain")),
            ("RETRIEVER", Some("retriever")),
            ("EMBEDDING", Some("embedding")),
            ("GUARDRAIL", Some("guardrail")),
            ("RERANKER", Some("retriever")),
            ("EVALUATOR", Some("guardrail")),
            ("PROMPT", Some("chain")),
            ("llm", Some("llm")),
            ("UNKNOWN", None),
            ("SOMETHING_NEW", None),
        ];
        for (value, kind) in cases {
            let r = normalize_one("s", vec![("openinference.span.kind", V::S(value))]).record;
            assert_eq!(r.kind.as_deref(), kind, "{value}");
        }
    }

    #[test]
    fn model_and_provider_fallbacks() {
        let r = normalize_one(
            "s",
            vec![
                ("llm.request.model_name", V::S("claude-sonnet-4")),
                ("llm.response.model_name", V::S("claude-sonnet-4-20250514")),
                ("llm.model_name", V::S("claude")),
                ("llm.system", V::S("anthropic")),
            ],
        )
        .record;
        assert_eq!(r.model.as_deref(), Some("claude-sonnet-4-20250514"));
        assert_eq!(r.provider.as_deref(), Some("anthropic"));
        let r = normalize_one(
            "s",
            vec![
                ("openinference.span.kind", V::S("EMBEDDING")),
                ("embedding.model_name", V::S("text-embedding-3-small")),
            ],
        )
        .record;
        assert_eq!(r.model.as_deref(), Some("text-embedding-3-small"));
        assert_eq!(r.kind.as_deref(), Some("embedding"));
    }
}
