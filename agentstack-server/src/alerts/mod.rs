//! The alert path: every alert — from the security worker's detectors, or a budget the cost
//! worker saw crossed — is raised into an [`AlertSink`]; the [`dispatcher`] stores it in the
//! store's `security_alerts` (once per dedup key), publishes the new ones on the [`AlertFeed`]
//! (`WS /ws/alerts`) and hands them to the webhooks. Raising never blocks the worker: a full
//! queue drops the alert and counts it.

pub mod dispatcher;
pub mod webhooks;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use agentstack_exporter_sqlite::store::AlertRecord;
use tokio::sync::mpsc;

pub use crate::live::AlertFeed;

/// How many alerts may wait for the dispatcher before new ones are dropped.
pub const ALERT_QUEUE_CAPACITY: usize = 4096;

/// Where workers raise alerts. Cloning shares the queue.
#[derive(Debug, Clone)]
pub struct AlertSink {
    queue: mpsc::Sender<Vec<AlertRecord>>,
    dropped: Arc<AtomicU64>,
}

/// The dispatcher's end of an [`AlertSink`].
#[derive(Debug)]
pub struct AlertQueue {
    queue: mpsc::Receiver<Vec<AlertRecord>>,
    dropped: Arc<AtomicU64>,
}

/// A sink and the queue it fills, holding at most `capacity` raises.
pub fn alert_channel(capacity: usize) -> (AlertSink, AlertQueue) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let dropped = Arc::new(AtomicU64::new(0));
    (
        AlertSink {
            queue: tx,
            dropped: Arc::clone(&dropped),
        },
        AlertQueue { queue: rx, dropped },
    )
}

impl AlertSink {
    /// Raises `alerts` (each with its `dedup_key` set); returns false, counting them as dropped,
    /// when the dispatcher is behind or gone. Never waits.
    pub fn raise(&self, alerts: Vec<AlertRecord>) -> bool {
        if alerts.is_empty() {
            return true;
        }
        let count = alerts.len() as u64;
        match self.queue.try_send(alerts) {
            Ok(()) => true,
            Err(_) => {
                self.dropped.fetch_add(count, Ordering::Relaxed);
                false
            }
        }
    }

    /// Alerts dropped so far because the queue was full or closed.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl AlertQueue {
    /// The next raise; `None` once every sink is gone and the queue is empty.
    pub async fn next(&mut self) -> Option<Vec<AlertRecord>> {
        self.queue.recv().await
    }

    /// Alerts dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}
