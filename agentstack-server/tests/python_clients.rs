//! Real OTLP clients nobody here wrote, exporting to `agentstack serve`: the Python
//! OpenTelemetry SDK's OTLP/HTTP exporter; a LangGraph agent instrumented by OpenInference and,
//! separately, by OpenLLMetry; an AutoGen AgentChat team under OpenInference and under AutoGen's
//! built-in tracing (one trace per runtime message, tied by links: one conversation). Their
//! traces are read back through the REST API: tree, kinds, models, tokens, tool, agent and
//! graph-node names.
//!
//! The Python packages are pinned in tests/python/requirements.txt; `.ci/run` installs them.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use support::Server;

/// Runs `tests/python/<script>` with the standard OTEL_* variables pointing at `server`.
fn run_python(server: &Server, script: &str) {
    run_python_with_headers(server, script, None);
}

/// Like [`run_python`], with `OTEL_EXPORTER_OTLP_HEADERS` (`authorization=Bearer …`) when given.
fn run_python_with_headers(server: &Server, script: &str, headers: Option<&str>) {
    run_python_as(server, script, headers, Protocol::HttpProtobuf);
}

/// How the Python exporter sends: `OTEL_EXPORTER_OTLP_PROTOCOL`.
#[derive(Clone, Copy, PartialEq)]
enum Protocol {
    HttpProtobuf,
    Grpc,
}

fn run_python_as(server: &Server, script: &str, headers: Option<&str>, protocol: Protocol) {
    let (endpoint, protocol) = match protocol {
        Protocol::HttpProtobuf => (&server.base, "http/protobuf"),
        Protocol::Grpc => (&server.grpc, "grpc"),
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let mut command = Command::new("python3");
    if let Some(headers) = headers {
        command.env("OTEL_EXPORTER_OTLP_HEADERS", headers);
    }
    let started = std::time::Instant::now();
    let output = command
        .arg(&path)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
        .env("OTEL_SERVICE_NAME", script.trim_end_matches(".py"))
        .env("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{script} failed (are the packages of tests/python/requirements.txt installed? .ci/run \
         installs them):\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{script} ran in {:.1} s", started.elapsed().as_secs_f64());
}

/// The trace list of the API (`GET /api/v1/traces`), oldest first.
fn listed_traces(server: &Server) -> Vec<Value> {
    let (status, body) = server.get_json("/api/v1/traces?limit=1000");
    assert_eq!(status, 200, "{body}");
    let mut traces = body["traces"].as_array().unwrap().clone();
    traces.reverse();
    traces
}

/// The spans of one trace from the API (`GET /api/v1/traces/{id}`), in its tree order.
fn api_spans(server: &Server, trace_id: &str) -> Vec<Value> {
    let (status, body) = server.get_json(&format!("/api/v1/traces/{trace_id}"));
    assert_eq!(status, 200, "{body}");
    body["spans"].as_array().unwrap().clone()
}

/// The spans of `spans` named `name`.
fn api_named<'a>(spans: &'a [Value], name: &str) -> Vec<&'a Value> {
    spans.iter().filter(|s| s["name"] == name).collect()
}

/// The one string attribute `key` of an API span.
fn attribute<'a>(span: &'a Value, key: &str) -> &'a str {
    span["attributes"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {}", span["attributes"]))
}

#[test]
fn the_python_otel_sdk_exporter_with_genai_attributes() {
    let server = Server::start(&[]);
    run_python(&server, "otel_sdk_genai.py");
    check_genai_run(&server);
}

#[test]
fn the_python_otel_sdk_grpc_exporter() {
    let server = Server::start(&[]);
    run_python_as(&server, "otel_sdk_genai.py", None, Protocol::Grpc);
    check_genai_run(&server);
}

/// The trace of otel_sdk_genai.py, through the API.
fn check_genai_run(server: &Server) {
    server.store_with(3);
    let traces = listed_traces(server);
    assert_eq!(traces.len(), 1, "{traces:#?}");
    let spans = api_spans(server, traces[0]["trace_id"].as_str().unwrap());
    assert_eq!(spans.len(), 3);

    let agent = api_named(&spans, "invoke_agent planner")[0];
    assert_eq!(agent["parent_span_id"], Value::Null);
    assert_eq!(agent["depth"], 0);
    assert_eq!(agent["kind"], "agent");
    assert_eq!(agent["session_id"], "py-session-1");
    assert_eq!(agent["service_name"], "otel_sdk_genai");

    let chat = api_named(&spans, "chat gpt-4o")[0];
    assert_eq!(chat["parent_span_id"], agent["span_id"]);
    assert_eq!(chat["kind"], "llm");
    assert_eq!(chat["provider"], "openai");
    assert_eq!(chat["model"], "gpt-4o-2024-08-06");
    assert_eq!(
        (
            &chat["input_tokens"],
            &chat["output_tokens"],
            &chat["cache_read_input_tokens"]
        ),
        (&json!(120), &json!(30), &json!(100))
    );

    let tool = api_named(&spans, "execute_tool search")[0];
    assert_eq!(tool["parent_span_id"], agent["span_id"]);
    assert_eq!(tool["kind"], "tool");
    assert_eq!(tool["status"], "error");
    assert_eq!(tool["status_message"], "search backend timed out");
    assert_eq!(attribute(tool, "gen_ai.tool.name"), "search");
    assert_eq!(traces[0]["status"], "error");
    assert_eq!(traces[0]["error_count"], 1);
}

#[test]
fn a_langgraph_agent_instrumented_by_openinference() {
    let server = Server::start(&[]);
    run_python(&server, "langgraph_openinference.py");
    // LangGraph root, 2 × (agent node, model, route), tools node, get_weather tool.
    server.store_with(9);
    let traces = listed_traces(&server);
    assert_eq!(traces.len(), 1, "{traces:#?}");
    assert_eq!(
        (&traces[0]["input_tokens"], &traces[0]["output_tokens"]),
        (&json!(102), &json!(16)),
        "no total added on top"
    );
    let spans = api_spans(&server, traces[0]["trace_id"].as_str().unwrap());
    assert_eq!(spans.len(), 9);

    let root = api_named(&spans, "LangGraph")[0];
    assert_eq!(root["parent_span_id"], Value::Null);
    assert_eq!(root["kind"], "chain");

    let agents = api_named(&spans, "agent");
    assert_eq!(agents.len(), 2, "the agent node ran twice");
    for agent in &agents {
        assert_eq!(agent["parent_span_id"], root["span_id"]);
        assert_eq!(agent["kind"], "agent");
        assert_eq!(
            attribute(agent, "gen_ai.agent.name"),
            "agent",
            "the graph node's name"
        );
    }

    let models = api_named(&spans, "ToolCallingFakeModel");
    assert_eq!(models.len(), 2);
    let mut tokens = Vec::new();
    for model in &models {
        assert_eq!(model["kind"], "llm");
        assert_eq!(model["model"], "fake-gpt-4o");
        assert_eq!(
            model["provider"], "toolcallingfakemodel",
            "LangChain's ls_provider"
        );
        assert!(
            agents
                .iter()
                .any(|a| a["span_id"] == model["parent_span_id"]),
            "a model call sits under an agent node"
        );
        assert!(
            model["input"].to_string().contains("weather in Paris"),
            "{}",
            model["input"]
        );
        tokens.push((
            model["input_tokens"].as_i64(),
            model["output_tokens"].as_i64(),
        ));
    }
    tokens.sort();
    assert_eq!(tokens, [(Some(42), Some(7)), (Some(60), Some(9))]);

    let tool = api_named(&spans, "get_weather")[0];
    assert_eq!(tool["kind"], "tool");
    assert_eq!(attribute(tool, "gen_ai.tool.name"), "get_weather");
    let tools_node = api_named(&spans, "tools")[0];
    assert_eq!(tool["parent_span_id"], tools_node["span_id"]);
    assert!(
        tool["output"].to_string().contains("sunny in Paris"),
        "{}",
        tool["output"]
    );
}

#[test]
fn a_langgraph_agent_instrumented_by_openllmetry() {
    let server = Server::start(&[]);
    run_python(&server, "langgraph_openllmetry.py");
    // invoke_agent root, LangGraph.workflow, 2 × (agent task, chat, route task), tools task,
    // get_weather tool.
    server.store_with(10);
    let traces = listed_traces(&server);
    assert_eq!(traces.len(), 1, "{traces:#?}");
    let trace = &traces[0];
    assert_eq!(trace["root_name"], "invoke_agent LangGraph");
    assert_eq!(trace["service_name"], "langgraph_openllmetry");
    assert_eq!(trace["session_id"], "weather-thread-1");
    assert_eq!(
        (&trace["input_tokens"], &trace["output_tokens"]),
        (&json!(102), &json!(16)),
        "the totals OpenLLMetry sends beside the counts are not added"
    );
    let spans = api_spans(&server, trace["trace_id"].as_str().unwrap());
    assert_eq!(spans.len(), 10);

    let root = &spans[0];
    assert_eq!(root["name"], "invoke_agent LangGraph");
    assert_eq!(
        (&root["depth"], &root["kind"]),
        (&json!(0), &json!("agent"))
    );
    assert_eq!(attribute(root, "gen_ai.agent.name"), "LangGraph");
    assert_eq!(
        root["attributes"]["gen_ai.workflow.nodes"],
        json!(["agent", "tools"])
    );
    let workflow = api_named(&spans, "LangGraph.workflow")[0];
    assert_eq!(workflow["parent_span_id"], root["span_id"]);
    assert_eq!(
        workflow["kind"], "agent",
        "OpenLLMetry calls it invoke_agent"
    );

    // The graph's nodes: tasks (chains) named by the node, under the workflow.
    let agent_nodes = api_named(&spans, "execute_task agent");
    assert_eq!(agent_nodes.len(), 2, "the agent node ran twice");
    let tools_node = api_named(&spans, "execute_task tools")[0];
    for node in agent_nodes.iter().chain([&tools_node]) {
        assert_eq!(node["parent_span_id"], workflow["span_id"]);
        assert_eq!(node["kind"], "chain");
        assert_eq!(node["depth"], 2);
    }
    assert_eq!(attribute(agent_nodes[0], "gen_ai.task.name"), "agent");
    assert_eq!(attribute(tools_node, "gen_ai.task.name"), "tools");
    assert!(
        agent_nodes[0]["input"]["inputs"]["messages"][0]["kwargs"]["content"]
            .as_str()
            .is_some_and(|c| c.contains("weather in Paris")),
        "{}",
        agent_nodes[0]["input"]
    );
    assert!(
        agent_nodes[0]["attributes"]
            .get("gen_ai.task.input")
            .is_none(),
        "the node's input is stored once, in the column"
    );
    assert_eq!(api_named(&spans, "execute_task route").len(), 2);

    let chats = api_named(&spans, "ToolCallingFakeModel.chat");
    assert_eq!(chats.len(), 2);
    let mut tokens = Vec::new();
    for chat in &chats {
        assert_eq!(chat["kind"], "llm");
        assert_eq!(chat["model"], "fake-gpt-4o");
        assert_eq!(
            chat["provider"], "toolcallingfakemodel",
            "LangChain's ls_provider, not OpenLLMetry's fallback \"langchain\""
        );
        assert!(
            agent_nodes
                .iter()
                .any(|n| n["span_id"] == chat["parent_span_id"]),
            "a model call sits under an agent node"
        );
        assert_eq!(
            attribute(chat, "traceloop.association.properties.langgraph_node"),
            "agent"
        );
        assert_eq!(chat["input"][0]["role"], "user");
        tokens.push((
            chat["input_tokens"].as_i64(),
            chat["output_tokens"].as_i64(),
        ));
    }
    tokens.sort();
    assert_eq!(tokens, [(Some(42), Some(7)), (Some(60), Some(9))]);
    assert_eq!(chats[0]["output"][0]["parts"][0]["name"], "get_weather");

    let tool = api_named(&spans, "execute_tool get_weather")[0];
    assert_eq!(tool["kind"], "tool");
    assert_eq!(attribute(tool, "gen_ai.tool.name"), "get_weather");
    assert_eq!(tool["parent_span_id"], tools_node["span_id"]);
    assert_eq!(tool["input"]["inputs"], json!({"city": "Paris"}));
    assert_eq!(
        tool["output"]["output"]["kwargs"]["content"],
        "It is sunny in Paris."
    );
    assert!(
        tool["attributes"]
            .get("gen_ai.tool.call.arguments")
            .is_none()
    );

    // LangGraph's thread reaches every span (OpenLLMetry copies it into each).
    assert!(
        spans.iter().all(|s| s["session_id"] == "weather-thread-1"),
        "{:?}",
        spans.iter().map(|s| &s["session_id"]).collect::<Vec<_>>()
    );
}

#[test]
fn an_autogen_team_instrumented_by_openinference() {
    let server = Server::start(&[]);
    run_python(&server, "autogen_openinference.py");
    // The team's run, 2 × (agent, its model call), the tool call of weather_agent.
    server.store_with(6);
    let traces = listed_traces(&server);
    assert_eq!(traces.len(), 1, "{traces:#?}");
    let trace = &traces[0];
    assert_eq!(trace["root_name"], "RoundRobinGroupChat.run_stream");
    assert_eq!(
        (&trace["input_tokens"], &trace["output_tokens"]),
        (&json!(51 + 83), &json!(12 + 14)),
        "the stub's usage, each call once (llm.token_count.total is not added)"
    );
    let spans = api_spans(&server, trace["trace_id"].as_str().unwrap());
    assert_eq!(spans.len(), 6);

    let team = &spans[0];
    assert_eq!(team["name"], "RoundRobinGroupChat.run_stream");
    assert_eq!(
        (&team["depth"], &team["kind"]),
        (&json!(0), &json!("chain"))
    );
    assert_eq!(team["input"]["task"], "What is the weather in Paris?");
    assert_eq!(
        team["attributes"]["participant_names"],
        json!(["weather_agent", "writer"])
    );

    let agent_of = |name: &str| {
        let agent = api_named(&spans, &format!("{name}.on_messages_stream"))[0];
        assert_eq!(agent["kind"], "agent");
        assert_eq!(agent["parent_span_id"], team["span_id"]);
        assert_eq!(
            attribute(agent, "gen_ai.agent.name"),
            name,
            "from graph.node.id"
        );
        agent
    };
    let weather_agent = agent_of("weather_agent");
    let writer = agent_of("writer");
    assert_eq!(attribute(writer, "graph.node.parent_id"), "weather_agent");

    let models = api_named(&spans, "OpenAIChatCompletionClient.create");
    assert_eq!(models.len(), 2);
    let under = |agent: &Value| {
        *models
            .iter()
            .find(|m| m["parent_span_id"] == agent["span_id"])
            .expect("a model call under each agent")
    };
    let (first, second) = (under(weather_agent), under(writer));
    for (model, tokens) in [(first, (51, 12)), (second, (83, 14))] {
        assert_eq!(model["kind"], "llm");
        assert_eq!(
            model["model"], "gpt-4o-mini-2024-07-18",
            "the model that answered"
        );
        assert_eq!(
            (&model["input_tokens"], &model["output_tokens"]),
            (&json!(tokens.0), &json!(tokens.1))
        );
        assert_eq!(
            model["input"][1]["content"],
            "What is the weather in Paris?"
        );
    }
    assert_eq!(first["output"]["content"][0]["name"], "get_weather");
    assert_eq!(
        second["output"]["content"],
        "It is sunny in Paris today. TERMINATE"
    );

    let tool = api_named(&spans, "weather_agent.get_weather")[0];
    assert_eq!(tool["kind"], "tool");
    assert_eq!(attribute(tool, "gen_ai.tool.name"), "get_weather");
    assert_eq!(tool["parent_span_id"], weather_agent["span_id"]);
    assert_eq!(tool["input"], json!({"city": "Paris"}));
    assert_eq!(tool["output"], "It is sunny in Paris.");
}

/// `GET path` from the API with `key` as `x-agentstack-api-key`: status and JSON body.
fn get_json_as(server: &Server, path: &str, key: &str) -> (u16, Value) {
    let answer = support::request(
        "GET",
        &format!("{}{path}", server.api),
        &[("x-agentstack-api-key", key)],
        None,
    );
    let body = serde_json::from_slice(&answer.body)
        .unwrap_or_else(|e| panic!("{path}: {e}: {}", answer.text()));
    (answer.status, body)
}

#[test]
fn an_autogen_team_under_its_built_in_tracing_reads_as_one_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let key = support::create_key(&support::db_in(&dir), "alpha");
    let other_key = support::create_key(&support::db_in(&dir), "beta");
    let server = Server::start_in(dir, &[]);
    run_python_with_headers(
        &server,
        "autogen_builtin.py",
        Some(&format!("x-agentstack-api-key={key}")),
    );
    // The runtime's spans (create, publish, process, send, ack of each message), the agents'
    // create_agent and invoke_agent, one execute_tool.
    server.store_with(43);
    let get = |path: &str| {
        let (status, body) = get_json_as(&server, path, &key);
        assert_eq!(status, 200, "{path}: {body}");
        body
    };
    let listed = get("/api/v1/traces?limit=1000")["traces"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        listed.len(),
        16,
        "one trace per runtime message, one per agent created"
    );
    let traces: Vec<(String, Vec<Value>)> = listed
        .iter()
        .map(|t| {
            let id = t["trace_id"].as_str().unwrap().to_string();
            let spans = get(&format!("/api/v1/traces/{id}"))["spans"]
                .as_array()
                .unwrap()
                .clone();
            (id, spans)
        })
        .collect();
    let all_spans: Vec<&Value> = traces.iter().flat_map(|(_, spans)| spans).collect();
    assert_eq!(all_spans.len(), 43);
    assert!(
        all_spans
            .iter()
            .all(|s| s["model"].is_null() && s["input_tokens"].is_null()),
        "AutoGen's own tracing has no model calls; nothing may invent one"
    );
    let trace_with = |name: &str| {
        traces
            .iter()
            .find(|(_, spans)| spans.iter().any(|s| s["name"] == name))
            .unwrap_or_else(|| panic!("no trace has a span {name:?}"))
    };

    // The agents, each created in a trace of its own.
    for agent in ["weather_agent", "writer"] {
        let (_, spans) = trace_with(&format!("create_agent {agent}"));
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0]["kind"], "agent");
        assert_eq!(spans[0]["provider"], "autogen", "from gen_ai.system");
        assert_eq!(attribute(&spans[0], "gen_ai.agent.name"), agent);
    }

    // weather_agent's turn: the message published (root), processed, the agent, its tool.
    let (turn_id, turn) = trace_with("invoke_agent weather_agent");
    let root = &turn[0];
    assert_eq!(root["depth"], 0);
    assert!(
        root["name"]
            .as_str()
            .unwrap()
            .starts_with("autogen publish weather_agent_")
    );
    let cause = &root["links"][0];
    assert!(
        cause["trace_id"].as_str().is_some_and(|t| t != turn_id),
        "the root points to its cause, in another trace: {}",
        root["links"]
    );
    let process = &turn[1];
    assert!(
        process["name"]
            .as_str()
            .unwrap()
            .starts_with("autogen process weather_agent_")
    );
    assert_eq!(process["parent_span_id"], root["span_id"]);
    let agent = api_named(turn, "invoke_agent weather_agent")[0];
    assert_eq!(agent["kind"], "agent");
    assert_eq!(agent["parent_span_id"], process["span_id"]);
    assert_eq!(attribute(agent, "gen_ai.agent.name"), "weather_agent");
    let tool = api_named(turn, "execute_tool get_weather")[0];
    assert_eq!(tool["kind"], "tool");
    assert_eq!(tool["parent_span_id"], agent["span_id"]);
    assert_eq!(attribute(tool, "gen_ai.tool.name"), "get_weather");
    assert_eq!(attribute(tool, "gen_ai.tool.call.id"), "call_weather_1");
    let (_, writer_turn) = trace_with("invoke_agent writer");

    // One conversation: every trace tied in by links, whichever trace it is asked from.
    let conversation = get(&format!("/api/v1/traces/{turn_id}/conversation"));
    let members: Vec<&str> = conversation["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        members.len(),
        14,
        "all but the two create_agent traces: {conversation}"
    );
    assert_eq!(conversation["truncated"], false);
    assert!(members.contains(&turn_id.as_str()));
    assert!(members.contains(&writer_turn[0]["trace_id"].as_str().unwrap()));
    assert!(!members.contains(&trace_with("create_agent writer").0.as_str()));
    let starts: Vec<i64> = conversation["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["start_unix_nanos"].as_i64().unwrap())
        .collect();
    assert!(starts.is_sorted(), "earliest first: {starts:?}");
    assert_eq!(conversation["conversation_id"], members[0]);
    let earliest_linked = listed
        .iter()
        .filter(|t| members.contains(&t["trace_id"].as_str().unwrap()))
        .map(|t| t["start_unix_nanos"].as_i64().unwrap())
        .min()
        .unwrap();
    assert_eq!(starts[0], earliest_linked);
    for member in [members[0], members[members.len() - 1]] {
        let again = get(&format!("/api/v1/traces/{member}/conversation"));
        assert_eq!(again["conversation_id"], conversation["conversation_id"]);
        assert_eq!(again["traces"], conversation["traces"]);
    }
    // A trace without links is a conversation of one.
    let (created, _) = trace_with("create_agent weather_agent");
    let alone = get(&format!("/api/v1/traces/{created}/conversation"));
    assert_eq!(alone["conversation_id"], created.as_str());
    assert_eq!(alone["traces"].as_array().unwrap().len(), 1);

    // Another project's key reads none of it.
    for path in [
        format!("/api/v1/traces/{turn_id}/conversation"),
        format!("/api/v1/traces/{turn_id}"),
    ] {
        let (status, body) = get_json_as(&server, &path, &other_key);
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["error"]["status"], 404);
    }
}
