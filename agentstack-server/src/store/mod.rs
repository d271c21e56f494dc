//! The span store behind the API, the workers and the API keys: one trait, [`Store`], with two
//! implementations — [`SqliteStore`] (embedded mode: `agentstack serve` on one file) and
//! [`ClickHouseStore`](agentstack_store_clickhouse::ClickHouseStore) (distributed mode). Every
//! consumer holds an `Arc<dyn Store>`, so the same handlers and workers run on either; the
//! shared store suite of `agentstack-store-clickhouse` proves the two answer alike.
//!
//! The methods are the stores' own, by the same names and types; [`StoreFailure`] carries
//! either store's error and says which kind of failure it is (a bad trace id, a malformed span,
//! a store that is busy or unreachable), which is all the callers need to decide.

mod clickhouse;
mod sqlite;

use std::collections::HashMap;
use std::sync::Arc;

use agentstack_exporter_sqlite::store::{
    AlertPage, AlertQuery, AlertRecord, Conversation, CostQuery, CostReport, SessionPage,
    SessionQuery, SpanCostRecord, SpanStats, StatsWindow, TraceAlerts, TraceCost, TracePage,
    TraceQuery, TraceSummary,
};
use agentstack_exporter_sqlite::{ApiKeyRecord, SpanRecord, StoreError};
use agentstack_store_clickhouse::ClickHouseStoreError;

use crate::bus::SpanBatch;
use crate::normalize::NormalizedSpan;

pub use sqlite::{CACHE_KIB, CHECKPOINT_INTERVAL, SqliteStore, WRITER_AUTOCHECKPOINT_PAGES};

/// The spans of `batches`, in order, as the stores' `insert_spans` take them.
fn spans_of(batches: &[Arc<SpanBatch>]) -> Vec<&NormalizedSpan> {
    batches.iter().flat_map(|batch| &batch.spans).collect()
}

/// What a store call gives back.
pub type StoreResult<T> = Result<T, StoreFailure>;

/// Why a store call failed: the error of the store that was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreFailure {
    /// The SQLite store failed.
    #[error(transparent)]
    Sqlite(#[from] StoreError),
    /// The ClickHouse store failed.
    #[error(transparent)]
    ClickHouse(#[from] ClickHouseStoreError),
    /// The blocking task that ran a SQLite call ended without an answer (it panicked).
    #[error("the store call failed: {0}; this is a bug, please report it with the log above")]
    Task(String),
}

impl StoreFailure {
    /// The trace id asked for is no trace id, or a prefix of several: the caller's mistake.
    pub fn is_bad_trace_id(&self) -> bool {
        matches!(
            self,
            StoreFailure::Sqlite(
                StoreError::InvalidTraceId { .. } | StoreError::AmbiguousTraceId { .. }
            ) | StoreFailure::ClickHouse(
                ClickHouseStoreError::InvalidTraceId { .. }
                    | ClickHouseStoreError::AmbiguousTraceId { .. }
            )
        )
    }

    /// A span of the batch is malformed; nothing of the batch was written, and writing it again
    /// will not help.
    pub fn is_malformed_span(&self) -> bool {
        matches!(
            self,
            StoreFailure::Sqlite(StoreError::InvalidSpan { .. })
                | StoreFailure::ClickHouse(ClickHouseStoreError::InvalidSpan { .. })
        )
    }

    /// The store could not be reached, or stayed locked: trying again later may pass.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreFailure::Sqlite(StoreError::Busy { .. })
                | StoreFailure::ClickHouse(ClickHouseStoreError::Unreachable { .. })
        )
    }
}

/// A span store: spans, their alerts, costs and links, and the API keys of its projects. Every
/// read takes the project it is scoped to (inside its query type, or as an argument).
#[async_trait::async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Where the store is, for messages ("SQLite file ./x.db", "ClickHouse at http://…").
    fn describe(&self) -> String;

    // Spans.
    /// Writes the spans of `batches` in one write, where they are (no copy into new records);
    /// returns how many were new (a repeat of a project, trace and span id is not written
    /// again). A malformed span refuses the whole write.
    async fn insert_spans(&self, batches: Arc<Vec<Arc<SpanBatch>>>) -> StoreResult<usize>;
    /// One page of the trace list.
    async fn trace_page(&self, query: &TraceQuery) -> StoreResult<TracePage>;
    /// The summaries of those of `trace_ids` that pass `query`'s filters (the live tail).
    async fn traces_matching(
        &self,
        query: &TraceQuery,
        trace_ids: &[String],
    ) -> StoreResult<Vec<TraceSummary>>;
    /// Every span of one trace (`trace_id` may be a unique prefix), in `project` if given.
    async fn trace_in_project(
        &self,
        project: Option<&str>,
        trace_id: &str,
    ) -> StoreResult<Vec<SpanRecord>>;
    /// Counts, error rate, latency percentiles and tokens over time.
    async fn stats(&self, window: &StatsWindow) -> StoreResult<SpanStats>;
    /// How many spans the store holds (the readiness check).
    async fn span_count(&self) -> StoreResult<i64>;
    /// One page of sessions.
    async fn session_page(&self, query: &SessionQuery) -> StoreResult<SessionPage>;
    /// The traces linked to `trace_id`, either way.
    async fn conversation(
        &self,
        project: &str,
        trace_id: &str,
    ) -> StoreResult<Option<Conversation>>;

    // Alerts.
    /// Stores `alerts`; returns those that were new (by their dedup key).
    async fn insert_alerts(&self, alerts: Vec<AlertRecord>) -> StoreResult<Vec<AlertRecord>>;
    /// One page of alerts.
    async fn alert_page(&self, query: &AlertQuery) -> StoreResult<AlertPage>;
    /// The alert counts and highest severity of each of `trace_ids`.
    async fn trace_alerts(
        &self,
        project: &str,
        trace_ids: &[String],
    ) -> StoreResult<HashMap<String, TraceAlerts>>;
    /// Whether an alert with `dedup_key` is stored.
    async fn alert_exists(&self, project: &str, dedup_key: &str) -> StoreResult<bool>;

    // Costs.
    /// Stores span costs; returns the positions of those that were new.
    async fn insert_span_costs(&self, costs: Arc<Vec<SpanCostRecord>>) -> StoreResult<Vec<usize>>;
    /// The cost of each of `trace_ids`.
    async fn trace_costs(
        &self,
        project: &str,
        trace_ids: &[String],
    ) -> StoreResult<HashMap<String, TraceCost>>;
    /// The cost of each span of one trace, by span id.
    async fn span_costs_of_trace(
        &self,
        project: &str,
        trace_id: &str,
    ) -> StoreResult<HashMap<String, SpanCostRecord>>;
    /// Costs grouped as `query` asks, with a time series.
    async fn cost_report(&self, query: &CostQuery) -> StoreResult<CostReport>;
    /// What `project` (or one user or session of it) spent since a time, in femtodollars.
    async fn cost_since(
        &self,
        project: &str,
        since_unix_nanos: i64,
        user_id: Option<&str>,
        session_id: Option<&str>,
    ) -> StoreResult<i128>;
    /// Replaces `project`'s price overrides (JSON).
    async fn set_price_overrides(
        &self,
        project: &str,
        overrides_json: &str,
        now_unix_nanos: i64,
    ) -> StoreResult<()>;
    /// Every project's price overrides: (project, JSON).
    async fn all_price_overrides(&self) -> StoreResult<Vec<(String, String)>>;

    // API keys.
    /// Stores a new key; false when its prefix is taken.
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<bool>;
    /// The key with `prefix`.
    async fn api_key(&self, prefix: &str) -> StoreResult<Option<ApiKeyRecord>>;
    /// Every key, oldest first.
    async fn api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>>;
    /// Whether any key was ever stored.
    async fn has_api_keys(&self) -> StoreResult<bool>;
    /// Revokes the key with `prefix`; `None` when there is none.
    async fn revoke_api_key(
        &self,
        prefix: &str,
        unix_nanos: i64,
    ) -> StoreResult<Option<ApiKeyRecord>>;
}
