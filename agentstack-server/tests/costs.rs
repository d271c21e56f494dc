//! Costs end to end, through a real `agentstack serve`: spans posted over OTLP/HTTP are priced
//! by the cost worker, and come back with hand-computed costs in the trace detail, the trace
//! list, `GET /api/v1/costs` and the viewer; a span delivered twice is priced once; a crossed
//! daily budget raises exactly one alert; another project's key sees none of it; price
//! overrides set through the API price the project's new spans; `agentstack prices` converts
//! and shows prices.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use agentstack_exporter_sqlite::SqliteSpanStore;
use agentstack_exporter_sqlite::store::AlertQuery;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{Value, json};

mod support;

use support::Server;
use support::otlp::{kv, kv_int, now_nanos, request_of, span_of, trace_hex, with};

const MS: u64 = 1_000_000;

/// An agent run of trace `n` ending about now: the agent span (`gen_ai.agent.name`
/// researcher), an OpenAI-shaped call of o3 under a chain (2000 input tokens of which 1200
/// cached, 500 output of which 300 reasoning), and an Anthropic-shaped call of Claude Sonnet
/// 4.5 whose input excludes the cache (Strands Agents' accounting), told apart by its total.
///
/// Hand-computed, USD per 1M tokens from the bundled table:
/// - o3 (2 in, 0.5 cache read, 8 out, reasoning at the output price):
///   800 × 2 + 1200 × 0.5 + 200 × 8 + 300 × 8 = 1600 + 600 + 1600 + 2400 = 6200 → $0.0062
/// - claude-sonnet-4-5 (3 in, 0.30 cache read, 3.75 cache write, 15 out): input 100 uncached,
///   1000 read, 200 written, 50 out:
///   100 × 3 + 1000 × 0.3 + 200 × 3.75 + 50 × 15 = 300 + 300 + 750 + 750 = 2100 → $0.0021
fn agent_run(n: u8) -> Vec<Span> {
    let start = now_nanos() - 2_000 * MS;
    let agent = with(
        span_of(n, 1, None, "research", start, 1_900),
        vec![
            kv("agentstack.span.kind", "agent"),
            kv("gen_ai.agent.name", "researcher"),
            kv("gen_ai.conversation.id", "sess-1"),
            kv("user.id", "ann"),
        ],
    );
    let chain = with(
        span_of(n, 2, Some(1), "plan", start + 10 * MS, 1_500),
        vec![kv("agentstack.span.kind", "chain")],
    );
    let openai = with(
        span_of(n, 3, Some(2), "chat o3", start + 20 * MS, 700),
        vec![
            kv("agentstack.span.kind", "llm"),
            kv("gen_ai.operation.name", "chat"),
            kv("gen_ai.provider.name", "openai"),
            kv("gen_ai.request.model", "o3"),
            kv("gen_ai.response.model", "o3-2025-04-16"),
            kv_int("gen_ai.usage.input_tokens", 2000),
            kv_int("gen_ai.usage.cache_read.input_tokens", 1200),
            kv_int("gen_ai.usage.output_tokens", 500),
            kv_int("gen_ai.usage.reasoning.output_tokens", 300),
            kv("gen_ai.conversation.id", "sess-1"),
            kv("user.id", "ann"),
        ],
    );
    let anthropic = with(
        span_of(n, 4, Some(1), "chat claude", start + 800 * MS, 600),
        vec![
            kv("agentstack.span.kind", "llm"),
            kv("gen_ai.operation.name", "chat"),
            kv("gen_ai.provider.name", "anthropic"),
            kv("gen_ai.request.model", "claude-sonnet-4-5"),
            kv_int("gen_ai.usage.input_tokens", 100),
            kv_int("gen_ai.usage.cache_read.input_tokens", 1000),
            kv_int("gen_ai.usage.cache_creation.input_tokens", 200),
            kv_int("gen_ai.usage.output_tokens", 50),
            kv_int("gen_ai.usage.total_tokens", 1350),
            kv("gen_ai.conversation.id", "sess-1"),
            kv("user.id", "ann"),
        ],
    );
    vec![agent, chain, openai, anthropic]
}

/// A trace `n` of one gpt-4o-mini call: 1000 in, 100 out → 150 + 60 = $0.00021.
fn small_run(n: u8) -> Vec<Span> {
    vec![with(
        span_of(n, 1, None, "chat mini", now_nanos() - 500 * MS, 100),
        vec![
            kv("agentstack.span.kind", "llm"),
            kv("gen_ai.provider.name", "openai"),
            kv("gen_ai.request.model", "gpt-4o-mini"),
            kv_int("gen_ai.usage.input_tokens", 1000),
            kv_int("gen_ai.usage.output_tokens", 100),
        ],
    )]
}

/// A trace `n` of one tool span: nothing to price.
fn tool_run(n: u8) -> Vec<Span> {
    vec![with(
        span_of(n, 1, None, "search", now_nanos() - 400 * MS, 50),
        vec![kv("agentstack.span.kind", "tool")],
    )]
}

fn post(server: &Server, headers: &[(&str, &str)], spans: Vec<Span>) {
    let body = request_of("svc", spans).encode_to_vec();
    let answer = support::request(
        "POST",
        &server.traces_url(),
        headers,
        Some(("application/x-protobuf", &body)),
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
}

fn get(server: &Server, headers: &[(&str, &str)], path: &str) -> (u16, Value) {
    let answer = support::request("GET", &format!("{}{path}", server.api), headers, None);
    let body = serde_json::from_slice(&answer.body)
        .unwrap_or_else(|e| panic!("{path}: {e}: {}", answer.text()));
    (answer.status, body)
}

/// Waits until trace `n` is stored with `priced` priced spans (the writer and the cost worker
/// run apart), and returns its detail.
fn priced_trace(server: &Server, headers: &[(&str, &str)], n: u8, priced: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = get(server, headers, &format!("/api/v1/traces/{}", trace_hex(n)));
        if status == 200 {
            let spans = body["spans"].as_array().unwrap();
            if spans.iter().filter(|s| !s["cost_usd"].is_null()).count() >= priced {
                return body;
            }
        }
        assert!(
            Instant::now() < deadline,
            "trace {n} was not priced in time: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn span_named<'a>(trace: &'a Value, name: &str) -> &'a Value {
    trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no span {name} in {trace}"))
}

/// A config file with a daily budget of $0.01 on the default project, in its own directory.
fn config_with_budget() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agentstack.toml");
    std::fs::write(
        &path,
        "[cost]\nbudgets = [\n  { id = \"default-daily\", project = \"default\", period = \
         \"daily\", limit_usd = \"0.01\" },\n  { id = \"bob\", project = \"default\", subject = \
         \"user:bob\", period = \"monthly\", limit_usd = 1 },\n]\n",
    )
    .unwrap();
    let text = path.to_str().unwrap().to_string();
    (dir, text)
}

#[test]
fn spans_are_priced_once_and_come_back_everywhere_with_their_cost() {
    let (_config_dir, config) = config_with_budget();
    let server = Server::start(&["--config", &config]);
    post(&server, &[], agent_run(1));
    let trace = priced_trace(&server, &[], 1, 2);

    // The trace detail: each model call with its cost and how it was worked out.
    let openai = span_named(&trace, "chat o3");
    assert_eq!(openai["cost_usd"], json!(0.0062), "{openai}");
    assert_eq!(openai["cost_estimated"], json!(false));
    assert_eq!(openai["cost"]["status"], "priced");
    assert_eq!(openai["cost"]["total"], "0.0062");
    assert_eq!(openai["cost"]["model"], "o3-2025-04-16");
    assert_eq!(
        openai["cost"]["tokens"],
        json!({"input": 800, "cache_read": 1200, "cache_write": 0, "output": 200, "reasoning": 300})
    );
    assert_eq!(openai["cost"]["reasoning"], "0.0024");
    let anthropic = span_named(&trace, "chat claude");
    assert_eq!(anthropic["cost_usd"], json!(0.0021), "{anthropic}");
    assert_eq!(anthropic["cost"]["total"], "0.0021");
    assert_eq!(
        anthropic["cost"]["usage"]["input"], 1300,
        "the cache was added to Anthropic-accounted input: {anthropic}"
    );
    for unpriced in ["research", "plan"] {
        let span = span_named(&trace, unpriced);
        assert_eq!(span["cost_usd"], Value::Null, "{span}");
        assert_eq!(span["cost"], Value::Null, "{span}");
    }
    assert_eq!(trace["cost_usd"], json!(0.0083));
    assert_eq!(trace["cost_estimated"], json!(false));

    // The same request again, then a marker trace: once the marker is priced, the repeat was
    // seen by the cost worker (one queue, in order), and priced nothing twice.
    post(&server, &[], agent_run(1));
    post(&server, &[], small_run(2));
    post(&server, &[], tool_run(3));
    priced_trace(&server, &[], 2, 1);
    let (status, by_model) = get(&server, &[], "/api/v1/costs?group_by=model");
    assert_eq!(status, 200, "{by_model}");
    assert_eq!(by_model["group_by"], "model");
    assert_eq!(by_model["total"]["cost_usd"], json!(0.00851), "{by_model}");
    assert_eq!(by_model["total"]["cost"], "0.00851");
    assert_eq!(
        by_model["total"]["span_count"], 3,
        "the repeat is not counted"
    );
    assert_eq!(by_model["total"]["input_tokens"], 2000 + 1300 + 1000);
    let groups: Vec<(String, Value)> = by_model["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap().to_string(),
                g["cost_usd"].clone(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("o3-2025-04-16".to_string(), json!(0.0062)),
            ("claude-sonnet-4-5".to_string(), json!(0.0021)),
            ("gpt-4o-mini".to_string(), json!(0.00021)),
        ]
    );
    assert_eq!(by_model["bucket"], "1d");
    assert_eq!(by_model["series"].as_array().unwrap().len(), 3);
    let (_, by_agent) = get(&server, &[], "/api/v1/costs?group_by=agent");
    let researcher = by_agent["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "researcher")
        .unwrap_or_else(|| panic!("{by_agent}"));
    assert_eq!(
        researcher["cost_usd"],
        json!(0.0083),
        "both calls found their agent up the tree"
    );
    let (_, by_user) = get(&server, &[], "/api/v1/costs?group_by=user&since=0");
    assert_eq!(by_user["groups"][0]["key"], "ann");
    assert_eq!(by_user["groups"][0]["cost"], "0.0083");
    assert_eq!(by_user["bucket"], "1d");
    let (status, refused) = get(&server, &[], "/api/v1/costs?group_by=color");
    assert_eq!(
        (status, &refused["error"]["parameter"]),
        (400, &json!("group_by"))
    );

    // The list: cost per trace, and min_cost.
    let list_ids = |query: &str| -> Vec<String> {
        let (status, body) = get(&server, &[], &format!("/api/v1/traces{query}"));
        assert_eq!(status, 200, "{body}");
        body["traces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["trace_id"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, list) = get(&server, &[], "/api/v1/traces");
    let item = |n: u8| {
        list["traces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["trace_id"] == trace_hex(n))
            .unwrap_or_else(|| panic!("no trace {n} in {list}"))
            .clone()
    };
    assert_eq!(item(1)["cost_usd"], json!(0.0083));
    assert_eq!(item(2)["cost_usd"], json!(0.00021));
    assert_eq!(item(3)["cost_usd"], Value::Null, "nothing to price");
    assert_eq!(item(3)["cost_estimated"], json!(false));
    assert_eq!(list_ids("?min_cost=0.005"), [trace_hex(1)]);
    let mut cheap = list_ids("?min_cost=0.0002");
    cheap.sort();
    assert_eq!(cheap, [trace_hex(1), trace_hex(2)]);
    assert_eq!(
        list_ids("?min_cost=0.0083"),
        [trace_hex(1)],
        "at least, inclusive"
    );
    assert!(list_ids("?min_cost=1").is_empty());
    let (status, refused) = get(&server, &[], "/api/v1/traces?min_cost=a+lot");
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["parameter"], "min_cost");

    // The budget of $0.01 a day was not crossed yet ($0.00851).
    let (_, budgets) = get(&server, &[], "/api/v1/budgets");
    let daily = &budgets["budgets"][0];
    assert_eq!(daily["id"], "default-daily");
    assert_eq!(daily["scope"], "project");
    assert_eq!(daily["spent"], "0.00851");
    assert_eq!(daily["crossed"], json!(false));
    assert_eq!(budgets["budgets"][1]["scope"], "user:bob");

    // Trace 4 takes the day to $0.01681: one alert; traces 5 and 6 ($0.02532) raise no other.
    post(&server, &[], agent_run(4));
    priced_trace(&server, &[], 4, 2);
    post(&server, &[], agent_run(5));
    post(&server, &[], small_run(6));
    priced_trace(&server, &[], 6, 1);
    let store = SqliteSpanStore::open(&server.db).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let alerts = loop {
        let page = store
            .alert_page(&AlertQuery {
                detector: Some("budget".into()),
                ..AlertQuery::default()
            })
            .unwrap();
        if !page.alerts.is_empty() || Instant::now() > deadline {
            break page.alerts;
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    // Give a wrong second alert the time to arrive before counting.
    std::thread::sleep(Duration::from_millis(300));
    let again = store
        .alert_page(&AlertQuery {
            detector: Some("budget".into()),
            ..AlertQuery::default()
        })
        .unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        again.alerts.len(),
        1,
        "one alert per period: {:?}",
        again.alerts
    );
    let alert = &alerts[0];
    assert_eq!(alert.project, "default");
    assert_eq!(
        alert.severity,
        agentstack_exporter_sqlite::store::AlertSeverity::High,
        "the crossing span took the day to $0.01471, 1.47 × the limit"
    );
    assert_eq!(
        alert.trace_id.as_deref(),
        Some(trace_hex(4).as_str()),
        "the trace that crossed it"
    );
    assert!(alert.title.contains("default-daily"), "{}", alert.title);
    assert!(alert.title.contains("$0.01"), "{}", alert.title);
    let (_, budgets) = get(&server, &[], "/api/v1/budgets");
    assert_eq!(budgets["budgets"][0]["spent"], "0.02532");
    assert_eq!(budgets["budgets"][0]["crossed"], json!(true));
    assert_eq!(
        budgets["budgets"][1]["crossed"],
        json!(false),
        "bob spent nothing"
    );

    // The viewer: the list and the tree show the costs, read through the API.
    let viewer = |args: &[&str]| -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_agentstack"))
            .args(args)
            .args(["--server", &server.api])
            .env("TZ", "UTC")
            .env_remove("COLUMNS")
            .env_remove("AGENTSTACK_API_KEY")
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let traces = viewer(&["traces"]);
    assert!(traces.lines().next().unwrap().contains("COST"), "{traces}");
    let row = traces
        .lines()
        .find(|l| l.contains("chat mini"))
        .unwrap_or_else(|| panic!("{traces}"));
    assert!(row.contains("$0.0002"), "{row}");
    let shown = viewer(&["show", &trace_hex(1)]);
    assert!(shown.contains("$0.0083 cost"), "{shown}");
    let o3 = shown.lines().find(|l| l.contains("chat o3")).unwrap();
    assert!(o3.contains("$0.0062"), "{o3}");
    let detail = viewer(&[
        "show",
        &trace_hex(1),
        "--span",
        &span_named(&trace, "chat o3")["span_id"].as_str().unwrap()[..16],
    ]);
    assert!(detail.contains("priced as o3-2025-04-16"), "{detail}");
}

#[test]
fn each_project_sees_only_its_costs_and_its_overrides_price_its_new_spans() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::db_in(&dir);
    let shop = support::create_key(&db, "shop");
    let other = support::create_key(&db, "other");
    let server = Server::start_in(dir, &["--admin-token", "admin-secret"]);
    let as_shop: &[(&str, &str)] = &[("authorization", &format!("Bearer {shop}"))];
    let as_other: &[(&str, &str)] = &[("x-agentstack-api-key", &other)];
    let as_admin: &[(&str, &str)] = &[("authorization", "Bearer admin-secret")];

    post(&server, as_shop, small_run(1));
    priced_trace(&server, as_shop, 1, 1);
    let (_, costs) = get(&server, as_other, "/api/v1/costs");
    assert_eq!(costs["total"]["span_count"], 0, "{costs}");
    assert!(costs["groups"].as_array().unwrap().is_empty());
    let (_, list) = get(&server, as_other, "/api/v1/traces?min_cost=0");
    assert!(list["traces"].as_array().unwrap().is_empty(), "{list}");
    let (status, _) = get(
        &server,
        as_other,
        &format!("/api/v1/traces/{}", trace_hex(1)),
    );
    assert_eq!(status, 404);
    let (_, mine) = get(&server, as_shop, "/api/v1/costs");
    assert_eq!(mine["total"]["cost"], "0.00021");

    // Negotiated prices for shop's gpt-4o-mini: $0.10 in, $0.40 out per 1M.
    let prices = format!("{}/api/v1/projects/shop/prices", server.api);
    let body = br#"{"models": {"gpt-4o-mini": {"based_on": "gpt-4o-mini", "input": "0.10", "output": "0.40"}}}"#;
    let refused = support::request("PUT", &prices, as_shop, Some(("application/json", body)));
    assert_eq!(refused.status, 401, "a project key is not the admin token");
    let bad = support::request(
        "PUT",
        &prices,
        as_admin,
        Some((
            "application/json",
            br#"{"models": {"x": {"based_on": "no-such-model"}}}"#,
        )),
    );
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("no-such-model"), "{}", bad.text());
    let put = support::request("PUT", &prices, as_admin, Some(("application/json", body)));
    assert_eq!(put.status, 200, "{}", put.text());
    let (status, got) = get(&server, as_admin, "/api/v1/projects/shop/prices");
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["source"], "api");
    assert_eq!(got["overrides"]["models"]["gpt-4o-mini"]["input"], "0.1");

    // New spans of shop: 1000 × 0.10 + 100 × 0.40 = 140 per 1M → $0.00014; other's keep the
    // table's $0.00021; shop's first trace keeps what it cost when it was priced.
    post(&server, as_shop, small_run(2));
    post(&server, as_other, small_run(3));
    let shop_trace = priced_trace(&server, as_shop, 2, 1);
    assert_eq!(shop_trace["cost_usd"], json!(0.00014), "{shop_trace}");
    assert_eq!(shop_trace["spans"][0]["cost"]["from_override"], json!(true));
    let other_trace = priced_trace(&server, as_other, 3, 1);
    assert_eq!(other_trace["cost_usd"], json!(0.00021));
    let first = priced_trace(&server, as_shop, 1, 1);
    assert_eq!(first["cost_usd"], json!(0.00021));
    let (_, mine) = get(&server, as_shop, "/api/v1/costs?group_by=model");
    assert_eq!(mine["total"]["cost"], "0.00035");
    let (_, theirs) = get(&server, as_other, "/api/v1/costs?group_by=model");
    assert_eq!(theirs["total"]["cost"], "0.00021");

    // A call without usage but with its text: tokens estimated (tiktoken), cost marked so.
    let guessed = with(
        span_of(4, 1, None, "chat guessed", now_nanos() - 300 * MS, 100),
        vec![
            kv("agentstack.span.kind", "llm"),
            kv("gen_ai.request.model", "gpt-4o"),
            kv(
                "agentstack.input",
                r#"{"prompt":"What is the refund policy for damaged items?"}"#,
            ),
            kv(
                "agentstack.output",
                r#""Damaged items are refunded in full within 30 days.""#,
            ),
        ],
    );
    post(&server, as_shop, vec![guessed]);
    let guessed = priced_trace(&server, as_shop, 4, 1);
    assert_eq!(guessed["cost_estimated"], json!(true), "{guessed}");
    let span = &guessed["spans"][0];
    assert_eq!(span["cost_estimated"], json!(true));
    assert_eq!(span["cost"]["estimated"], json!(true));
    assert!(span["cost_usd"].as_f64().unwrap() > 0.0, "{span}");
    let (_, mine) = get(&server, as_shop, "/api/v1/costs");
    assert!(
        mine["total"]["estimated_cost_usd"].as_f64().unwrap() > 0.0,
        "{mine}"
    );
    let (_, list) = get(&server, as_shop, "/api/v1/traces");
    let listed = list["traces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["trace_id"] == trace_hex(4))
        .unwrap();
    assert_eq!(listed["cost_estimated"], json!(true));
}

/// Runs `agentstack ARGS`, returns (success, stdout, stderr).
fn agentstack(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_agentstack"))
        .args(args)
        .env_remove("AGENTSTACK_PRICES_FILE")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn prices_update_converts_a_litellm_file_and_show_explains_a_match() {
    let litellm = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../agentstack-cost/tests/data/litellm_excerpt.json");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("prices.json");
    let (ok, stdout, stderr) = agentstack(&[
        "prices",
        "update",
        litellm.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--litellm-version",
        "1.2.3",
    ]);
    assert!(ok, "{stderr}");
    use sha2::Digest;
    let sha = sha2::Sha256::digest(std::fs::read(&litellm).unwrap());
    let sha: String = sha.iter().map(|b| format!("{b:02x}")).collect();
    assert!(stdout.contains(&format!("sha256: {sha}")), "{stdout}");
    assert!(stdout.contains("litellm 1.2.3"), "{stdout}");
    let written =
        agentstack_cost::PriceTable::from_prices_json(&std::fs::read_to_string(&out).unwrap())
            .unwrap();
    assert!(
        stdout.starts_with(&format!("wrote {} models", written.len())),
        "{stdout}"
    );
    assert!(written.len() >= 3, "{stdout}");

    // A dated snapshot the file lists is its own model; one it lacks falls back to its base.
    let (ok, shown, stderr) = agentstack(&[
        "prices",
        "show",
        "openai/gpt-4o-2024-08-06",
        "--prices-file",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert!(shown.contains("model     gpt-4o-2024-08-06"), "{shown}");
    assert!(shown.contains("rule      route_removed"), "{shown}");
    let (ok, shown, _) = agentstack(&["prices", "show", "gpt-4o-2099-01-01"]);
    assert!(ok);
    assert!(shown.contains("model     gpt-4o\n"), "{shown}");
    assert!(shown.contains("rule      snapshot_base"), "{shown}");
    assert!(shown.contains("input       2.5"), "{shown}");
    assert!(shown.contains("cache read  1.25"), "{shown}");
    let (ok, _, stderr) = agentstack(&["prices", "show", "no-such-model-anywhere"]);
    assert!(!ok);
    assert!(
        stderr.contains("no price for \"no-such-model-anywhere\""),
        "{stderr}"
    );
    let (ok, _, stderr) = agentstack(&["prices", "update", "/nonexistent/prices.json"]);
    assert!(!ok);
    assert!(stderr.contains("/nonexistent/prices.json"), "{stderr}");
}

#[test]
fn the_viewer_prices_a_local_trace_file_at_read_time() {
    use agentstack_exporter_sqlite::SpanRecord;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    let store = SqliteSpanStore::open(&db).unwrap();
    let start = now_nanos() as i64 - 60_000 * MS as i64;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut root = SpanRecord::new(
        trace,
        "00000000000000a1",
        "support agent",
        start,
        start + 900 * MS as i64,
    );
    root.kind = Some("agent".into());
    // gpt-4o: 1000 × $2.50/M + 100 × $10/M = $0.0035.
    let mut counted = SpanRecord::new(
        trace,
        "00000000000000a2",
        "chat counted",
        start + MS as i64,
        start + 400 * MS as i64,
    );
    counted.parent_span_id = Some("00000000000000a1".into());
    counted.kind = Some("llm".into());
    counted.model = Some("gpt-4o".into());
    counted.input_tokens = Some(1000);
    counted.output_tokens = Some(100);
    // No usage, only text: its tokens are estimated.
    let mut estimated = SpanRecord::new(
        trace,
        "00000000000000a3",
        "chat estimated",
        start + 500 * MS as i64,
        start + 800 * MS as i64,
    );
    estimated.parent_span_id = Some("00000000000000a1".into());
    estimated.kind = Some("llm".into());
    estimated.model = Some("gpt-4o".into());
    estimated.input = Some(r#"{"prompt":"What is the refund policy for damaged items?"}"#.into());
    estimated.output = Some(r#""Damaged items are refunded in full within 30 days.""#.into());
    store.insert_spans(&[root, counted, estimated]).unwrap();
    drop(store);

    let viewer = |args: &[&str]| -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_agentstack"))
            .args(args)
            .arg("--db")
            .arg(&db)
            .env("TZ", "UTC")
            .env_remove("COLUMNS")
            .env_remove("AGENTSTACK_SERVER")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let traces = viewer(&["traces"]);
    let header = traces.lines().next().unwrap();
    assert!(header.contains("COST"), "{traces}");
    let row = traces.lines().nth(1).unwrap();
    assert!(
        row.contains("~$0.00"),
        "estimated in part, so marked: {row}"
    );
    let shown = viewer(&["show", "4bf92f35"]);
    let counted = shown.lines().find(|l| l.contains("chat counted")).unwrap();
    assert!(
        counted.contains("$0.0035") && !counted.contains("~$0.0035"),
        "{counted}"
    );
    let estimated = shown
        .lines()
        .find(|l| l.contains("chat estimated"))
        .unwrap();
    assert!(estimated.contains("~$0.0"), "{estimated}");
    let agent = shown.lines().find(|l| l.contains("support agent")).unwrap();
    assert!(
        !agent.contains('$'),
        "nothing to price on the agent span: {agent}"
    );
    let json = viewer(&["traces", "--json"]);
    let line: Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(line["cost_estimated"], json!(true));
    assert!(line["cost"].as_str().unwrap().starts_with("0.00"), "{line}");
}
