//! What `agentstack serve` offers besides ingest and the trace list: sessions through the API,
//! the dashboard's assets at `/`, retention by age, and the config file with its precedence.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use agentstack_exporter_sqlite::{SpanRecord, SqliteSpanStore};
use prost::Message as _;
use support::otlp::{kv, now_nanos, request_of, span_of, trace_hex, with};
use support::{Server, db_in, get};

/// Posts trace `n`, one span of session `session` (none: no session).
fn post_in_session(server: &Server, n: u8, session: Option<&str>, start: u64) {
    let mut span = span_of(n, 1, None, &format!("turn {n}"), start, 10);
    if let Some(session) = session {
        span = with(span, vec![kv("gen_ai.conversation.id", session)]);
    }
    let answer = server.post(
        "application/x-protobuf",
        None,
        &request_of("chat-svc", vec![span]).encode_to_vec(),
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
}

#[test]
fn sessions_list_conversations_with_their_traces() {
    let server = Server::start(&[]);
    let start = now_nanos();
    post_in_session(&server, 1, Some("conv-a"), start);
    post_in_session(&server, 2, Some("conv-a"), start + 1_000_000);
    post_in_session(&server, 3, Some("conv-b"), start + 2_000_000);
    post_in_session(&server, 4, None, start + 3_000_000);
    server.store_with(4);

    let (status, page) = server.get_json("/api/v1/sessions?limit=1");
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        page["sessions"][0]["session_id"], "conv-b",
        "most recent first"
    );
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_string();
    let (_, next) = server.get_json(&format!("/api/v1/sessions?limit=1&cursor={cursor}"));
    let conv_a = &next["sessions"][0];
    assert_eq!(conv_a["session_id"], "conv-a");
    assert_eq!(conv_a["trace_count"], 2);
    assert_eq!(conv_a["status"], "ok");
    assert_eq!(next["next_cursor"], serde_json::Value::Null);

    let (_, traces) = server.get_json("/api/v1/traces?session=conv-a");
    let mut ids: Vec<&str> = traces["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [trace_hex(1), trace_hex(2)]);

    let (status, refused) = server.get_json("/api/v1/sessions?cursor=garbage");
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["parameter"], "cursor", "{refused}");
    let (status, refused) = server.get_json("/api/v1/sessions?session=conv-a");
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["parameter"], "session", "{refused}");
}

#[test]
fn the_dashboard_is_served_at_the_root_with_the_app_for_every_page() {
    let dist = tempfile::tempdir().unwrap();
    std::fs::write(
        dist.path().join("index.html"),
        "<!doctype html><div id=root>dashboard</div>",
    )
    .unwrap();
    std::fs::create_dir(dist.path().join("assets")).unwrap();
    std::fs::write(dist.path().join("assets/app-1234.js"), "console.log(1)").unwrap();
    let server = Server::start(&["--dashboard-dir", dist.path().to_str().unwrap()]);

    for page in ["/", "/traces", "/traces/0123abcd?q=x"] {
        let answer = server.get(page);
        assert_eq!(answer.status, 200, "{page}");
        assert!(
            answer.text().contains("dashboard"),
            "{page}: {}",
            answer.text()
        );
    }
    let script = server.get("/assets/app-1234.js");
    assert_eq!(script.status, 200);
    assert!(
        script
            .content_type
            .as_deref()
            .unwrap_or("")
            .contains("javascript"),
        "{:?}",
        script.content_type
    );
    assert_eq!(script.text(), "console.log(1)");
    // Unknown API paths stay JSON errors, not the app.
    let (status, error) = server.get_json("/api/v1/nothing-here");
    assert_eq!(status, 404, "{error}");
}

#[test]
fn without_built_assets_the_root_says_how_to_build_them() {
    let empty = tempfile::tempdir().unwrap();
    let server = Server::start(&["--dashboard-dir", empty.path().to_str().unwrap()]);
    let answer = server.get("/");
    assert_eq!(answer.status, 200);
    assert!(answer.text().contains("npm run build"), "{}", answer.text());
    let said = server.stdout.lock().unwrap().join("\n");
    assert!(said.contains("dashboard not built"), "{said}");
}

/// A span of trace `n` that ended `days_ago` days ago.
fn stored_span(n: u8, days_ago: u64) -> SpanRecord {
    let end = now_nanos() - days_ago * 86_400 * 1_000_000_000;
    SpanRecord::new(
        trace_hex(n),
        format!("{:016x}", n),
        "old run",
        (end - 1_000) as i64,
        end as i64,
    )
}

#[test]
fn retention_deletes_traces_past_the_window_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    SqliteSpanStore::open(&db)
        .unwrap()
        .insert_spans(&[stored_span(1, 45), stored_span(2, 20), stored_span(3, 0)])
        .unwrap();
    let server = Server::start_in(dir, &["--retention-days", "30", "--log-format", "json"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let store = SqliteSpanStore::open(&server.db).unwrap();
    while store.span_count().unwrap() > 2 {
        assert!(Instant::now() < deadline, "the old trace was not deleted");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(store.trace(&trace_hex(1)).unwrap().is_empty());
    assert_eq!(store.trace(&trace_hex(2)).unwrap().len(), 1);
    assert_eq!(store.trace(&trace_hex(3)).unwrap().len(), 1);
    // The sweep logs what it deleted, as fields of a JSON line, from a worker thread; that
    // must not keep the server from stopping (it once blocked forever on stdout, locked by the
    // viewer's terminal).
    let line = server.wait_logged("retention: deleted");
    let event: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
    assert_eq!(event["level"], "INFO", "{line}");
    assert_eq!(event["deleted"], 1, "one span was past the window: {line}");
    assert_eq!(event["days"], 30, "{line}");
    let mut server = server;
    server.sigterm();
    assert!(server.wait_exit(), "serve exits on SIGTERM");
}

#[test]
fn retention_zero_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    SqliteSpanStore::open(&db)
        .unwrap()
        .insert_spans(&[stored_span(1, 400)])
        .unwrap();
    let server = Server::start_in(dir, &["--retention-days", "0"]);
    let said = server.stdout.lock().unwrap().join("\n");
    assert!(said.contains("retention off"), "{said}");
    // The API answers after the (absent) first sweep would have run.
    let (_, page) = server.get_json("/api/v1/traces?limit=5");
    assert_eq!(page["traces"].as_array().unwrap().len(), 1, "{page}");
}

#[test]
fn the_config_file_sets_what_flags_do_not_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agentstack.toml");
    let dist = dir.path().join("dist");
    std::fs::create_dir(&dist).unwrap();
    std::fs::write(dist.join("index.html"), "from the config file").unwrap();
    std::fs::write(
        &config,
        "[serve]\nretention_days = 0\ndashboard_dir = \"dist\"\nbus_capacity = 7\n\
         api = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    // Server::start gives --api 127.0.0.1:0 as a flag, which wins over the file's port 1.
    let server = Server::start(&["--config", config.to_str().unwrap()]);
    let said = server.stdout.lock().unwrap().join("\n");
    assert!(said.contains("retention off"), "{said}");
    let root = get(&format!("{}/", server.api));
    assert_eq!(root.text(), "from the config file");
}

#[test]
fn a_config_file_with_an_unknown_key_stops_serve_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agentstack.toml");
    std::fs::write(&config, "[serve]\nretention = 3\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_agentstack"))
        .args(["serve", "--config"])
        .arg(&config)
        .env_remove("AGENTSTACK_CONFIG")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("retention"), "{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(stderr.contains(config.to_str().unwrap()), "{stderr}");
}

#[test]
fn api_answers_are_gzipped_for_clients_that_accept_it() {
    use std::io::{Read, Write};
    let server = Server::start(&[]);
    post_in_session(&server, 1, Some("conv-z"), now_nanos());
    server.store_with(1);
    let address = server.api.trim_start_matches("http://").to_string();
    let ask = |accept: &str| {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        write!(
            stream,
            "GET /api/v1/traces HTTP/1.1\r\nHost: {address}\r\n{accept}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        let text = String::from_utf8_lossy(&answer).to_lowercase();
        text.split("\r\n\r\n").next().unwrap().to_string()
    };
    let gzipped = ask("Accept-Encoding: gzip\r\n");
    assert!(gzipped.contains("content-encoding: gzip"), "{gzipped}");
    let plain = ask("");
    assert!(!plain.contains("content-encoding"), "{plain}");
}

#[test]
fn the_trace_list_sorts_newest_or_oldest_first() {
    let server = Server::start(&[]);
    let start = now_nanos();
    for n in 1..=3u8 {
        post_in_session(&server, n, None, start + u64::from(n) * 1_000_000);
    }
    server.store_with(3);
    let ids = |query: &str| -> Vec<String> {
        let (status, page) = server.get_json(&format!("/api/v1/traces?{query}"));
        assert_eq!(status, 200, "{page}");
        page["traces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["trace_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(""), [trace_hex(3), trace_hex(2), trace_hex(1)]);
    assert_eq!(
        ids("sort=oldest"),
        [trace_hex(1), trace_hex(2), trace_hex(3)]
    );
    let (_, first) = server.get_json("/api/v1/traces?sort=oldest&limit=2");
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    assert_eq!(
        ids(&format!("sort=oldest&limit=2&cursor={cursor}")),
        [trace_hex(3)]
    );
    let (status, refused) = server.get_json("/api/v1/traces?sort=cost");
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["parameter"], "sort");
}

#[test]
fn health_and_readiness_answer() {
    let server = Server::start(&[]);
    let (status, health) = server.get_json("/healthz");
    assert_eq!((status, &health["status"]), (200, &serde_json::json!("ok")));
    let (status, ready) = server.get_json("/readyz");
    assert_eq!(
        (status, &ready["status"]),
        (200, &serde_json::json!("ready"))
    );
}

#[test]
fn json_logs_are_one_object_per_line_with_the_events_fields() {
    let mut server = Server::start(&["--log-format", "json"]);
    let started: serde_json::Value =
        serde_json::from_str(&server.wait_logged("\"started\"")).unwrap();
    assert_eq!(started["role"], "serve", "{started}");
    assert_eq!(
        started["otlp_http"]
            .as_str()
            .map(|addr| format!("http://{addr}")),
        Some(server.base.clone()),
        "{started}"
    );
    server.sigterm();
    assert!(server.wait_exit(), "serve exits on SIGTERM");
    let lines = server.all_logged();
    let stopped: serde_json::Value = serde_json::from_str(
        lines
            .iter()
            .find(|line| line.contains("writer stopped"))
            .expect("the writer's summary is logged"),
    )
    .unwrap();
    assert_eq!(stopped["written"], 0, "{stopped}");
    assert!(lines.len() >= 3, "{lines:?}");
    for line in &lines {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: not JSON: {line}"));
        for key in ["timestamp", "level", "target", "message"] {
            assert!(event.get(key).is_some(), "no {key} in {line}");
        }
    }
}

#[test]
fn the_log_filter_hides_the_events_below_its_level() {
    // As a control, the default filter (info) logs the shutdown …
    let mut server = Server::start(&[]);
    server.sigterm();
    assert!(server.wait_exit());
    server.wait_logged("shutting down");
    // … and `--log warn` does not.
    let mut server = Server::start(&["--log", "warn"]);
    server.sigterm();
    assert!(server.wait_exit());
    let logged = server.all_logged().join("\n");
    assert!(!logged.contains("shutting down"), "{logged}");
    assert!(
        server.stdout.lock().unwrap().join("\n").contains("stopped"),
        "the banner on stdout does not depend on the log filter"
    );
}

#[test]
fn a_log_filter_that_does_not_parse_is_refused_naming_the_option() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_agentstack"))
        .args(["serve", "--log", "info,agentstack_server=loudest"])
        .env_remove("AGENTSTACK_LOG")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--log \"info,agentstack_server=loudest\""),
        "{stderr}"
    );
}
