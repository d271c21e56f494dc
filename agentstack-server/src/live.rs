//! Live feeds: what was just stored, broadcast to whoever tails it — the spans the writer
//! stored ([`LiveFeed`], for `WS /ws/traces`) and the alerts the dispatcher stored
//! ([`AlertFeed`], for `WS /ws/alerts`). In an API without a writer in its process (the
//! distributed roles) the Redis bus fills them from its streams instead. A slow listener misses batches (it is told how many), never
//! slows the writer.

use std::sync::Arc;

use agentstack_exporter_sqlite::store::AlertRecord;
use tokio::sync::{broadcast, watch};

use crate::bus::SpanBatch;

/// How many stored batches a listener may fall behind before it misses some.
pub const LIVE_FEED_CAPACITY: usize = 256;

/// Batches of records as they are stored, for live tails. Cloning shares the feed.
#[derive(Debug, Clone)]
pub struct Feed<T> {
    stored: broadcast::Sender<Arc<Vec<T>>>,
    closed: watch::Sender<bool>,
}

/// The spans the writer stores: the bus batches of each write.
pub type LiveFeed = Feed<Arc<SpanBatch>>;
/// The alerts the alert dispatcher stores (new ones only).
pub type AlertFeed = Feed<AlertRecord>;

/// One listener of a [`Feed`].
#[derive(Debug)]
pub struct Listener<T> {
    /// Batches of stored records, every project mixed: the listener filters.
    pub stored: broadcast::Receiver<Arc<Vec<T>>>,
    /// Turns true when the server shuts down.
    pub closed: watch::Receiver<bool>,
}

/// A listener of the spans feed.
pub type LiveListener = Listener<Arc<SpanBatch>>;

impl<T> Default for Feed<T> {
    fn default() -> Feed<T> {
        Feed::new(LIVE_FEED_CAPACITY)
    }
}

impl<T> Feed<T> {
    /// A feed whose listeners may fall `capacity` batches behind.
    pub fn new(capacity: usize) -> Feed<T> {
        Feed {
            stored: broadcast::channel(capacity.max(1)).0,
            closed: watch::channel(false).0,
        }
    }

    /// Tells every listener that `records` were stored; nothing happens when none listens.
    pub fn publish(&self, records: Arc<Vec<T>>) {
        // An error only means that nobody listens.
        let _ = self.stored.send(records);
    }

    /// A new listener, which sees the batches stored from now on.
    pub fn listen(&self) -> Listener<T> {
        Listener {
            stored: self.stored.subscribe(),
            closed: self.closed.subscribe(),
        }
    }

    /// Turns true when the feed is closed.
    pub fn closed_signal(&self) -> watch::Receiver<bool> {
        self.closed.subscribe()
    }

    /// Ends every listener (the server is shutting down).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// How many listeners there are now.
    pub fn listeners(&self) -> usize {
        self.stored.receiver_count()
    }
}
