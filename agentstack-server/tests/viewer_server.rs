//! The terminal viewer reading a running `agentstack serve` (`--server URL`) instead of a file,
//! end to end: the real server, spans posted over OTLP/HTTP, the real viewer binary run against
//! the REST API and against the server's own store file, and both outputs compared.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use serde_json::Value;

mod support;

use support::otlp::{failed, kv, kv_int, with};
use support::{Server, lines_of, wait_for};

/// 2023-11-14T22:13:20Z: far enough back that relative times cannot tick between two runs.
const T0: u64 = 1_700_000_000_000_000_000;
const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;

/// The 16 bytes of trace `n` (hex `5eed0nc0…0n`).
fn trace_bytes(n: u8) -> Vec<u8> {
    let mut id = vec![0x5e, 0xed, n, 0xc0];
    id.resize(15, 0);
    id.push(n);
    id
}

fn tid(n: u8) -> String {
    trace_bytes(n).iter().map(|b| format!("{b:02x}")).collect()
}

fn span(n: u8, id: u8, parent: Option<u8>, name: &str, start: u64, millis: u64) -> Span {
    Span {
        trace_id: trace_bytes(n),
        span_id: vec![0xa0, 0, 0, 0, 0, 0, n, id],
        parent_span_id: parent.map_or_else(Vec::new, |p| vec![0xa0, 0, 0, 0, 0, 0, n, p]),
        name: name.into(),
        kind: 1,
        start_time_unix_nano: start,
        end_time_unix_nano: start + millis * MS,
        ..Default::default()
    }
}

fn request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Two traces:
/// - 1 "Research agent", T0, 2 s: agent root (session sess-1) ─┬─ "chat gpt-4o" (llm, 812/120
///   tokens, input and output) ── "parse" (chain)
///   └─ "web search" (tool, failed: "index offline: shard 3 did not answer")
/// - 2 "plan", T0+60s, 300 ms: one chain span, 10/5 tokens
fn two_traces() -> ExportTraceServiceRequest {
    let root = with(
        span(1, 1, None, "Research agent", T0, 2000),
        vec![
            kv("agentstack.span.kind", "agent"),
            kv("gen_ai.conversation.id", "sess-1"),
        ],
    );
    let llm = with(
        span(1, 2, Some(1), "chat gpt-4o", T0 + 100 * MS, 800),
        vec![
            kv("agentstack.span.kind", "llm"),
            kv("gen_ai.provider.name", "openai"),
            kv("gen_ai.request.model", "gpt-4o"),
            kv_int("gen_ai.usage.input_tokens", 812),
            kv_int("gen_ai.usage.output_tokens", 120),
            // Keys in sorted order: the API re-encodes captured JSON through serde_json's
            // sorted maps, so only then is `show --io` byte for byte the file's.
            kv(
                "agentstack.input",
                r#"{"messages":[{"content":"what is OTLP?","role":"user"}]}"#,
            ),
            kv(
                "agentstack.output",
                r#""OTLP is the OpenTelemetry protocol""#,
            ),
        ],
    );
    let parse = with(
        span(1, 3, Some(2), "parse", T0 + 850 * MS, 40),
        vec![kv("agentstack.span.kind", "chain")],
    );
    let tool = failed(
        with(
            span(1, 4, Some(1), "web search", T0 + 1000 * MS, 900),
            vec![kv("agentstack.span.kind", "tool")],
        ),
        "index offline: shard 3 did not answer",
    );
    let plan = with(
        span(2, 1, None, "plan", T0 + 60 * S, 300),
        vec![
            kv("agentstack.span.kind", "chain"),
            kv_int("gen_ai.usage.input_tokens", 10),
            kv_int("gen_ai.usage.output_tokens", 5),
        ],
    );
    request("svc-research", vec![root, llm, parse, tool, plan])
}

/// A server holding [`two_traces`] (5 spans).
fn server_with_traces() -> Server {
    let server = Server::start(&[]);
    let answer = server.post(
        "application/x-protobuf",
        None,
        &two_traces().encode_to_vec(),
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    server.store_with(5);
    server
}

/// The viewer with `args`, in UTC, with no colour, width or source settings inherited.
fn viewer(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agentstack"));
    cmd.env("TZ", "UTC")
        .env_remove("COLUMNS")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("AGENTSTACK_LOCAL_PATH")
        .env_remove("AGENTSTACK_SERVER")
        .args(args);
    cmd
}

fn output(mut cmd: Command) -> Output {
    cmd.output().unwrap()
}

fn succeeded(out: Output, what: &str) -> String {
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{what} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// stdout of `args` against the server's API.
fn via_api(server: &Server, args: &[&str]) -> String {
    let mut cmd = viewer(args);
    cmd.arg("--server").arg(&server.api);
    succeeded(output(cmd), &format!("{args:?} --server"))
}

/// stdout of `args` against the server's store file.
fn via_file(server: &Server, args: &[&str]) -> String {
    let mut cmd = viewer(args);
    cmd.arg("--db").arg(&server.db);
    succeeded(output(cmd), &format!("{args:?} --db"))
}

/// Runs `args` both ways, checks the outputs are the same, returns it.
fn same_both_ways(server: &Server, args: &[&str]) -> String {
    let api = via_api(server, args);
    let file = via_file(server, args);
    assert_eq!(
        api, file,
        "{args:?}: the server's answer differs from the file's"
    );
    assert!(!api.trim().is_empty(), "{args:?} printed nothing");
    api
}

/// A failing run of `args` (with `--server` among them); returns stderr.
fn failing(cmd: Command) -> String {
    let out = output(cmd);
    assert!(!out.status.success(), "should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// JSON lines, with the span texts the API re-encodes (resource, links) parsed, so key order
/// and spacing do not count.
fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| {
            let mut value: Value = serde_json::from_str(line).unwrap();
            for key in ["resource", "links"] {
                if let Some(Value::String(text)) = value.get(key) {
                    let parsed: Value = serde_json::from_str(text).unwrap();
                    value[key] = parsed;
                }
            }
            value
        })
        .collect()
}

#[test]
fn traces_and_show_read_the_same_from_the_server_as_from_the_file() {
    let server = server_with_traces();

    let table = same_both_ways(&server, &["traces"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[1].contains("plan") && lines[1].contains("5eed02c0"),
        "{table}"
    );
    assert!(
        lines[2].contains("Research agent") && lines[2].contains("error"),
        "{table}"
    );
    same_both_ways(&server, &["traces", "--status", "error"]);
    same_both_ways(&server, &["traces", "--name", "PLAN", "-n", "1"]);
    same_both_ways(&server, &["traces", "--session", "sess-1"]);
    same_both_ways(&server, &["traces", "--since", "2023-11-14T22:13:30Z"]);
    assert_eq!(
        json_lines(&via_api(&server, &["traces", "--json"])),
        json_lines(&via_file(&server, &["traces", "--json"]))
    );

    let prefix = &tid(1)[..12];
    let tree = same_both_ways(&server, &["show", prefix]);
    for needle in [
        "Research agent",
        "├─",
        "└─",
        "chat gpt-4o",
        "parse",
        "web search",
        "gpt-4o",
        "812",
        "index offline: shard 3 did not answer",
    ] {
        assert!(tree.contains(needle), "no {needle:?} in\n{tree}");
    }
    let io = same_both_ways(&server, &["show", prefix, "--io"]);
    assert!(io.contains("what is OTLP?"), "{io}");
    assert!(io.contains("OTLP is the OpenTelemetry protocol"), "{io}");
    same_both_ways(&server, &["show", &tid(2)]);
    assert_eq!(
        json_lines(&via_api(&server, &["show", prefix, "--json"])),
        json_lines(&via_file(&server, &["show", prefix, "--json"]))
    );
    let detail = same_both_ways(&server, &["show", prefix, "--span", "a000000000000104"]);
    assert!(detail.contains("index offline"), "{detail}");

    // The address as serve prints it, with /api/v1, and from AGENTSTACK_SERVER.
    let mut cmd = viewer(&["show", prefix]);
    cmd.arg("--server").arg(format!("{}/api/v1/", server.api));
    assert_eq!(succeeded(output(cmd), "show --server …/api/v1/"), tree);
    let mut cmd = viewer(&["traces"]);
    cmd.env("AGENTSTACK_SERVER", &server.api);
    assert_eq!(
        succeeded(output(cmd), "traces with AGENTSTACK_SERVER"),
        table
    );
}

#[test]
fn the_servers_refusals_are_shown_with_its_message() {
    let server = server_with_traces();
    let mut cmd = viewer(&["show", "ffffffff"]);
    cmd.arg("--server").arg(&server.api);
    let missing = failing(cmd);
    assert!(
        missing.contains("error: the server answered 404: no trace ffffffff in this project"),
        "{missing}"
    );
    let mut cmd = viewer(&["show", "5eed"]);
    cmd.arg("--server").arg(&server.api);
    let short = failing(cmd);
    assert!(
        short.contains("error: the server answered 400: ") && short.contains("too short"),
        "{short}"
    );
    // Pointed at the collector instead of the API: an answer that says what to change.
    let mut cmd = viewer(&["traces"]);
    cmd.arg("--server").arg(&server.base);
    let collector = failing(cmd);
    assert!(
        collector.contains("the server answered 404")
            && collector.contains("the address of the REST API"),
        "{collector}"
    );
}

#[test]
fn an_unreachable_or_empty_server_says_what_to_do() {
    // A port that was free a moment ago: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    for args in [&["traces"][..], &["show", "5eed0000"], &["tail"]] {
        let mut cmd = viewer(args);
        cmd.env("AGENTSTACK_SERVER", &url);
        let started = Instant::now();
        let message = failing(cmd);
        assert!(
            message.contains(&format!("cannot reach the AgentStack server at {url}"))
                && message.contains("start it with `agentstack serve`"),
            "{args:?}: {message}"
        );
        assert!(started.elapsed() < Duration::from_secs(15), "{args:?}");
    }

    let server = Server::start(&[]);
    let mut cmd = viewer(&["traces"]);
    cmd.arg("--server").arg(&server.api);
    let out = output(cmd);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(
        note.contains(&format!("no traces yet on the server at {}", server.api)),
        "{note}"
    );
}

/// Kills the child when the test ends, passed or not.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn tail_polls_the_server_for_new_and_updated_traces() {
    let mut server = server_with_traces();
    let mut cmd = viewer(&[
        "tail",
        "--interval",
        "200ms",
        "--since",
        "2023-11-14T22:00:00Z",
    ]);
    cmd.arg("--server")
        .arg(&server.api)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = Killed(cmd.spawn().unwrap());
    let out = lines_of(child.0.stdout.take().unwrap());
    let err = lines_of(child.0.stderr.take().unwrap());
    // --since: the traces already there come first, oldest first.
    let backlog = wait_for(&out, "plan", &mut child.0);
    assert!(
        backlog
            .iter()
            .any(|l| l.starts_with("+ ") && l.contains("Research agent")),
        "{backlog:#?}"
    );
    wait_for(&err, "following the server at", &mut child.0);

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let fresh = with(
        span(3, 1, None, "tail over http", now - 2 * S, 1500),
        vec![kv("agentstack.span.kind", "agent")],
    );
    let answer = server.post(
        "application/x-protobuf",
        None,
        &request("svc-tail", vec![fresh]).encode_to_vec(),
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    let new = wait_for(&out, "tail over http", &mut child.0);
    let line = new.last().unwrap();
    assert!(
        line.starts_with("+ ") && line.contains("5eed03c0") && line.contains("1.5s"),
        "{line}"
    );

    // A failed child span: the same trace, updated.
    let child_span = failed(span(3, 2, Some(1), "lookup", now - S, 1500), "no such page");
    let answer = server.post(
        "application/x-protobuf",
        None,
        &request("svc-tail", vec![child_span]).encode_to_vec(),
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    let update = wait_for(&out, "tail over http", &mut child.0);
    let line = update.last().unwrap();
    assert!(
        line.starts_with("~ ") && line.contains("✗ 1 error"),
        "{line}"
    );

    // The server goes away: tail says so once and keeps trying.
    server.sigterm();
    assert!(server.wait_exit());
    wait_for(&err, "cannot reach the AgentStack server", &mut child.0);
    std::thread::sleep(Duration::from_millis(600));
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "tail stopped when the server went away"
    );
    assert!(err.try_recv().is_err(), "the outage was reported twice");
}
