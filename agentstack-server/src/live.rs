//! The live feed: every batch of spans the writer has just stored, broadcast to whoever tails
//! (the API's `WS /ws/traces`). Embedded mode only; the distributed mode's live tail reads the
//! Redis stream instead. A slow listener misses batches (it is told how many), never slows the
//! writer.

use std::sync::Arc;

use agentstack_exporter_sqlite::SpanRecord;
use tokio::sync::{broadcast, watch};

/// How many stored batches a listener may fall behind before it misses some.
pub const LIVE_FEED_CAPACITY: usize = 256;

/// Spans as they are stored, for live tails. Cloning shares the feed.
#[derive(Debug, Clone)]
pub struct LiveFeed {
    stored: broadcast::Sender<Arc<Vec<SpanRecord>>>,
    closed: watch::Sender<bool>,
}

/// One listener of a [`LiveFeed`].
#[derive(Debug)]
pub struct LiveListener {
    /// Batches of stored spans, every project mixed: the listener filters.
    pub stored: broadcast::Receiver<Arc<Vec<SpanRecord>>>,
    /// Turns true when the server shuts down.
    pub closed: watch::Receiver<bool>,
}

impl Default for LiveFeed {
    fn default() -> LiveFeed {
        LiveFeed::new(LIVE_FEED_CAPACITY)
    }
}

impl LiveFeed {
    /// A feed whose listeners may fall `capacity` batches behind.
    pub fn new(capacity: usize) -> LiveFeed {
        LiveFeed {
            stored: broadcast::channel(capacity.max(1)).0,
            closed: watch::channel(false).0,
        }
    }

    /// Tells every listener that `spans` were stored; nothing happens when none listens.
    pub fn publish(&self, spans: Arc<Vec<SpanRecord>>) {
        // An error only means that nobody listens.
        let _ = self.stored.send(spans);
    }

    /// A new listener, which sees the batches stored from now on.
    pub fn listen(&self) -> LiveListener {
        LiveListener {
            stored: self.stored.subscribe(),
            closed: self.closed.subscribe(),
        }
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
