//! `WS /ws/traces` of a running `agentstack serve`: new traces and spans arrive on the socket
//! after they are stored, filtered like the list, scoped to the caller's project, and the socket
//! closes when the server shuts down.

mod support;

use std::net::TcpStream;
use std::time::Duration;

use prost::Message as _;
use serde_json::Value;
use support::otlp::{kv, now_nanos, request_of, span_of, trace_hex, with};
use support::{Server, create_key, db_in, request};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// Connects to `/ws/traces?QUERY` of `server`.
fn tail(server: &Server, query: &str) -> Socket {
    let url = format!("{}/ws/traces?{query}", server.api.replacen("http", "ws", 1));
    let (mut socket, _) = tungstenite::connect(url).expect("the live tail accepts");
    if let MaybeTlsStream::Plain(stream) = socket.get_mut() {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
    }
    socket
}

/// The next JSON text message.
fn next_message(socket: &mut Socket) -> Value {
    loop {
        match socket.read().expect("a message before the timeout") {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Close(frame) => panic!("the socket closed: {frame:?}"),
            _ => {}
        }
    }
}

/// Posts one trace `n` of two spans (an agent root and an llm child) with `key`.
fn post_trace(server: &Server, n: u8, root: &str, key: Option<&str>) {
    let start = now_nanos();
    let export = request_of(
        "live-svc",
        vec![
            with(
                span_of(n, 1, None, root, start, 30),
                vec![kv("agentstack.span.kind", "agent")],
            ),
            with(
                span_of(n, 2, Some(1), "chat", start + 1_000, 10),
                vec![
                    kv("agentstack.span.kind", "llm"),
                    kv("gen_ai.request.model", "gpt-4o"),
                ],
            ),
        ],
    );
    let bearer = key.map(|key| format!("Bearer {key}"));
    let mut headers = vec![("content-type", "application/x-protobuf")];
    if let Some(bearer) = &bearer {
        headers.push(("authorization", bearer));
    }
    let answer = request(
        "POST",
        &server.traces_url(),
        &headers,
        Some(("application/x-protobuf", &export.encode_to_vec())),
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
}

#[test]
fn a_stored_trace_arrives_with_its_summary_then_its_spans() {
    let server = Server::start(&[]);
    let mut socket = tail(&server, "");
    post_trace(&server, 1, "live agent", None);

    let traces = next_message(&mut socket);
    assert_eq!(traces["type"], "traces", "{traces}");
    let trace = &traces["traces"][0];
    assert_eq!(trace["trace_id"], trace_hex(1));
    assert_eq!(trace["root_name"], "live agent");
    assert_eq!(trace["span_count"], 2);
    assert_eq!(trace["status"], "ok");

    let spans = next_message(&mut socket);
    assert_eq!(spans["type"], "spans", "{spans}");
    let mut names: Vec<&str> = spans["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|span| span["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["chat", "live agent"]);
    let chat = spans["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|span| span["name"] == "chat")
        .unwrap();
    assert_eq!(chat["model"], "gpt-4o");
    assert_eq!(chat["kind"], "llm");
    assert!(chat.get("input").is_none(), "no payloads on the tail");
}

#[test]
fn the_tail_takes_the_lists_filters() {
    let server = Server::start(&[]);
    let mut socket = tail(&server, "name=wanted");
    post_trace(&server, 1, "some other run", None);
    post_trace(&server, 2, "the wanted run", None);
    let traces = next_message(&mut socket);
    // Batches are published in order: had the first trace passed, it would come first.
    assert_eq!(traces["traces"].as_array().unwrap().len(), 1);
    assert_eq!(traces["traces"][0]["trace_id"], trace_hex(2), "{traces}");
}

#[test]
fn a_bad_filter_is_refused_before_the_upgrade() {
    let server = Server::start(&[]);
    let url = format!(
        "{}/ws/traces?status=maybe",
        server.api.replacen("http", "ws", 1)
    );
    match tungstenite::connect(url) {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400);
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                .into_owned();
            assert!(body.contains("status"), "{body}");
        }
        other => panic!("expected a 400, got {:?}", other.map(|(_, r)| r.status())),
    }
    // A plain GET (no upgrade) says it is a WebSocket.
    let answer = server.get("/ws/traces");
    assert_eq!(answer.status, 400);
    assert!(answer.text().contains("WebSocket"), "{}", answer.text());
}

#[test]
fn a_key_tails_only_its_own_project() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let alpha = create_key(&db, "alpha");
    let beta = create_key(&db, "beta");
    let server = Server::start_in(dir, &[]);

    let url = format!("{}/ws/traces", server.api.replacen("http", "ws", 1));
    match tungstenite::connect(url) {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("expected a 401, got {:?}", other.map(|(_, r)| r.status())),
    }

    let mut socket = tail(&server, &format!("api_key={alpha}"));
    post_trace(&server, 1, "beta's run", Some(&beta));
    post_trace(&server, 2, "alpha's run", Some(&alpha));
    let traces = next_message(&mut socket);
    assert_eq!(traces["traces"].as_array().unwrap().len(), 1);
    assert_eq!(traces["traces"][0]["root_name"], "alpha's run", "{traces}");
}

#[test]
fn the_socket_closes_when_the_server_shuts_down() {
    let mut server = Server::start(&[]);
    let mut socket = tail(&server, "");
    server.sigterm();
    let closed = loop {
        match socket.read() {
            Ok(Message::Close(frame)) => break frame,
            Ok(_) => continue,
            Err(error) => panic!("no close frame: {error}"),
        }
    };
    assert_eq!(
        closed.map(|frame| u16::from(frame.code)),
        Some(1001),
        "going away"
    );
    assert!(server.wait_exit(), "the server exits with a tail open");
}
