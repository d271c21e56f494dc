//! Fault tests of delivery against a real HTTP collector stand-in: down from the start, down
//! mid-run and back, 503 with Retry-After, 400, a killed process, a corrupt or unwritable spool.
//! After recovery every span recorded arrives exactly once (counted by span id).

mod support;

use std::collections::HashSet;
use std::io::BufRead;
use std::path::Path;
use std::time::{Duration, Instant};

use agentstack::observe;
use agentstack_exporter_sqlite::SqliteSpool;
use support::{Collector, ReceivedSpan, scratch_path};

#[observe(kind = tool)]
fn step(i: u32) -> u32 {
    i
}

#[observe(kind = agent)]
fn agent_run(steps: u32) -> u32 {
    (0..steps).map(step).sum()
}

/// Polls `condition` for up to 60 s (a bound for a stuck test, not a performance assertion).
fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "gave up waiting for: {what} ({:?})",
            agentstack::stats()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_exactly_once(spans: &[ReceivedSpan], expected: usize) {
    let ids: HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    assert_eq!(ids.len(), expected, "distinct spans delivered");
    assert_eq!(spans.len(), expected, "no span delivered twice");
    support::assert_well_formed(spans);
}

fn spool_batches(path: &Path) -> u64 {
    SqliteSpool::open(path, u64::MAX)
        .unwrap()
        .stats()
        .unwrap()
        .batches
}

fn sdk(port: u16, spool: &Path) -> agentstack::ConfigBuilder {
    agentstack::builder()
        .endpoint(format!("http://127.0.0.1:{port}"))
        .spool_path(spool)
        .flush_interval(Duration::from_millis(100))
        .max_retry_delay(Duration::from_millis(200))
}

#[test]
fn collector_down_from_the_start_then_up_delivers_every_span_once() {
    let port = Collector::free_port();
    let spool = scratch_path("spool.db");
    let _guard = sdk(port, &spool).init().unwrap();
    for _ in 0..30 {
        agent_run(9);
    }
    agentstack::flush();
    wait_until("300 spans spooled", || agentstack::stats().spooled == 300);
    assert!(
        spool_batches(&spool) > 0,
        "the batches are in the spool file"
    );

    let collector = Collector::start_on(port);
    let spans = collector.wait_for_spans(300, Duration::from_secs(60));
    wait_until("the spool is empty", || spool_batches(&spool) == 0);
    assert_exactly_once(&collector.spans(), 300);
    assert_eq!(spans.iter().filter(|s| s.is_root()).count(), 30);
    let stats = agentstack::stats();
    assert_eq!(
        (stats.recorded, stats.exported, stats.replayed, stats.failed),
        (300, 300, 300, 0),
        "{stats:?}"
    );
}

#[test]
fn collector_down_mid_run_and_back_loses_and_repeats_nothing() {
    let port = Collector::free_port();
    let spool = scratch_path("spool.db");
    let collector = Collector::start_on(port);
    let _guard = sdk(port, &spool).init().unwrap();
    for _ in 0..10 {
        agent_run(9);
    }
    agentstack::flush();
    assert_eq!(
        collector.wait_for_spans(100, Duration::from_secs(30)).len(),
        100
    );
    drop(collector);

    for _ in 0..10 {
        agent_run(9);
    }
    agentstack::flush();
    wait_until("the second 100 spans spooled", || {
        agentstack::stats().spooled == 100
    });

    let collector = Collector::start_on(port);
    for _ in 0..5 {
        agent_run(9);
    }
    agentstack::flush();
    collector.wait_for_spans(150, Duration::from_secs(60));
    wait_until("the spool is empty", || spool_batches(&spool) == 0);
    // The first 100 went to the first collector; the second gets the spooled 100 and the new 50.
    assert_exactly_once(&collector.spans(), 150);
    assert_eq!(agentstack::stats().replayed, 100);
}

#[test]
fn a_503_with_retry_after_is_retried_and_delivered_once_without_the_spool() {
    let collector = Collector::start();
    collector.respond_with(&[(503, Some(1)), (503, Some(1))]);
    let spool = scratch_path("spool.db");
    let _guard = sdk(0, &spool)
        .endpoint(collector.endpoint())
        .max_retry_delay(Duration::from_secs(2))
        .init()
        .unwrap();
    agent_run(9);
    agentstack::flush();
    assert_exactly_once(&collector.wait_for_spans(10, Duration::from_secs(30)), 10);
    assert_eq!(collector.attempts(), 3, "two 503s, then the accepted retry");
    let stats = agentstack::stats();
    assert_eq!(
        (stats.spooled, stats.failed, stats.exported),
        (0, 0, 10),
        "{stats:?}"
    );
    assert!(
        !spool.exists(),
        "no spool file is made when nothing needs it"
    );
}

#[test]
fn a_400_is_not_retried_and_counted_as_failed() {
    let collector = Collector::start();
    collector.respond_with(&[(400, None)]);
    let _guard = sdk(0, &scratch_path("spool.db"))
        .endpoint(collector.endpoint())
        .init()
        .unwrap();
    agent_run(9);
    agentstack::flush();
    wait_until("the refused batch counted", || {
        agentstack::stats().failed == 10
    });
    agent_run(4);
    agentstack::flush();
    let spans = collector.wait_for_spans(5, Duration::from_secs(30));
    assert_exactly_once(&spans, 5);
    assert_eq!(
        collector.attempts(),
        2,
        "the refused batch was sent once, never retried"
    );
    let stats = agentstack::stats();
    assert_eq!(
        (stats.spooled, stats.failed, stats.exported),
        (0, 10, 5),
        "{stats:?}"
    );
}

#[test]
fn the_spool_cap_evicts_the_oldest_batches_and_counts_them() {
    let port = Collector::free_port();
    let spool = scratch_path("spool.db");
    let _guard = sdk(port, &spool)
        .max_export_batch(10)
        .flush_every_spans(10)
        .spool_max_bytes(4_000)
        .init()
        .unwrap();
    for _ in 0..20 {
        agent_run(9);
        agentstack::flush();
    }
    wait_until("200 spans spooled", || agentstack::stats().spooled == 200);
    let stats = agentstack::stats();
    assert!(
        stats.evicted > 0,
        "a 4 kB spool cannot hold 200 spans: {stats:?}"
    );
    let collector = Collector::start_on(port);
    let kept = (stats.spooled - stats.evicted) as usize;
    collector.wait_for_spans(kept, Duration::from_secs(60));
    wait_until("the spool is empty", || spool_batches(&spool) == 0);
    let spans = collector.spans();
    assert_eq!(spans.len(), kept, "what was not evicted is delivered, once");
    let ids: HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    assert_eq!(ids.len(), kept);
}

fn assert_spool_falls_back_to_memory(spool: &Path) {
    let port = Collector::free_port();
    let _guard = sdk(port, spool).init().unwrap();
    agent_run(9);
    agentstack::flush();
    wait_until("10 spans kept", || agentstack::stats().spooled == 10);
    let collector = Collector::start_on(port);
    assert_exactly_once(&collector.wait_for_spans(10, Duration::from_secs(60)), 10);
}

#[test]
fn a_corrupt_spool_file_falls_back_to_memory() {
    let spool = scratch_path("spool.db");
    std::fs::write(
        &spool,
        b"this is not a SQLite database, just bytes that look wrong",
    )
    .unwrap();
    assert_spool_falls_back_to_memory(&spool);
}

#[test]
fn an_unwritable_spool_path_falls_back_to_memory() {
    // A path under a regular file cannot be created, not even by root.
    let file = scratch_path("plain-file");
    std::fs::write(&file, b"x").unwrap();
    assert_spool_falls_back_to_memory(&file.join("spool.db"));
}

const CHILD_SPOOL: &str = "AGENTSTACK_TEST_CHILD_SPOOL";
const CHILD_PORT: &str = "AGENTSTACK_TEST_CHILD_PORT";

/// Entry point of the child process of the kill -9 test (ignored when run normally).
#[test]
#[ignore = "run as a child process by killed_process_spool_is_delivered_by_the_next_run"]
fn child_process_that_spools_then_hangs() {
    let (Ok(spool), Ok(port)) = (std::env::var(CHILD_SPOOL), std::env::var(CHILD_PORT)) else {
        return;
    };
    let _guard = sdk(port.parse().unwrap(), Path::new(&spool))
        .max_retries(0)
        .init()
        .unwrap();
    for _ in 0..5 {
        agent_run(9);
    }
    agentstack::flush();
    wait_until("50 spans spooled", || agentstack::stats().spooled == 50);
    println!("SPOOLED 50");
    // Still exporting (the timer keeps retrying the replay) when the parent kills it.
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn a_killed_process_spool_is_delivered_by_the_next_run() {
    let port = Collector::free_port();
    let spool = scratch_path("spool.db");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process_that_spools_then_hangs",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_SPOOL, &spool)
        .env(CHILD_PORT, port.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let spooled = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("SPOOLED 50"));
    assert!(spooled, "the child reported its spool");
    child.kill().unwrap(); // SIGKILL: no shutdown, no flush
    child.wait().unwrap();

    let collector = Collector::start_on(port);
    let _guard = sdk(port, &spool).init().unwrap();
    let spans = collector.wait_for_spans(50, Duration::from_secs(60));
    assert_exactly_once(&spans, 50);
    assert_eq!(spans.iter().filter(|s| s.name == "agent_run").count(), 5);
    wait_until("the spool is empty", || spool_batches(&spool) == 0);
    assert_eq!(agentstack::stats().replayed, 50);
}
