//! Prometheus metrics (prometheus-client): what each process of the pipeline counts — spans
//! accepted and rejected by the collector, spans written and the writer's batch latency — and,
//! on the Redis bus, the stream's length, each consumer group's lag and pending entries and the
//! dead letters, read from Redis when `/metrics` is scraped.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use redis::AsyncCommands;
use redis::streams::StreamInfoGroupsReply;

use crate::bus::RedisBus;

/// A consumer group's label.
type GroupLabel = Vec<(&'static str, String)>;

/// The metrics of one process. Share one `Arc<Metrics>` between its stages.
pub struct Metrics {
    registry: Registry,
    /// Spans the collector put in the bus.
    pub spans_accepted: Counter,
    /// Spans the collector refused once decoded (invalid ids, or the bus full or down when
    /// they were published). A request refused before its body is decoded (malformed,
    /// unauthenticated, or arriving while the in-process bus is full) counts no spans.
    pub spans_rejected: Counter,
    /// Spans the writer stored for the first time.
    pub spans_written: Counter,
    /// Seconds per store write of the writer.
    pub write_seconds: Histogram,
    stream_length: Gauge,
    dead_letters: Gauge,
    group_lag: Family<GroupLabel, Gauge>,
    group_pending: Family<GroupLabel, Gauge>,
    /// The Redis bus and the groups to report, when there is one.
    redis: Mutex<Option<(RedisBus, Vec<&'static str>)>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Every metric at zero.
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("agentstack");
        let spans_accepted = Counter::default();
        let spans_rejected = Counter::default();
        let spans_written = Counter::default();
        // 1 ms to ~16 s.
        let write_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        let stream_length = Gauge::default();
        let dead_letters = Gauge::default();
        let group_lag = Family::<GroupLabel, Gauge>::default();
        let group_pending = Family::<GroupLabel, Gauge>::default();
        registry.register(
            "spans_accepted",
            "Spans the collector put in the bus",
            spans_accepted.clone(),
        );
        registry.register(
            "spans_rejected",
            "Spans the collector refused once decoded (invalid ids, or the bus full or unreachable at publish)",
            spans_rejected.clone(),
        );
        registry.register(
            "spans_written",
            "Spans the writer stored for the first time",
            spans_written.clone(),
        );
        registry.register(
            "write_batch_seconds",
            "How long one store write of the writer took",
            write_seconds.clone(),
        );
        registry.register(
            "stream_length",
            "Entries in the Redis ingest stream",
            stream_length.clone(),
        );
        registry.register(
            "dead_letters",
            "Entries in the Redis dead-letter stream",
            dead_letters.clone(),
        );
        registry.register(
            "consumer_group_lag",
            "Entries of the ingest stream not yet delivered to the consumer group",
            group_lag.clone(),
        );
        registry.register(
            "consumer_group_pending",
            "Entries delivered to the consumer group and not acknowledged yet",
            group_pending.clone(),
        );
        Arc::new(Metrics {
            registry,
            spans_accepted,
            spans_rejected,
            spans_written,
            write_seconds,
            stream_length,
            dead_letters,
            group_lag,
            group_pending,
            redis: Mutex::new(None),
        })
    }

    /// Reports the Redis bus's stream and `groups` at each scrape.
    pub fn watch_redis(&self, bus: RedisBus, groups: Vec<&'static str>) {
        *self.redis.lock().unwrap_or_else(PoisonError::into_inner) = Some((bus, groups));
    }

    /// Records one write of the writer.
    pub fn observe_write(&self, took: Duration, new_spans: usize) {
        self.write_seconds.observe(took.as_secs_f64());
        self.spans_written.inc_by(new_spans as u64);
    }

    /// The metrics in Prometheus's text format, the Redis ones read now.
    pub async fn render(&self) -> String {
        let redis = self
            .redis
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some((bus, groups)) = redis
            && let Err(error) = self.sample_redis(&bus, &groups).await
        {
            tracing::warn!(%error, "metrics: reading Redis failed; its gauges keep their last values");
        }
        let mut text = String::new();
        if let Err(error) = encode(&mut text, &self.registry) {
            text = format!("# cannot encode the metrics: {error}\n");
        }
        text
    }

    async fn sample_redis(
        &self,
        bus: &RedisBus,
        groups: &[&'static str],
    ) -> redis::RedisResult<()> {
        let config = bus.config();
        let mut conn = bus.connection();
        let length: usize = conn.xlen(&config.stream).await?;
        self.stream_length.set(length as i64);
        let dead: usize = conn.xlen(&config.dead_letter_stream).await?;
        self.dead_letters.set(dead as i64);
        let info: StreamInfoGroupsReply = conn.xinfo_groups(&config.stream).await?;
        for group in info.groups {
            let mine = groups.is_empty() || groups.contains(&group.name.as_str());
            if !mine {
                continue;
            }
            let label = vec![("group", group.name.clone())];
            self.group_pending
                .get_or_create(&label)
                .set(group.pending as i64);
            if let Some(lag) = group.lag {
                self.group_lag.get_or_create(&label).set(lag as i64);
            }
        }
        Ok(())
    }
}
