//! Carrying the current trace across threads and tasks.
//!
//! Inside an observed function the current span lives in a thread-local context, which a new
//! thread or a spawned task does not see. These helpers capture it where the work is handed off
//! and make it current again where the work runs, so the spans there join the same tree.

use std::future::Future;

use opentelemetry::Context;
use opentelemetry::context::{FutureExt as _, WithContext};
use opentelemetry::trace::TraceContextExt as _;

/// The trace context of the current span, to carry to where work continues.
#[derive(Debug, Clone)]
pub struct TraceContext(Context);

/// Captures the current trace context.
pub fn current_trace() -> TraceContext {
    TraceContext(Context::current())
}

impl TraceContext {
    /// Runs `f` with this context current.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.0.clone().attach();
        f()
    }

    /// Wraps `future` so that every poll runs with this context current.
    pub fn wrap<F: Future>(&self, future: F) -> WithContext<F> {
        future.with_context(self.0.clone())
    }

    /// The trace id (32 hex digits) of the current span, if there is one.
    pub fn trace_id(&self) -> Option<String> {
        let span = self.0.span();
        let span_context = span.span_context();
        span_context
            .is_valid()
            .then(|| span_context.trace_id().to_string())
    }

    /// The OpenTelemetry context, for code that uses the OpenTelemetry API directly.
    pub fn as_otel(&self) -> &Context {
        &self.0
    }
}

/// `future.in_current_trace()`: the future runs in the trace that is current where it was made.
/// Use it when handing a future to a runtime: `tokio::spawn(work().in_current_trace())`.
pub trait InCurrentTrace: Future + Sized {
    /// Wraps the future with the current trace context.
    fn in_current_trace(self) -> WithContext<Self> {
        self.with_context(Context::current())
    }
}

impl<F: Future> InCurrentTrace for F {}

/// `std::thread::spawn` that carries the current trace into the new thread.
pub fn spawn_thread<F, T>(f: F) -> std::thread::JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let trace = current_trace();
    std::thread::spawn(move || trace.in_scope(f))
}

/// `tokio::spawn` that carries the current trace into the task.
#[cfg(feature = "tokio")]
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.in_current_trace())
}
