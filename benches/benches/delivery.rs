//! Delivery when the collector is down, measured beside the same work with it up.
//!
//! - `spool/push_512_span_batch` and `spool/claim_ack_512_span_batch`: the SQLite spool on its
//!   own, fed with a real request the SDK encoded (512 spans, gzip), reported in spans/s.
//! - `replay_end_to_end`: spans spooled while the collector was down, then replayed to a local
//!   HTTP sink once it is up: spans/s from "collector up" to "spool empty" (printed).
//! - `call_latency/collector_up` vs `call_latency/collector_down`: what an `#[observe]` call
//!   costs the traced program in each case (the export thread spools in the background).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agentstack::observe;
use agentstack_exporter_sqlite::SqliteSpool;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const BATCH: u64 = 512;

#[observe(kind = tool)]
fn tool_call(query: &str, limit: u32) -> usize {
    std::hint::black_box(query.len() + limit as usize)
}

/// An HTTP sink on loopback that answers 200 and keeps the first request body.
/// The first request body the sink received.
type FirstBody = Arc<Mutex<Option<Vec<u8>>>>;

fn start_sink(port: u16) -> (Arc<tiny_http::Server>, FirstBody) {
    let server = Arc::new(tiny_http::Server::http(("127.0.0.1", port)).expect("bind loopback"));
    let first_body = Arc::new(Mutex::new(None));
    let (s, body) = (Arc::clone(&server), Arc::clone(&first_body));
    std::thread::spawn(move || {
        for mut request in s.incoming_requests() {
            let mut bytes = Vec::new();
            let _ = request.as_reader().read_to_end(&mut bytes);
            body.lock().unwrap().get_or_insert(bytes);
            let _ = request.respond(tiny_http::Response::empty(200));
        }
    });
    (server, first_body)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scratch(file: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("agentstack-bench-{}-{file}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(file)
}

fn sdk(port: u16, spool: &PathBuf) -> agentstack::ConfigBuilder {
    agentstack::builder()
        .endpoint(format!("http://127.0.0.1:{port}"))
        .spool_path(spool)
        .max_export_batch(BATCH as usize)
        .flush_interval(Duration::from_millis(100))
}

/// A real OTLP request body of 512 spans, as the SDK sends it.
fn captured_batch() -> Vec<u8> {
    let port = free_port();
    let (server, body) = start_sink(port);
    let guard = sdk(port, &scratch("capture.db"))
        .flush_every_spans(BATCH as usize)
        .init()
        .unwrap();
    for i in 0..BATCH {
        tool_call("what is the weather in Lisbon today?", i as u32);
    }
    agentstack::flush();
    drop(guard);
    server.unblock();
    body.lock()
        .unwrap()
        .take()
        .expect("the sink received a request")
}

fn spool_throughput(c: &mut Criterion, body: &[u8]) {
    let mut group = c.benchmark_group("spool");
    group.throughput(Throughput::Elements(BATCH));
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let spool = SqliteSpool::open(scratch("push.db"), u64::MAX).unwrap();
    group.bench_function("push_512_span_batch", |b| {
        b.iter(|| spool.push(body, BATCH).unwrap())
    });
    let spool = SqliteSpool::open(scratch("claim.db"), u64::MAX).unwrap();
    group.bench_function("claim_ack_512_span_batch", |b| {
        b.iter_custom(|iters| {
            for _ in 0..iters {
                spool.push(body, BATCH).unwrap();
            }
            let start = Instant::now();
            for _ in 0..iters {
                let batch = spool
                    .claim_oldest(Duration::from_secs(30))
                    .unwrap()
                    .unwrap();
                spool.ack(batch.id).unwrap();
            }
            start.elapsed()
        })
    });
    group.finish();
}

fn replay_end_to_end() {
    const BATCHES: u64 = 100;
    let port = free_port();
    let spool = scratch("replay.db");
    let guard = sdk(port, &spool).max_retries(0).init().unwrap();
    for i in 0..BATCHES * BATCH {
        tool_call("spooled while the collector is down", i as u32);
        if i % BATCH == BATCH - 1 {
            agentstack::flush();
        }
    }
    agentstack::flush();
    let spooled = agentstack::stats().spooled;
    let replayed_before = agentstack::stats().replayed;
    let (server, _) = start_sink(port);
    let start = Instant::now();
    while agentstack::stats().replayed - replayed_before < spooled {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "replay stalled: {:?}",
            agentstack::stats()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = start.elapsed();
    println!(
        "replay_end_to_end: {spooled} spooled spans replayed in {elapsed:.2?} = {:.0} spans/s (stats {:?})",
        spooled as f64 / elapsed.as_secs_f64(),
        agentstack::stats()
    );
    drop(guard);
    server.unblock();
}

/// Calls per timed round; the pipeline is flushed (untimed) between rounds so that the buffer
/// never overflows and both cases measure the call, not the drop path.
const ROUND: u64 = 16_384;

fn timed_rounds(iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(ROUND);
        let start = Instant::now();
        for i in 0..n {
            tool_call("query", i as u32);
        }
        total += start.elapsed();
        agentstack::flush();
        left -= n;
    }
    total
}

fn call_latency(c: &mut Criterion) {
    let mut group = c.benchmark_group("call_latency");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));

    let port = free_port();
    let (server, _) = start_sink(port);
    let guard = sdk(port, &scratch("up.db")).init().unwrap();
    group.bench_function("collector_up", |b| b.iter_custom(timed_rounds));
    drop(guard);
    server.unblock();
    let up = agentstack::stats();

    let down = free_port();
    let guard = sdk(down, &scratch("down.db"))
        .max_retries(0)
        .init()
        .unwrap();
    group.bench_function("collector_down", |b| b.iter_custom(timed_rounds));
    drop(guard);
    group.finish();
    let after = agentstack::stats();
    println!("call_latency: collector up   {up:?}");
    println!(
        "call_latency: both runs      {after:?} (down: spooled {}, dropped {})",
        after.spooled - up.spooled,
        after.dropped - up.dropped
    );
}

fn benches(c: &mut Criterion) {
    let body = captured_batch();
    println!("a 512-span request is {} bytes (gzip)", body.len());
    spool_throughput(c, &body);
    replay_end_to_end();
    call_latency(c);
}

criterion_group!(delivery, benches);
criterion_main!(delivery);
