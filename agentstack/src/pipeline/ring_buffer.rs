//! The bounded, lock-free buffer between the threads that end spans and the export thread.
//!
//! Pushing never blocks and never allocates beyond the span's own box: when the buffer is full
//! the span is handed back and the caller counts it as dropped.

use crossbeam_queue::ArrayQueue;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::trace::SpanData;

use crate::observed::RawSpan;

/// A finished span of either origin. Both are boxed so that the buffer's fixed allocation is
/// two words per slot, not one `SpanData` per slot.
#[derive(Debug)]
pub(crate) enum FinishedSpan {
    /// From `#[observe]`: converted to `SpanData` on the export thread.
    Observed(Box<RawSpan>),
    /// From the OpenTelemetry SDK tracer (`tracing` spans through tracing-opentelemetry).
    Sdk(Box<SpanData>),
}

/// Finished spans waiting for export.
#[derive(Debug)]
pub(crate) struct SpanRingBuffer {
    queue: ArrayQueue<FinishedSpan>,
}

impl SpanRingBuffer {
    pub(crate) fn new(capacity: usize) -> SpanRingBuffer {
        SpanRingBuffer {
            queue: ArrayQueue::new(capacity.max(1)),
        }
    }

    /// Adds a span; gives it back when the buffer is full.
    #[inline]
    pub(crate) fn push(&self, span: FinishedSpan) -> Result<(), FinishedSpan> {
        self.queue.push(span)
    }

    /// Takes up to `max` spans, oldest first, as `SpanData` (observed spans get `scope`).
    pub(crate) fn pop_batch(&self, max: usize, scope: &InstrumentationScope) -> Vec<SpanData> {
        let mut batch = Vec::with_capacity(max.min(self.queue.len()));
        while batch.len() < max {
            match self.queue.pop() {
                Some(FinishedSpan::Observed(mut span)) => {
                    batch.push(span.take_span_data(scope));
                    crate::observed::recycle(span);
                }
                Some(FinishedSpan::Sdk(span)) => batch.push(*span),
                None => break,
            }
        }
        batch
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
}
