//! The alert dispatcher: takes raised alerts off the [`AlertQueue`], writes them into the
//! store (a repeat of a dedup key is a no-op) and publishes the new ones on the [`AlertFeed`].
//! It ends when every [`AlertSink`](super::AlertSink) is gone and the queue is drained.

use std::sync::Arc;

use agentstack_exporter_sqlite::store::AlertRecord;

use super::{AlertFeed, AlertQueue};
use crate::store::Store;

/// What the dispatcher did, for the shutdown message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatcherStats {
    /// Alerts raised and received.
    pub received: u64,
    /// Alerts stored for the first time.
    pub stored: u64,
    /// Alerts the store refused (after they were received).
    pub failed: u64,
}

/// Runs until the queue ends. Every new alert is also passed to `on_new` (the webhooks).
pub async fn run(
    mut queue: AlertQueue,
    store: Arc<dyn Store>,
    feed: AlertFeed,
    on_new: impl Fn(&Arc<Vec<AlertRecord>>) + Send,
) -> DispatcherStats {
    let mut stats = DispatcherStats::default();
    while let Some(first) = queue.next().await {
        let mut alerts = first.alerts;
        let mut waiting: Vec<_> = first.stored.into_iter().collect();
        // Whatever else queued meanwhile goes into the same transaction.
        while alerts.len() < 1024
            && let Some(more) = queue.try_next()
        {
            alerts.extend(more.alerts);
            waiting.extend(more.stored);
        }
        stats.received += alerts.len() as u64;
        let total = alerts.len() as u64;
        let outcome = match store.insert_alerts(alerts).await {
            Ok(new) => {
                stats.stored += new.len() as u64;
                if !new.is_empty() {
                    let new = Arc::new(new);
                    feed.publish(Arc::clone(&new));
                    on_new(&new);
                }
                Ok(())
            }
            Err(error) => {
                stats.failed += total;
                if waiting.is_empty() {
                    tracing::error!(%error, alerts = total, "alerts were not stored");
                }
                Err(error.to_string())
            }
        };
        // Whoever waits retries on a failure (and says so); a raise that went away is fine.
        for told in waiting {
            let _ = told.send(outcome.clone());
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use agentstack_exporter_sqlite::store::{AlertQuery, AlertSeverity};

    use super::*;
    use crate::alerts::alert_channel;

    fn alert(key: &str) -> AlertRecord {
        AlertRecord {
            id: 0,
            project: "p".into(),
            dedup_key: key.into(),
            trace_id: Some("t".into()),
            span_id: None,
            detector: "budget".into(),
            title: "Daily budget of $5.00 crossed".into(),
            evidence: "[]".into(),
            score: 60,
            severity: AlertSeverity::Medium,
            time_unix_nanos: 1,
        }
    }

    #[tokio::test]
    async fn raised_alerts_are_stored_once_and_published() {
        let store = crate::store::SqliteStore::new(
            agentstack_exporter_sqlite::SqliteSpanStore::open_in_memory().unwrap(),
        );
        let (sink, queue) = alert_channel(8);
        let feed = AlertFeed::default();
        let mut listener = feed.listen();
        let dispatcher = tokio::spawn(run(queue, Arc::new(store.clone()), feed, |_| {}));
        assert!(sink.raise(vec![alert("a"), alert("b")]));
        assert!(sink.raise(vec![alert("a")]));
        drop(sink);
        let stats = dispatcher.await.unwrap();
        assert_eq!((stats.received, stats.stored), (3, 2));
        let published = listener.stored.recv().await.unwrap();
        assert_eq!(published.len(), 2);
        let page = store.sqlite().alert_page(&AlertQuery::default()).unwrap();
        assert_eq!(page.alerts.len(), 2);
    }

    #[tokio::test]
    async fn raise_stored_answers_once_the_alerts_are_in_the_store() {
        let store = crate::store::SqliteStore::new(
            agentstack_exporter_sqlite::SqliteSpanStore::open_in_memory().unwrap(),
        );
        let (sink, queue) = alert_channel(8);
        let dispatcher = tokio::spawn(run(
            queue,
            Arc::new(store.clone()),
            AlertFeed::default(),
            |_| {},
        ));
        sink.raise_stored(vec![alert("a"), alert("b")])
            .await
            .unwrap();
        let page = store.sqlite().alert_page(&AlertQuery::default()).unwrap();
        assert_eq!(page.alerts.len(), 2, "stored before the answer");
        // A repeat of stored dedup keys is stored too, as far as the raiser is concerned.
        sink.raise_stored(vec![alert("a")]).await.unwrap();
        drop(sink);
        assert_eq!(dispatcher.await.unwrap().stored, 2);
    }

    #[tokio::test]
    async fn raise_stored_says_when_no_dispatcher_is_left() {
        let (sink, queue) = alert_channel(8);
        drop(queue);
        let error = sink.raise_stored(vec![alert("a")]).await.unwrap_err();
        assert!(
            matches!(error, crate::alerts::RaiseError::DispatcherGone),
            "{error}"
        );
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_waiting() {
        let (sink, _queue) = alert_channel(1);
        assert!(sink.raise(vec![alert("a")]));
        assert!(!sink.raise(vec![alert("b"), alert("c")]));
        assert_eq!(sink.dropped(), 2);
    }
}
