//! The writer worker: consumes the bus's `writer` group and writes each batch into the span
//! store in one transaction, on tokio's blocking pool (SQLite calls block). It ends when the bus
//! is closed and drained, which is how `agentstack serve` shuts down without losing spans.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agentstack_exporter_sqlite::SpanRecord;
use serde_json::json;

use crate::bus::{SpanBatch, SpanSubscription};
use crate::live::LiveFeed;
use crate::metrics::Metrics;
use crate::normalize::NormalizedSpan;
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

/// The store's row of a normalized span: its record with the project, links and resource that
/// travel beside it.
pub fn store_record(span: &NormalizedSpan) -> SpanRecord {
    let links: Vec<_> = span
        .links
        .iter()
        .map(|link| {
            json!({
                "trace_id": link.trace_id,
                "span_id": link.span_id,
                // Normalize made this JSON object text; kept as a value, not a string.
                "attributes": serde_json::from_str::<serde_json::Value>(&link.attributes)
                    .unwrap_or_else(|_| json!({})),
            })
        })
        .collect();
    SpanRecord {
        project: span.project.clone(),
        links: serde_json::Value::Array(links).to_string(),
        resource: span.resource_attributes.clone(),
        ..span.record.clone()
    }
}

/// Runs the writer until `subscription` ends, and returns what it did.
pub async fn run(
    mut subscription: impl SpanSubscription,
    store: Arc<dyn Store>,
    live: Option<LiveFeed>,
    metrics: Option<Arc<Metrics>>,
    batching: Batching,
) -> WriterStats {
    let mut stats = WriterStats::default();
    while let Some(first) = subscription.next().await {
        // Batches that queued up meanwhile go into the same write: one commit (and one fsync
        // of the WAL, or one ClickHouse insert) for many requests is what keeps the writer
        // ahead under load.
        let mut batches = vec![first];
        let mut spans = batches[0].spans.len();
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
        stats.batches += batches.len() as u64;
        let sinks = Sinks {
            live: live.as_ref(),
            metrics: metrics.as_deref(),
        };
        let mut outcome = write(&mut subscription, &store, &batches, &mut stats, sinks).await;
        if outcome == Outcome::Malformed {
            // A batch the store refused as malformed must not take the others with it.
            for batch in &batches {
                outcome = write(
                    &mut subscription,
                    &store,
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
            tracing::warn!(
                spans,
                "stopping with spans not yet stored; they stay in the bus for the next writer"
            );
            return stats;
        }
        // Stored (or, on a bus that forgets, counted as failed): the bus may forget them.
        subscription.ack().await;
    }
    stats
}

/// How the writer gathers bus batches into one store write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// Write once this many spans are gathered (a bus batch is never split, so a write may
    /// hold a little more).
    pub rows: usize,
    /// Or once the first batch waited this long; zero: write what is already there.
    pub wait: Duration,
}

impl Batching {
    /// SQLite: write what is waiting at once, up to 8,192 spans (one transaction, one fsync).
    pub const EMBEDDED: Batching = Batching {
        rows: 8_192,
        wait: Duration::ZERO,
    };
}

/// Who hears of a stored write: the live tail, and the metrics.
#[derive(Clone, Copy)]
struct Sinks<'a> {
    live: Option<&'a LiveFeed>,
    metrics: Option<&'a Metrics>,
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
    sinks: Sinks<'_>,
) -> Outcome {
    let records: Arc<Vec<SpanRecord>> = Arc::new(
        batches
            .iter()
            .flat_map(|batch| batch.spans.iter().map(store_record))
            .collect(),
    );
    let total = records.len() as u64;
    let started = Instant::now();
    match retry(subscription, "writer", || {
        store.insert_spans(Arc::clone(&records))
    })
    .await
    {
        Retried::Done(new) => {
            stats.written += new as u64;
            stats.duplicates += total - new as u64;
            if let Some(metrics) = sinks.metrics {
                metrics.observe_write(started.elapsed(), new);
            }
            if let Some(live) = sinks.live {
                live.publish(records);
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
    use agentstack_exporter_sqlite::SpanRecord;

    use super::*;
    use crate::normalize::SpanLink;

    #[test]
    fn the_row_carries_project_links_and_resource() {
        let span = NormalizedSpan {
            project: "team-a".into(),
            record: SpanRecord::new("a".repeat(32), "b".repeat(16), "chat", 1, 2),
            otel_span_kind: 3,
            links: vec![SpanLink {
                trace_id: "c".repeat(32),
                span_id: "d".repeat(16),
                attributes: r#"{"why":"retry"}"#.into(),
            }],
            resource_attributes: r#"{"service.name":"bot"}"#.into(),
            scope_name: "agentstack".into(),
        };
        let row = store_record(&span);
        assert_eq!(row.project, "team-a");
        assert_eq!(row.resource, r#"{"service.name":"bot"}"#);
        let links: serde_json::Value = serde_json::from_str(&row.links).unwrap();
        assert_eq!(
            links,
            json!([{"trace_id": "c".repeat(32), "span_id": "d".repeat(16), "attributes": {"why": "retry"}}])
        );
        assert_eq!(row.name, "chat");
    }
}
