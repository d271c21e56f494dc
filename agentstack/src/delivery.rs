//! Delivery that loses nothing: retries with backoff, the spool, and its replay.
//!
//! A batch is sent; a retryable failure (nothing answered, 429/502/503/504) is retried with
//! exponential backoff and jitter, honouring Retry-After; when retries run out the exact request
//! bytes go to the spool. A permanent refusal (400, 401, 403, 413, …) is logged with the
//! collector's message, counted as failed and never retried. Whenever the collector answers, the
//! spool is replayed oldest first; a batch leaves the spool only once the collector accepted it.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Duration;

use agentstack_exporter_sqlite::SqliteSpool;
use backon::{BackoffBuilder, ExponentialBuilder};

use crate::config::Config;
use crate::diag;
use crate::otlp_http::{ExportError, ExportOutcome, OtlpHttpExporter};
use crate::pipeline::COUNTERS;

/// Batches replayed per export cycle at most, so that live spans keep flowing.
const MAX_REPLAY_PER_CYCLE: usize = 32;
/// How long a claimed spool batch stays reserved for this process while it is being sent.
const REPLAY_LEASE: Duration = Duration::from_secs(15);

pub(crate) struct OtlpDelivery {
    exporter: OtlpHttpExporter,
    max_retries: usize,
    max_retry_delay: Duration,
    spool: Spool,
    /// Whether the last attempt failed, so that only changes of state are logged.
    failing: bool,
}

impl OtlpDelivery {
    pub(crate) fn new(config: &Config) -> OtlpDelivery {
        OtlpDelivery {
            exporter: OtlpHttpExporter::new(config),
            max_retries: config.max_retries,
            max_retry_delay: config.max_retry_delay,
            spool: Spool::new(config),
            failing: false,
        }
    }

    /// Delivers one encoded batch of `spans` spans. When `shutting_down`, there is no time for
    /// retries: a failed batch goes straight to the spool.
    pub(crate) fn deliver(&mut self, body: Vec<u8>, spans: u64, shutting_down: bool) {
        // Oldest first: what waits in the spool goes before the new batch. The replay is also
        // the probe: when it just failed, the collector is down and the batch goes straight to
        // the spool, without an attempt that could wait out a connect timeout per batch.
        if self.replay() == Replay::CollectorDown {
            self.spool.push(body, spans);
            return;
        }
        // While the collector is known to be down, a batch is not retried: retrying each one
        // would only slow the export thread until the buffer overflows.
        let retries = if shutting_down || self.failing {
            0
        } else {
            self.max_retries
        };
        match self.send_with_retries(&body, retries) {
            Ok(outcome) => self.accepted(spans, &outcome),
            Err(error) if error.is_retryable() => {
                self.note_failure(spans, &error);
                self.spool.push(body, spans);
            }
            Err(error) => {
                COUNTERS.failed.fetch_add(spans, Ordering::Relaxed);
                diag::error(format_args!(
                    "the collector refused {spans} spans and they will not be retried: {error}"
                ));
            }
        }
    }

    /// Called when the export thread has nothing else to do: replays the spool if the collector
    /// answers again.
    pub(crate) fn idle(&mut self) {
        let _ = self.replay();
    }

    fn send_with_retries(&self, body: &[u8], retries: usize) -> Result<ExportOutcome, ExportError> {
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(self.max_retry_delay)
            .with_max_times(retries)
            .with_jitter()
            .build();
        loop {
            match self.exporter.send(body) {
                Err(error) if error.is_retryable() => {
                    let Some(delay) = backoff.next() else {
                        return Err(error);
                    };
                    let delay = error
                        .retry_after()
                        .map_or(delay, |asked| asked.min(self.max_retry_delay));
                    diag::debug(format_args!(
                        "export failed ({error}); retrying in {delay:?}"
                    ));
                    std::thread::sleep(delay);
                }
                other => return other,
            }
        }
    }

    fn accepted(&mut self, spans: u64, outcome: &ExportOutcome) {
        let rejected = outcome.rejected_spans.min(spans);
        COUNTERS
            .exported
            .fetch_add(spans - rejected, Ordering::Relaxed);
        if rejected > 0 {
            COUNTERS.failed.fetch_add(rejected, Ordering::Relaxed);
            diag::warn(format_args!(
                "the collector rejected {rejected} of {spans} spans: {}",
                outcome.message
            ));
        }
        if self.failing {
            self.failing = false;
            diag::info(format_args!(
                "export to {} works again",
                self.exporter.url()
            ));
        }
    }

    fn note_failure(&mut self, spans: u64, error: &ExportError) {
        if !self.failing {
            self.failing = true;
            diag::warn(format_args!(
                "{spans} spans not delivered, keeping them in the spool: {error}"
            ));
        }
    }

    /// Sends spooled batches, oldest first, until the spool is empty, the collector fails, or
    /// the per-cycle limit is reached.
    fn replay(&mut self) -> Replay {
        for _ in 0..MAX_REPLAY_PER_CYCLE {
            let Some(batch) = self.spool.claim() else {
                return Replay::Done;
            };
            match self.exporter.send(&batch.body) {
                Ok(outcome) => {
                    self.spool.ack(batch.id);
                    COUNTERS.replayed.fetch_add(batch.spans, Ordering::Relaxed);
                    self.accepted(batch.spans, &outcome);
                }
                Err(error) if error.is_retryable() => {
                    self.spool.release(batch.id);
                    if !self.failing {
                        self.failing = true;
                        diag::warn(format_args!("the spool waits for the collector: {error}"));
                    }
                    return Replay::CollectorDown;
                }
                Err(error) => {
                    // The collector will never take this batch: it leaves the spool, counted.
                    self.spool.ack(batch.id);
                    COUNTERS.failed.fetch_add(batch.spans, Ordering::Relaxed);
                    diag::error(format_args!(
                        "the collector refused {} spooled spans; they are dropped: {error}",
                        batch.spans
                    ));
                }
            }
        }
        Replay::Done
    }
}

/// How a replay ended.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
enum Replay {
    /// The spool is empty, or this cycle's share was sent.
    Done,
    /// The collector could not be reached: the batch went back to the spool.
    CollectorDown,
}

/// One batch taken out of the spool for sending.
struct ClaimedBatch {
    id: i64,
    body: Vec<u8>,
    spans: u64,
}

/// The spool: a SQLite file shared with other processes, or (when that file cannot be used) a
/// bounded queue in memory, so that a bad spool file never stops tracing.
enum Spool {
    Off,
    /// Not opened yet: opened on first use, or at the first replay if the file exists.
    Unopened {
        path: std::path::PathBuf,
        max_bytes: u64,
    },
    File(SqliteSpool),
    Memory(MemorySpool),
}

impl Spool {
    fn new(config: &Config) -> Spool {
        if config.spool {
            Spool::Unopened {
                path: config.spool_path.clone(),
                max_bytes: config.spool_max_bytes,
            }
        } else {
            Spool::Off
        }
    }

    /// Opens the file if needed; `create` is false for reads, so that no file appears before
    /// there is something to keep.
    fn open(&mut self, create: bool) {
        let Spool::Unopened { path, max_bytes } = self else {
            return;
        };
        if !create && !path.exists() {
            return;
        }
        let max_bytes = *max_bytes;
        *self = match SqliteSpool::open(&*path, max_bytes) {
            Ok(spool) => Spool::File(spool),
            Err(error) => {
                diag::error(format_args!(
                    "the spool file {} cannot be used ({error}); undelivered spans are kept in memory instead",
                    path.display()
                ));
                Spool::Memory(MemorySpool::new(max_bytes))
            }
        };
    }

    fn push(&mut self, body: Vec<u8>, spans: u64) {
        self.open(true);
        let evicted = match self {
            Spool::Off | Spool::Unopened { .. } => {
                COUNTERS.failed.fetch_add(spans, Ordering::Relaxed);
                return;
            }
            Spool::File(spool) => match spool.push(&body, spans) {
                Ok(evicted) => evicted.spans,
                Err(error) => {
                    diag::error(format_args!(
                        "writing to the spool failed ({error}); undelivered spans are kept in memory instead"
                    ));
                    let mut memory = MemorySpool::new(DEFAULT_MEMORY_SPOOL_BYTES);
                    let evicted = memory.push(body, spans);
                    *self = Spool::Memory(memory);
                    evicted
                }
            },
            Spool::Memory(memory) => memory.push(body, spans),
        };
        COUNTERS.spooled.fetch_add(spans, Ordering::Relaxed);
        if evicted > 0 {
            COUNTERS.evicted.fetch_add(evicted, Ordering::Relaxed);
            diag::warn(format_args!(
                "the spool is full: its oldest {evicted} spans were dropped"
            ));
        }
    }

    fn claim(&mut self) -> Option<ClaimedBatch> {
        self.open(false);
        match self {
            Spool::Off | Spool::Unopened { .. } => None,
            Spool::File(spool) => match spool.claim_oldest(REPLAY_LEASE) {
                Ok(batch) => batch.map(|b| ClaimedBatch {
                    id: b.id,
                    body: b.body,
                    spans: b.span_count,
                }),
                Err(error) => {
                    diag::debug(format_args!("reading the spool failed: {error}"));
                    None
                }
            },
            Spool::Memory(memory) => memory.claim(),
        }
    }

    fn ack(&mut self, id: i64) {
        match self {
            Spool::File(spool) => {
                if let Err(error) = spool.ack(id) {
                    diag::warn(format_args!(
                        "could not remove a delivered batch from the spool: {error}"
                    ));
                }
            }
            Spool::Memory(memory) => memory.ack(id),
            Spool::Off | Spool::Unopened { .. } => {}
        }
    }

    fn release(&mut self, id: i64) {
        match self {
            Spool::File(spool) => {
                // An unreleased lease expires by itself; nothing is lost.
                let _ = spool.release(id);
            }
            Spool::Memory(memory) => memory.release(id),
            Spool::Off | Spool::Unopened { .. } => {}
        }
    }
}

const DEFAULT_MEMORY_SPOOL_BYTES: u64 = 64 * 1024 * 1024;

/// The in-memory fallback: same order and cap rules as the file, lost at exit.
struct MemorySpool {
    batches: VecDeque<(i64, Vec<u8>, u64)>,
    claimed: Option<(i64, Vec<u8>, u64)>,
    bytes: u64,
    max_bytes: u64,
    next_id: i64,
}

impl MemorySpool {
    fn new(max_bytes: u64) -> MemorySpool {
        MemorySpool {
            batches: VecDeque::new(),
            claimed: None,
            bytes: 0,
            max_bytes,
            next_id: 1,
        }
    }

    /// Adds a batch; returns the spans evicted to stay under the cap.
    fn push(&mut self, body: Vec<u8>, spans: u64) -> u64 {
        self.bytes += body.len() as u64;
        self.batches.push_back((self.next_id, body, spans));
        self.next_id += 1;
        let mut evicted = 0;
        while self.bytes > self.max_bytes && self.batches.len() > 1 {
            if let Some((_, body, spans)) = self.batches.pop_front() {
                self.bytes -= body.len() as u64;
                evicted += spans;
            }
        }
        evicted
    }

    fn claim(&mut self) -> Option<ClaimedBatch> {
        if self.claimed.is_some() {
            return None;
        }
        let (id, body, spans) = self.batches.pop_front()?;
        self.claimed = Some((id, body.clone(), spans));
        Some(ClaimedBatch { id, body, spans })
    }

    fn ack(&mut self, id: i64) {
        if let Some((claimed_id, body, _)) = &self.claimed
            && *claimed_id == id
        {
            self.bytes -= body.len() as u64;
            self.claimed = None;
        }
    }

    fn release(&mut self, id: i64) {
        if let Some(claimed) = self.claimed.take_if(|(claimed_id, _, _)| *claimed_id == id) {
            self.batches.push_front(claimed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_spool_keeps_order_and_its_cap() {
        let mut spool = MemorySpool::new(10);
        assert_eq!(spool.push(vec![0; 4], 1), 0);
        assert_eq!(spool.push(vec![0; 4], 2), 0);
        assert_eq!(
            spool.push(vec![0; 4], 3),
            1,
            "the oldest batch goes past the cap"
        );
        let first = spool.claim().unwrap();
        assert_eq!(first.spans, 2);
        assert!(spool.claim().is_none(), "one batch is in flight at a time");
        spool.release(first.id);
        let again = spool.claim().unwrap();
        assert_eq!(again.id, first.id, "a released batch keeps its place");
        spool.ack(again.id);
        assert_eq!(spool.claim().unwrap().spans, 3);
    }
}
