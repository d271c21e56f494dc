//! The writer worker: consumes the bus's `writer` group and writes each batch into the span
//! store in one transaction, on tokio's blocking pool (SQLite calls block). It ends when the bus
//! is closed and drained, which is how `agentstack serve` shuts down without losing spans.

use std::sync::Arc;
use std::time::Duration;

use agentstack_exporter_sqlite::SpanRecord;
use serde_json::json;

use crate::bus::{SpanBatch, SpanSubscription};
use crate::live::LiveFeed;
use crate::normalize::NormalizedSpan;
use crate::store::Store;

/// How often a batch is tried before it is given up (with a message): a busy or failing file
/// gets 100 ms, 200 ms, … between tries.
const ATTEMPTS: u32 = 6;

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
) -> WriterStats {
    let mut stats = WriterStats::default();
    while let Some(first) = subscription.next().await {
        // Batches that queued up meanwhile go into the same transaction: one commit (and one
        // fsync of the WAL) for many requests is what keeps the writer ahead under load.
        let mut batches = vec![first];
        let mut spans = batches[0].spans.len();
        while spans < MAX_SPANS_PER_WRITE
            && let Some(next) = subscription.try_next()
        {
            spans += next.spans.len();
            batches.push(next);
        }
        stats.batches += batches.len() as u64;
        if !write(&store, &batches, &mut stats, live.as_ref()).await && batches.len() > 1 {
            // A batch the store refused as malformed must not take the others with it.
            for batch in &batches {
                write(
                    &store,
                    std::slice::from_ref(batch),
                    &mut stats,
                    live.as_ref(),
                )
                .await;
            }
        }
        // Stored (or counted as failed after every retry): a durable bus may forget them.
        subscription.ack().await;
    }
    stats
}

/// Spans gathered into one transaction at most.
const MAX_SPANS_PER_WRITE: usize = 8_192;

/// Writes `batches` in one transaction, retrying what may pass later. Returns false, writing
/// nothing, when the store refused a span as malformed; true otherwise (stored or given up on,
/// both counted).
async fn write(
    store: &Arc<dyn Store>,
    batches: &[Arc<SpanBatch>],
    stats: &mut WriterStats,
    live: Option<&LiveFeed>,
) -> bool {
    let records: Arc<Vec<SpanRecord>> = Arc::new(
        batches
            .iter()
            .flat_map(|batch| batch.spans.iter().map(store_record))
            .collect(),
    );
    let total = records.len() as u64;
    let mut delay = Duration::from_millis(100);
    for attempt in 1..=ATTEMPTS {
        match store.insert_spans(Arc::clone(&records)).await {
            Ok(new) => {
                stats.written += new as u64;
                stats.duplicates += total - new as u64;
                if let Some(live) = live {
                    live.publish(records);
                }
                return true;
            }
            // A malformed span refuses the whole write and will not get better by waiting.
            Err(error) if error.is_malformed_span() => {
                if batches.len() > 1 {
                    return false;
                }
                eprintln!("agentstack serve: writer: {error}");
                break;
            }
            Err(error) if attempt < ATTEMPTS => {
                eprintln!(
                    "agentstack serve: writer: {error} (attempt {attempt} of {ATTEMPTS}, \
                     retrying in {} ms)",
                    delay.as_millis()
                );
            }
            Err(error) => {
                eprintln!("agentstack serve: writer: {error}; giving up on this batch");
                break;
            }
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
    stats.failed += total;
    eprintln!("agentstack serve: writer: {total} spans of this batch were not stored");
    true
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
