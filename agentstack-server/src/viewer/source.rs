//! Where the viewer reads traces: the SQLite trace file (local mode, or the file of
//! `agentstack serve`) or the REST API of a running `agentstack serve` (`--server URL`). Both
//! answer in the store's types, so every command renders the same way whatever the source.
//! Costs come beside them ([`Cost`]): computed at read time with the bundled prices for a
//! file, the API's own `cost_usd` for a server.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use agentstack_cost::{Pricing, SpanCost};
use agentstack_exporter_sqlite::{SpanRecord, SqliteSpanStore, TraceFilter, TraceSummary};
use agentstack_server::workers::cost::price_record;
use anyhow::Result;

/// What a trace or a span cost, as the viewer shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cost {
    /// Exact femtodollars (from the API: its `cost_usd`, rounded to the millionth).
    pub femtos: i128,
    /// Whether it rests on tokens estimated from the text (shown with `~`).
    pub estimated: bool,
    /// How it was worked out, for `show --span`: the matched model and the parts.
    pub detail: Option<String>,
}

impl Cost {
    /// The cost of one priced span (`None` when it has none).
    pub fn of_span(cost: &SpanCost) -> Option<Cost> {
        let femtos = cost.kept_cost()?.femtos();
        let detail = match cost {
            SpanCost::Priced(b) => {
                let rule = serde_json::to_value(b.rule)
                    .ok()
                    .and_then(|v| v.as_str().map(|r| r.replace('_', " ")))
                    .unwrap_or_default();
                let mut parts = vec![format!("priced as {} ({rule} match)", b.model)];
                for (name, usd, tokens) in [
                    ("input", b.input, b.tokens.input),
                    ("cache read", b.cache_read, b.tokens.cache_read),
                    ("cache write", b.cache_write, b.tokens.cache_write),
                    ("output", b.output, b.tokens.output),
                    ("reasoning", b.reasoning, b.tokens.reasoning),
                ] {
                    if tokens > 0 {
                        parts.push(format!("{name} {tokens} tok ${usd}"));
                    }
                }
                if let Some(producer) = b.producer_cost {
                    parts.push(format!(
                        "producer's cost ${producer} kept (ours ${}{})",
                        b.total,
                        if b.differs { ", they differ" } else { "" }
                    ));
                }
                Some(parts.join(" · "))
            }
            SpanCost::Unpriced(_) => Some("the producer's own cost".to_string()),
        };
        Some(Cost {
            femtos,
            estimated: cost.estimated(),
            detail,
        })
    }

    /// The sum of `costs`; `None` when there are none.
    pub fn sum<'a>(costs: impl IntoIterator<Item = &'a Cost>) -> Option<Cost> {
        costs.into_iter().fold(None, |sum: Option<Cost>, cost| {
            let (femtos, estimated) = sum.map_or((0, false), |s| (s.femtos, s.estimated));
            Some(Cost {
                femtos: femtos + cost.femtos,
                estimated: estimated || cost.estimated,
                detail: None,
            })
        })
    }
}

/// The bundled prices, loaded once: what a trace file's spans are priced with at read time.
fn bundled_pricing() -> &'static Pricing {
    static PRICING: OnceLock<Pricing> = OnceLock::new();
    PRICING.get_or_init(Pricing::bundled)
}

/// Each priced span of `spans` by span id, priced with the bundled table.
pub fn price_spans(spans: &[SpanRecord]) -> HashMap<String, Cost> {
    spans
        .iter()
        .filter_map(|span| {
            let cost = price_record(span, bundled_pricing())?;
            Some((span.span_id.clone(), Cost::of_span(&cost)?))
        })
        .collect()
}

/// What the viewer's commands read.
pub trait TraceSource {
    /// The most recent traces that pass `filter`, newest first.
    fn recent_traces(&self, filter: &TraceFilter) -> Result<Vec<TraceSummary>>;

    /// Whether the source holds any trace at all (to tell "empty" from "nothing matches").
    fn has_traces(&self) -> Result<bool>;

    /// Every span of the trace whose id is `trace_id` or starts with it, ordered by start time
    /// then span id; empty when there is no such trace (a source may say so as an error).
    fn trace(&self, trace_id: &str) -> Result<Vec<SpanRecord>>;

    /// For `tail`: the traces that changed recently (since `since_unix_nanos`), oldest first.
    fn traces_updated_since(&self, since_unix_nanos: i64) -> Result<Vec<TraceSummary>>;

    /// The source in words, for messages: the file's path, or the server's URL.
    fn describe(&self) -> String;

    /// What each of `traces` cost, by trace id (those with a priced span).
    fn trace_costs(&self, traces: &[TraceSummary]) -> Result<HashMap<String, Cost>>;

    /// What each span of one trace (as [`trace`](Self::trace) returned it) cost, by span id.
    fn span_costs(&self, spans: &[SpanRecord]) -> HashMap<String, Cost>;
}

/// The trace file, read directly.
pub struct FileSource {
    store: SqliteSpanStore,
    path: PathBuf,
}

impl FileSource {
    pub fn open(path: &Path) -> Result<FileSource> {
        Ok(FileSource {
            store: SqliteSpanStore::open(path)?,
            path: path.to_path_buf(),
        })
    }
}

impl TraceSource for FileSource {
    fn recent_traces(&self, filter: &TraceFilter) -> Result<Vec<TraceSummary>> {
        Ok(self.store.recent_traces(filter)?)
    }

    fn has_traces(&self) -> Result<bool> {
        Ok(self.store.span_count()? > 0)
    }

    fn trace(&self, trace_id: &str) -> Result<Vec<SpanRecord>> {
        Ok(self.store.trace(trace_id)?)
    }

    fn traces_updated_since(&self, since_unix_nanos: i64) -> Result<Vec<TraceSummary>> {
        Ok(self.store.traces_updated_since(since_unix_nanos)?)
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    /// Computed now, with the bundled prices (a local trace file has no cost rows).
    fn trace_costs(&self, traces: &[TraceSummary]) -> Result<HashMap<String, Cost>> {
        let mut costs = HashMap::new();
        for trace in traces {
            let spans = self.store.trace(&trace.trace_id)?;
            if let Some(cost) = Cost::sum(price_spans(&spans).values()) {
                costs.insert(trace.trace_id.clone(), cost);
            }
        }
        Ok(costs)
    }

    fn span_costs(&self, spans: &[SpanRecord]) -> HashMap<String, Cost> {
        price_spans(spans)
    }
}
