//! API keys end to end: keys made with `agentstack keys` on a temporary store, the real
//! `agentstack serve` on it, spans posted over OTLP/HTTP (and exported by the real SDK) with
//! each key, read back through the API: every read and write is scoped to the key's project.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use serde_json::Value;

mod support;

use support::{Answer, Server, create_key, db_in, keys_cli, request};

const T0: u64 = 1_700_000_000_000_000_000;
const PROTOBUF: &str = "application/x-protobuf";
const ADMIN: &str = "admin-token-for-tests";

/// One root span in trace `n`, as OTLP protobuf.
fn trace_body(n: u8) -> Vec<u8> {
    let mut trace_id = vec![0u8; 16];
    trace_id[0] = n;
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id,
                    span_id: vec![0, 0, 0, 0, 0, 0, 0, n],
                    name: format!("trace {n}"),
                    kind: 1,
                    start_time_unix_nano: T0 + u64::from(n) * 1_000_000_000,
                    end_time_unix_nano: T0 + u64::from(n) * 1_000_000_000 + 1_000_000,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn tid(n: u8) -> String {
    format!("{n:02x}{:030x}", 0)
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

fn post_spans(server: &Server, headers: &[(&str, &str)], n: u8) -> Answer {
    request(
        "POST",
        &server.traces_url(),
        headers,
        Some((PROTOBUF, &trace_body(n))),
    )
}

fn api(server: &Server, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let body: Option<(&str, &[u8])> = (method == "POST").then_some(("application/json", b""));
    let answer = request(method, &format!("{}{path}", server.api), headers, body);
    assert_eq!(
        answer.content_type.as_deref(),
        Some("application/json"),
        "{method} {path}: {}",
        answer.text()
    );
    let value = serde_json::from_slice(&answer.body).unwrap();
    (answer.status, value)
}

fn listed(body: &Value) -> Vec<String> {
    body["traces"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap().to_string())
        .collect()
}

fn assert_401(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 401, "{what}: {}", answer.text());
    assert!(
        answer.text().contains("Authorization: Bearer"),
        "{what}: {}",
        answer.text()
    );
}

fn assert_api_401(server: &Server, path: &str, headers: &[(&str, &str)], what: &str) {
    let (status, body) = api(server, "GET", path, headers);
    assert_eq!(status, 401, "{what}: {body}");
    assert_eq!(body["error"]["status"], 401, "{what}: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x-agentstack-api-key"),
        "{what}: {body}"
    );
}

#[test]
fn each_key_writes_and_reads_only_its_own_project() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let (ok, out, err) = keys_cli(&db, &["create", "--project", "alpha"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("will not be shown again"), "{out}");
    let key_a = out.lines().next().unwrap().trim().to_string();
    assert!(key_a.starts_with("ask_") && key_a.len() == 36, "{key_a}");
    let key_b = create_key(&db, "beta");
    let key_c = create_key(&db, "gamma");
    let server = Server::start_in(dir, &["--admin-token", ADMIN]);
    let out = server.stdout.lock().unwrap().join("\n");
    assert!(out.contains("API keys required (3 active"), "{out}");

    // Writes: A by Authorization, B by x-agentstack-api-key.
    let auth_a = bearer(&key_a);
    let a: &[(&str, &str)] = &[("authorization", &auth_a)];
    let b: &[(&str, &str)] = &[("x-agentstack-api-key", &key_b)];
    assert_eq!(post_spans(&server, a, 1).status, 200);
    assert_eq!(post_spans(&server, b, 2).status, 200);
    let store = server.store_with(2);
    assert_eq!(store.trace(&tid(1)).unwrap()[0].project, "alpha");
    assert_eq!(store.trace(&tid(2)).unwrap()[0].project, "beta");

    // Reads: each key sees its own project only; another project's trace does not exist.
    let (status, body) = api(&server, "GET", "/api/v1/traces", a);
    assert_eq!(status, 200, "{body}");
    assert_eq!(listed(&body), vec![tid(1)]);
    let (_, body) = api(&server, "GET", "/api/v1/traces", b);
    assert_eq!(listed(&body), vec![tid(2)]);
    let (status, _) = api(&server, "GET", &format!("/api/v1/traces/{}", tid(1)), a);
    assert_eq!(status, 200);
    for (headers, other) in [(a, tid(2)), (b, tid(1))] {
        let (status, body) = api(&server, "GET", &format!("/api/v1/traces/{other}"), headers);
        assert_eq!(status, 404, "{body}");
        let (status, _) = api(
            &server,
            "GET",
            &format!("/api/v1/traces/{}", &other[..8]),
            headers,
        );
        assert_eq!(status, 404);
    }
    let (status, body) = api(&server, "GET", "/api/v1/stats", a);
    assert_eq!(status, 200);
    assert_eq!(
        (body["span_count"].as_i64(), body["trace_count"].as_i64()),
        (Some(1), Some(1))
    );
    let (_, body) = api(
        &server,
        "GET",
        "/api/v1/stats",
        &[("authorization", &bearer(&key_c))],
    );
    assert_eq!(body["span_count"], 0, "{body}");

    // No key, a wrong key, a malformed key: 401 on the collector and on every API route.
    let wrong = format!("{}{}", &key_a[..12], "0".repeat(24));
    let auth_wrong = bearer(&wrong);
    let refused: [(&str, &[(&str, &str)]); 3] = [
        ("no key", &[]),
        ("wrong key", &[("authorization", &auth_wrong)]),
        ("malformed key", &[("x-agentstack-api-key", "hunter2")]),
    ];
    for (what, headers) in refused {
        assert_401(&post_spans(&server, headers, 9), what);
        for path in [
            "/api/v1/traces",
            &format!("/api/v1/traces/{}", tid(1)),
            "/api/v1/stats",
        ] {
            assert_api_401(&server, path, headers, what);
        }
    }

    // A key revoked with the CLI while the server runs stops working at once.
    let auth_c = bearer(&key_c);
    let c: &[(&str, &str)] = &[("authorization", &auth_c)];
    assert_eq!(post_spans(&server, c, 3).status, 200);
    let (ok, out, err) = keys_cli(&server.db, &["revoke", &key_c[..12]]);
    assert!(ok && out.contains("revoked API key"), "{out}{err}");
    let answer = post_spans(&server, c, 4);
    assert_eq!(answer.status, 401);
    assert!(answer.text().contains("revoked"), "{}", answer.text());
    let (status, body) = api(&server, "GET", "/api/v1/traces", c);
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revoked"),
        "{body}"
    );
    server.store_with(3);

    // The listing shows prefixes and projects, never the keys.
    let (ok, out, _) = keys_cli(&server.db, &["list"]);
    assert!(ok);
    for (key, project) in [(&key_a, "alpha"), (&key_b, "beta"), (&key_c, "gamma")] {
        assert!(out.contains(&key[..12]) && out.contains(project), "{out}");
        assert!(!out.contains(key.as_str()), "{out}");
    }
    let revoked_line = out.lines().find(|l| l.contains("gamma")).unwrap();
    assert!(!revoked_line.trim_end().ends_with('-'), "{revoked_line}");

    // The store keeps hashes only: no key appears in any table, nor anywhere in the files.
    let conn = rusqlite::Connection::open(&server.db).unwrap();
    let mut stmt = conn
        .prepare("SELECT prefix, sha256, project FROM api_keys ORDER BY project")
        .unwrap();
    let rows: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 3);
    for ((prefix, sha256, _), key) in rows.iter().zip([&key_a, &key_b, &key_c]) {
        assert_eq!(prefix, &key[..12]);
        assert_eq!(sha256.len(), 64);
        assert_eq!(sha256, &agentstack_server::auth::key::sha256_hex(key));
    }
    let dump: String = conn
        .prepare("SELECT group_concat(prefix || sha256 || project || created_unix_nanos, '|') FROM api_keys")
        .unwrap()
        .query_row([], |r| r.get(0))
        .unwrap();
    for key in [&key_a, &key_b, &key_c] {
        assert!(!dump.contains(key.as_str()));
        assert!(!dump.contains(&key[12..]));
    }
    for file in std::fs::read_dir(server.db.parent().unwrap()).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        for key in [&key_a, &key_b, &key_c] {
            assert!(!bytes.windows(key.len()).any(|w| w == key.as_bytes()));
        }
    }
}

#[test]
fn admin_routes_create_list_and_revoke_keys_behind_the_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let key_a = create_key(&db_in(&dir), "alpha");
    let server = Server::start_in(dir, &["--admin-token", ADMIN]);
    let admin_auth = bearer(ADMIN);
    let admin: &[(&str, &str)] = &[("authorization", &admin_auth)];

    // Without the admin token (or with a project key): 401.
    for headers in [&[][..], &[("authorization", bearer(&key_a).as_str())][..]] {
        let (status, body) = api(&server, "GET", "/api/v1/keys", headers);
        assert_eq!(status, 401, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("admin token")
        );
        let (status, _) = api(&server, "POST", "/api/v1/projects/delta/keys", headers);
        assert_eq!(status, 401);
    }

    let (status, created) = api(&server, "POST", "/api/v1/projects/delta/keys", admin);
    assert_eq!(status, 201, "{created}");
    let key_d = created["key"].as_str().unwrap().to_string();
    let prefix_d = created["prefix"].as_str().unwrap().to_string();
    assert!(key_d.starts_with(&prefix_d));
    assert_eq!(created["project"], "delta");
    let (status, _) = api(
        &server,
        "POST",
        "/api/v1/projects/not%20a%20name/keys",
        &[("x-agentstack-admin-token", ADMIN)],
    );
    assert_eq!(status, 400);

    let (status, list) = api(&server, "GET", "/api/v1/keys", admin);
    assert_eq!(status, 200);
    let keys = list["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{list}");
    assert!(
        !list.to_string().contains(&key_d) && !list.to_string().contains(&key_a),
        "{list}"
    );
    assert!(
        keys.iter()
            .all(|k| k.get("key").is_none() && k["active"] == true)
    );

    // The new key works at once, in its own project; revoked, it stops at once.
    let auth_d = bearer(&key_d);
    let d: &[(&str, &str)] = &[("authorization", &auth_d)];
    assert_eq!(post_spans(&server, d, 5).status, 200);
    server.store_with(1);
    let (status, body) = api(&server, "GET", "/api/v1/traces", d);
    assert_eq!((status, listed(&body)), (200, vec![tid(5)]));
    let (_, body) = api(
        &server,
        "GET",
        "/api/v1/traces",
        &[("authorization", &bearer(&key_a))],
    );
    assert!(listed(&body).is_empty());

    let (status, revoked) = api(
        &server,
        "DELETE",
        &format!("/api/v1/keys/{prefix_d}"),
        admin,
    );
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["active"], false);
    assert!(revoked["revoked_at"].is_string());
    let answer = post_spans(&server, d, 6);
    assert_eq!(answer.status, 401, "{}", answer.text());
    assert!(answer.text().contains("revoked"), "{}", answer.text());
    let (status, body) = api(&server, "GET", "/api/v1/traces", d);
    assert_eq!(status, 401, "{body}");
    let (status, _) = api(&server, "DELETE", "/api/v1/keys/ask_00000000", admin);
    assert_eq!(status, 404);
}

#[test]
fn without_an_admin_token_the_admin_routes_answer_403() {
    let dir = tempfile::tempdir().unwrap();
    create_key(&db_in(&dir), "alpha");
    let server = Server::start_in(dir, &[]);
    for (method, path) in [
        ("GET", "/api/v1/keys"),
        ("POST", "/api/v1/projects/alpha/keys"),
        ("DELETE", "/api/v1/keys/ask_00000000"),
    ] {
        let (status, body) = api(&server, method, path, &[("authorization", "Bearer x")]);
        assert_eq!(status, 403, "{method} {path}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("--admin-token"),
            "{body}"
        );
    }
}

#[test]
fn without_keys_a_loopback_server_keeps_the_default_project() {
    let server = Server::start(&[]);
    assert_eq!(post_spans(&server, &[], 1).status, 200);
    // A key sent to a server without keys is not refused either.
    assert_eq!(
        post_spans(&server, &[("authorization", "Bearer ask_whatever")], 2).status,
        200
    );
    let store = server.store_with(2);
    assert_eq!(store.trace(&tid(1)).unwrap()[0].project, "default");
    let (status, body) = api(&server, "GET", "/api/v1/traces", &[]);
    assert_eq!(status, 200);
    assert_eq!(listed(&body).len(), 2);
}

#[test]
fn with_a_key_serve_may_listen_beyond_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    create_key(&db, "alpha");
    let mut child = Command::new(env!("CARGO_BIN_EXE_agentstack"))
        .args([
            "serve",
            "--otlp-http",
            "0.0.0.0:0",
            "--api",
            "127.0.0.1:0",
            "--otlp-grpc",
            "127.0.0.1:0",
            "--db",
        ])
        .arg(&db)
        .env_remove("AGENTSTACK_ADMIN_TOKEN")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    for line in lines.lines() {
        let line = line.unwrap();
        let done = line.contains("span store");
        seen.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let out = seen.join("\n");
    assert!(
        out.contains("collector listening on http://0.0.0.0:"),
        "{out}"
    );
    assert!(out.contains("API keys required"), "{out}");
}

mod sdk_agent {
    use agentstack::observe;

    #[observe(kind = tool)]
    pub fn lookup(query: &str) -> String {
        format!("found {query}")
    }

    #[observe(kind = agent)]
    pub fn run(question: &str) -> String {
        lookup(question)
    }
}

#[test]
fn the_sdk_with_an_api_key_exports_into_the_key_project() {
    let dir = tempfile::tempdir().unwrap();
    let key_a = create_key(&db_in(&dir), "alpha");
    let key_b = create_key(&db_in(&dir), "beta");
    let server = Server::start_in(dir, &[]);
    let spool = tempfile::tempdir().unwrap();
    let guard = agentstack::builder()
        .endpoint(&server.base)
        .api_key(&key_a)
        .spool_path(spool.path().join("spool.db"))
        .service_name("keyed-agent")
        .init()
        .unwrap();
    assert_eq!(sdk_agent::run("otlp"), "found otlp");
    drop(guard);
    let stats = agentstack::stats();
    assert_eq!(
        (stats.exported, stats.failed, stats.spooled),
        (2, 0, 0),
        "{stats:?}"
    );
    let store = server.store_with(2);
    let traces = store.recent_traces(&Default::default()).unwrap();
    assert_eq!(traces.len(), 1);
    let spans = store.trace(&traces[0].trace_id).unwrap();
    assert!(spans.iter().all(|s| s.project == "alpha"), "{spans:?}");
    let (_, body) = api(
        &server,
        "GET",
        "/api/v1/traces",
        &[("authorization", &bearer(&key_a))],
    );
    assert_eq!(listed(&body), vec![traces[0].trace_id.clone()]);
    let (_, body) = api(
        &server,
        "GET",
        "/api/v1/traces",
        &[("authorization", &bearer(&key_b))],
    );
    assert!(listed(&body).is_empty());
}

#[test]
fn the_viewer_reads_a_server_with_its_project_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let key_a = create_key(&db, "alpha");
    let key_b = create_key(&db, "beta");
    let server = Server::start_in(dir, &[]);
    let auth_a = bearer(&key_a);
    assert_eq!(
        post_spans(&server, &[("authorization", &auth_a)], 1).status,
        200
    );
    assert_eq!(
        post_spans(&server, &[("x-agentstack-api-key", &key_b)], 2).status,
        200
    );
    server.store_with(2);

    let viewer = |key: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_agentstack"));
        command
            .args(["traces", "--json", "--server", &server.api])
            .env_remove("AGENTSTACK_API_KEY");
        if let Some(key) = key {
            command.args(["--api-key", key]);
        }
        command.output().unwrap()
    };
    let out = viewer(Some(&key_a));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains(&tid(1)), "{listed}");
    assert!(
        !listed.contains(&tid(2)),
        "project beta's trace must not show: {listed}"
    );

    let out = viewer(None);
    assert!(!out.status.success());
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.contains("401"), "{error}");
}
