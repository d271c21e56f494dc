//! OpenLLMetry (Traceloop's `opentelemetry-instrumentation-*`): mostly `gen_ai.*` (read in
//! `genai.rs`), plus its own `traceloop.span.kind`, `traceloop.entity.*`, the
//! association properties it copies from the framework's metadata, and the `llm.*` model names
//! of its older versions.

use super::value::{Attributes, Moved, moved, text};
use super::{Kind, genai};

/// `workflow`, `task`, `agent`, `tool` (not set on LLM spans nor on every root).
pub(crate) const SPAN_KIND: &str = "traceloop.span.kind";
/// The workflow, task, agent or tool name.
pub(crate) const ENTITY_NAME: &str = "traceloop.entity.name";
/// The entity's input, JSON text.
pub(crate) const ENTITY_INPUT: &str = "traceloop.entity.input";
/// The entity's output, JSON text.
pub(crate) const ENTITY_OUTPUT: &str = "traceloop.entity.output";
/// The task's input again, under OpenLLMetry's `gen_ai.*` name (the same text as
/// [`ENTITY_INPUT`] in 0.62).
pub(crate) const TASK_INPUT: &str = "gen_ai.task.input";
/// The task's output again (the same text as [`ENTITY_OUTPUT`] in 0.62).
pub(crate) const TASK_OUTPUT: &str = "gen_ai.task.output";
/// The session, from the association properties (`Traceloop.set_association_properties`, or
/// LangChain's run metadata, which OpenLLMetry copies there).
pub(crate) const SESSION_ID: &str = "traceloop.association.properties.session_id";
/// LangChain's `conversation_id` metadata, copied into the association properties.
pub(crate) const CONVERSATION_ID: &str = "traceloop.association.properties.conversation_id";
/// LangGraph's `thread_id` (the conversation of a checkpointed graph), copied from the run's
/// config into the association properties of every span of the run.
pub(crate) const THREAD_ID: &str = "traceloop.association.properties.thread_id";
/// The end user, from the association properties.
pub(crate) const USER_ID: &str = "traceloop.association.properties.user_id";
/// The LangGraph node, copied from LangChain's run metadata into the association properties.
pub(crate) const LANGGRAPH_NODE: &str = "traceloop.association.properties.langgraph_node";
/// LangChain's own name of the model's provider (`openai`, `anthropic`, `ollama`, …), from the
/// run metadata (`ls_provider`); OpenInference reads the same into `llm.provider`.
pub(crate) const LANGCHAIN_PROVIDER: &str = "traceloop.association.properties.ls_provider";
/// What `opentelemetry-instrumentation-langchain` puts in `gen_ai.provider.name` when it does
/// not recognize the chat model's class: the framework, not a provider.
pub(crate) const UNKNOWN_LANGCHAIN_PROVIDER: &str = "langchain";
/// The request type of an LLM span in OpenLLMetry before `gen_ai.operation.name` (`chat`,
/// `completion`, `embedding`, `rerank`; deprecated).
pub(crate) const LEGACY_REQUEST_TYPE: &str = "llm.request.type";
/// The model asked for, in OpenLLMetry before it moved to `gen_ai.*` (deprecated).
pub(crate) const LEGACY_REQUEST_MODEL: &str = "llm.request.model";
/// The model that answered, in OpenLLMetry before `gen_ai.*` (deprecated).
pub(crate) const LEGACY_RESPONSE_MODEL: &str = "llm.response.model";

/// The store's kind of `traceloop.span.kind`: a workflow or a task is a chain, an agent an
/// agent, a tool a tool (`unknown` and anything else: no kind); else of the deprecated
/// `llm.request.type` of older LLM spans: chat and completion are llm, embedding is embedding,
/// rerank is retriever.
pub(crate) fn kind(attributes: &Attributes) -> Option<Kind> {
    let span_kind = match attributes.get(SPAN_KIND).and_then(|v| v.as_str()) {
        Some("workflow" | "task") => Some("chain"),
        Some("agent") => Some("agent"),
        Some("tool") => Some("tool"),
        _ => None,
    };
    span_kind.or_else(|| match attributes.get(LEGACY_REQUEST_TYPE)?.as_str()? {
        "chat" | "completion" => Some("llm"),
        "embedding" => Some("embedding"),
        "rerank" => Some("retriever"),
        _ => None,
    })
}

/// LangChain's `ls_provider`, when OpenLLMetry's `gen_ai.provider.name` is its fallback
/// `langchain` (a model class it does not know): then LangChain's name is the provider.
pub(crate) fn langchain_provider(attributes: &Attributes) -> Option<String> {
    let fallback = attributes.get(genai::PROVIDER_NAME)?.as_str()? == UNKNOWN_LANGCHAIN_PROVIDER;
    fallback.then(|| text(attributes, LANGCHAIN_PROVIDER))?
}

/// `traceloop.entity.input`.
pub(crate) fn entity_input(attributes: &Attributes) -> Option<Moved> {
    moved(attributes, ENTITY_INPUT)
}

/// `traceloop.entity.output`.
pub(crate) fn entity_output(attributes: &Attributes) -> Option<Moved> {
    moved(attributes, ENTITY_OUTPUT)
}

/// `gen_ai.task.input`.
pub(crate) fn task_input(attributes: &Attributes) -> Option<Moved> {
    moved(attributes, TASK_INPUT)
}

/// `gen_ai.task.output`.
pub(crate) fn task_output(attributes: &Attributes) -> Option<Moved> {
    moved(attributes, TASK_OUTPUT)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{V, attributes_of, normalize_one, parsed};

    /// The chat span of `opentelemetry-instrumentation-langchain` (OpenLLMetry) under
    /// LangGraph, with the older token names and a total.
    #[test]
    fn langchain_chat_span() {
        let input = r#"[{"role": "user", "parts": [{"type": "text", "content": "What is 2+2?"}]}]"#;
        let output = r#"[{"role": "assistant", "parts": [{"type": "text", "content": "4"}], "finish_reason": "stop"}]"#;
        let s = normalize_one(
            "ChatOpenAI.chat",
            vec![
                ("traceloop.workflow.name", V::S("LangGraph")),
                ("traceloop.entity.path", V::S("agent")),
                (
                    "traceloop.association.properties.langgraph_node",
                    V::S("agent"),
                ),
                ("traceloop.association.properties.langgraph_step", V::I(1)),
                ("gen_ai.provider.name", V::S("openai")),
                ("gen_ai.operation.name", V::S("chat")),
                ("gen_ai.request.model", V::S("gpt-4o-mini")),
                ("gen_ai.request.temperature", V::D(0.0)),
                ("gen_ai.input.messages", V::S(input)),
                ("gen_ai.output.messages", V::S(output)),
                ("gen_ai.response.finish_reasons", V::Strings(&["stop"])),
                ("gen_ai.usage.prompt_tokens", V::I(21)),
                ("gen_ai.usage.completion_tokens", V::I(7)),
                ("gen_ai.usage.total_tokens", V::I(28)),
            ],
        );
        let r = &s.record;
        assert_eq!(r.kind.as_deref(), Some("llm"));
        assert_eq!(r.model.as_deref(), Some("gpt-4o-mini"));
        assert_eq!(r.provider.as_deref(), Some("openai"));
        assert_eq!((r.input_tokens, r.output_tokens), (Some(21), Some(7)));
        assert_eq!(r.input.as_deref(), Some(input));
        assert_eq!(r.output.as_deref(), Some(output));
        let attributes = attributes_of(&s);
        assert_eq!(attributes["gen_ai.usage.total_tokens"], json!(28));
        assert_eq!(attributes["gen_ai.request.temperature"], json!(0.0));
        assert!(!attributes.contains_key("gen_ai.input.messages"));
        assert!(!attributes.contains_key("gen_ai.agent.name"));
    }

    /// A LangGraph node as an OpenLLMetry task: `execute_task`, its input and output in
    /// `traceloop.entity.*`, and again (the same text) in `gen_ai.task.*`, stored once.
    #[test]
    fn task_span_takes_entity_input_and_output() {
        let input = r#"{"inputs": {"messages": [["user", "hi"]]}, "tags": [], "metadata": {}, "kwargs": {"name": "agent"}}"#;
        let output = r#"{"outputs": {"messages": [["ai", "hello"]]}, "kwargs": {"tags": []}}"#;
        let s = normalize_one(
            "execute_task agent",
            vec![
                ("traceloop.span.kind", V::S("task")),
                ("traceloop.entity.name", V::S("agent")),
                ("traceloop.entity.path", V::S("")),
                ("traceloop.workflow.name", V::S("LangGraph")),
                ("gen_ai.provider.name", V::S("langgraph")),
                ("gen_ai.operation.name", V::S("execute_task")),
                ("gen_ai.task.name", V::S("agent")),
                ("traceloop.entity.input", V::S(input)),
                ("gen_ai.task.input", V::S(input)),
                ("traceloop.entity.output", V::S(output)),
                ("gen_ai.task.output", V::S(output)),
                ("gen_ai.task.status", V::S("success")),
            ],
        );
        assert_eq!(s.record.kind.as_deref(), Some("chain"));
        assert_eq!(s.record.input.as_deref(), Some(input));
        assert_eq!(s.record.output.as_deref(), Some(output));
        let attributes = attributes_of(&s);
        for copy in [
            "traceloop.entity.input",
            "traceloop.entity.output",
            "gen_ai.task.input",
            "gen_ai.task.output",
        ] {
            assert!(!attributes.contains_key(copy), "{copy} stored twice");
        }
        assert_eq!(attributes["gen_ai.task.name"], json!("agent"));
        assert!(!attributes.contains_key("gen_ai.agent.name"));

        // A copy that says something else is no copy: kept. Alone, `gen_ai.task.*` is read.
        let s = normalize_one(
            "execute_task agent",
            vec![
                ("gen_ai.operation.name", V::S("execute_task")),
                ("traceloop.entity.input", V::S(input)),
                ("gen_ai.task.input", V::S(r#"{"inputs": "other"}"#)),
                ("gen_ai.task.output", V::S(output)),
            ],
        );
        assert_eq!(s.record.input.as_deref(), Some(input));
        assert_eq!(s.record.output.as_deref(), Some(output));
        let attributes = attributes_of(&s);
        assert_eq!(
            attributes["gen_ai.task.input"],
            json!(r#"{"inputs": "other"}"#)
        );
        assert!(!attributes.contains_key("gen_ai.task.output"));
    }

    /// LangGraph's root in OpenLLMetry: `invoke_agent` wins over the workflow kind; the
    /// thread is the conversation; the graph's nodes and edges stay in the attributes.
    #[test]
    fn langgraph_root() {
        let s = normalize_one(
            "LangGraph.workflow",
            vec![
                ("traceloop.span.kind", V::S("workflow")),
                ("traceloop.entity.name", V::S("LangGraph")),
                ("gen_ai.operation.name", V::S("invoke_agent")),
                ("gen_ai.agent.name", V::S("LangGraph")),
                ("gen_ai.conversation.id", V::S("thread-42")),
                (
                    "gen_ai.workflow.nodes",
                    V::S(r#"["__start__", "agent", "tools"]"#),
                ),
                ("gen_ai.workflow.edges", V::S(r#"[["__start__", "agent"]]"#)),
            ],
        );
        assert_eq!(s.record.kind.as_deref(), Some("agent"));
        assert_eq!(s.record.session_id.as_deref(), Some("thread-42"));
        let attributes = attributes_of(&s);
        assert_eq!(attributes["gen_ai.agent.name"], json!("LangGraph"));
        assert_eq!(
            attributes["gen_ai.workflow.nodes"],
            json!(r#"["__start__", "agent", "tools"]"#)
        );
    }

    /// Older OpenLLMetry (and its CrewAI instrumentation): only `traceloop.*` names the agent
    /// or tool, and the association properties carry the session and user.
    #[test]
    fn entity_names_become_gen_ai_names_when_absent() {
        let s = normalize_one(
            "get_weather.tool",
            vec![
                ("traceloop.span.kind", V::S("tool")),
                ("traceloop.entity.name", V::S("get_weather")),
                (
                    "traceloop.association.properties.session_id",
                    V::S("sess-9"),
                ),
                ("traceloop.association.properties.user_id", V::S("alice")),
            ],
        );
        assert_eq!(s.record.kind.as_deref(), Some("tool"));
        assert_eq!(s.record.session_id.as_deref(), Some("sess-9"));
        assert_eq!(s.record.user_id.as_deref(), Some("alice"));
        assert_eq!(attributes_of(&s)["gen_ai.tool.name"], json!("get_weather"));

        let s = normalize_one(
            "Researcher.agent",
            vec![
                ("traceloop.span.kind", V::S("agent")),
                ("traceloop.entity.name", V::S("Researcher")),
            ],
        );
        assert_eq!(s.record.kind.as_deref(), Some("agent"));
        assert_eq!(attributes_of(&s)["gen_ai.agent.name"], json!("Researcher"));

        // Present already (newer OpenLLMetry sets both): never overwritten.
        let s = normalize_one(
            "execute_tool get_weather",
            vec![
                ("traceloop.span.kind", V::S("tool")),
                ("traceloop.entity.name", V::S("weather_tool")),
                ("gen_ai.operation.name", V::S("execute_tool")),
                ("gen_ai.tool.name", V::S("get_weather")),
            ],
        );
        assert_eq!(attributes_of(&s)["gen_ai.tool.name"], json!("get_weather"));

        // A workflow's entity name is no agent's name.
        let s = normalize_one(
            "crew.workflow",
            vec![
                ("traceloop.span.kind", V::S("workflow")),
                ("traceloop.entity.name", V::S("crew")),
            ],
        );
        assert_eq!(s.record.kind.as_deref(), Some("chain"));
        assert!(!attributes_of(&s).contains_key("gen_ai.agent.name"));
    }

    /// Older OpenLLMetry LLM spans: `llm.request.type`, the `llm.*` model names, and the
    /// prompt and completion flattened into `gen_ai.prompt.N.*` / `gen_ai.completion.N.*`.
    #[test]
    fn legacy_llm_span_with_flattened_prompt_and_completion() {
        let s = normalize_one(
            "openai.chat",
            vec![
                ("llm.request.type", V::S("chat")),
                ("gen_ai.system", V::S("OpenAI")),
                ("llm.request.model", V::S("gpt-3.5-turbo")),
                ("llm.response.model", V::S("gpt-3.5-turbo-0125")),
                ("gen_ai.prompt.0.role", V::S("system")),
                ("gen_ai.prompt.0.content", V::S("Be brief.")),
                ("gen_ai.prompt.1.role", V::S("user")),
                ("gen_ai.prompt.1.content", V::S("Capital of France?")),
                ("gen_ai.completion.0.role", V::S("assistant")),
                ("gen_ai.completion.0.content", V::S("Paris.")),
                ("gen_ai.completion.0.finish_reason", V::S("stop")),
                ("gen_ai.usage.prompt_tokens", V::I(20)),
                ("gen_ai.usage.completion_tokens", V::I(2)),
                ("llm.usage.total_tokens", V::I(22)),
            ],
        );
        let r = &s.record;
        assert_eq!(r.kind.as_deref(), Some("llm"));
        assert_eq!(r.provider.as_deref(), Some("OpenAI"));
        assert_eq!(r.model.as_deref(), Some("gpt-3.5-turbo-0125"));
        assert_eq!((r.input_tokens, r.output_tokens), (Some(20), Some(2)));
        assert_eq!(
            parsed(r.input.as_deref()),
            json!([
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Capital of France?"},
            ])
        );
        assert_eq!(
            parsed(r.output.as_deref()),
            json!([{"role": "assistant", "content": "Paris.", "finish_reason": "stop"}])
        );
        let attributes = attributes_of(&s);
        assert!(
            attributes
                .keys()
                .all(|k| !k.starts_with("gen_ai.prompt.") && !k.starts_with("gen_ai.completion."))
        );
        assert_eq!(attributes["llm.usage.total_tokens"], json!(22));
    }

    /// The spans of opentelemetry-instrumentation-langchain 0.62.4 under LangGraph 1.2 as they
    /// arrived from tests/python/langgraph_openllmetry.py (trimmed): LangGraph's `thread_id`
    /// is on every span only as an association property; the chat span has input, output and
    /// total tokens; the tool span sends its input and output twice.
    #[test]
    fn langgraph_0_62_spans_as_observed() {
        let chat = normalize_one(
            "ToolCallingFakeModel.chat",
            vec![
                ("traceloop.workflow.name", V::S("LangGraph")),
                ("traceloop.entity.path", V::S("agent")),
                (
                    "traceloop.association.properties.thread_id",
                    V::S("weather-thread-1"),
                ),
                (
                    "traceloop.association.properties.langgraph_node",
                    V::S("agent"),
                ),
                ("traceloop.association.properties.langgraph_step", V::I(1)),
                (
                    "traceloop.association.properties.ls_provider",
                    V::S("toolcallingfakemodel"),
                ),
                (
                    "traceloop.association.properties.ls_model_name",
                    V::S("fake-gpt-4o"),
                ),
                ("gen_ai.provider.name", V::S("langchain")),
                ("gen_ai.operation.name", V::S("chat")),
                ("gen_ai.request.model", V::S("fake-gpt-4o")),
                ("gen_ai.response.model", V::S("fake-gpt-4o")),
                (
                    "gen_ai.input.messages",
                    V::S(
                        r#"[{"role": "user", "parts": [{"type": "text", "content": "What is the weather in Paris?"}]}]"#,
                    ),
                ),
                ("gen_ai.usage.input_tokens", V::I(42)),
                ("gen_ai.usage.output_tokens", V::I(7)),
                ("gen_ai.usage.total_tokens", V::I(49)),
                // Older OpenLLMetry LLM spans carry the total under llm.usage.* as well.
                ("llm.usage.total_tokens", V::I(49)),
                (
                    "gen_ai.output.messages",
                    V::S(
                        r#"[{"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}], "finish_reason": ""}]"#,
                    ),
                ),
            ],
        );
        let r = &chat.record;
        assert_eq!(r.kind.as_deref(), Some("llm"));
        assert_eq!(r.model.as_deref(), Some("fake-gpt-4o"));
        // OpenLLMetry's fallback for a model class it does not know gives way to LangChain's
        // own ls_provider, as OpenInference reports it.
        assert_eq!(r.provider.as_deref(), Some("toolcallingfakemodel"));
        assert_eq!((r.input_tokens, r.output_tokens), (Some(42), Some(7)));
        assert_eq!(r.session_id.as_deref(), Some("weather-thread-1"));
        assert!(r.input.as_deref().unwrap().contains("weather in Paris"));
        assert!(r.output.as_deref().unwrap().contains("get_weather"));
        let attributes = attributes_of(&chat);
        assert_eq!(attributes["gen_ai.usage.total_tokens"], json!(49));
        assert_eq!(
            attributes["traceloop.association.properties.langgraph_node"],
            json!("agent")
        );

        let input = r#"{"input_str": "{'city': 'Paris'}", "inputs": {"city": "Paris"}, "kwargs": {"tool_call_id": "call_1"}}"#;
        let output = r#"{"output": {"kwargs": {"content": "It is sunny in Paris.", "type": "tool", "name": "get_weather"}}}"#;
        let tool = normalize_one(
            "execute_tool get_weather",
            vec![
                (
                    "traceloop.association.properties.thread_id",
                    V::S("weather-thread-1"),
                ),
                ("traceloop.span.kind", V::S("tool")),
                ("traceloop.entity.name", V::S("get_weather")),
                ("gen_ai.provider.name", V::S("langgraph")),
                ("gen_ai.operation.name", V::S("execute_tool")),
                ("gen_ai.tool.name", V::S("get_weather")),
                ("gen_ai.tool.type", V::S("function")),
                ("traceloop.entity.input", V::S(input)),
                ("gen_ai.tool.call.arguments", V::S(input)),
                ("gen_ai.task.status", V::S("success")),
                ("traceloop.entity.output", V::S(output)),
                ("gen_ai.tool.call.result", V::S(output)),
            ],
        );
        let r = &tool.record;
        assert_eq!(r.kind.as_deref(), Some("tool"));
        assert_eq!(r.session_id.as_deref(), Some("weather-thread-1"));
        assert_eq!(r.input.as_deref(), Some(input));
        assert_eq!(r.output.as_deref(), Some(output));
        let attributes = attributes_of(&tool);
        for copy in [
            "traceloop.entity.input",
            "gen_ai.tool.call.arguments",
            "traceloop.entity.output",
            "gen_ai.tool.call.result",
        ] {
            assert!(!attributes.contains_key(copy), "{copy} stored twice");
        }
        assert_eq!(attributes["gen_ai.tool.name"], json!("get_weather"));
    }

    /// `langchain` as the provider is OpenLLMetry's "unknown": LangChain's `ls_provider` is
    /// taken instead, and only then.
    #[test]
    fn the_langchain_fallback_provider_gives_way_to_ls_provider() {
        let provider = |pairs: Vec<(&'static str, V)>| normalize_one("s", pairs).record.provider;
        let ls = ("traceloop.association.properties.ls_provider", V::S("groq"));
        assert_eq!(
            provider(vec![
                ("gen_ai.provider.name", V::S("langchain")),
                ls.clone()
            ])
            .as_deref(),
            Some("groq")
        );
        assert_eq!(
            provider(vec![("gen_ai.provider.name", V::S("openai")), ls.clone()]).as_deref(),
            Some("openai"),
            "a provider OpenLLMetry recognized stays"
        );
        assert_eq!(
            provider(vec![("gen_ai.provider.name", V::S("langchain"))]).as_deref(),
            Some("langchain"),
            "without ls_provider, what was sent"
        );
        assert_eq!(
            provider(vec![ls]),
            None,
            "ls_provider alone is no provider column"
        );
    }

    /// LangChain's metadata reaches OpenLLMetry's association properties under its own keys;
    /// the session is read from them in OpenInference's order (session, conversation, thread).
    #[test]
    fn session_from_langchain_metadata_in_the_association_properties() {
        let session = |pairs: Vec<(&'static str, V)>| normalize_one("s", pairs).record.session_id;
        let thread = ("traceloop.association.properties.thread_id", V::S("thread"));
        let conversation = (
            "traceloop.association.properties.conversation_id",
            V::S("conversation"),
        );
        let explicit = (
            "traceloop.association.properties.session_id",
            V::S("session"),
        );
        assert_eq!(session(vec![thread.clone()]).as_deref(), Some("thread"));
        assert_eq!(
            session(vec![thread.clone(), conversation.clone()]).as_deref(),
            Some("conversation")
        );
        assert_eq!(
            session(vec![thread.clone(), conversation, explicit]).as_deref(),
            Some("session")
        );
        // The GenAI conversation (LangGraph's root in OpenLLMetry) wins over all of them.
        assert_eq!(
            session(vec![thread, ("gen_ai.conversation.id", V::S("genai"))]).as_deref(),
            Some("genai")
        );
    }

    #[test]
    fn span_kinds_map_to_store_kinds() {
        let cases = [
            (
                vec![("traceloop.span.kind", V::S("workflow"))],
                Some("chain"),
            ),
            (vec![("traceloop.span.kind", V::S("task"))], Some("chain")),
            (vec![("traceloop.span.kind", V::S("agent"))], Some("agent")),
            (vec![("traceloop.span.kind", V::S("tool"))], Some("tool")),
            (vec![("traceloop.span.kind", V::S("unknown"))], None),
            (vec![("llm.request.type", V::S("completion"))], Some("llm")),
            (
                vec![("llm.request.type", V::S("embedding"))],
                Some("embedding"),
            ),
            (
                vec![("llm.request.type", V::S("rerank"))],
                Some("retriever"),
            ),
        ];
        for (attributes, kind) in cases {
            let r = normalize_one("s", attributes).record;
            assert_eq!(r.kind.as_deref(), kind);
        }
    }
}
