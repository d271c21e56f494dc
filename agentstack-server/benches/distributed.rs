//! Load test of the distributed mode on loopback, beside the embedded mode in the same run (a load
//! tool, not criterion). `cargo bench -p agentstack-server --bench distributed`.
//!
//! Starts its own redis-server and ClickHouse 18.16, then:
//! 1. The collector alone (`agentstack collector` → Redis): spans/s accepted, 4 clients posting
//!    64-span gzip requests of LLM-sized spans as fast as it answers.
//! 2. The pipeline (`agentstack collector` → Redis → `agentstack worker writer` → ClickHouse):
//!    spans/s from the first request until every span is queryable in ClickHouse, and the lag of
//!    sampled traces from their 200 to their first appearance in a query, p50/p99.
//! 3. The same load on `agentstack serve` (embedded: in-process bus, SQLite, every worker).
//!
//! Everything shares this machine's 2 cores. Scale with AGENTSTACK_BENCH_SCALE (default 1.0);
//! the writer's `--write-batch-rows` with AGENTSTACK_BENCH_WRITE_BATCH_ROWS (default 1000).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod load;
#[path = "../tests/support/services.rs"]
mod services;

use load::{BATCH, agent, percentile, post, request};
use services::{ClickHouse, Redis};

/// A process of the binary, stopped with SIGTERM when dropped.
struct Process {
    child: Child,
    collector: Option<String>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_agentstack"))
        .args(args)
        .current_dir(std::env::temp_dir())
        .env_remove("AGENTSTACK_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut collector = None;
        let mut sent = false;
        for line in lines.lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split("OTLP/HTTP collector listening on ").nth(1) {
                collector = Some(rest.to_string());
            }
            if !sent && line.contains("span store") {
                sent = true;
                let _ = tx.send(collector.clone());
            }
        }
    });
    let collector = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the process did not start");
    Process { child, collector }
}

/// CPU seconds (user + system, every thread) that process `pid` ("self": this one, the clients)
/// has used so far, from /proc/PID/stat; 0 where there is none.
fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime, fields 14 and 15 of stat (11 and 12 after the name and state).
    (ticks(11) + ticks(12)) / clock_ticks()
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`; 100 if unknown).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// The CPU each process of a phase used during it: where the time goes, whatever else shares
/// the machine (wall-clock rates depend on that; these much less).
struct CpuMeter {
    processes: Vec<(&'static str, String, f64)>,
}

impl CpuMeter {
    fn start(processes: &[(&'static str, Option<u32>)]) -> CpuMeter {
        let mut processes: Vec<(&'static str, String, f64)> = processes
            .iter()
            .filter_map(|&(name, pid)| Some((name, pid?.to_string())))
            .map(|(name, pid)| {
                let at = cpu_seconds(&pid);
                (name, pid, at)
            })
            .collect();
        processes.push(("clients", "self".into(), cpu_seconds("self")));
        CpuMeter { processes }
    }

    /// `name S s, …` of the CPU seconds since `start`, and µs of CPU per span in all.
    fn report(&self, spans: usize) -> String {
        let used: Vec<(&str, f64)> = self
            .processes
            .iter()
            .map(|(name, pid, at)| (*name, cpu_seconds(pid) - at))
            .collect();
        let total: f64 = used.iter().map(|(_, s)| s).sum();
        let parts: Vec<String> = used
            .iter()
            .map(|(name, s)| format!("{name} {s:.2} s"))
            .collect();
        format!(
            "CPU {} = {:.0} µs/span",
            parts.join(", "),
            total * 1e6 / spans as f64
        )
    }
}

fn distributed_args<'a>(redis: &'a str, clickhouse: &'a str, role: &[&'a str]) -> Vec<&'a str> {
    let mut args = role.to_vec();
    args.extend([
        "--redis-url",
        redis,
        "--clickhouse-url",
        clickhouse,
        "--clickhouse-database",
        "bench",
        "--otlp-http",
        "127.0.0.1:0",
        "--no-otlp-grpc",
        "--api",
        "127.0.0.1:0",
        "--retention-days",
        "0",
        "--clickhouse-retention-days",
        "0",
    ]);
    args
}

/// Posts every body with 4 clients, retrying refusals; returns the elapsed time, the refusals,
/// and when each sampled request (every 16th) was accepted.
fn send_all(url: &str, bodies: &[Vec<u8>]) -> (Duration, usize, HashMap<usize, Instant>) {
    let next = AtomicUsize::new(0);
    let refused = AtomicUsize::new(0);
    let accepted = Mutex::new(HashMap::new());
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                let agent = agent();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { return };
                    while post(&agent, url, body) != 200 {
                        refused.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    if i.is_multiple_of(16) {
                        accepted.lock().unwrap().insert(i, Instant::now());
                    }
                }
            });
        }
    });
    (
        start.elapsed(),
        refused.load(Ordering::Relaxed),
        accepted.into_inner().unwrap(),
    )
}

/// A ClickHouse query over HTTP, its text answer.
fn clickhouse_query(url: &str, sql: &str) -> String {
    ureq::post(&format!("{url}/?database=bench"))
        .send(sql)
        .map(|mut answer| answer.body_mut().read_to_string().unwrap_or_default())
        .unwrap_or_default()
}

/// The hex trace id of the first trace of request `n` (see `load::request`).
fn first_trace_of(n: usize) -> String {
    load::trace_hex((n * BATCH / 8) as u64)
}

fn collector_alone(redis: &Redis, clickhouse: &ClickHouse, bodies: &[Vec<u8>]) {
    let (redis_url, clickhouse_url) = (redis.url(), clickhouse.url());
    let collector = start(&distributed_args(
        &redis_url,
        &clickhouse_url,
        &["collector"],
    ));
    let url = collector.collector.clone().unwrap();
    let cpu = CpuMeter::start(&[
        ("collector", Some(collector.child.id())),
        ("redis", redis.pid()),
    ]);
    let (took, refused, _) = send_all(&url, bodies);
    let spans = bodies.len() * BATCH;
    println!(
        "collector alone → Redis: {spans} spans in {took:.2?} = {:.0} spans/s ({refused} refusals retried)",
        spans as f64 / took.as_secs_f64()
    );
    println!("  {}", cpu.report(spans));
}

/// `bodies[i]` is `request(first + i)`.
fn pipeline(redis: &Redis, clickhouse: &ClickHouse, bodies: &[Vec<u8>], first: usize) {
    let (redis_url, clickhouse_url) = (redis.url(), clickhouse.url());
    let rows = std::env::var("AGENTSTACK_BENCH_WRITE_BATCH_ROWS").unwrap_or_else(|_| "1000".into());
    let _writer = start(&distributed_args(
        &redis_url,
        &clickhouse_url,
        &[
            "worker",
            "writer",
            "--health",
            "127.0.0.1:0",
            "--write-batch-rows",
            &rows,
        ],
    ));
    let collector = start(&distributed_args(
        &redis_url,
        &clickhouse_url,
        &["collector"],
    ));
    let url = collector.collector.clone().unwrap();
    let spans = bodies.len() * BATCH;
    // Watches the sampled traces appear in ClickHouse while the load runs.
    let seen: Arc<Mutex<HashMap<usize, Instant>>> = Arc::default();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (seen, done, clickhouse_url) =
            (Arc::clone(&seen), Arc::clone(&done), clickhouse_url.clone());
        let samples: Vec<usize> = (0..bodies.len()).step_by(16).collect();
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let missing: Vec<usize> = {
                    let seen = seen.lock().unwrap();
                    samples
                        .iter()
                        .copied()
                        .filter(|n| !seen.contains_key(n))
                        .collect()
                };
                if missing.is_empty() {
                    return;
                }
                let ids: Vec<String> = missing
                    .iter()
                    .map(|n| format!("'{}'", first_trace_of(first + *n)))
                    .collect();
                let found = clickhouse_query(
                    &clickhouse_url,
                    &format!(
                        "SELECT DISTINCT trace_id FROM spans WHERE trace_id IN ({})",
                        ids.join(",")
                    ),
                );
                let now = Instant::now();
                let mut seen = seen.lock().unwrap();
                for n in &missing {
                    if found.contains(&first_trace_of(first + *n)) {
                        seen.insert(*n, now);
                    }
                }
                drop(seen);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let cpu = CpuMeter::start(&[
        ("collector", Some(collector.child.id())),
        ("redis", redis.pid()),
        ("writer", Some(_writer.child.id())),
        ("clickhouse", clickhouse.pid()),
    ]);
    let start = Instant::now();
    let (took, refused, accepted) = send_all(&url, bodies);
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        // No FINAL: nothing is delivered twice here, and the poll must not slow the inserts.
        let count: usize = clickhouse_query(&clickhouse_url, "SELECT count() FROM spans")
            .trim()
            .parse()
            .unwrap_or(0);
        if count >= spans {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {count} of {spans} spans in ClickHouse"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let stored = start.elapsed();
    let _ = watcher.join();
    done.store(true, Ordering::Relaxed);
    let seen = seen.lock().unwrap();
    let mut lags: Vec<Duration> = accepted
        .iter()
        .filter_map(|(n, at)| Some(seen.get(n)?.saturating_duration_since(*at)))
        .collect();
    lags.sort();
    println!(
        "collector → Redis → writer → ClickHouse: {spans} spans accepted in {took:.2?}, queryable \
         in {stored:.2?} = {:.0} spans/s ({refused} refusals retried); lag accepted → queryable \
         p50 {:.0?} p99 {:.0?} ({} samples, 100 ms polling)",
        spans as f64 / stored.as_secs_f64(),
        percentile(&lags, 0.50),
        percentile(&lags, 0.99),
        lags.len()
    );
    println!("  {}", cpu.report(spans));
}

fn embedded(bodies: &[Vec<u8>]) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let db_text = db.to_str().unwrap().to_string();
    let serve = start(&[
        "serve",
        "--otlp-http",
        "127.0.0.1:0",
        "--no-otlp-grpc",
        "--api",
        "127.0.0.1:0",
        "--retention-days",
        "0",
        "--db",
        &db_text,
    ]);
    let url = serve.collector.clone().unwrap();
    let spans = bodies.len() * BATCH;
    let start = Instant::now();
    let (took, refused, _) = send_all(&url, bodies);
    let store = agentstack_exporter_sqlite::SqliteSpanStore::open(&db).unwrap();
    while store.span_count().unwrap() < spans as i64 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let stored = start.elapsed();
    println!(
        "embedded serve (in-process bus → SQLite, every worker): {spans} spans accepted in \
         {took:.2?}, queryable in {stored:.2?} = {:.0} spans/s ({refused} refusals retried)",
        spans as f64 / stored.as_secs_f64()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let scale: f64 = std::env::var("AGENTSTACK_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let requests = ((1_500.0 * scale) as usize).max(32);
    let (redis, clickhouse) = (Redis::start(), ClickHouse::start());
    let alone: Vec<Vec<u8>> = (0..requests as u64).map(request).collect();
    collector_alone(&redis, &clickhouse, &alone);
    let through: Vec<Vec<u8>> = (0..requests as u64)
        .map(|n| request(10_000_000 + n))
        .collect();
    // A fresh stream: the collector-alone run's entries are not the writer's business.
    drop(redis);
    let redis = Redis::start();
    pipeline(&redis, &clickhouse, &through, 10_000_000);
    let local: Vec<Vec<u8>> = (0..requests as u64)
        .map(|n| request(20_000_000 + n))
        .collect();
    embedded(&local);
}
