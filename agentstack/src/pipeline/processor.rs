//! The OpenTelemetry `SpanProcessor` that hands finished spans to the ring buffer.
//!
//! Runs on the thread that ends the span, so it only pushes and, every `flush_every_spans`
//! spans, wakes the export thread; it never waits for it. Flush and shutdown are the only
//! calls that wait, and only up to their timeout.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

use super::{COUNTERS, Control, Shared};
use crate::{diag, inherit};

#[derive(Debug)]
pub(crate) struct RingBufferProcessor {
    pub(crate) shared: Arc<Shared>,
}

impl RingBufferProcessor {
    fn ask_worker(
        &self,
        make: impl FnOnce(mpsc::Sender<()>) -> Control,
        timeout: Duration,
    ) -> OTelSdkResult {
        let (reply_tx, reply_rx) = mpsc::channel();
        if self.shared.control.send(make(reply_tx)).is_err() {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        reply_rx
            .recv_timeout(timeout)
            .map_err(|_| OTelSdkError::Timeout(timeout))
    }
}

impl SpanProcessor for RingBufferProcessor {
    #[inline]
    fn on_start(&self, span: &mut Span, cx: &Context) {
        inherit::on_start(span, cx);
    }

    #[inline]
    fn on_end(&self, span: SpanData) {
        inherit::on_end(span.span_context.span_id());
        COUNTERS.recorded.fetch_add(1, Ordering::Relaxed);
        if self.shared.ring.push(span).is_err() {
            COUNTERS.dropped.fetch_add(1, Ordering::Relaxed);
            if !COUNTERS.drop_warned.swap(true, Ordering::Relaxed) {
                diag::warn(format_args!(
                    "the span buffer is full ({} spans): spans are being dropped; agentstack::stats() counts them. \
                     Raise buffer_capacity or check that the endpoint keeps up",
                    self.shared.capacity
                ));
            }
            return;
        }
        if self.shared.ring.len() >= self.shared.flush_every_spans
            && !self.shared.wake_pending.swap(true, Ordering::AcqRel)
        {
            let _ = self.shared.control.send(Control::Wake);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.ask_worker(Control::Flush, self.shared.flush_timeout)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.ask_worker(Control::Shutdown, timeout)
    }
}
