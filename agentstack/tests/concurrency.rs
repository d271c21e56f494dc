//! Many threads at once: complete trees, a 100,000-span burst against a stalled collector loses
//! nothing, and a dead endpoint neither blocks the program nor grows its memory.

mod support;

use std::time::Duration;

use agentstack::observe;
use support::{Collector, sdk_for};

#[observe(kind = tool)]
fn leaf(i: u32) -> u32 {
    i
}

#[observe(kind = agent)]
fn small_agent(i: u32) -> u32 {
    leaf(i) + leaf(i + 1) + middle(i)
}

#[observe]
fn middle(i: u32) -> u32 {
    leaf(i * 2)
}

#[test]
fn many_threads_give_complete_well_formed_trees() {
    let collector = Collector::start();
    const THREADS: u32 = 8;
    const AGENTS_PER_THREAD: u32 = 200;
    {
        let _guard = sdk_for(&collector).init().unwrap();
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                scope.spawn(move || {
                    for i in 0..AGENTS_PER_THREAD {
                        small_agent(t * 1000 + i);
                    }
                });
            }
        });
    }
    let expected = (THREADS * AGENTS_PER_THREAD * 5) as usize;
    let spans = collector.wait_for_spans(expected, Duration::from_secs(30));
    assert_eq!(spans.len(), expected);
    support::assert_well_formed(&spans);
    let roots: Vec<_> = spans.iter().filter(|s| s.is_root()).collect();
    assert_eq!(roots.len(), (THREADS * AGENTS_PER_THREAD) as usize);
    assert!(roots.iter().all(|r| r.name == "small_agent"));
    let mut per_trace = std::collections::HashMap::new();
    for span in &spans {
        *per_trace.entry(span.trace_id.clone()).or_insert(0) += 1;
    }
    assert!(
        per_trace.values().all(|&n| n == 5),
        "every trace has its 5 spans"
    );
}

#[test]
fn a_burst_of_100k_spans_from_8_threads_survives_a_2s_stall_without_a_drop() {
    let collector = Collector::start();
    collector.stall_for(Duration::from_secs(2));
    const THREADS: u32 = 8;
    const SPANS_PER_THREAD: u32 = 12_500;
    {
        // Default buffer capacity: this is the promise of the defaults.
        let _guard = sdk_for(&collector)
            .export_timeout(Duration::from_secs(60))
            .shutdown_timeout(Duration::from_secs(120))
            .init()
            .unwrap();
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                scope.spawn(move || {
                    for i in 0..SPANS_PER_THREAD {
                        leaf(t * SPANS_PER_THREAD + i);
                    }
                });
            }
        });
        let stats = agentstack::stats();
        assert_eq!(stats.recorded, 100_000);
        assert_eq!(
            stats.dropped, 0,
            "no span dropped during the stall: {stats:?}"
        );
    }
    let stats = agentstack::stats();
    assert_eq!(
        (stats.exported, stats.dropped, stats.failed),
        (100_000, 0, 0),
        "{stats:?}"
    );
    assert_eq!(collector.spans().len(), 100_000);
}

#[test]
fn when_the_buffer_overflows_drops_are_counted_not_silent() {
    let collector = Collector::start();
    collector.stall_for(Duration::from_secs(2));
    {
        let _guard = sdk_for(&collector)
            .buffer_capacity(1_000)
            .export_timeout(Duration::from_secs(30))
            .shutdown_timeout(Duration::from_secs(30))
            .init()
            .unwrap();
        for i in 0..5_000 {
            leaf(i);
        }
    }
    let stats = agentstack::stats();
    assert_eq!(stats.recorded, 5_000);
    assert!(
        stats.dropped >= 3_000,
        "a 1,000-span buffer held back at most ~1,000 + one batch: {stats:?}"
    );
    assert_eq!(
        stats.exported + stats.dropped,
        5_000,
        "every span is either exported or counted as dropped"
    );
    assert_eq!(collector.spans().len() as u64, stats.exported);
}

fn resident_memory_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn with_no_endpoint_listening_the_program_finishes_and_memory_stays_bounded() {
    // Port 9 (discard) on loopback: nothing listens, connections are refused at once.
    let _guard = agentstack::builder()
        .endpoint("http://127.0.0.1:9")
        .spool_path(support::scratch_path("spool.db"))
        .buffer_capacity(10_000)
        .flush_interval(Duration::from_millis(50))
        .init()
        .unwrap();
    let before = resident_memory_kib();
    for round in 0..20 {
        for i in 0..10_000 {
            leaf(round * 10_000 + i);
        }
        assert!(agentstack::stats().queued <= 10_000);
    }
    let after = resident_memory_kib();
    let stats = agentstack::stats();
    assert_eq!(stats.recorded, 200_000);
    assert_eq!(stats.exported, 0);
    // 200,000 spans went through a 10,000-span buffer: the process holds at most the buffer.
    assert!(
        after.saturating_sub(before) < 100 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    drop(_guard);
    let stats = agentstack::stats();
    assert!(
        stats.spooled > 0,
        "undelivered spans went to the spool: {stats:?}"
    );
    assert_eq!(stats.failed, 0, "{stats:?}");
    assert_eq!(
        stats.spooled + stats.dropped,
        200_000,
        "every span is spooled or counted as dropped: {stats:?}"
    );
}
