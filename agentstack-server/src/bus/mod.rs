//! The bus: normalized span batches travel from the collector to the workers through it. Every
//! stage talks to it only through [`SpanBus`] and [`SpanSubscription`]; [`InProcessBus`] is the
//! embedded implementation (`agentstack serve`), Redis Streams comes with the distributed mode.

mod in_process;
pub mod redis;
mod redis_live;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::normalize::NormalizedSpan;

pub use in_process::InProcessBus;
pub use redis::{RedisBus, RedisBusConfig};
pub use redis_live::ALERTS_STREAM;

/// The consumer group of the writer worker (spans → store).
pub const WRITER_GROUP: &str = "writer";
/// The consumer group of the security worker (spans → alerts).
pub const SECURITY_GROUP: &str = "security";

/// The spans of one accepted OTLP request, normalized, all of one project.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpanBatch {
    /// The spans, in request order.
    pub spans: Vec<NormalizedSpan>,
}

/// Why a batch was not published; nothing of it is in the bus.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// A consumer group's queue is full: the workers are behind. The sender should retry shortly
    /// (the collector answers 503 with `Retry-After`).
    #[error(
        "the span bus is full ({capacity} batches wait for the `{group}` workers); retry shortly"
    )]
    Full {
        /// The group whose queue is full.
        group: String,
        /// Its capacity, in batches.
        capacity: usize,
    },
    /// The bus was closed (the server is shutting down).
    #[error(
        "the span bus is closed because the server is shutting down; retry against a running server"
    )]
    Closed,
    /// The bus's service (Redis) did not take the batch; the sender should retry shortly.
    #[error("the span bus is unavailable ({0}); retry shortly")]
    Unavailable(String),
}

/// Why a subscription was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubscribeError {
    /// The bus was not made with this consumer group.
    #[error(
        "the span bus has no consumer group `{group}` (it has: {known}); declare the group when \
         the bus is made"
    )]
    UnknownGroup {
        /// The group asked for.
        group: String,
        /// The groups it has, comma-separated.
        known: String,
    },
    /// The in-process bus has one consumer per group, and this one is taken.
    #[error("the consumer group `{group}` already has its consumer on this in-process bus")]
    Taken {
        /// The group asked for.
        group: String,
    },
}

/// A bus of span batches with consumer groups: every group receives every batch published after
/// it was declared, and within a group each batch goes to one consumer.
pub trait SpanBus: Send + Sync + 'static {
    /// A consumer's end of one group.
    type Subscription: SpanSubscription;

    /// Puts `batch` in the bus for every consumer group, or refuses it whole. When this returns
    /// `Ok` the batch is the bus's responsibility: the collector answers 200 only after that.
    fn publish(&self, batch: SpanBatch) -> impl Future<Output = Result<(), PublishError>> + Send;

    /// Why a batch published now would be refused as [`PublishError::Full`], when the bus can
    /// tell without trying (the in-process bus: a group's queue is full); `None` when it would
    /// probably be taken. A hint only, so the collector can refuse before decoding: `publish`
    /// still decides.
    fn full(&self) -> Option<PublishError> {
        None
    }

    /// The consumer end of `group`.
    fn subscribe(&self, group: &str) -> Result<Self::Subscription, SubscribeError>;

    /// Stops accepting batches ([`PublishError::Closed`] from now on); consumers still receive
    /// every batch published before, then the end of the stream.
    fn close(&self);

    /// Whether the bus's service answers (the readiness check); the in-process bus always does.
    fn check(&self) -> impl Future<Output = Result<(), String>> + Send {
        async { Ok(()) }
    }

    /// Where the bus is, for messages.
    fn describe(&self) -> String;
}

/// Batches received from a subscription and not acknowledged yet, taken out of it with
/// [`SpanSubscription::take_received`] so that they can be acknowledged on their own, from
/// another task, once their effect is durable, while the consumer receives more meanwhile.
pub trait Received: Send + 'static {
    /// Acknowledges these batches, and only these (see [`SpanSubscription::ack`]).
    fn ack(self) -> impl Future<Output = ()> + Send;
}

/// Nothing to acknowledge: a bus that forgets (in-process).
impl Received for () {
    async fn ack(self) {}
}

/// Whether a bus was closed, for a task that does not hold the subscription (a write running
/// beside the next read); see [`SpanSubscription::closing`].
#[derive(Debug, Clone, Default)]
pub struct Closing(Option<Arc<AtomicBool>>);

impl Closing {
    /// Follows `closed`, a bus's flag.
    pub fn of(closed: Arc<AtomicBool>) -> Closing {
        Closing(Some(closed))
    }

    /// Whether the bus was closed; never, without a flag.
    pub fn is_closed(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|closed| closed.load(Ordering::Acquire))
    }
}

/// One consumer of one group.
pub trait SpanSubscription: Send + 'static {
    /// What [`take_received`](Self::take_received) hands out.
    type Received: Received;

    /// The next batch, waiting for one; `None` once the bus is closed and every batch published
    /// before has been received.
    fn next(&mut self) -> impl Future<Output = Option<Arc<SpanBatch>>> + Send;

    /// A batch that is already waiting, without waiting for one (lets a consumer gather
    /// several batches into one write).
    fn try_next(&mut self) -> Option<Arc<SpanBatch>>;

    /// The next batch if one comes within `within`, else `None` (lets a consumer wait a
    /// little to gather a bigger write). Not the end of the stream: ask [`next`](Self::next).
    fn next_within(
        &mut self,
        within: std::time::Duration,
    ) -> impl Future<Output = Option<Arc<SpanBatch>>> + Send {
        let _ = within;
        async { self.try_next() }
    }

    /// Tells the bus that every batch received so far has taken its effect (stored, scanned):
    /// a durable bus forgets them, and redelivers unacknowledged ones to another consumer if
    /// this one dies. Call it after the effect is durable. The in-process bus needs nothing.
    fn ack(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// The batches received so far and not acknowledged, taken out of the subscription: a later
    /// [`ack`](Self::ack) leaves them alone, and [`Received::ack`] acknowledges exactly them.
    fn take_received(&mut self) -> Self::Received;

    /// [`is_closed`](Self::is_closed), for another task.
    fn closing(&self) -> Closing {
        Closing::default()
    }

    /// Whether an unacknowledged batch survives this consumer (and is delivered again): then a
    /// worker whose store is down keeps its batches unacknowledged and waits, rather than
    /// giving up on them.
    fn is_durable(&self) -> bool {
        false
    }

    /// Whether the bus was closed (the process is stopping); asked only of durable buses.
    fn is_closed(&self) -> bool {
        false
    }
}
