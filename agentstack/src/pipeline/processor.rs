//! The OpenTelemetry `SpanProcessor` that hands finished spans to the ring buffer.
//!
//! Runs on the thread that ends the span, so it only pushes and, every `flush_every_spans`
//! spans, wakes the export thread; it never waits for it. Flush and shutdown are the only
//! calls that wait, and only up to their timeout.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

use super::{Control, FinishedSpan, Shared};
use crate::inherit;

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
        self.shared.submit(FinishedSpan::Sdk(Box::new(span)));
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.ask_worker(Control::Flush, self.shared.flush_timeout)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.ask_worker(Control::Shutdown, timeout)
    }
}
