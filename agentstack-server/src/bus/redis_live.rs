//! The live side of the Redis bus, for roles in separate processes: the API's live tail reads
//! `spans.ingest` with plain `XREAD` (no consumer group, from the newest entry on), and alerts
//! travel on their own stream, `alerts.live`, from the process that stored them to every API.

use std::time::Duration;

use agentstack_exporter_sqlite::store::AlertRecord;
use redis::AsyncCommands;
use redis::streams::{StreamMaxlen, StreamReadOptions, StreamReadReply};

use super::SpanBatch;
use super::redis::{BATCH_FIELD, RedisBus};
use crate::live::{AlertFeed, LiveFeed};

/// The stream of new alerts.
pub const ALERTS_STREAM: &str = "alerts.live";
/// `alerts.live` is trimmed to about this many entries: it is a feed, not a store.
const ALERTS_STREAM_MAX_LEN: usize = 10_000;
/// The field of an `alerts.live` entry that holds the alerts (MessagePack).
const ALERTS_FIELD: &str = "alerts";

impl RedisBus {
    /// Adds `alerts` (newly stored) to `alerts.live`; a failure is reported, not returned: the
    /// alerts are stored, only their live push is lost.
    pub async fn publish_alerts(&self, alerts: &[AlertRecord]) {
        let payload = match rmp_serde::to_vec_named(alerts) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::warn!(
                    stream = ALERTS_STREAM,
                    %error,
                    "cannot encode alerts for the live stream; they are stored, not pushed live"
                );
                return;
            }
        };
        let mut conn = self.connection();
        let added: redis::RedisResult<String> = conn
            .xadd_maxlen(
                ALERTS_STREAM,
                StreamMaxlen::Approx(ALERTS_STREAM_MAX_LEN),
                "*",
                &[(ALERTS_FIELD, payload)],
            )
            .await;
        if let Err(error) = added {
            tracing::warn!(
                stream = ALERTS_STREAM,
                alerts = alerts.len(),
                %error,
                "XADD of alerts failed; they are stored, not pushed live"
            );
        }
    }

    /// Publishes on `feed` every span batch added to the ingest stream from now on, until `feed`
    /// is closed. The live tail of an API that has no writer in its process: batches show when
    /// accepted, a moment before they are queryable.
    pub async fn tail_spans(&self, feed: LiveFeed) {
        let stream = self.config().stream.clone();
        self.tail(
            &stream,
            BATCH_FIELD,
            feed.closed_signal(),
            |bytes| match rmp_serde::from_slice::<SpanBatch>(bytes) {
                Ok(batch) => feed.publish(std::sync::Arc::new(vec![std::sync::Arc::new(batch)])),
                Err(error) => {
                    tracing::warn!(%stream, %error, "live tail: an entry is no span batch")
                }
            },
        )
        .await;
    }

    /// Publishes on `feed` every alert added to `alerts.live` from now on, until `feed` is
    /// closed.
    pub async fn tail_alerts(&self, feed: AlertFeed) {
        self.tail(ALERTS_STREAM, ALERTS_FIELD, feed.closed_signal(), |bytes| {
            match rmp_serde::from_slice::<Vec<AlertRecord>>(bytes) {
                Ok(alerts) => feed.publish(std::sync::Arc::new(alerts)),
                Err(error) => {
                    tracing::warn!(
                        stream = ALERTS_STREAM,
                        %error,
                        "live alerts: an entry is no alert list"
                    );
                }
            }
        })
        .await;
    }

    /// `XREAD BLOCK` on `stream` from its newest entry on, handing each entry's `field` to
    /// `each`, until `closed` turns true. Redis errors are reported and retried.
    async fn tail(
        &self,
        stream: &str,
        field: &str,
        mut closed: tokio::sync::watch::Receiver<bool>,
        mut each: impl FnMut(&[u8]) + Send,
    ) {
        let mut last = "$".to_string();
        let block = self.config().block;
        loop {
            if *closed.borrow() {
                return;
            }
            let mut conn = self.connection();
            let options = StreamReadOptions::default()
                .count(64)
                .block(block.as_millis() as usize);
            let (streams, ids) = ([stream], [last.as_str()]);
            let read = tokio::select! {
                read = conn.xread_options::<_, _, Option<StreamReadReply>>(&streams, &ids, &options) => read,
                _ = closed.wait_for(|closed| *closed) => return,
            };
            match read {
                Ok(reply) => {
                    for key in reply.map(|r| r.keys).unwrap_or_default() {
                        for entry in key.ids {
                            if let Some(bytes) = entry.get::<Vec<u8>>(field) {
                                each(&bytes);
                            }
                            last = entry.id;
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(%stream, %error, "live tail: XREAD failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
}
