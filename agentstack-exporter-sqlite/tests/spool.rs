//! Tests of the spool through its public API, on real files.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use agentstack_exporter_sqlite::spool::DEFAULT_MAX_BYTES;
use agentstack_exporter_sqlite::{
    EvictedBatches, SpoolError, SpoolStats, SqliteSpanStore, SqliteSpool,
};

const LEASE: Duration = Duration::from_secs(60);

fn open(dir: &tempfile::TempDir) -> SqliteSpool {
    SqliteSpool::open(dir.path().join("spool").join("spool.db"), DEFAULT_MAX_BYTES).unwrap()
}

#[test]
fn batches_come_out_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(&dir);
    for (body, spans) in [(&b"first"[..], 1), (b"second", 2), (b"third", 3)] {
        assert_eq!(spool.push(body, spans).unwrap(), EvictedBatches::default());
    }
    assert_eq!(
        spool.stats().unwrap(),
        SpoolStats {
            batches: 3,
            spans: 6,
            bytes: 16
        }
    );
    let mut order = Vec::new();
    while let Some(batch) = spool.claim_oldest(LEASE).unwrap() {
        assert_eq!(batch.attempts, 1);
        assert!(batch.spooled_at_unix_nanos > 0);
        order.push((batch.body.clone(), batch.span_count));
        spool.ack(batch.id).unwrap();
    }
    assert_eq!(
        order,
        [
            (b"first".to_vec(), 1),
            (b"second".to_vec(), 2),
            (b"third".to_vec(), 3)
        ]
    );
    assert_eq!(spool.stats().unwrap(), SpoolStats::default());
    // Acking twice is harmless.
    spool.push(b"x", 1).unwrap();
    let batch = spool.claim_oldest(LEASE).unwrap().unwrap();
    spool.ack(batch.id).unwrap();
    spool.ack(batch.id).unwrap();
    assert_eq!(spool.stats().unwrap().batches, 0);
}

#[test]
fn a_released_batch_keeps_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(&dir);
    spool.push(b"a", 1).unwrap();
    spool.push(b"b", 1).unwrap();
    let a = spool.claim_oldest(LEASE).unwrap().unwrap();
    assert_eq!(a.body, b"a");
    // While a is held, the next claim (even by the same handle) gets b.
    let b = spool.claim_oldest(LEASE).unwrap().unwrap();
    assert_eq!(b.body, b"b");
    assert_eq!(spool.claim_oldest(LEASE).unwrap(), None);
    spool.release(b.id).unwrap();
    spool.release(a.id).unwrap();
    let again = spool.claim_oldest(LEASE).unwrap().unwrap();
    assert_eq!(
        (again.id, again.body.as_slice(), again.attempts),
        (a.id, &b"a"[..], 2)
    );
    spool.ack(again.id).unwrap();
    let b_again = spool.claim_oldest(LEASE).unwrap().unwrap();
    assert_eq!((b_again.body.as_slice(), b_again.attempts), (&b"b"[..], 2));
}

#[test]
fn the_cap_evicts_the_oldest_batches() {
    let dir = tempfile::tempdir().unwrap();
    let spool = SqliteSpool::open(dir.path().join("spool.db"), 100).unwrap();
    assert_eq!(spool.max_bytes(), 100);
    assert_eq!(spool.push(&[1; 40], 2).unwrap(), EvictedBatches::default());
    assert_eq!(spool.push(&[2; 40], 3).unwrap(), EvictedBatches::default());
    assert_eq!(
        spool.push(&[3; 40], 4).unwrap(),
        EvictedBatches {
            batches: 1,
            spans: 2
        }
    );
    assert_eq!(
        spool.stats().unwrap(),
        SpoolStats {
            batches: 2,
            spans: 7,
            bytes: 80
        }
    );
    assert_eq!(
        spool.claim_oldest(LEASE).unwrap().unwrap().body,
        vec![2; 40]
    );
    // Exactly the cap fits, and pushes out everything else.
    assert_eq!(
        spool.push(&[4; 100], 5).unwrap(),
        EvictedBatches {
            batches: 2,
            spans: 7
        }
    );
    assert_eq!(
        spool.stats().unwrap(),
        SpoolStats {
            batches: 1,
            spans: 5,
            bytes: 100
        }
    );
    // A batch larger than the whole cap is the one dropped; the others stay.
    assert_eq!(
        spool.push(&[5; 101], 9).unwrap(),
        EvictedBatches {
            batches: 1,
            spans: 9
        }
    );
    assert_eq!(
        spool.stats().unwrap(),
        SpoolStats {
            batches: 1,
            spans: 5,
            bytes: 100
        }
    );
    assert_eq!(
        spool.claim_oldest(LEASE).unwrap().unwrap().body,
        vec![4; 100]
    );
}

#[test]
fn a_lease_is_exclusive_between_handles_until_it_expires() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(&dir);
    let second = open(&dir);
    first.push(b"a", 1).unwrap();
    second.push(b"b", 1).unwrap();
    let a = first.claim_oldest(LEASE).unwrap().unwrap();
    let b = second.claim_oldest(LEASE).unwrap().unwrap();
    assert_eq!(
        (a.body.as_slice(), b.body.as_slice()),
        (&b"a"[..], &b"b"[..])
    );
    assert_eq!(second.claim_oldest(LEASE).unwrap(), None);
    assert_eq!(first.claim_oldest(LEASE).unwrap(), None);
    // Only the holder can release.
    second.release(a.id).unwrap();
    assert_eq!(second.claim_oldest(LEASE).unwrap(), None);
    first.ack(a.id).unwrap();
    second.ack(b.id).unwrap();

    // A lease that runs out (its holder died mid-send) makes the batch claimable again.
    first.push(b"c", 3).unwrap();
    let c = first
        .claim_oldest(Duration::from_millis(500))
        .unwrap()
        .unwrap();
    assert_eq!(second.claim_oldest(LEASE).unwrap(), None);
    thread::sleep(Duration::from_millis(700));
    let taken_over = second.claim_oldest(LEASE).unwrap().unwrap();
    assert_eq!((taken_over.id, taken_over.attempts), (c.id, 2));
    // The first holder's late release does not free the batch the second now holds.
    first.release(c.id).unwrap();
    assert_eq!(first.claim_oldest(LEASE).unwrap(), None);
    second.ack(taken_over.id).unwrap();
    assert_eq!(first.stats().unwrap(), SpoolStats::default());
}

#[test]
fn concurrent_senders_deliver_every_batch_exactly_once() {
    const BATCHES: u64 = 300;
    const THREADS_PER_HANDLE: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let handles = [Arc::new(open(&dir)), Arc::new(open(&dir))];
    for i in 0..BATCHES {
        handles[(i % 2) as usize]
            .push(format!("batch {i}").as_bytes(), i)
            .unwrap();
    }
    let delivered = Arc::new(Mutex::new(Vec::new()));
    let mut threads = Vec::new();
    for handle in &handles {
        for _ in 0..THREADS_PER_HANDLE {
            let spool = Arc::clone(handle);
            let delivered = Arc::clone(&delivered);
            threads.push(thread::spawn(move || {
                while let Some(batch) = spool.claim_oldest(LEASE).unwrap() {
                    assert_eq!(batch.attempts, 1, "no batch is claimed twice");
                    delivered.lock().unwrap().push(batch.body);
                    spool.ack(batch.id).unwrap();
                }
            }));
        }
    }
    for thread in threads {
        thread.join().unwrap();
    }
    let delivered = delivered.lock().unwrap();
    let unique: HashSet<&Vec<u8>> = delivered.iter().collect();
    assert_eq!(
        delivered.len() as u64,
        BATCHES,
        "every batch delivered once"
    );
    assert_eq!(unique.len() as u64, BATCHES, "no batch delivered twice");
    assert_eq!(
        handles[0].stats().unwrap(),
        SpoolStats::default(),
        "none left"
    );
}

#[test]
fn batches_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let body: Vec<u8> = (0..=255).cycle().take(100_000).collect();
    {
        let spool = open(&dir);
        spool.push(&body, 64).unwrap();
        spool.push(b"second", 1).unwrap();
        // Claimed but never acked nor released: the process "dies" holding it.
        spool.claim_oldest(Duration::ZERO).unwrap().unwrap();
    }
    let spool = open(&dir);
    assert_eq!(
        spool.stats().unwrap(),
        SpoolStats {
            batches: 2,
            spans: 65,
            bytes: 100_006
        }
    );
    let batch = spool.claim_oldest(LEASE).unwrap().unwrap();
    assert_eq!(
        (batch.body, batch.span_count, batch.attempts),
        (body, 64, 2)
    );
}

#[test]
fn files_that_are_not_a_spool_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("traces.db");
    drop(SqliteSpanStore::open(&store).unwrap());
    match SqliteSpool::open(&store, DEFAULT_MAX_BYTES) {
        Err(error @ SpoolError::WrongFile { .. }) => {
            assert!(
                error.to_string().contains("not an AgentStack spool"),
                "{error}"
            )
        }
        other => panic!("expected WrongFile, got {other:?}"),
    }
    let spool = dir.path().join("spool.db");
    drop(SqliteSpool::open(&spool, 10).unwrap());
    rusqlite::Connection::open(&spool)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    assert!(matches!(
        SqliteSpool::open(&spool, 10),
        Err(SpoolError::NewerSchema {
            found: 99,
            supported: 1,
            ..
        })
    ));
}

#[test]
fn several_handles_can_create_one_fresh_spool_at_once() {
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = Arc::new(dir.path().join(format!("round{round}.db")));
        let threads: Vec<_> = (0..4u64)
            .map(|n| {
                let path = Arc::clone(&path);
                thread::spawn(move || {
                    let spool = SqliteSpool::open(&*path, DEFAULT_MAX_BYTES).unwrap();
                    spool.push(&[n as u8; 10], n).unwrap();
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let spool = SqliteSpool::open(&*path, DEFAULT_MAX_BYTES).unwrap();
        assert_eq!(
            spool.stats().unwrap(),
            SpoolStats {
                batches: 4,
                spans: 6,
                bytes: 40
            }
        );
    }
}
