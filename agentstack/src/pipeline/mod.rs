//! The export pipeline and its lifecycle: `init` starts it, the guard (or `shutdown`) stops it.
//!
//! ```text
//! span ends ─► RingBufferProcessor ─► SpanRingBuffer ─► ExportWorker thread ─► OtlpHttpExporter
//! ```
//!
//! One pipeline runs per process at a time. It is published through an `ArcSwapOption` so that
//! the hot path reads it with one atomic load and no lock.

mod processor;
mod ring_buffer;
mod worker;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use opentelemetry::InstrumentationScope;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Key, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

use crate::config::{Config, ExportMode};
use crate::delivery::OtlpDelivery;
use crate::diag;
use crate::local::LocalStore;
use crate::sanitize::SpanSanitizer;
use processor::RingBufferProcessor;
use ring_buffer::{FinishedSpan, SpanRingBuffer};
use worker::{ExportWorker, Sink};

/// Messages to the export thread.
pub(crate) enum Control {
    /// Enough spans wait for a batch.
    Wake,
    /// Export everything now and answer.
    Flush(mpsc::Sender<()>),
    /// Export everything, answer, and stop.
    Shutdown(mpsc::Sender<()>),
}

/// State shared by the processor (span-ending threads) and the export thread.
#[derive(Debug)]
pub(crate) struct Shared {
    ring: SpanRingBuffer,
    capacity: usize,
    flush_every_spans: usize,
    flush_interval: Duration,
    flush_timeout: Duration,
    wake_pending: AtomicBool,
    control: mpsc::Sender<Control>,
    /// The instrumentation scope of `#[observe]` spans.
    scope: InstrumentationScope,
}

impl Shared {
    /// Hands a finished span to the export thread; never blocks. A full buffer drops the span
    /// and counts it (with one warning per process).
    #[inline]
    pub(crate) fn submit(&self, span: FinishedSpan) {
        let recorded = COUNTERS.recorded.0.fetch_add(1, Ordering::Relaxed) + 1;
        if self.ring.push(span).is_err() {
            COUNTERS.dropped.fetch_add(1, Ordering::Relaxed);
            if !COUNTERS.drop_warned.swap(true, Ordering::Relaxed) {
                diag::warn(format_args!(
                    "the span buffer is full ({} spans): spans are being dropped; agentstack::stats() counts them. \
                     Raise buffer_capacity or check that the endpoint keeps up",
                    self.capacity
                ));
            }
            return;
        }
        // Every `flush_every_spans` spans, wake the export thread (it exports whole batches).
        // Counting here instead of reading the queue's length keeps the consumer's cache line
        // off the hot path.
        if recorded.is_multiple_of(self.flush_every_spans as u64)
            && !self.wake_pending.swap(true, Ordering::AcqRel)
        {
            let _ = self.control.send(Control::Wake);
        }
    }
}

/// Hands an ended `#[observe]` span to the running pipeline (dropped if it stopped meanwhile).
#[inline]
pub(crate) fn submit_observed(span: Box<crate::observed::RawSpan>) {
    if let Some(pipeline) = active() {
        pipeline.shared.submit(FinishedSpan::Observed(span));
    }
}

/// Process-wide counters; they outlive a pipeline so that totals can be read after shutdown.
pub(crate) struct Counters {
    /// Written by every traced thread: on a cache line of its own, away from the counters the
    /// export thread writes.
    pub(crate) recorded: CacheLine<AtomicU64>,
    pub(crate) exported: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) spooled: AtomicU64,
    pub(crate) replayed: AtomicU64,
    pub(crate) evicted: AtomicU64,
    drop_warned: AtomicBool,
}

/// Aligns a value to its own cache line (128 bytes covers adjacent-line prefetching).
#[repr(align(128))]
pub(crate) struct CacheLine<T>(pub(crate) T);

pub(crate) static COUNTERS: Counters = Counters {
    recorded: CacheLine(AtomicU64::new(0)),
    exported: AtomicU64::new(0),
    dropped: AtomicU64::new(0),
    failed: AtomicU64::new(0),
    spooled: AtomicU64::new(0),
    replayed: AtomicU64::new(0),
    evicted: AtomicU64::new(0),
    drop_warned: AtomicBool::new(false),
};

/// What happened to the spans of this process so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Spans that ended while a pipeline ran.
    pub recorded: u64,
    /// Spans the endpoint accepted.
    pub exported: u64,
    /// Spans dropped because the buffer was full.
    pub dropped: u64,
    /// Spans that could not be delivered and will not be: refused by the collector as
    /// permanent, rejected in a partial success, or lost with no spool to keep them.
    pub failed: u64,
    /// Spans waiting in the buffer now.
    pub queued: u64,
    /// Spans put in the spool because the collector could not be reached.
    pub spooled: u64,
    /// Spooled spans (of this run or an earlier one) delivered later; also counted in `exported`.
    pub replayed: u64,
    /// Spooled spans dropped because the spool was over its size cap.
    pub evicted: u64,
}

/// Counts of recorded, exported, dropped and failed spans.
pub fn stats() -> Stats {
    Stats {
        recorded: COUNTERS.recorded.0.load(Ordering::Relaxed),
        exported: COUNTERS.exported.load(Ordering::Relaxed),
        dropped: COUNTERS.dropped.load(Ordering::Relaxed),
        failed: COUNTERS.failed.load(Ordering::Relaxed),
        spooled: COUNTERS.spooled.load(Ordering::Relaxed),
        replayed: COUNTERS.replayed.load(Ordering::Relaxed),
        evicted: COUNTERS.evicted.load(Ordering::Relaxed),
        queued: ACTIVE
            .load()
            .as_ref()
            .map_or(0, |p| p.shared.ring.len() as u64),
    }
}

/// The running pipeline.
pub(crate) struct Pipeline {
    /// The SDK tracer for `tracing` spans (`tracing_layer`).
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    tracer: SdkTracer,
    provider: SdkTracerProvider,
    config: Config,
    shared: Arc<Shared>,
}

impl Pipeline {
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }
}

static ACTIVE: ArcSwapOption<Pipeline> = ArcSwapOption::const_empty();
/// Serializes start and shutdown; never taken on the hot path.
static LIFECYCLE: Mutex<()> = Mutex::new(());
/// Live guards of the running pipeline; the last one to drop shuts it down.
static GUARDS: AtomicUsize = AtomicUsize::new(0);

/// A read of the running pipeline.
pub(crate) struct ActivePipeline(arc_swap::Guard<Option<Arc<Pipeline>>>);

impl std::ops::Deref for ActivePipeline {
    type Target = Pipeline;
    fn deref(&self) -> &Pipeline {
        // `active()` only builds an ActivePipeline around `Some`.
        self.0.as_deref().expect("ActivePipeline holds a pipeline")
    }
}

/// The running pipeline, if any.
#[inline]
pub(crate) fn active() -> Option<ActivePipeline> {
    let guard = ACTIVE.load();
    guard.is_some().then(|| ActivePipeline(guard))
}

pub(crate) fn max_capture_bytes() -> usize {
    active().map_or(Config::default().max_capture_bytes, |p| {
        p.config.max_capture_bytes
    })
}

/// The tracer for `tracing_layer`: the running pipeline's, else one that records nothing.
#[cfg(feature = "tracing")]
pub(crate) fn tracer_for_layer() -> SdkTracer {
    match active() {
        Some(pipeline) => pipeline.tracer.clone(),
        None => {
            diag::warn(format_args!(
                "tracing_layer() was called before agentstack::init(): its spans go nowhere"
            ));
            SdkTracerProvider::builder().build().tracer("agentstack")
        }
    }
}

/// Keeps tracing running; dropping the last guard flushes and shuts down.
#[derive(Debug)]
#[must_use = "dropping the guard flushes and shuts down tracing at once"]
pub struct AgentStackGuard {
    holds_pipeline: bool,
}

impl AgentStackGuard {
    pub(crate) fn disabled() -> AgentStackGuard {
        AgentStackGuard {
            holds_pipeline: false,
        }
    }

    /// Whether this guard keeps a running pipeline alive (false when the configuration was
    /// refused).
    pub fn is_active(&self) -> bool {
        self.holds_pipeline
    }
}

impl Drop for AgentStackGuard {
    fn drop(&mut self) {
        if !self.holds_pipeline {
            return;
        }
        let _lifecycle = LIFECYCLE.lock().unwrap_or_else(|e| e.into_inner());
        // Saturating: an explicit `shutdown()` may have zeroed the count already.
        let previous = GUARDS
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(1))
            })
            .unwrap_or(0);
        if previous == 1 {
            shutdown_locked();
        }
    }
}

/// Starts the pipeline, or returns another guard of the one already running.
pub(crate) fn start(config: Config) -> AgentStackGuard {
    let _lifecycle = LIFECYCLE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(running) = ACTIVE.load_full() {
        if running.config != config {
            diag::warn(format_args!(
                "agentstack::init() called again with another configuration: the first one stays"
            ));
        }
        GUARDS.fetch_add(1, Ordering::AcqRel);
        return AgentStackGuard {
            holds_pipeline: true,
        };
    }
    let sanitizer = match SpanSanitizer::from_config(&config) {
        Ok(sanitizer) => sanitizer,
        Err(error) => {
            diag::error(format_args!("tracing is off: {error}"));
            return AgentStackGuard::disabled();
        }
    };
    let resource = build_resource(&config);
    let (control_tx, control_rx) = mpsc::channel();
    let scope = InstrumentationScope::builder("agentstack")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    let shared = Arc::new(Shared {
        ring: SpanRingBuffer::new(config.buffer_capacity),
        capacity: config.buffer_capacity,
        flush_every_spans: config.flush_every_spans,
        flush_interval: config.flush_interval,
        flush_timeout: config.export_timeout + Duration::from_secs(1),
        wake_pending: AtomicBool::new(false),
        control: control_tx,
        scope: scope.clone(),
    });
    let sink = match &config.mode {
        ExportMode::Otlp => Sink::Otlp {
            delivery: OtlpDelivery::new(&config),
            resource: (&resource).into(),
        },
        ExportMode::Local { path } => Sink::Local {
            store: LocalStore::new(path.clone()),
            service_name: resource
                .get(&Key::from_static_str("service.name"))
                .map(|v| v.as_str().into_owned()),
        },
    };
    let worker = ExportWorker {
        shared: Arc::clone(&shared),
        sink,
        sanitizer,
        max_export_batch: config.max_export_batch,
    };
    let spawned = std::thread::Builder::new()
        .name("agentstack-export".into())
        .spawn(move || worker.run(control_rx));
    if let Err(error) = spawned {
        diag::error(format_args!(
            "tracing is off: could not start the export thread: {error}"
        ));
        return AgentStackGuard::disabled();
    }
    let provider = SdkTracerProvider::builder()
        .with_span_processor(RingBufferProcessor {
            shared: Arc::clone(&shared),
        })
        .with_resource(resource)
        .build();
    let tracer = provider.tracer_with_scope(scope);
    opentelemetry::global::set_tracer_provider(provider.clone());
    diag::info(format_args!(
        "exporting spans to {}",
        config.traces_endpoint
    ));
    ACTIVE.store(Some(Arc::new(Pipeline {
        tracer,
        provider,
        config,
        shared,
    })));
    GUARDS.store(1, Ordering::Release);
    AgentStackGuard {
        holds_pipeline: true,
    }
}

fn build_resource(config: &Config) -> Resource {
    // Resource::builder() reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES itself.
    let mut builder = Resource::builder();
    if let Some(name) = &config.service_name {
        builder = builder.with_service_name(name.clone());
    }
    builder
        .with_attributes(
            config
                .resource_attributes
                .iter()
                .map(|(key, value)| KeyValue::new(key.clone(), value.clone())),
        )
        .build()
}

/// Exports every span that has ended, waiting up to the export timeout.
pub fn flush() {
    if let Some(pipeline) = active()
        && let Err(error) = pipeline.provider.force_flush()
    {
        diag::warn(format_args!("flush did not finish: {error}"));
    }
}

/// Flushes and stops the pipeline now, whatever guards are still alive; `#[observe]` records
/// nothing afterwards until `init` is called again.
pub fn shutdown() {
    let _lifecycle = LIFECYCLE.lock().unwrap_or_else(|e| e.into_inner());
    GUARDS.store(0, Ordering::Release);
    shutdown_locked();
}

fn shutdown_locked() {
    let Some(pipeline) = ACTIVE.swap(None) else {
        return;
    };
    let timeout = pipeline.config.shutdown_timeout;
    if let Err(error) = pipeline.provider.shutdown_with_timeout(timeout) {
        diag::warn(format_args!(
            "shutdown did not finish within {timeout:?}: {error}"
        ));
    }
    let totals = stats();
    let mut message = format!(
        "{} spans recorded, {} exported, {} dropped (buffer full), {} failed",
        totals.recorded, totals.exported, totals.dropped, totals.failed
    );
    if totals.spooled > 0 || totals.replayed > 0 {
        message.push_str(&format!(
            "; {} spooled, {} replayed from the spool, {} evicted from it",
            totals.spooled, totals.replayed, totals.evicted
        ));
    }
    if totals.dropped > 0 || totals.failed > 0 || totals.evicted > 0 {
        diag::warn(format_args!("{message}"));
    } else {
        diag::info(format_args!("{message}"));
    }
}
