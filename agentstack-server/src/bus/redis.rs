//! [`RedisBus`]: the distributed bus, on Redis Streams. The collector `XADD`s each accepted
//! batch (MessagePack) to `spans.ingest` with `MAXLEN ~`, and answers only once Redis has it;
//! each worker role reads its own consumer group with `XREADGROUP`, acknowledges (`XACK`) only
//! after its effect is durable ([`SpanSubscription::ack`]), takes over entries a dead consumer
//! left pending (`XAUTOCLAIM` after an idle timeout), and moves an entry that cannot be decoded,
//! or was delivered too often, to the dead-letter stream with the reason, so one poison entry
//! never stops the pipeline.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamMaxlen, StreamPendingCountReply,
    StreamReadOptions, StreamReadReply,
};
use serde::Serialize;

use super::{
    Closing, PublishError, Received, SpanBatch, SpanBus, SpanSubscription, SubscribeError,
};

/// The field of a stream entry that holds the MessagePack batch.
pub(super) const BATCH_FIELD: &str = "batch";

/// The MessagePack of `batch`: structs as arrays of their fields in declaration order (the
/// names of ~30 fields per span were a fifth of an LLM span's bytes, written by the collector,
/// kept by Redis, read by every worker). Decoding takes either form, so entries written with
/// field names (older collectors) still decode, and older workers decode these.
pub fn encode(batch: &SpanBatch) -> Result<Vec<u8>, rmp_serde::encode::Error> {
    // Sized up front: growing a Vec of ~100 KB by doubling copies it a dozen times.
    let estimate: usize = batch.spans.iter().map(approximate_size).sum();
    let mut payload = Vec::with_capacity(estimate + 64);
    batch.serialize(&mut rmp_serde::Serializer::new(&mut payload))?;
    Ok(payload)
}

/// About the MessagePack size of `span`: its text plus a little per field.
fn approximate_size(span: &crate::normalize::NormalizedSpan) -> usize {
    let record = &span.record;
    let text = |value: &Option<String>| value.as_ref().map_or(0, String::len);
    256 + span.project.len()
        + record.trace_id.len()
        + record.span_id.len()
        + record.name.len()
        + text(&record.input)
        + text(&record.output)
        + record.attributes.len()
        + record.events.len()
        + span.resource_attributes.len()
        + span.links.len() * 128
}

/// Where the Redis bus lives and how it treats entries.
#[derive(Debug, Clone)]
pub struct RedisBusConfig {
    /// `redis://HOST:PORT/DB`.
    pub url: String,
    /// The stream of accepted batches.
    pub stream: String,
    /// The stream trimmed to about this many entries (`MAXLEN ~`).
    pub max_len: usize,
    /// Where entries that cannot be processed go, with the reason.
    pub dead_letter_stream: String,
    /// A pending entry idle this long is taken over from its (dead) consumer.
    pub claim_idle: Duration,
    /// An entry delivered this many times without an ack goes to the dead letters.
    pub max_deliveries: usize,
    /// How long one `XREADGROUP` waits for new entries.
    pub block: Duration,
    /// Entries read at most per call.
    pub read_count: usize,
    /// How long a command may take before it counts as failed (a publish then answers
    /// [`PublishError::Unavailable`]).
    pub timeout: Duration,
}

impl RedisBusConfig {
    /// The defaults for a Redis at `url`: stream `spans.ingest` (≈ 1,000,000 entries), dead
    /// letters in `spans.dead`, take-over after 30 s idle, 5 deliveries at most.
    pub fn new(url: impl Into<String>) -> RedisBusConfig {
        RedisBusConfig {
            url: url.into(),
            stream: "spans.ingest".into(),
            max_len: 1_000_000,
            dead_letter_stream: "spans.dead".into(),
            claim_idle: Duration::from_secs(30),
            max_deliveries: 5,
            block: Duration::from_millis(500),
            read_count: 64,
            timeout: Duration::from_secs(2),
        }
    }
}

/// Why the Redis bus could not start.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot reach Redis at {url}: {source}; is redis-server running there? (set \
     AGENTSTACK_REDIS_URL to its address)"
)]
pub struct RedisConnectError {
    url: String,
    source: redis::RedisError,
}

/// The bus on Redis Streams. Cloning shares the connection.
#[derive(Clone)]
pub struct RedisBus {
    config: Arc<RedisBusConfig>,
    conn: ConnectionManager,
    closed: Arc<AtomicBool>,
}

impl std::fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBus")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RedisBus {
    /// Connects, and declares `groups` on the stream (created if missing). A group declared
    /// now reads the stream from its start, so no batch already there is missed.
    pub async fn connect(
        config: RedisBusConfig,
        groups: &[&str],
    ) -> Result<RedisBus, RedisConnectError> {
        let error = |source| RedisConnectError {
            url: config.url.clone(),
            source,
        };
        let client = redis::Client::open(config.url.as_str()).map_err(error)?;
        // Fail fast: a Redis that does not answer makes the collector answer 503 at once (the
        // SDK retries or spools), rather than holding the request while reconnecting.
        let manager = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_connection_timeout(config.timeout)
            .set_response_timeout(config.timeout);
        let mut conn = ConnectionManager::new_with_config(client, manager)
            .await
            .map_err(error)?;
        for group in groups {
            let created: redis::RedisResult<()> = conn
                .xgroup_create_mkstream(&config.stream, *group, "0")
                .await;
            match created {
                Ok(()) => {}
                Err(e) if e.code() == Some("BUSYGROUP") => {}
                Err(e) => return Err(error(e)),
            }
        }
        Ok(RedisBus {
            config: Arc::new(config),
            conn,
            closed: Arc::new(AtomicBool::new(false)),
        })
    }

    /// A subscription of `group` under an explicit consumer name (each replica of a worker
    /// role needs its own; [`SpanBus::subscribe`] makes one up).
    pub fn subscribe_as(&self, group: &str, consumer: &str) -> RedisSubscription {
        RedisSubscription {
            bus: self.clone(),
            group: group.to_string(),
            consumer: consumer.to_string(),
            ready: VecDeque::new(),
            unacked: Vec::new(),
            last_claim: None,
        }
    }

    /// A handle on the shared connection.
    pub(crate) fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// The bus's settings.
    pub fn config(&self) -> &RedisBusConfig {
        &self.config
    }

    /// How many entries the stream holds now.
    pub async fn stream_len(&self) -> redis::RedisResult<usize> {
        let mut conn = self.conn.clone();
        conn.xlen(&self.config.stream).await
    }

    /// The dead letters: (entry id of the letter, the reason, the original entry id).
    pub async fn dead_letters(&self) -> redis::RedisResult<Vec<(String, String, String)>> {
        let mut conn = self.conn.clone();
        let reply: redis::streams::StreamRangeReply =
            conn.xrange_all(&self.config.dead_letter_stream).await?;
        Ok(reply
            .ids
            .into_iter()
            .map(|entry| {
                let text = |field: &str| entry.get::<String>(field).unwrap_or_default();
                (entry.id.clone(), text("reason"), text("entry"))
            })
            .collect())
    }
}

impl SpanBus for RedisBus {
    type Subscription = RedisSubscription;

    async fn publish(&self, batch: SpanBatch) -> Result<(), PublishError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(PublishError::Closed);
        }
        let payload = encode(&batch)
            .map_err(|e| PublishError::Unavailable(format!("cannot encode the batch: {e}")))?;
        let mut conn = self.conn.clone();
        let added = tokio::time::timeout(
            self.config.timeout,
            conn.xadd_maxlen::<_, _, _, _, String>(
                &self.config.stream,
                StreamMaxlen::Approx(self.config.max_len),
                "*",
                &[(BATCH_FIELD, payload)],
            ),
        )
        .await;
        match added {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(PublishError::Unavailable(format!(
                "Redis refused XADD: {e}"
            ))),
            Err(_) => Err(PublishError::Unavailable(format!(
                "Redis did not answer XADD within {} ms",
                self.config.timeout.as_millis()
            ))),
        }
    }

    fn subscribe(&self, group: &str) -> Result<RedisSubscription, SubscribeError> {
        let consumer = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        Ok(self.subscribe_as(group, &consumer))
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    async fn check(&self) -> Result<(), String> {
        let mut conn = self.conn.clone();
        let pinged = tokio::time::timeout(
            self.config.timeout,
            redis::cmd("PING").query_async::<String>(&mut conn),
        )
        .await;
        match pinged {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(format!(
                "Redis at {} refused PING: {error}",
                self.config.url
            )),
            Err(_) => Err(format!(
                "Redis at {} did not answer PING within {} ms",
                self.config.url,
                self.config.timeout.as_millis()
            )),
        }
    }

    fn describe(&self) -> String {
        format!("Redis stream {} at {}", self.config.stream, self.config.url)
    }
}

/// One consumer of one group of a [`RedisBus`].
pub struct RedisSubscription {
    bus: RedisBus,
    group: String,
    consumer: String,
    /// Decoded batches read but not handed out yet.
    ready: VecDeque<(String, Arc<SpanBatch>)>,
    /// Entry ids handed out and not acknowledged yet.
    unacked: Vec<String>,
    last_claim: Option<Instant>,
}

impl RedisSubscription {
    /// Reads more entries into `ready`: first those a dead consumer left idle (every
    /// `claim_idle`), then new ones, waiting up to `block`. Returns whether any arrived.
    async fn fill(&mut self) -> redis::RedisResult<bool> {
        let block = self.bus.config.block;
        self.fill_within(block).await
    }

    /// [`fill`](Self::fill), waiting up to `block` for new entries.
    async fn fill_within(&mut self, block: Duration) -> redis::RedisResult<bool> {
        let config = Arc::clone(&self.bus.config);
        let mut conn = self.bus.conn.clone();
        let claim_due = self
            .last_claim
            .is_none_or(|at| at.elapsed() >= config.claim_idle / 2);
        if claim_due {
            self.last_claim = Some(Instant::now());
            let claimed: StreamAutoClaimReply = conn
                .xautoclaim_options(
                    &config.stream,
                    &self.group,
                    &self.consumer,
                    config.claim_idle.as_millis() as usize,
                    "0-0",
                    StreamAutoClaimOptions::default().count(config.read_count),
                )
                .await?;
            if !claimed.claimed.is_empty() {
                for entry in claimed.claimed {
                    self.take(entry, true).await?;
                }
                return Ok(!self.ready.is_empty());
            }
        }
        let options = StreamReadOptions::default()
            .group(&self.group, &self.consumer)
            .count(config.read_count)
            .block(block.as_millis().max(1) as usize);
        let reply: Option<StreamReadReply> = conn
            .xread_options(&[&config.stream], &[">"], &options)
            .await?;
        for key in reply.map(|r| r.keys).unwrap_or_default() {
            for entry in key.ids {
                self.take(entry, false).await?;
            }
        }
        Ok(!self.ready.is_empty())
    }

    /// Decodes one entry into `ready`, or moves it to the dead letters. A `claimed` entry (taken
    /// over from another consumer) may have been delivered before; a new one was not.
    async fn take(&mut self, entry: StreamId, claimed: bool) -> redis::RedisResult<()> {
        let config = Arc::clone(&self.bus.config);
        let mut conn = self.bus.conn.clone();
        let deliveries = if claimed {
            self.deliveries(&entry.id).await?
        } else {
            1
        };
        let decoded = entry
            .get::<Vec<u8>>(BATCH_FIELD)
            .ok_or_else(|| format!("the entry has no `{BATCH_FIELD}` field"))
            .and_then(|bytes| {
                rmp_serde::from_slice::<SpanBatch>(&bytes)
                    .map_err(|e| format!("the batch is not MessagePack of a span batch: {e}"))
            });
        let reason = match decoded {
            Ok(_) if deliveries > config.max_deliveries => format!(
                "delivered {deliveries} times to group {} without an ack",
                self.group
            ),
            Ok(batch) => {
                self.ready.push_back((entry.id, Arc::new(batch)));
                return Ok(());
            }
            Err(reason) => reason,
        };
        let _: String = conn
            .xadd(
                &config.dead_letter_stream,
                "*",
                &[
                    ("reason", reason.as_str()),
                    ("entry", entry.id.as_str()),
                    ("group", self.group.as_str()),
                ],
            )
            .await?;
        let _: usize = conn.xack(&config.stream, &self.group, &[&entry.id]).await?;
        tracing::warn!(
            entry = %entry.id,
            stream = %config.stream,
            group = %self.group,
            dead_letter_stream = %config.dead_letter_stream,
            %reason,
            "an entry failed too often and moved to the dead-letter stream"
        );
        Ok(())
    }

    /// How many times the group has delivered the pending entry `id`.
    async fn deliveries(&self, id: &str) -> redis::RedisResult<usize> {
        let mut conn = self.bus.conn.clone();
        let pending: StreamPendingCountReply = conn
            .xpending_count(&self.bus.config.stream, &self.group, id, id, 1)
            .await?;
        Ok(pending.ids.first().map_or(1, |p| p.times_delivered))
    }

    /// Whether the bus is closed and nothing more is waiting for this consumer.
    fn finished(&self) -> bool {
        self.bus.closed.load(Ordering::Acquire) && self.ready.is_empty()
    }
}

/// Entries of one group handed out and not acknowledged yet, taken out of their subscription
/// ([`SpanSubscription::take_received`]): `XACK`ed by their ids, whatever the subscription
/// received meanwhile.
pub struct RedisReceived {
    conn: ConnectionManager,
    config: Arc<RedisBusConfig>,
    group: String,
    ids: Vec<String>,
}

impl Received for RedisReceived {
    async fn ack(self) {
        if self.ids.is_empty() {
            return;
        }
        let mut conn = self.conn;
        let acked: redis::RedisResult<usize> =
            conn.xack(&self.config.stream, &self.group, &self.ids).await;
        if let Err(error) = acked {
            // Unacknowledged entries are redelivered later; the workers' effects are idempotent.
            tracing::warn!(
                group = %self.group,
                entries = self.ids.len(),
                %error,
                "XACK failed; the entries will be redelivered"
            );
        }
    }
}

impl SpanSubscription for RedisSubscription {
    type Received = RedisReceived;

    fn take_received(&mut self) -> RedisReceived {
        RedisReceived {
            conn: self.bus.conn.clone(),
            config: Arc::clone(&self.bus.config),
            group: self.group.clone(),
            ids: std::mem::take(&mut self.unacked),
        }
    }

    fn closing(&self) -> Closing {
        Closing::of(Arc::clone(&self.bus.closed))
    }

    async fn next(&mut self) -> Option<Arc<SpanBatch>> {
        loop {
            if let Some((id, batch)) = self.ready.pop_front() {
                self.unacked.push(id);
                return Some(batch);
            }
            match self.fill().await {
                Ok(true) => continue,
                // Closed and the stream had nothing more for us: the end of this consumer.
                Ok(false) if self.finished() => return None,
                Ok(false) => continue,
                Err(error) if error.code() == Some("NOGROUP") => {
                    // Redis lost the group (restarted without persistence, or the stream was
                    // deleted): declare it again, from the start of what the stream holds.
                    tracing::warn!(
                        group = %self.group,
                        stream = %self.bus.config.stream,
                        "the consumer group is gone (Redis restarted without persistence?); \
                         declaring it again"
                    );
                    let mut conn = self.bus.conn.clone();
                    let created: redis::RedisResult<()> = conn
                        .xgroup_create_mkstream(&self.bus.config.stream, &self.group, "0")
                        .await;
                    if let Err(error) = created
                        && error.code() != Some("BUSYGROUP")
                    {
                        tracing::warn!(
                            group = %self.group,
                            %error,
                            "cannot declare the consumer group; retrying"
                        );
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
                Err(error) => {
                    tracing::warn!(
                        stream = %self.bus.config.stream,
                        group = %self.group,
                        %error,
                        "reading the stream failed; retrying"
                    );
                    if self.finished() {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    fn is_durable(&self) -> bool {
        true
    }

    fn is_closed(&self) -> bool {
        self.bus.closed.load(Ordering::Acquire)
    }

    fn try_next(&mut self) -> Option<Arc<SpanBatch>> {
        let (id, batch) = self.ready.pop_front()?;
        self.unacked.push(id);
        Some(batch)
    }

    async fn next_within(&mut self, within: Duration) -> Option<Arc<SpanBatch>> {
        if self.ready.is_empty() {
            // One blocking read, never cancelled: an entry Redis delivers is always taken.
            if let Err(error) = self.fill_within(within).await {
                tracing::warn!(
                    stream = %self.bus.config.stream,
                    group = %self.group,
                    %error,
                    "reading the stream failed"
                );
            }
        }
        self.try_next()
    }

    async fn ack(&mut self) {
        self.take_received().ack().await;
    }
}
