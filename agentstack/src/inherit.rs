//! Attributes that child spans inherit from their ancestors: session (`gen_ai.conversation.id`)
//! and user (`user.id`).
//!
//! `set_session` / `set_user` set the attribute on the current span and remember it by span id;
//! the span processor copies it onto every span started under a remembered one, `#[observe]` and
//! `tracing` spans alike. Until the first call nothing is remembered and the hot path only reads
//! one atomic flag.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex};

use opentelemetry::trace::{Span as _, SpanId, TraceContextExt};
use opentelemetry::{Context, KeyValue};

struct InheritedAttributes {
    in_use: AtomicBool,
    by_span: Mutex<HashMap<SpanId, Vec<KeyValue>>>,
}

static INHERITED: LazyLock<InheritedAttributes> = LazyLock::new(|| InheritedAttributes {
    in_use: AtomicBool::new(false),
    by_span: Mutex::new(HashMap::new()),
});

/// Sets `key = value` on the current span and on every span started under it from now on.
pub(crate) fn set_inherited(key: &'static str, value: &str) {
    let cx = Context::current();
    let span = cx.span();
    let span_id = span.span_context().span_id();
    if span_id == SpanId::INVALID {
        crate::diag::debug(format_args!("{key} set outside any span: ignored"));
        return;
    }
    let kv = KeyValue::new(key, value.to_string());
    span.set_attribute(kv.clone());
    INHERITED.in_use.store(true, Ordering::Release);
    let mut by_span = INHERITED.by_span.lock().unwrap_or_else(|e| e.into_inner());
    let attributes = by_span.entry(span_id).or_default();
    attributes.retain(|existing| existing.key != kv.key);
    attributes.push(kv);
}

/// What a span being started under `parent` inherits; remembers it for the span's own children.
#[inline]
pub(crate) fn inherited_by(parent: &Context, child: SpanId) -> Option<Vec<KeyValue>> {
    if !INHERITED.in_use.load(Ordering::Acquire) {
        return None;
    }
    let parent_id = parent.span().span_context().span_id();
    if parent_id == SpanId::INVALID {
        return None;
    }
    let mut by_span = INHERITED.by_span.lock().unwrap_or_else(|e| e.into_inner());
    let attributes = by_span.get(&parent_id).cloned()?;
    by_span.insert(child, attributes.clone());
    Some(attributes)
}

/// Copies what the parent carries onto an SDK span being started (`tracing` spans).
#[inline]
pub(crate) fn on_start(span: &mut opentelemetry_sdk::trace::Span, parent: &Context) {
    let child = span.span_context().span_id();
    for kv in inherited_by(parent, child).unwrap_or_default() {
        span.set_attribute(kv);
    }
}

/// Forgets an ended span.
#[inline]
pub(crate) fn on_end(span_id: SpanId) {
    if !INHERITED.in_use.load(Ordering::Acquire) {
        return;
    }
    INHERITED
        .by_span
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&span_id);
}
