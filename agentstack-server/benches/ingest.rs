//! Load test of `agentstack serve` on loopback (a load tool, not criterion: it measures a
//! running server). `cargo bench -p agentstack-server --bench ingest`.
//!
//! 1. Sustained ingest: clients POST OTLP/HTTP protobuf, 64-span gzip batches of LLM-sized
//!    spans, as fast as the server takes them; spans/s from the first request until every span
//!    is stored and queryable.
//! 2. Request latency at a paced 5,000 spans/s: p50/p99 of the collector's answer.
//! 3. Query latency with 1,000,000 spans stored (written straight into the store file first):
//!    p50/p99 of `GET /api/v1/traces` and `GET /api/v1/traces/{id}`.
//!
//! Client and server share this machine's 2 cores, so the numbers are a floor for the server.
//! Scale with AGENTSTACK_BENCH_SCALE (default 1.0; e.g. 0.1 for a quick run); pass more flags to
//! `serve` with AGENTSTACK_BENCH_SERVE_ARGS (e.g. `--no-security`); run only some parts with
//! AGENTSTACK_BENCH_PARTS (e.g. `1`, or `2,3`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use agentstack_exporter_sqlite::{SpanRecord, SpanStatus, SqliteSpanStore};

mod load;
use load::{BATCH, agent, percentile, post, request};

struct Serve {
    child: Child,
    collector: String,
    api: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn start_serve(db: &Path) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_agentstack"))
        .args([
            "serve",
            "--otlp-http",
            "127.0.0.1:0",
            "--api",
            "127.0.0.1:0",
            "--otlp-grpc",
            "127.0.0.1:0",
            // The query store's spans are dated 2023: retention must not delete them mid-run.
            "--retention-days",
            "0",
            "--db",
        ])
        .arg(db)
        .args(extra_serve_args())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start agentstack serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut collector, mut api) = (None, None);
    while collector.is_none() || api.is_none() {
        let line = lines.next().expect("serve printed its addresses").unwrap();
        if let Some(rest) = line.split("OTLP/HTTP collector listening on ").nth(1) {
            collector = Some(rest.trim().to_string());
        }
        if let Some(rest) = line.split("API listening on ").nth(1) {
            api = Some(rest.trim().to_string());
        }
    }
    std::thread::spawn(move || for _ in lines.by_ref() {});
    Serve {
        child,
        collector: collector.unwrap(),
        api: api.unwrap(),
    }
}

/// AGENTSTACK_BENCH_SERVE_ARGS: more flags for `serve`, space-separated (e.g. `--no-security`,
/// to measure what the security worker costs).
fn extra_serve_args() -> Vec<String> {
    std::env::var("AGENTSTACK_BENCH_SERVE_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// How many spans the store file at `db` holds now, read as any SQLite client reads it:
/// read-only, whatever its schema version (opening it as a store would migrate a file of an
/// older server, e.g. the one a benchmark compares with).
fn stored_count(db: &Path) -> i64 {
    rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|conn| conn.query_row("SELECT COUNT(*) FROM spans", [], |row| row.get(0)))
        .unwrap()
}

/// The spans the server says it has stored: `agentstack_spans_written_total` of its
/// `/metrics`, which the writer counts once a write is committed (so they are queryable).
/// `api` is the API's base (`http://127.0.0.1:PORT/api/v1`); `/metrics` is at its origin.
fn written_by_server(agent: &ureq::Agent, api: &str) -> i64 {
    let origin = api.strip_suffix("/api/v1").unwrap_or(api);
    let Ok(mut response) = agent.get(format!("{origin}/metrics")).call() else {
        return 0;
    };
    let text = response.body_mut().read_to_string().unwrap_or_default();
    text.lines()
        .find_map(|line| line.strip_prefix("agentstack_spans_written_total "))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .map_or(0, |value| value as i64)
}

/// Waits until `count` spans are stored and queryable: until the server's counter says so
/// (cheap to poll), then until a count of the store file agrees. Counting the file on every
/// poll took ~4 ms of the 2 cores the server shares, a sixth of one core while the workers
/// drain, so the file is counted only once the server reports them all.
fn wait_stored(serve: &Serve, db: &Path, count: i64) {
    let agent = agent();
    let deadline = Instant::now() + Duration::from_secs(600);
    while written_by_server(&agent, &serve.api) < count {
        assert!(
            Instant::now() < deadline,
            "the server stored only {} of {count}",
            written_by_server(&agent, &serve.api)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    while stored_count(db) < count {
        assert!(
            Instant::now() < deadline,
            "stored only {} of {count}",
            stored_count(db)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A directory of this run's store file, removed when dropped (declare it before the `Serve`
/// that uses it, so the server stops first): a 1M-span store is about 450 MB.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("agentstack-ingest-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("server.db")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// CPU seconds (user + system, every thread) a process has used so far, from /proc (Linux;
/// `None` elsewhere). `pid` `None`: this process.
fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ, which /proc counts in, is 100 on Linux.
    Some(ticks / 100.0)
}

fn sustained_ingest(scale: f64) {
    let requests = ((1_500.0 * scale) as u64).max(20);
    let bodies: Vec<Vec<u8>> = (0..requests).map(request).collect();
    let scratch = Scratch::new("sustained");
    let db = scratch.db();
    let serve = start_serve(&db);
    let next = AtomicUsize::new(0);
    let refused = AtomicUsize::new(0);
    let server_cpu_before = cpu_seconds(Some(serve.child.id()));
    let client_cpu_before = cpu_seconds(None);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                let agent = agent();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { return };
                    loop {
                        match post(&agent, &serve.collector, body) {
                            200 => break,
                            _ => {
                                refused.fetch_add(1, Ordering::Relaxed);
                                std::thread::sleep(Duration::from_millis(50));
                            }
                        }
                    }
                }
            });
        }
    });
    let accepted = start.elapsed();
    let spans = requests as i64 * BATCH as i64;
    let behind = spans - stored_count(&db);
    wait_stored(&serve, &db, spans);
    let stored = start.elapsed();
    let used = |before: Option<f64>, pid| Some(cpu_seconds(pid)? - before?);
    let (server_cpu, client_cpu) = (
        used(server_cpu_before, Some(serve.child.id())),
        used(client_cpu_before, None),
    );
    println!(
        "sustained ingest: {spans} spans in {requests} requests (~{} KB gzip each): accepted in {accepted:.2?}, \
         stored and queryable in {stored:.2?} = {:.0} spans/s ({} answers were 503/errors and retried)",
        bodies[0].len() / 1024,
        spans as f64 / stored.as_secs_f64(),
        refused.load(Ordering::Relaxed)
    );
    println!(
        "sustained ingest: {behind} spans were not stored yet when the last was accepted; \
         the workers stored them in the {:.2?} after, {:.0} spans/s",
        stored - accepted,
        behind as f64 / (stored - accepted).as_secs_f64()
    );
    if let (Some(server), Some(client)) = (server_cpu, client_cpu) {
        println!(
            "sustained ingest CPU: server {server:.2} s ({:.1} µs/span), load client {client:.2} s, \
             of {:.2} s of wall time on {} cores",
            server * 1e6 / spans as f64,
            stored.as_secs_f64(),
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
    }
}

fn paced_latency(scale: f64) {
    let spans_per_second = 5_000.0;
    let seconds = (20.0 * scale).max(2.0);
    let requests = (spans_per_second * seconds / BATCH as f64) as u64;
    let bodies: Vec<Vec<u8>> = (0..requests).map(|n| request(1_000_000 + n)).collect();
    let scratch = Scratch::new("paced");
    let db = scratch.db();
    let serve = start_serve(&db);
    let agent = agent();
    let interval = Duration::from_secs_f64(BATCH as f64 / spans_per_second);
    let mut latencies = Vec::with_capacity(bodies.len());
    let start = Instant::now();
    for (i, body) in bodies.iter().enumerate() {
        let due = start + interval * i as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let sent = Instant::now();
        assert_eq!(post(&agent, &serve.collector, body), 200);
        latencies.push(sent.elapsed());
    }
    latencies.sort();
    println!(
        "request latency at {spans_per_second:.0} spans/s for {seconds:.0} s ({requests} requests): p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().unwrap()
    );
}

fn query_latency(scale: f64) {
    let total = ((1_000_000.0 * scale) as u64).max(10_000);
    let scratch = Scratch::new("query");
    let db = scratch.db();
    {
        let store = SqliteSpanStore::open(&db).unwrap();
        let base = 1_700_000_000_000_000_000i64;
        let mut batch = Vec::with_capacity(10_000);
        for span in 0..total {
            let trace = span / 8;
            let mut record = SpanRecord::new(
                load::trace_hex(trace),
                format!("{:016x}", span + 1),
                if span % 8 == 0 {
                    "research_agent".to_string()
                } else {
                    "chat gpt-4o".to_string()
                },
                base + trace as i64 * 1_000_000,
                base + trace as i64 * 1_000_000 + 850_000,
            );
            if span % 8 != 0 {
                record.parent_span_id = Some(format!("{:016x}", trace * 8 + 1));
                record.kind = Some("llm".into());
                record.model = Some("gpt-4o-2024-08-06".into());
                record.input_tokens = Some(812);
                record.output_tokens = Some(120);
                record.input = Some(
                    "{\"messages\":[{\"role\":\"user\",\"content\":\"summarize the findings\"}]}"
                        .into(),
                );
                record.output =
                    Some("\"The findings show a consistent effect across cohorts.\"".into());
            } else {
                record.kind = Some("agent".into());
            }
            if span % 97 == 0 {
                record.status = SpanStatus::Error;
            }
            batch.push(record);
            if batch.len() == 10_000 {
                store.insert_spans(&batch).unwrap();
                batch.clear();
            }
        }
        store.insert_spans(&batch).unwrap();
    }
    let serve = start_serve(&db);
    let agent = agent();
    let measure = |what: &str, urls: Vec<String>| {
        let mut latencies = Vec::with_capacity(urls.len());
        for url in &urls {
            let sent = Instant::now();
            let response = agent.get(url).call().unwrap();
            assert_eq!(response.status().as_u16(), 200, "{url}");
            let _ = response.into_body().read_to_vec();
            latencies.push(sent.elapsed());
        }
        latencies.sort();
        println!(
            "{what} with {total} spans stored ({} requests): p50 {:.2?}, p99 {:.2?}",
            urls.len(),
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99)
        );
    };
    let traces = total / 8;
    measure(
        "trace list (limit 50)",
        (0..200)
            .map(|_| format!("{}/traces?limit=50", serve.api))
            .collect(),
    );
    measure(
        "trace list, status=error",
        (0..100)
            .map(|_| format!("{}/traces?limit=50&status=error", serve.api))
            .collect(),
    );
    measure(
        "trace detail",
        (0..200)
            .map(|i| {
                format!(
                    "{}/traces/{}",
                    serve.api,
                    load::trace_hex((i * 7919) % traces)
                )
            })
            .collect(),
    );
}

fn main() {
    // `cargo test --benches` runs bench targets with --test-ish flags; only run under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let scale: f64 = std::env::var("AGENTSTACK_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    // AGENTSTACK_BENCH_PARTS: which parts to run, e.g. `1` or `2,3` (default: all).
    let parts = std::env::var("AGENTSTACK_BENCH_PARTS").unwrap_or_else(|_| "1,2,3".into());
    let runs = |part: &str| parts.split(',').any(|p| p.trim() == part);
    if runs("1") {
        sustained_ingest(scale);
    }
    if runs("2") {
        paced_latency(scale);
    }
    if runs("3") {
        query_latency(scale);
    }
}
