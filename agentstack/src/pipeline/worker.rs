//! The export thread: takes batches from the ring buffer, scrubs them, and hands them to the
//! sink: one OTLP request per batch (with retries and the spool), or the local SQLite file.
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

use super::{Control, Shared};
use crate::delivery::OtlpDelivery;
use crate::local::LocalStore;
use crate::sanitize::SpanSanitizer;

/// Where the export thread sends batches.
pub(crate) enum Sink {
    /// OTLP/HTTP with retries and the spool.
    Otlp {
        delivery: OtlpDelivery,
        resource: ResourceAttributesWithSchema,
    },
    /// The local SQLite trace file.
    Local {
        store: LocalStore,
        service_name: Option<String>,
    },
}

pub(crate) struct ExportWorker {
    pub(crate) shared: Arc<Shared>,
    pub(crate) sink: Sink,
    pub(crate) sanitizer: Option<SpanSanitizer>,
    pub(crate) max_export_batch: usize,
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
                    self.export_waiting(false, false);
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self.shared.ring.len() == 0 {
                        self.idle();
                    }
                    self.export_waiting(true, false);
                    next_flush = Instant::now() + interval;
                }
                Ok(Control::Flush(reply)) => {
                    self.export_waiting(true, false);
                    let _ = reply.send(());
                }
                Ok(Control::Shutdown(reply)) => {
                    self.export_waiting(true, true);
                    let _ = reply.send(());
                    return;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.export_waiting(true, true);
                    return;
                }
            }
        }
    }

    /// Exports what waits: everything when `all`, else full batches of `flush_every_spans`.
    fn export_waiting(&mut self, all: bool, shutting_down: bool) {
        loop {
            let waiting = self.shared.ring.len();
            if waiting == 0 || (!all && waiting < self.shared.flush_every_spans) {
                return;
            }
            let batch = self
                .shared
                .ring
                .pop_batch(self.max_export_batch, &self.shared.scope);
            if batch.is_empty() {
                return;
            }
            self.export(batch, shutting_down);
        }
    }

    fn idle(&mut self) {
        if let Sink::Otlp { delivery, .. } = &mut self.sink {
            delivery.idle();
        }
    }

    fn export(&mut self, mut batch: Vec<SpanData>, shutting_down: bool) {
        if let Some(sanitizer) = &self.sanitizer {
            for span in &mut batch {
                sanitizer.sanitize(span);
            }
        }
        match &mut self.sink {
            Sink::Otlp { delivery, resource } => {
                let spans = batch.len() as u64;
                delivery.deliver(encode_request(batch, resource), spans, shutting_down);
            }
            Sink::Local {
                store,
                service_name,
            } => store.write(batch, service_name.as_deref()),
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
