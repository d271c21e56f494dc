//! The bounded, lock-free buffer between the threads that end spans and the export thread.
//!
//! Pushing never blocks and never allocates beyond the span's own box: when the buffer is full
//! the span is handed back and the caller counts it as dropped.

use crossbeam_queue::ArrayQueue;
use opentelemetry_sdk::trace::SpanData;

/// Finished spans waiting for export. Spans are boxed so that the buffer's fixed allocation is
/// one pointer per slot, not one `SpanData` per slot.
#[derive(Debug)]
pub(crate) struct SpanRingBuffer {
    queue: ArrayQueue<Box<SpanData>>,
}

impl SpanRingBuffer {
    pub(crate) fn new(capacity: usize) -> SpanRingBuffer {
        SpanRingBuffer {
            queue: ArrayQueue::new(capacity.max(1)),
        }
    }

    /// Adds a span; gives it back when the buffer is full.
    #[inline]
    pub(crate) fn push(&self, span: SpanData) -> Result<(), Box<SpanData>> {
        self.queue.push(Box::new(span))
    }

    /// Takes up to `max` spans, oldest first.
    pub(crate) fn pop_batch(&self, max: usize) -> Vec<SpanData> {
        let mut batch = Vec::with_capacity(max.min(self.queue.len()));
        while batch.len() < max {
            match self.queue.pop() {
                Some(span) => batch.push(*span),
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
