//! The terminal viewer end to end: a real trace file written with `SqliteSpanStore`, the real
//! `agentstack` binary, and its output read as a pipe (so: no colour codes, no width limit unless
//! `COLUMNS` says so).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agentstack_exporter_sqlite::{SpanRecord, SpanStatus, SqliteSpanStore};
use unicode_width::UnicodeWidthStr;

mod support;

use support::{lines_of, wait_for};

const RESEARCH: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SUPPORT: &str = "a3ce929d0e0e47364bf92f3577b34da6";
const ROOT: &str = "00f067aa0ba902b7";
const CHAT: &str = "1a2b3c4d5e6f7081";
const SEARCH: &str = "b7ad6b7169203331";
const SUMMARIZE: &str = "c0ffee0000000001";
const CHAT2: &str = "c0ffee0000000002";
const ORPHAN: &str = "d00d00d00d00d00d";
const MS: i64 = 1_000_000;

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

#[allow(clippy::too_many_arguments)]
fn span(
    trace: &str,
    id: &str,
    parent: Option<&str>,
    name: &str,
    kind: &str,
    base: i64,
    start_ms: i64,
    end_ms: i64,
) -> SpanRecord {
    let mut s = SpanRecord::new(trace, id, name, base + start_ms * MS, base + end_ms * MS);
    s.parent_span_id = parent.map(str::to_string);
    s.kind = Some(kind.to_string());
    s.service_name = Some("demo".into());
    s
}

/// A small agent run: agent → chat (llm), web_search (tool, failed), summarize (chain) → chat
/// (llm); a span whose parent never arrived; and an older, successful support trace.
fn agent_trace(base: i64) -> Vec<SpanRecord> {
    let mut root = span(
        RESEARCH,
        ROOT,
        None,
        "research_agent",
        "agent",
        base,
        0,
        4_100,
    );
    root.session_id = Some("s-42".into());
    root.input = Some(r#"{"question":"What is the capital of France?"}"#.into());
    root.output = Some(r#""Paris""#.into());

    let mut chat = span(RESEARCH, CHAT, Some(ROOT), "chat", "llm", base, 100, 1_300);
    chat.provider = Some("openai".into());
    chat.model = Some("gpt-4o".into());
    chat.input_tokens = Some(812);
    chat.output_tokens = Some(120);
    chat.input = Some(format!(
        r#"{{"messages":[{{"role":"system","content":"{}"}},{{"role":"user","content":"capital of France?"}}]}}"#,
        "You are a careful research assistant. ".repeat(20)
    ));
    chat.output = Some("this is not JSON {".into());

    let mut search = span(
        RESEARCH,
        SEARCH,
        Some(ROOT),
        "web_search",
        "tool",
        base,
        1_400,
        2_250,
    );
    search.status = SpanStatus::Error;
    search.status_message = Some("timeout after 30s talking to the search backend".into());
    search.attributes =
        r#"{"gen_ai.tool.name":"web_search","gen_ai.tool.call.id":"call_77"}"#.into();
    search.events = r#"[{"name":"exception","attributes":{"exception.type":"Timeout"}}]"#.into();
    search.input = Some(r#"{"query":"capital of France"}"#.into());

    let summarize = span(
        RESEARCH,
        SUMMARIZE,
        Some(ROOT),
        "summarize",
        "chain",
        base,
        2_300,
        4_000,
    );
    let mut chat2 = span(
        RESEARCH,
        CHAT2,
        Some(SUMMARIZE),
        "chat",
        "llm",
        base,
        2_400,
        3_900,
    );
    chat2.model = Some("gpt-4o-mini".into());
    chat2.input_tokens = Some(1_500);
    chat2.output_tokens = Some(300);

    let orphan = span(
        RESEARCH,
        ORPHAN,
        Some("eeeeeeeeeeeeeeee"),
        "late_callback",
        "tool",
        base,
        3_000,
        3_050,
    );

    let mut support = span(
        SUPPORT,
        "5555555555555555",
        None,
        "support_agent",
        "agent",
        base,
        -1_800_000,
        -1_799_000,
    );
    support.status = SpanStatus::Ok;
    let support_llm = span(
        SUPPORT,
        "6666666666666666",
        Some("5555555555555555"),
        "chat",
        "llm",
        base,
        -1_799_900,
        -1_799_100,
    );

    vec![
        root,
        chat,
        search,
        summarize,
        chat2,
        orphan,
        support,
        support_llm,
    ]
}

struct Fixture {
    _dir: tempfile::TempDir,
    db: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    let store = SqliteSpanStore::open(&db).unwrap();
    // Ten minutes ago, so the table shows today's HH:MM:SS (in UTC, see `run`).
    store
        .insert_spans(&agent_trace(now_nanos() - 600_000 * MS))
        .unwrap();
    Fixture { _dir: dir, db }
}

/// The binary with `args` and `--db db`, in UTC, with no colour or width settings inherited.
fn agentstack(db: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agentstack"));
    cmd.env("TZ", "UTC")
        .env_remove("COLUMNS")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("AGENTSTACK_LOCAL_PATH")
        .env_remove("AGENTSTACK_SERVER")
        .args(args)
        .arg("--db")
        .arg(db);
    cmd
}

/// Runs the viewer with `args` and returns stdout, checking it succeeded and carries no
/// escape codes.
fn run(db: &Path, args: &[&str]) -> String {
    run_with(db, args, |_| {})
}

fn run_with(db: &Path, args: &[&str], setup: impl FnOnce(&mut Command)) -> String {
    let mut cmd = agentstack(db, args);
    setup(&mut cmd);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} failed: {stderr}\n{stdout}");
    assert!(
        !stdout.contains("\x1b["),
        "colour codes in a pipe for {args:?}:\n{stdout:?}"
    );
    assert!(
        !stderr.contains("\x1b["),
        "colour codes in a pipe for {args:?}:\n{stderr:?}"
    );
    stdout
}

fn fail(db: &Path, args: &[&str]) -> Output {
    let out = agentstack(db, args).output().unwrap();
    assert!(!out.status.success(), "{args:?} should fail");
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn traces_lists_newest_first_with_totals_and_status() {
    let f = fixture();
    let out = run(&f.db, &["traces"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    // The time column is as wide as its widest cell: a run within the first half hour after
    // midnight (UTC) shows yesterday's support run as a date, so only the alignment is fixed.
    assert!(lines[0].starts_with("TIME "), "{out}");
    assert!(lines[0].contains("  TRACE     NAME"), "{out}");
    assert_eq!(lines[0].find("TRACE"), lines[1].find("4bf92f35"), "{out}");
    for title in ["DURATION", "SPANS", "TOKENS", "COST", "STATUS"] {
        assert!(lines[0].contains(title), "{out}");
    }
    // Newest first: the research run started a minute after the support run.
    assert!(lines[1].contains("4bf92f35  research_agent"), "{out}");
    assert!(lines[1].contains("4.1s"), "{out}");
    // gpt-4o 812 × $2.50/M + 120 × $10/M = $0.00323; gpt-4o-mini 1500 × $0.15/M + 300 ×
    // $0.60/M = $0.000405: $0.003635 in all.
    assert!(
        lines[1].contains("   6  2312→420  $0.0036  ✗ 1 error"),
        "{out}"
    );
    assert!(lines[2].contains("a3ce929d  support_agent"), "{out}");
    assert!(
        lines[2].ends_with("1.0s      2         –        –  ✓"),
        "{out}"
    );
    // Today's traces show the time of day (unless the run started before midnight, UTC).
    let seconds_into_the_day = now_nanos() / 1_000_000_000 % 86_400;
    if seconds_into_the_day > 15 * 60 {
        let time = lines[1].as_bytes();
        assert!(
            time[2] == b':' && time[5] == b':' && time[8] == b' ',
            "{out}"
        );
    }
}

#[test]
fn traces_filters_and_json() {
    let f = fixture();
    let errors = run(&f.db, &["traces", "--status", "error"]);
    assert!(errors.contains("research_agent"), "{errors}");
    assert!(!errors.contains("support_agent"), "{errors}");
    let ok = run(&f.db, &["traces", "--status", "ok"]);
    assert!(
        ok.contains("support_agent") && !ok.contains("research_agent"),
        "{ok}"
    );
    let named = run(&f.db, &["traces", "--name", "SUPPORT"]);
    assert!(
        named.contains("support_agent") && !named.contains("research_agent"),
        "{named}"
    );
    let recent = run(&f.db, &["traces", "--since", "20m"]);
    assert!(
        recent.contains("research_agent") && !recent.contains("support_agent"),
        "{recent}"
    );
    let session = run(&f.db, &["traces", "--session", "s-42"]);
    assert!(
        session.contains("research_agent") && !session.contains("support_agent"),
        "{session}"
    );
    let limited = run(&f.db, &["traces", "--limit", "1"]);
    assert_eq!(limited.lines().count(), 2, "{limited}");

    let json = run(&f.db, &["traces", "--json"]);
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["trace_id"], RESEARCH);
    assert_eq!(rows[0]["root_name"], "research_agent");
    assert_eq!(rows[0]["status"], "error");
    assert_eq!(rows[0]["error_count"], 1);
    assert_eq!(rows[0]["input_tokens"], 2312);
    assert_eq!(rows[0]["output_tokens"], 420);
    assert_eq!(rows[0]["span_count"], 6);
    assert_eq!(rows[0]["duration_nanos"], 4_100 * MS);
    assert_eq!(rows[1]["status"], "ok");
}

#[test]
fn show_draws_the_tree_with_header_errors_and_orphans() {
    let f = fixture();
    let out = run(&f.db, &["show", "4bf92f35"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!("research_agent  trace {RESEARCH}"),
        "{out}"
    );
    assert!(lines[1].starts_with("started "), "{out}");
    assert!(
        lines[1].ends_with(
            " · 4.1s · 6 spans · 2,312 in → 420 out tokens · $0.0036 cost · ✗ 1 error · session s-42 · service demo · 1 orphan"
        ),
        "{out}"
    );
    let tree: Vec<&str> = lines[3..].to_vec();
    assert!(tree[0].starts_with("[agent] research_agent "), "{out}");
    assert!(tree[1].starts_with("├─ [llm] chat "), "{out}");
    assert!(tree[1].contains("gpt-4o  812→120 tok  $0.0032"), "{out}");
    assert!(
        tree[1].contains('━'),
        "a timeline bar when the width allows: {out}"
    );
    assert!(tree[2].starts_with("├─ [tool] web_search "), "{out}");
    assert!(tree[2].contains("850ms"), "{out}");
    assert_eq!(
        tree[3], "│     ✗ timeout after 30s talking to the search backend",
        "{out}"
    );
    assert!(tree[4].starts_with("└─ [chain] summarize "), "{out}");
    assert!(tree[5].starts_with("   └─ [llm] chat "), "{out}");
    assert!(
        tree[5].contains("gpt-4o-mini  1500→300 tok  $0.0004"),
        "{out}"
    );
    assert!(
        tree[6].starts_with("[tool] late_callback (orphan)"),
        "{out}"
    );
    assert!(
        out.contains("(orphan): its parent span is not in the file"),
        "{out}"
    );

    // The full id works as well as the prefix, in any case.
    assert_eq!(run(&f.db, &["show", &RESEARCH.to_uppercase()]), out);
}

#[test]
fn show_io_prints_inputs_and_outputs_cut_down() {
    let f = fixture();
    let out = run(&f.db, &["show", "4bf92f35", "--io"]);
    assert!(
        out.contains(
            "│  input:\n│    {\n│      \"question\": \"What is the capital of France?\"\n│    }"
        ),
        "{out}"
    );
    assert!(out.contains("│  output:\n│    \"Paris\""), "{out}");
    assert!(out.contains("\"role\": \"user\""), "{out}");
    // The long system prompt is cut, saying how much is left.
    assert!(out.contains("more bytes)\""), "{out}");
    // Invalid JSON is shown as it is.
    assert!(out.contains("│       this is not JSON {"), "{out}");
    assert!(out.contains("\"query\": \"capital of France\""), "{out}");
}

#[test]
fn show_span_prints_one_span_in_full() {
    let f = fixture();
    let out = run(&f.db, &["show", "4bf92f35", "--span", "b7ad"]);
    assert!(out.starts_with("[tool] web_search\n"), "{out}");
    for want in [
        format!("  span      {SEARCH}"),
        format!("  trace     {RESEARCH}"),
        format!("  parent    {ROOT}"),
        "  service   demo".into(),
        "(+1.4s into the trace)".into(),
        "  duration  850ms".into(),
        "  status    ✗ error: timeout after 30s talking to the search backend".into(),
        // Keys in the order they were written.
        "attributes\n  {\n    \"gen_ai.tool.name\": \"web_search\",\n    \"gen_ai.tool.call.id\": \"call_77\"\n  }".into(),
        "\"exception.type\": \"Timeout\"".into(),
        "input\n  {\n    \"query\": \"capital of France\"\n  }".into(),
        "output\n  not captured".into(),
    ] {
        assert!(out.contains(&want), "{want:?} not in\n{out}");
    }
    // The long input is printed whole here.
    let full = run(&f.db, &["show", "4bf92f35", "--span", CHAT]);
    assert!(!full.contains("more bytes"), "{full}");
    assert_eq!(
        full.matches("careful research assistant").count(),
        20,
        "{full}"
    );

    let json = run(&f.db, &["show", "4bf92f35", "--span", "b7ad", "--json"]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["status"], "error");
    assert_eq!(v["attributes"]["gen_ai.tool.name"], "web_search");

    let ambiguous = stderr(&fail(&f.db, &["show", "4bf92f35", "--span", "c0ffee"]));
    assert!(
        ambiguous.contains("2 spans of this trace have ids starting with \"c0ffee\""),
        "{ambiguous}"
    );
    let missing = stderr(&fail(&f.db, &["show", "4bf92f35", "--span", "ffff"]));
    assert!(
        missing.contains("no span of this trace") && missing.contains("(web_search)"),
        "{missing}"
    );
}

#[test]
fn show_json_lists_spans_in_tree_order() {
    let f = fixture();
    let out = run(&f.db, &["show", "4bf92f35", "--json"]);
    let spans: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = spans.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "research_agent",
            "chat",
            "web_search",
            "summarize",
            "chat",
            "late_callback"
        ]
    );
    assert_eq!(spans[4]["depth"], 2);
    assert_eq!(spans[1]["input"]["messages"][1]["role"], "user");
    assert_eq!(spans[1]["output"], "this is not JSON {");
}

#[test]
fn a_narrow_terminal_keeps_every_line_within_its_width() {
    let f = fixture();
    for args in [
        &["traces"][..],
        &["show", "4bf92f35"],
        &["show", "4bf92f35", "--io"],
        &["show", "4bf92f35", "--span", "b7ad"],
        &["show", "4bf92f35", "--span", CHAT],
    ] {
        let out = run_with(&f.db, args, |c| {
            c.env("COLUMNS", "40");
        });
        assert!(out.lines().count() > 2, "{args:?}: {out}");
        for line in out.lines() {
            assert!(
                line.width() <= 40,
                "{args:?}: {} columns: {line:?}\n{out}",
                line.width()
            );
        }
        // Still says the essentials.
        if args[0] == "show" && args.len() == 2 {
            assert!(
                !out.contains('━'),
                "no timeline bar below 60 columns:\n{out}"
            );
            assert!(out.contains("│     gpt-4o  812→120 tok"), "{out}");
            assert!(out.contains("✗ timeout after 30s"), "{out}");
        }
    }
    let table = run_with(&f.db, &["traces"], |c| {
        c.env("COLUMNS", "40");
    });
    assert!(
        table.contains("4bf92f35  research_ag…      4.1s  ✗ 1"),
        "{table}"
    );
}

#[test]
fn colour_only_when_asked_for_or_on_a_terminal() {
    let f = fixture();
    let out = agentstack(&f.db, &["--color", "always", "show", "4bf92f35"])
        .output()
        .unwrap();
    let coloured = String::from_utf8(out.stdout).unwrap();
    assert!(
        coloured.contains("\x1b[31m"),
        "errors are red: {coloured:?}"
    );
    let forced = agentstack(&f.db, &["traces"])
        .env("CLICOLOR_FORCE", "1")
        .output()
        .unwrap();
    assert!(String::from_utf8(forced.stdout).unwrap().contains("\x1b["));
    // NO_COLOR wins over auto even where colour would be allowed.
    let plain = run_with(&f.db, &["show", "4bf92f35"], |c| {
        c.env("NO_COLOR", "1").env("CLICOLOR_FORCE", "1");
    });
    assert!(plain.contains("research_agent"));
}

#[test]
fn missing_and_empty_files_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope").join("traces.db");
    let out = agentstack(&missing, &["traces"]).output().unwrap();
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("no trace file at"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("agentstack::init()"),
        "{}",
        stderr(&out)
    );
    assert!(!missing.exists(), "the viewer must not create the file");
    assert!(stderr(&fail(&missing, &["show", "4bf92f35"])).contains("no trace file at"));

    let empty = dir.path().join("empty.db");
    SqliteSpanStore::open(&empty).unwrap();
    let out = agentstack(&empty, &["traces"]).output().unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let msg = stderr(&out);
    assert!(
        msg.contains("no traces yet in") && msg.contains("AGENTSTACK_MODE=local"),
        "{msg}"
    );

    let f = fixture();
    let out = agentstack(&f.db, &["traces", "--name", "zzz"])
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("matches these filters"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_input_is_refused_with_a_clear_message() {
    let f = fixture();
    // Port 1 on loopback: nothing listens there.
    for cmd in [
        &["traces", "--server", "http://127.0.0.1:1"][..],
        &["show", "4bf92f35", "--server", "http://127.0.0.1:1/api/v1"],
        &["tail", "--server", "http://127.0.0.1:1"],
    ] {
        let message = stderr(&fail(&f.db, cmd));
        assert!(
            message.contains("cannot reach the AgentStack server at http://127.0.0.1:1")
                && message.contains("agentstack serve"),
            "{cmd:?}: {message}"
        );
    }
    let not_url = stderr(&fail(&f.db, &["traces", "--server", "localhost:8000"]));
    assert!(not_url.contains("not an http(s) URL"), "{not_url}");
    let unknown = stderr(&fail(&f.db, &["show", "ffffffff"]));
    assert!(unknown.contains("`agentstack traces` lists"), "{unknown}");
    let short = stderr(&fail(&f.db, &["show", "4bf9"]));
    assert!(short.contains("at least its first 8"), "{short}");
    let since = stderr(&fail(&f.db, &["traces", "--since", "last tuesday"]));
    assert!(since.contains("30m, 1h, 2d"), "{since}");
}

#[test]
fn odd_data_does_not_crash_the_viewer() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("odd.db");
    let store = SqliteSpanStore::open(&db).unwrap();
    let t = "0123456789abcdef0123456789abcdef";
    let mut backwards = SpanRecord::new(
        t,
        "0000000000000001",
        "ends\tbefore\x1b[31m it starts",
        5_000,
        1_000,
    );
    backwards.status = SpanStatus::Error;
    backwards.input = Some("{\"unterminated\": ".into());
    backwards.attributes = "not an object".into();
    backwards.events = "".into();
    let mut cycle_a = SpanRecord::new(t, "000000000000000a", "", 0, 0);
    cycle_a.parent_span_id = Some("000000000000000b".into());
    let mut cycle_b = SpanRecord::new(t, "000000000000000b", "b", i64::MIN, i64::MAX);
    cycle_b.parent_span_id = Some("000000000000000a".into());
    cycle_b.input_tokens = Some(-5);
    store.insert_spans(&[backwards, cycle_a, cycle_b]).unwrap();
    for args in [
        &["traces"][..],
        &["show", "01234567"],
        &["show", "01234567", "--io"],
        &["show", "01234567", "--span", "0000000000000001"],
        &["show", "01234567", "--json"],
    ] {
        let out = run(&db, args);
        assert!(!out.is_empty(), "{args:?}");
    }
    let tree = run(&db, &["show", "01234567"]);
    assert!(tree.contains("ends before�[31m it starts"), "{tree}");
    assert!(tree.contains("-4µs"), "{tree}");
    assert!(tree.contains("(unnamed)"), "{tree}");
}

#[test]
fn tail_prints_new_and_updated_traces_once() {
    let f = fixture();
    let mut child = agentstack(&f.db, &["tail", "--interval", "200ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines_of(child.stdout.take().unwrap());
    let err = lines_of(child.stderr.take().unwrap());
    // Once it says it follows, what is already in the file is known and not news.
    wait_for(&err, "following", &mut child);

    let store = SqliteSpanStore::open(&f.db).unwrap();
    let trace = "feedfacefeedfacefeedfacefeedface";
    let base = now_nanos();
    let mut root = SpanRecord::new(
        trace,
        "1111111111111111",
        "tail_test_agent",
        base,
        base + 1_500 * MS,
    );
    root.kind = Some("agent".into());
    store.insert_spans(&[root]).unwrap();
    let first = wait_for(&out, "tail_test_agent", &mut child);
    assert!(
        first
            .iter()
            .any(|l| l.contains("TRACE") && l.contains("NAME")),
        "{first:#?}"
    );
    let line = first.last().unwrap();
    assert!(
        line.starts_with("+ ") && line.contains("feedface") && line.contains("1.5s"),
        "{line}"
    );
    // The traces that were there before are not printed.
    assert!(
        !first.iter().any(|l| l.contains("research_agent")),
        "{first:#?}"
    );

    // Nothing changes: nothing is printed again.
    std::thread::sleep(Duration::from_millis(1_000));
    assert!(
        out.try_recv().is_err(),
        "an unchanged trace was printed again"
    );

    // A span more: one updated line.
    let mut tool = SpanRecord::new(
        trace,
        "2222222222222222",
        "lookup",
        base + 100 * MS,
        base + 2_000 * MS,
    );
    tool.parent_span_id = Some("1111111111111111".into());
    tool.status = SpanStatus::Error;
    store.insert_spans(&[tool]).unwrap();
    let update = wait_for(&out, "tail_test_agent", &mut child);
    let line = update.last().unwrap();
    assert!(
        line.starts_with("~ ") && line.contains("✗ 1 error") && line.contains("2.0s"),
        "{line}"
    );
    assert!(!line.contains("\x1b["), "{line:?}");

    child.kill().unwrap();
    child.wait().unwrap();
}
