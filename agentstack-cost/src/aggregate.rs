//! Cost aggregates for the cost worker: [`CostMetrics`] (cost, tokens, span counts) summed per
//! [`CostMetricKey`] (project, model, agent, UTC hour) by a [`CostAggregator`], then drained
//! into the store's `cost_metrics` rows. Sums are exact, so an hour's cost is the sum of its
//! spans' costs to the femtodollar, and rows of the same key merge by addition.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::cost::SpanCost;
use crate::money::Usd;

/// Seconds in an hour.
const HOUR_SECONDS: i64 = 3600;

/// The grouping of one `cost_metrics` row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CostMetricKey {
    /// The project.
    pub project: String,
    /// The model as the span named it (empty when it named none).
    pub model: String,
    /// The agent the span worked for (empty when unknown).
    pub agent: String,
    /// The start of the UTC hour, seconds since the Unix epoch.
    pub hour_unix_seconds: i64,
}

impl CostMetricKey {
    /// The key of a span that ended at `end_unix_nanos`.
    pub fn new(
        project: &str,
        model: Option<&str>,
        agent: Option<&str>,
        end_unix_nanos: i64,
    ) -> Self {
        CostMetricKey {
            project: project.to_string(),
            model: model.unwrap_or_default().to_string(),
            agent: agent.unwrap_or_default().to_string(),
            hour_unix_seconds: hour_start(end_unix_nanos),
        }
    }
}

/// The start of the UTC hour holding `unix_nanos`, in seconds (floored for times before 1970).
pub fn hour_start(unix_nanos: i64) -> i64 {
    unix_nanos
        .div_euclid(1_000_000_000)
        .div_euclid(HOUR_SECONDS)
        * HOUR_SECONDS
}

/// What a group of spans cost and used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostMetrics {
    /// The kept cost of the spans (the producer's where it sent one).
    pub cost: Usd,
    /// Of `cost`, the part that rests on estimated tokens.
    pub estimated_cost: Usd,
    /// Input tokens (OTel accounting: cached included).
    pub input_tokens: u64,
    /// Output tokens (reasoning included).
    pub output_tokens: u64,
    /// Input tokens read from the cache.
    pub cache_read_tokens: u64,
    /// Input tokens written to the cache.
    pub cache_write_tokens: u64,
    /// Reasoning output tokens.
    pub reasoning_tokens: u64,
    /// Spans counted.
    pub spans: u64,
    /// Of them, spans with a cost (ours or the producer's).
    pub priced_spans: u64,
    /// Of them, spans whose cost rests on estimated tokens.
    pub estimated_spans: u64,
}

impl CostMetrics {
    /// Counts one priced (or unpriced) span.
    pub fn add(&mut self, cost: &SpanCost) {
        self.spans += 1;
        if let Some(usage) = cost.usage() {
            self.input_tokens += usage.input;
            self.output_tokens += usage.output;
            self.cache_read_tokens += usage.cache_read;
            self.cache_write_tokens += usage.cache_write;
            self.reasoning_tokens += usage.reasoning;
        }
        if let Some(kept) = cost.kept_cost() {
            self.cost += kept;
            self.priced_spans += 1;
            if cost.estimated() {
                self.estimated_cost += kept;
                self.estimated_spans += 1;
            }
        }
    }

    /// Adds another group's figures (two rows of the same key).
    pub fn merge(&mut self, other: &CostMetrics) {
        self.cost += other.cost;
        self.estimated_cost += other.estimated_cost;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.reasoning_tokens += other.reasoning_tokens;
        self.spans += other.spans;
        self.priced_spans += other.priced_spans;
        self.estimated_spans += other.estimated_spans;
    }
}

/// Sums span costs per key between two flushes of the cost worker.
#[derive(Debug, Clone, Default)]
pub struct CostAggregator {
    groups: FxHashMap<CostMetricKey, CostMetrics>,
}

impl CostAggregator {
    /// An empty aggregator.
    pub fn new() -> CostAggregator {
        CostAggregator::default()
    }

    /// Counts one span under `key`.
    pub fn add(&mut self, key: CostMetricKey, cost: &SpanCost) {
        self.groups.entry(key).or_default().add(cost);
    }

    /// The figures of one key so far.
    pub fn get(&self, key: &CostMetricKey) -> Option<&CostMetrics> {
        self.groups.get(key)
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Takes every group out, sorted by key (for a deterministic write), leaving it empty.
    pub fn drain(&mut self) -> Vec<(CostMetricKey, CostMetrics)> {
        let mut rows: Vec<_> = self.groups.drain().collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    }
}
