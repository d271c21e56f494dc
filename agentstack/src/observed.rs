//! The span type behind `#[observe]`: a minimal OpenTelemetry `Span` with nothing on its hot
//! path but ids, two timestamps and the attributes set at run time.
//!
//! Static facts (name, kind, `gen_ai.operation.name`, function) stay in the function's
//! `SpanMeta` and become attributes only on the export thread. The span lives in the
//! OpenTelemetry `Context` like any other, so `genai::record_*`, `tracing` spans (through
//! tracing-opentelemetry) and the OpenTelemetry API all see it as the current span and parent.

use std::borrow::Cow;
use std::sync::LazyLock;
use std::time::SystemTime;

use crossbeam_queue::ArrayQueue;

use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind as OtelSpanKind, Status, TraceContextExt, TraceFlags,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SpanData, SpanEvents, SpanLinks};

use crate::genai::attr;
use crate::span::{SpanKind, SpanMeta};
use crate::{inherit, pipeline};

/// What an observed span has recorded; boxed, it travels through the ring buffer as is.
#[derive(Debug)]
pub(crate) struct RawSpan {
    pub(crate) meta: &'static SpanMeta,
    pub(crate) name: Option<Cow<'static, str>>,
    pub(crate) span_context: SpanContext,
    pub(crate) parent_span_id: SpanId,
    pub(crate) parent_is_remote: bool,
    pub(crate) start_time: SystemTime,
    pub(crate) end_time: SystemTime,
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) events: Vec<Event>,
    pub(crate) links: Vec<Link>,
    pub(crate) status: Status,
}

/// The OpenTelemetry `Span` stored in the context while the observed call runs.
#[derive(Debug)]
pub(crate) struct LightSpan {
    span_context: SpanContext,
    data: Option<Box<RawSpan>>,
}

/// Starts a span for `meta` as a child of `parent`.
pub(crate) fn start(meta: &'static SpanMeta, parent: &Context) -> LightSpan {
    let parent_span = parent.span();
    let parent_context = parent_span.span_context();
    let generator = RandomIdGenerator::default();
    let (trace_id, parent_span_id, trace_state, parent_is_remote) = if parent_context.is_valid() {
        (
            parent_context.trace_id(),
            parent_context.span_id(),
            parent_context.trace_state().clone(),
            parent_context.is_remote(),
        )
    } else {
        (
            generator.new_trace_id(),
            SpanId::INVALID,
            Default::default(),
            false,
        )
    };
    let span_context = SpanContext::new(
        trace_id,
        generator.new_span_id(),
        TraceFlags::SAMPLED,
        false,
        trace_state,
    );
    let inherited = inherit::inherited_by(parent, span_context.span_id());
    let mut data = match RECYCLED.pop() {
        Some(mut data) => {
            // The vectors were drained on the export thread and keep their capacity.
            data.meta = meta;
            data.name = None;
            data.span_context = span_context.clone();
            data.parent_span_id = parent_span_id;
            data.parent_is_remote = parent_is_remote;
            data.status = Status::Unset;
            data
        }
        None => Box::new(RawSpan {
            meta,
            name: None,
            span_context: span_context.clone(),
            parent_span_id,
            parent_is_remote,
            start_time: SystemTime::UNIX_EPOCH,
            end_time: SystemTime::UNIX_EPOCH,
            attributes: Vec::new(),
            events: Vec::new(),
            links: Vec::new(),
            status: Status::Unset,
        }),
    };
    if let Some(inherited) = inherited {
        data.attributes.extend(inherited);
    }
    data.start_time = SystemTime::now();
    LightSpan {
        span_context,
        data: Some(data),
    }
}

/// Boxes of exported spans, handed back by the export thread for the next spans to reuse.
///
/// Allocating on the traced thread and freeing on the export thread is the slow case of most
/// allocators (glibc's above all); recycling the box and its vectors' capacity keeps both the
/// allocation and the free off the hot path. Bounded: past it, boxes are simply freed.
static RECYCLED: LazyLock<ArrayQueue<Box<RawSpan>>> = LazyLock::new(|| ArrayQueue::new(4096));

/// Returns an exported span's box (its vectors already drained) for reuse.
pub(crate) fn recycle(span: Box<RawSpan>) {
    let _ = RECYCLED.push(span);
}

impl opentelemetry::trace::Span for LightSpan {
    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        T: Into<Cow<'static, str>>,
    {
        if let Some(data) = &mut self.data {
            data.events.push(Event::new(name, timestamp, attributes, 0));
        }
    }

    fn span_context(&self) -> &SpanContext {
        &self.span_context
    }

    fn is_recording(&self) -> bool {
        self.data.is_some()
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        if let Some(data) = &mut self.data {
            // Setting a key again replaces it (record_input after the macro's capture, say).
            match data
                .attributes
                .iter_mut()
                .find(|kv| kv.key == attribute.key)
            {
                Some(existing) => *existing = attribute,
                None => data.attributes.push(attribute),
            }
        }
    }

    fn set_status(&mut self, status: Status) {
        if let Some(data) = &mut self.data {
            // As the specification orders them: Ok > Error > Unset; a status never goes down.
            let rank = |s: &Status| match s {
                Status::Unset => 0,
                Status::Error { .. } => 1,
                Status::Ok => 2,
            };
            if rank(&status) >= rank(&data.status) {
                data.status = status;
            }
        }
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        if let Some(data) = &mut self.data {
            data.name = Some(new_name.into());
        }
    }

    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        if let Some(data) = &mut self.data {
            data.links.push(Link::new(span_context, attributes, 0));
        }
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        if let Some(mut data) = self.data.take() {
            data.end_time = timestamp;
            inherit::on_end(data.span_context.span_id());
            pipeline::submit_observed(data);
        }
    }
}

impl Drop for LightSpan {
    fn drop(&mut self) {
        // Ended already in the normal case; a span dropped unended still reaches the export.
        if self.data.is_some() {
            opentelemetry::trace::Span::end(self);
        }
    }
}

impl RawSpan {
    /// The span as the OpenTelemetry SDK would have made it: static attributes from the meta
    /// first, then those set at run time. Runs on the export thread; drains the vectors so that
    /// the box can be recycled with their capacity.
    pub(crate) fn take_span_data(&mut self, scope: &InstrumentationScope) -> SpanData {
        let meta = self.meta;
        let mut attributes = Vec::with_capacity(self.attributes.len() + 4);
        attributes.push(KeyValue::new(attr::CODE_FUNCTION, meta.function));
        if let Some(kind) = meta.kind {
            attributes.push(KeyValue::new(attr::SPAN_KIND, kind.as_str()));
            if let Some(operation) = kind.operation_name() {
                attributes.push(KeyValue::new(attr::OPERATION_NAME, operation));
            }
            match kind {
                SpanKind::Agent => attributes.push(KeyValue::new(attr::AGENT_NAME, meta.name)),
                SpanKind::Tool => attributes.push(KeyValue::new(attr::TOOL_NAME, meta.name)),
                _ => {}
            }
        }
        // A run-time value of the same key (a renamed agent, say) wins over the static one.
        attributes.retain(|kv| !self.attributes.iter().any(|dynamic| dynamic.key == kv.key));
        attributes.append(&mut self.attributes);
        let mut events = SpanEvents::default();
        events.events = self.events.drain(..).collect();
        let mut links = SpanLinks::default();
        links.links = self.links.drain(..).collect();
        SpanData {
            span_context: self.span_context.clone(),
            parent_span_id: self.parent_span_id,
            parent_span_is_remote: self.parent_is_remote,
            span_kind: meta
                .kind
                .map_or(OtelSpanKind::Internal, SpanKind::otel_kind),
            name: self.name.take().unwrap_or(Cow::Borrowed(meta.name)),
            start_time: self.start_time,
            end_time: self.end_time,
            attributes,
            dropped_attributes_count: 0,
            events,
            links,
            status: std::mem::replace(&mut self.status, Status::Unset),
            instrumentation_scope: scope.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Span as _, TraceId};

    static META: SpanMeta = SpanMeta {
        name: "search",
        kind: Some(SpanKind::Tool),
        function: "tests::search",
        capture_input: true,
        capture_output: true,
    };

    fn take(span: &mut LightSpan) -> RawSpan {
        *span.data.take().unwrap()
    }

    #[test]
    fn a_root_gets_a_new_trace_and_a_child_keeps_its_parents_trace() {
        let mut root = start(&META, &Context::new());
        assert_ne!(root.span_context().trace_id(), TraceId::INVALID);
        let root_context = root.span_context().clone();
        // A parent that came from another process (a propagated `traceparent`).
        let remote = SpanContext::new(
            root_context.trace_id(),
            root_context.span_id(),
            TraceFlags::SAMPLED,
            true,
            Default::default(),
        );
        let parent = Context::new().with_remote_span_context(remote);
        let mut child = start(&META, &parent);
        let child_data = take(&mut child);
        assert_eq!(child_data.span_context.trace_id(), root_context.trace_id());
        assert_eq!(child_data.parent_span_id, root_context.span_id());
        assert!(child_data.parent_is_remote);
        assert_ne!(child_data.span_context.span_id(), root_context.span_id());
        take(&mut root);
    }

    #[test]
    fn static_attributes_come_from_the_meta_and_run_time_ones_win() {
        let mut span = start(&META, &Context::new());
        span.set_attribute(KeyValue::new(attr::TOOL_NAME, "renamed"));
        span.set_attribute(KeyValue::new("x", 1));
        span.set_attribute(KeyValue::new("x", 2));
        span.set_status(Status::Ok);
        span.set_status(Status::error("later error does not replace Ok"));
        let data = take(&mut span).take_span_data(&InstrumentationScope::builder("t").build());
        let get = |key: &str| {
            data.attributes
                .iter()
                .filter(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(get(attr::SPAN_KIND), ["tool"]);
        assert_eq!(get(attr::OPERATION_NAME), ["execute_tool"]);
        assert_eq!(get(attr::TOOL_NAME), ["renamed"]);
        assert_eq!(get("x"), ["2"]);
        assert_eq!(data.status, Status::Ok);
        assert_eq!(data.name, "search");
    }
}
