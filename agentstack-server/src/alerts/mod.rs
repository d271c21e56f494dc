//! The alert path: every alert — from the security worker's detectors, or a budget the cost
//! worker saw crossed — is raised into an [`AlertSink`]; the [`dispatcher`] stores it in the
//! store's `security_alerts` (once per dedup key), publishes the new ones on the [`AlertFeed`]
//! (`WS /ws/alerts`) and hands them to the webhooks. [`AlertSink::raise`] never blocks the worker:
//! a full queue drops the alert and counts it. [`AlertSink::raise_stored`] waits for the
//! dispatcher's insert and says whether it passed: the security worker on a durable bus uses it
//! so that it acknowledges a batch only once the batch's alerts are stored.

pub mod dispatcher;
pub mod webhooks;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use agentstack_exporter_sqlite::store::AlertRecord;
use tokio::sync::{mpsc, oneshot};

pub use crate::live::AlertFeed;

/// How many alerts may wait for the dispatcher before new ones are dropped.
pub const ALERT_QUEUE_CAPACITY: usize = 4096;

/// Where workers raise alerts. Cloning shares the queue.
#[derive(Debug, Clone)]
pub struct AlertSink {
    queue: mpsc::Sender<Raise>,
    dropped: Arc<AtomicU64>,
}

/// The dispatcher's end of an [`AlertSink`].
#[derive(Debug)]
pub struct AlertQueue {
    queue: mpsc::Receiver<Raise>,
    dropped: Arc<AtomicU64>,
}

/// One raise: its alerts, and whom to tell once the insert that holds them has passed or
/// failed (the failure as text: one insert may answer several raises).
#[derive(Debug)]
pub struct Raise {
    /// The alerts, each with its `dedup_key` set.
    pub alerts: Vec<AlertRecord>,
    /// Told the insert's outcome, for [`AlertSink::raise_stored`].
    pub stored: Option<oneshot::Sender<Result<(), String>>>,
}

/// Why [`AlertSink::raise_stored`]'s alerts are not stored.
#[derive(Debug, thiserror::Error)]
pub enum RaiseError {
    /// The store refused the insert; raising the same alerts again is safe (dedup keys).
    #[error("the alerts were not stored: {0}")]
    NotStored(String),
    /// The dispatcher has stopped: the process is shutting down.
    #[error("the alert dispatcher has stopped; the alerts were not stored")]
    DispatcherGone,
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
        match self.queue.try_send(Raise {
            alerts,
            stored: None,
        }) {
            Ok(()) => true,
            Err(_) => {
                self.dropped.fetch_add(count, Ordering::Relaxed);
                false
            }
        }
    }

    /// Raises `alerts` and waits until the dispatcher has stored them (a repeat of a stored
    /// dedup key counts as stored), waiting for room in the queue if it is full.
    pub async fn raise_stored(&self, alerts: Vec<AlertRecord>) -> Result<(), RaiseError> {
        if alerts.is_empty() {
            return Ok(());
        }
        let (told, outcome) = oneshot::channel();
        let raise = Raise {
            alerts,
            stored: Some(told),
        };
        self.queue
            .send(raise)
            .await
            .map_err(|_| RaiseError::DispatcherGone)?;
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(RaiseError::NotStored(error)),
            Err(_) => Err(RaiseError::DispatcherGone),
        }
    }

    /// Alerts dropped so far because the queue was full or closed.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl AlertQueue {
    /// The next raise; `None` once every sink is gone and the queue is empty.
    pub async fn next(&mut self) -> Option<Raise> {
        self.queue.recv().await
    }

    /// A raise already waiting, if any.
    pub fn try_next(&mut self) -> Option<Raise> {
        self.queue.try_recv().ok()
    }

    /// Alerts dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}
