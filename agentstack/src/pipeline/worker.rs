//! The export thread: takes batches from the ring buffer, scrubs them, encodes them as one OTLP
//! request each and sends them.
//!
//! It wakes when `flush_every_spans` spans wait, every `flush_interval`, and on flush or shutdown.
//! All I/O of the SDK happens here, never on the threads being traced.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Instant;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::trace::SpanData;
use prost::Message as _;

use super::{COUNTERS, Control, Shared};
use crate::diag;
use crate::otlp_http::OtlpHttpExporter;
use crate::sanitize::SpanSanitizer;

pub(crate) struct ExportWorker {
    pub(crate) shared: Arc<Shared>,
    pub(crate) exporter: OtlpHttpExporter,
    pub(crate) sanitizer: Option<SpanSanitizer>,
    pub(crate) resource: ResourceAttributesWithSchema,
    pub(crate) max_export_batch: usize,
    /// Whether the last export failed, so that only changes of state are logged.
    pub(crate) failing: bool,
}

impl ExportWorker {
    pub(crate) fn run(mut self, control: Receiver<Control>) {
        let interval = self.shared.flush_interval;
        let mut next_flush = Instant::now() + interval;
        loop {
            let wait = next_flush.saturating_duration_since(Instant::now());
            match control.recv_timeout(wait) {
                Ok(Control::Wake) => {
                    self.shared.wake_pending.store(false, Ordering::Release);
                    self.export_waiting(false);
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.export_waiting(true);
                    next_flush = Instant::now() + interval;
                }
                Ok(Control::Flush(reply)) => {
                    self.export_waiting(true);
                    let _ = reply.send(());
                }
                Ok(Control::Shutdown(reply)) => {
                    self.export_waiting(true);
                    let _ = reply.send(());
                    return;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.export_waiting(true);
                    return;
                }
            }
        }
    }

    /// Exports what waits: everything when `all`, else full batches of `flush_every_spans`.
    fn export_waiting(&mut self, all: bool) {
        loop {
            let waiting = self.shared.ring.len();
            if waiting == 0 || (!all && waiting < self.shared.flush_every_spans) {
                return;
            }
            let batch = self.shared.ring.pop_batch(self.max_export_batch);
            if batch.is_empty() {
                return;
            }
            self.export(batch);
        }
    }

    fn export(&mut self, mut batch: Vec<SpanData>) {
        let count = batch.len() as u64;
        if let Some(sanitizer) = &self.sanitizer {
            for span in &mut batch {
                sanitizer.sanitize(span);
            }
        }
        let body = encode_request(batch, &self.resource);
        match self.exporter.send(&body) {
            Ok(outcome) => {
                let rejected = outcome.rejected_spans.min(count);
                COUNTERS
                    .exported
                    .fetch_add(count - rejected, Ordering::Relaxed);
                if rejected > 0 {
                    COUNTERS.failed.fetch_add(rejected, Ordering::Relaxed);
                    diag::warn(format_args!(
                        "the collector rejected {rejected} of {count} spans: {}",
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
            Err(error) => {
                COUNTERS.failed.fetch_add(count, Ordering::Relaxed);
                if !self.failing {
                    self.failing = true;
                    diag::warn(format_args!("{count} spans not exported: {error}"));
                } else {
                    diag::debug(format_args!("{count} spans not exported: {error}"));
                }
            }
        }
    }
}

/// One OTLP `ExportTraceServiceRequest`, protobuf-encoded.
pub(crate) fn encode_request(
    batch: Vec<SpanData>,
    resource: &ResourceAttributesWithSchema,
) -> Vec<u8> {
    let request = ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(batch, resource),
    };
    request.encode_to_vec()
}
