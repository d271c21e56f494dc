//! The writer worker: consumes the bus's `writer` group and writes each batch into the span
//! store in one transaction, on tokio's blocking pool (SQLite calls block). It ends when the bus
//! is closed and drained, which is how `agentstack serve` shuts down without losing spans.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::bus::{Closing, Received, SpanBatch, SpanSubscription};
use crate::live::LiveFeed;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::workers::retry::{Retried, retry};

/// What the writer did, for the shutdown message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Batches received from the bus.
    pub batches: u64,
    /// Spans written for the first time.
    pub written: u64,
    /// Spans already in the store (a repeat of the same project, trace and span id).
    pub duplicates: u64,
    /// Spans of batches the store refused after every attempt.
    pub failed: u64,
}

impl WriterStats {
    fn add(&mut self, other: WriterStats) {
        self.batches += other.batches;
        self.written += other.written;
        self.duplicates += other.duplicates;
        self.failed += other.failed;
    }
}

/// Runs the writer until `subscription` ends, and returns what it did.
pub async fn run<S: SpanSubscription>(
    mut subscription: S,
    store: Arc<dyn Store>,
    live: Option<LiveFeed>,
    metrics: Option<Arc<Metrics>>,
    batching: Batching,
) -> WriterStats {
    let mut stats = WriterStats::default();
    let sinks = Sinks { live, metrics };
    // The writes running beside the next read (`batching.writes` > 1), each acknowledging its
    // own batches once they are stored.
    let mut running: JoinSet<(WriterStats, Outcome)> = JoinSet::new();
    let mut stopping = false;
    while !stopping {
        if batching.writes > 1 {
            // Wait for a free slot, then gather the next write while the others run.
            while running.len() >= batching.writes {
                stopping |= joined(running.join_next().await, &mut stats);
            }
            while let Some(done) = running.try_join_next() {
                stopping |= joined(Some(done), &mut stats);
            }
            if stopping {
                break;
            }
        }
        let Some(batches) = gather(&mut subscription, &batching).await else {
            break;
        };
        stats.batches += batches.len() as u64;
        let received = subscription.take_received();
        let job = WriteJob {
            status: Detached {
                durable: subscription.is_durable(),
                closing: subscription.closing(),
            },
            store: Arc::clone(&store),
            batches,
            sinks: sinks.clone(),
        };
        if batching.writes > 1 {
            running.spawn(job.run(received));
        } else {
            // One write at a time: what arrives meanwhile waits in the bus for the next one.
            let (done, outcome) = job.run(received).await;
            stats.add(done);
            stopping = outcome == Outcome::Abandoned;
        }
    }
    while let Some(done) = running.join_next().await {
        joined(Some(done), &mut stats);
    }
    stats
}

/// Adds a finished write's stats; whether it was abandoned (the process stops).
fn joined(
    done: Option<Result<(WriterStats, Outcome), tokio::task::JoinError>>,
    stats: &mut WriterStats,
) -> bool {
    match done {
        Some(Ok((done, outcome))) => {
            stats.add(done);
            outcome == Outcome::Abandoned
        }
        // A write that panicked acknowledged nothing: its batches are delivered again.
        Some(Err(error)) => {
            tracing::error!(%error, "a write task failed; its batches stay unacknowledged in the bus");
            false
        }
        None => false,
    }
}

/// The bus batches of the next write: waits for the first, then gathers what the bus has until
/// `rows` spans or `wait`, then what is already waiting, up to `backlog_rows` spans. `None` at
/// the end of the stream.
async fn gather(
    subscription: &mut impl SpanSubscription,
    batching: &Batching,
) -> Option<Vec<Arc<SpanBatch>>> {
    let first = subscription.next().await?;
    // Batches that queued up meanwhile go into the same write: one commit (and one fsync of
    // the WAL, or one ClickHouse insert) for many requests is what keeps the writer ahead
    // under load.
    let mut spans = first.spans.len();
    let mut batches = vec![first];
    let deadline = Instant::now() + batching.wait;
    while spans < batching.rows {
        let next = match subscription.try_next() {
            Some(next) => Some(next),
            None => match deadline.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => subscription.next_within(left).await,
                _ => None,
            },
        };
        let Some(next) = next else { break };
        spans += next.spans.len();
        batches.push(next);
    }
    // A backlog: the spans already waiting in the bus go into this write too (fewer, bigger
    // inserts drain it faster), without waiting for any that are not there yet.
    while spans >= batching.rows && spans < batching.backlog_rows {
        let Some(next) = subscription.next_within(Duration::ZERO).await else {
            break;
        };
        spans += next.spans.len();
        batches.push(next);
    }
    Some(batches)
}

/// One write of gathered batches, on its own (a task beside the next read, or awaited).
struct WriteJob {
    status: Detached,
    store: Arc<dyn Store>,
    batches: Vec<Arc<SpanBatch>>,
    sinks: Sinks,
}

impl WriteJob {
    /// Writes the batches, then acknowledges `received` (their entries) unless abandoned.
    async fn run<R: Received>(mut self, received: R) -> (WriterStats, Outcome) {
        let mut stats = WriterStats::default();
        let (status, store, batches, sinks) =
            (&mut self.status, &self.store, &self.batches, &self.sinks);
        let mut outcome = write(status, store, batches, &mut stats, sinks).await;
        if outcome == Outcome::Malformed {
            // A batch the store refused as malformed must not take the others with it.
            for batch in batches {
                outcome = write(
                    status,
                    store,
                    std::slice::from_ref(batch),
                    &mut stats,
                    sinks,
                )
                .await;
                if outcome == Outcome::Abandoned {
                    break;
                }
            }
        }
        if outcome == Outcome::Abandoned {
            // Stopping while the store is down: the batches stay unacknowledged in the durable
            // bus, and the next writer stores them.
            let spans: usize = batches.iter().map(|batch| batch.spans.len()).sum();
            tracing::warn!(
                spans,
                "stopping with spans not yet stored; they stay in the bus for the next writer"
            );
            return (stats, outcome);
        }
        // Stored (or, on a bus that forgets, counted as failed): the bus may forget them.
        received.ack().await;
        (stats, outcome)
    }
}

/// What [`retry`] asks of the subscription, for a write that runs without it: whether the bus
/// keeps unacknowledged batches, and whether it was closed. Receives nothing.
struct Detached {
    durable: bool,
    closing: Closing,
}

impl SpanSubscription for Detached {
    type Received = ();

    async fn next(&mut self) -> Option<Arc<SpanBatch>> {
        None
    }

    fn try_next(&mut self) -> Option<Arc<SpanBatch>> {
        None
    }

    fn take_received(&mut self) {}

    fn is_durable(&self) -> bool {
        self.durable
    }

    fn is_closed(&self) -> bool {
        self.closing.is_closed()
    }
}

/// How the writer gathers bus batches into one store write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// Write once this many spans are gathered (a bus batch is never split, so a write may
    /// hold a little more).
    pub rows: usize,
    /// Or once the first batch waited this long; zero: write what is already there.
    pub wait: Duration,
    /// Once `rows` are gathered, the spans already waiting in the bus (a backlog) join the
    /// same write, up to this many; `rows` (or less) for none.
    pub backlog_rows: usize,
    /// Writes that may run at once. Above 1 the next write is read and gathered while the
    /// others run, and each is acknowledged on its own once stored; 1 reads on only after the
    /// write (what arrives meanwhile goes into the next one).
    pub writes: usize,
}

impl Batching {
    /// SQLite: write what is waiting at once, up to 8,192 spans (one transaction, one fsync),
    /// or up to 32,768 when a backlog waits. Trace ids are random, so each write rewrites most
    /// pages of the trace-keyed indexes whatever its size: fewer, bigger writes drain a backlog
    /// with less work per span (measured: ~5–15% less CPU per span than 8,192).
    pub const EMBEDDED: Batching = Batching {
        rows: 8_192,
        wait: Duration::ZERO,
        backlog_rows: 32_768,
        writes: 1,
    };

    /// ClickHouse: `rows` spans or `wait`, and a backlog drained in inserts of up to eight
    /// times `rows`, two at once (ClickHouse runs each insert on one thread).
    pub fn distributed(rows: usize, wait: Duration) -> Batching {
        let rows = rows.max(1);
        Batching {
            rows,
            wait,
            backlog_rows: rows.saturating_mul(BACKLOG_FACTOR),
            writes: 2,
        }
    }
}

/// A backlog is drained in writes of up to this many times `--write-batch-rows`.
const BACKLOG_FACTOR: usize = 8;

/// Who hears of a stored write: the live tail, and the metrics.
#[derive(Clone)]
struct Sinks {
    live: Option<LiveFeed>,
    metrics: Option<Arc<Metrics>>,
}

/// How one write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Stored, or given up on and counted as failed (a bus that forgets: in-process).
    Done,
    /// The store refused a span as malformed and nothing was written (several batches: write
    /// them one by one).
    Malformed,
    /// The process is stopping while the store still fails; nothing was written.
    Abandoned,
}

/// Writes `batches` in one store call, retried as [`retry`] does (on a durable bus until it
/// passes or the process stops; in-process a few times, then counted as failed).
async fn write(
    subscription: &mut impl SpanSubscription,
    store: &Arc<dyn Store>,
    batches: &[Arc<SpanBatch>],
    stats: &mut WriterStats,
    sinks: &Sinks,
) -> Outcome {
    // The batches themselves: the store writes each span where it is, and the live tail reads
    // the same spans.
    let stored: Arc<Vec<Arc<SpanBatch>>> = Arc::new(batches.to_vec());
    let total: u64 = batches.iter().map(|batch| batch.spans.len() as u64).sum();
    let started = Instant::now();
    match retry(subscription, "writer", || {
        store.insert_spans(Arc::clone(&stored))
    })
    .await
    {
        Retried::Done(new) => {
            stats.written += new as u64;
            stats.duplicates += total - new as u64;
            if let Some(metrics) = &sinks.metrics {
                metrics.observe_write(started.elapsed(), new);
            }
            if let Some(live) = &sinks.live {
                live.publish(stored);
            }
            return Outcome::Done;
        }
        // A malformed span refuses the whole write: the batches are written one by one.
        Retried::Malformed(_) if batches.len() > 1 => return Outcome::Malformed,
        Retried::Malformed(error) => tracing::error!(%error, "a span was refused by the store"),
        Retried::GaveUp => {}
        Retried::Abandoned => return Outcome::Abandoned,
    }
    stats.failed += total;
    tracing::error!(spans = total, "spans of this batch were not stored");
    Outcome::Done
}

#[cfg(test)]
mod tests {
    use agentstack_exporter_sqlite::{SpanRecord, SqliteSpanStore};

    use super::*;
    use crate::bus::{InProcessBus, SpanBus};
    use crate::normalize::{NormalizedSpan, SpanLink};

    fn batch_of(spans: usize) -> SpanBatch {
        SpanBatch {
            spans: (0..spans)
                .map(|i| NormalizedSpan {
                    project: "p".into(),
                    record: SpanRecord::new("a".repeat(32), format!("{i:016x}"), "chat", 1, 2),
                    otel_span_kind: 1,
                    links: Vec::new(),
                    resource_attributes: "{}".into(),
                    scope_name: String::new(),
                })
                .collect(),
        }
    }

    const BATCHING: Batching = Batching {
        rows: 100,
        wait: Duration::from_millis(300),
        backlog_rows: 640,
        writes: 2,
    };

    #[tokio::test]
    async fn a_backlog_joins_the_write_up_to_backlog_rows() {
        let bus = InProcessBus::new(64, &["writer"]);
        for _ in 0..25 {
            bus.publish(batch_of(64)).await.unwrap();
        }
        let mut subscription = bus.subscribe("writer").unwrap();
        let sizes = |batches: Vec<Arc<SpanBatch>>| batches.len();
        // 640 spans (10 batches) a write, then what is left.
        assert_eq!(
            sizes(gather(&mut subscription, &BATCHING).await.unwrap()),
            10
        );
        assert_eq!(
            sizes(gather(&mut subscription, &BATCHING).await.unwrap()),
            10
        );
        assert_eq!(
            sizes(gather(&mut subscription, &BATCHING).await.unwrap()),
            5
        );
    }

    #[tokio::test]
    async fn without_a_backlog_a_write_is_rows_or_the_wait() {
        let bus = InProcessBus::new(64, &["writer"]);
        let mut subscription = bus.subscribe("writer").unwrap();
        // Fewer than `rows`: written once the first batch waited `wait`.
        bus.publish(batch_of(64)).await.unwrap();
        let started = Instant::now();
        let batches = gather(&mut subscription, &BATCHING).await.unwrap();
        assert_eq!(batches.len(), 1);
        assert!(
            started.elapsed() >= BATCHING.wait,
            "{:?}",
            started.elapsed()
        );
        // `rows` reached and nothing more waiting: written at once, not after the (long) wait.
        bus.publish(batch_of(64)).await.unwrap();
        bus.publish(batch_of(64)).await.unwrap();
        let patient = Batching {
            wait: Duration::from_secs(60),
            ..BATCHING
        };
        let batches =
            tokio::time::timeout(Duration::from_secs(30), gather(&mut subscription, &patient))
                .await
                .expect("the write did not wait for the deadline")
                .unwrap();
        assert_eq!(batches.len(), 2);
    }

    #[test]
    fn a_normalized_span_is_stored_with_its_project_links_and_resource() {
        let linked_trace = "c".repeat(32);
        let span = NormalizedSpan {
            project: "team-a".into(),
            record: SpanRecord::new("a".repeat(32), "b".repeat(16), "chat", 1, 2),
            otel_span_kind: 3,
            links: vec![SpanLink {
                trace_id: linked_trace.clone(),
                span_id: "d".repeat(16),
                attributes: r#"{"why":"retry"}"#.into(),
            }],
            resource_attributes: r#"{"service.name":"bot"}"#.into(),
            scope_name: "agentstack".into(),
        };
        // The record's own project, links and resource are the defaults normalize leaves.
        assert_eq!(span.record.project, "default");
        let store = SqliteSpanStore::open_in_memory().unwrap();
        let unlinked = NormalizedSpan {
            record: SpanRecord::new("e".repeat(32), "f".repeat(16), "tool", 3, 4),
            links: Vec::new(),
            ..span.clone()
        };
        assert_eq!(store.insert_spans(&[&span, &unlinked]).unwrap(), 2);

        let stored = store
            .trace_in_project(Some("team-a"), &"a".repeat(32))
            .unwrap();
        assert_eq!(stored.len(), 1);
        let row = &stored[0];
        assert_eq!(
            (row.project.as_str(), row.name.as_str()),
            ("team-a", "chat")
        );
        assert_eq!(row.resource, r#"{"service.name":"bot"}"#);
        let links: serde_json::Value = serde_json::from_str(&row.links).unwrap();
        assert_eq!(
            links,
            serde_json::json!([{"trace_id": linked_trace, "span_id": "d".repeat(16), "attributes": {"why": "retry"}}])
        );
        assert_eq!(store.trace(&"e".repeat(32)).unwrap()[0].links, "[]");
        // The link is indexed too: the linked trace's conversation reaches this one.
        store
            .insert_spans(&[SpanRecord {
                project: "team-a".into(),
                ..SpanRecord::new(linked_trace.clone(), "d".repeat(16), "cause", 0, 1)
            }])
            .unwrap();
        let conversation = store
            .conversation("team-a", &linked_trace)
            .unwrap()
            .unwrap();
        let traces: Vec<&str> = conversation
            .traces
            .iter()
            .map(|t| t.trace_id.as_str())
            .collect();
        assert_eq!(traces, [linked_trace.as_str(), "a".repeat(32).as_str()]);
    }
}
