//! [`SqliteStore`]: the [`Store`] of the embedded mode, a [`SqliteSpanStore`] whose calls (they
//! block on the file) run on tokio's blocking pool.

use std::collections::HashMap;
use std::sync::Arc;

use agentstack_exporter_sqlite::store::{
    AlertPage, AlertQuery, AlertRecord, Conversation, CostQuery, CostReport, SessionPage,
    SessionQuery, SpanCostRecord, SpanStats, StatsWindow, TraceAlerts, TraceCost, TracePage,
    TraceQuery, TraceSummary,
};
use agentstack_exporter_sqlite::{ApiKeyRecord, SpanRecord, SqliteSpanStore, StoreError};

use super::{Store, StoreFailure, StoreResult, spans_of};
use crate::bus::SpanBatch;

/// How often `agentstack serve` copies the write-ahead log into the database file, on a
/// connection of its own ([`SqliteStore::checkpoint_every`]).
pub const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(200);

/// The writer connection's own checkpoint threshold while a checkpointer runs beside it: a
/// backstop (128 MiB of a new file's 8 KiB pages, 64 MiB of an older file's 4 KiB ones) that
/// only a checkpointer far behind lets the log reach.
pub const WRITER_AUTOCHECKPOINT_PAGES: u32 = 16_384;

/// The page cache of the writer's and the API's connections, in KiB: one write of
/// [`Batching::EMBEDDED`](crate::workers::writer::Batching::EMBEDDED)'s 8,192 spans changes about
/// 20 MiB of pages, which SQLite's default 2,000 KiB spilled to the log before the commit.
pub const CACHE_KIB: u32 = 64 * 1024;

/// The SQLite span store as a [`Store`]. Each `SqliteStore` is one connection: give the API,
/// the writer and the key checks one each, so that a read never waits for a write (WAL).
#[derive(Debug, Clone)]
pub struct SqliteStore(Arc<SqliteSpanStore>);

impl SqliteStore {
    /// `store` as a [`Store`].
    pub fn new(store: SqliteSpanStore) -> SqliteStore {
        SqliteStore(Arc::new(store))
    }

    /// Opens (creating if missing) the file at `path`, off the async threads.
    pub async fn open(path: &std::path::Path) -> Result<SqliteStore, StoreFailure> {
        let path = path.to_path_buf();
        let store = tokio::task::spawn_blocking(move || SqliteSpanStore::open(path))
            .await
            .map_err(|error| StoreFailure::Task(error.to_string()))??;
        Ok(SqliteStore::new(store))
    }

    /// The SQLite store itself, for what only it does (retention by row, the terminal viewer).
    pub fn sqlite(&self) -> &Arc<SqliteSpanStore> {
        &self.0
    }

    /// Copies the write-ahead log into the database file every `every`, on this connection
    /// (give it one of its own), until the task is aborted. The writer's connection then
    /// leaves the copy, and its fsyncs, to this one ([`WRITER_AUTOCHECKPOINT_PAGES`]), so a
    /// write never waits for a checkpoint. A failure is reported once, and tried again.
    pub async fn checkpoint_every(self, every: std::time::Duration) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reported = false;
        loop {
            ticks.tick().await;
            match self.blocking(SqliteSpanStore::checkpoint).await {
                Ok(_) => reported = false,
                Err(error) if !reported => {
                    reported = true;
                    tracing::warn!(
                        %error,
                        "checkpointing the span store failed; retrying (the WAL grows meanwhile)"
                    );
                }
                Err(_) => {}
            }
        }
    }

    /// Runs `call` on the store on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&SqliteSpanStore) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreResult<T> {
        let store = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || call(&store))
            .await
            .map_err(|error| StoreFailure::Task(error.to_string()))?
            .map_err(StoreFailure::from)
    }
}

/// `ids` as the `&[&str]` the SQLite store takes.
fn as_strs(ids: &[String]) -> Vec<&str> {
    ids.iter().map(String::as_str).collect()
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn describe(&self) -> String {
        match self.0.path() {
            Some(path) => format!(
                "{} (read it with `agentstack traces --db {}`)",
                path.display(),
                path.display()
            ),
            None => "SQLite in memory".to_string(),
        }
    }

    async fn insert_spans(&self, batches: Arc<Vec<Arc<SpanBatch>>>) -> StoreResult<usize> {
        self.blocking(move |store| store.insert_spans(&spans_of(&batches)))
            .await
    }

    async fn trace_page(&self, query: &TraceQuery) -> StoreResult<TracePage> {
        let query = query.clone();
        self.blocking(move |store| store.trace_page(&query)).await
    }

    async fn traces_matching(
        &self,
        query: &TraceQuery,
        trace_ids: &[String],
    ) -> StoreResult<Vec<TraceSummary>> {
        let (query, ids) = (query.clone(), trace_ids.to_vec());
        self.blocking(move |store| store.traces_matching(&query, &ids))
            .await
    }

    async fn trace_in_project(
        &self,
        project: Option<&str>,
        trace_id: &str,
    ) -> StoreResult<Vec<SpanRecord>> {
        let (project, id) = (project.map(str::to_string), trace_id.to_string());
        self.blocking(move |store| store.trace_in_project(project.as_deref(), &id))
            .await
    }

    async fn stats(&self, window: &StatsWindow) -> StoreResult<SpanStats> {
        let window = window.clone();
        self.blocking(move |store| store.stats(&window)).await
    }

    async fn span_count(&self) -> StoreResult<i64> {
        self.blocking(SqliteSpanStore::span_count).await
    }

    async fn session_page(&self, query: &SessionQuery) -> StoreResult<SessionPage> {
        let query = query.clone();
        self.blocking(move |store| store.session_page(&query)).await
    }

    async fn conversation(
        &self,
        project: &str,
        trace_id: &str,
    ) -> StoreResult<Option<Conversation>> {
        let (project, id) = (project.to_string(), trace_id.to_string());
        self.blocking(move |store| store.conversation(&project, &id))
            .await
    }

    async fn insert_alerts(&self, alerts: Vec<AlertRecord>) -> StoreResult<Vec<AlertRecord>> {
        self.blocking(move |store| store.insert_alerts(&alerts))
            .await
    }

    async fn alert_page(&self, query: &AlertQuery) -> StoreResult<AlertPage> {
        let query = query.clone();
        self.blocking(move |store| store.alert_page(&query)).await
    }

    async fn trace_alerts(
        &self,
        project: &str,
        trace_ids: &[String],
    ) -> StoreResult<HashMap<String, TraceAlerts>> {
        let (project, ids) = (project.to_string(), trace_ids.to_vec());
        self.blocking(move |store| store.trace_alerts(&project, &as_strs(&ids)))
            .await
    }

    async fn alert_exists(&self, project: &str, dedup_key: &str) -> StoreResult<bool> {
        let (project, key) = (project.to_string(), dedup_key.to_string());
        self.blocking(move |store| store.alert_exists(&project, &key))
            .await
    }

    async fn insert_span_costs(&self, costs: Arc<Vec<SpanCostRecord>>) -> StoreResult<Vec<usize>> {
        self.blocking(move |store| store.insert_span_costs(&costs))
            .await
    }

    async fn trace_costs(
        &self,
        project: &str,
        trace_ids: &[String],
    ) -> StoreResult<HashMap<String, TraceCost>> {
        let (project, ids) = (project.to_string(), trace_ids.to_vec());
        self.blocking(move |store| store.trace_costs(&project, &as_strs(&ids)))
            .await
    }

    async fn span_costs_of_trace(
        &self,
        project: &str,
        trace_id: &str,
    ) -> StoreResult<HashMap<String, SpanCostRecord>> {
        let (project, id) = (project.to_string(), trace_id.to_string());
        self.blocking(move |store| store.span_costs_of_trace(&project, &id))
            .await
    }

    async fn cost_report(&self, query: &CostQuery) -> StoreResult<CostReport> {
        let query = query.clone();
        self.blocking(move |store| store.cost_report(&query)).await
    }

    async fn cost_since(
        &self,
        project: &str,
        since_unix_nanos: i64,
        user_id: Option<&str>,
        session_id: Option<&str>,
    ) -> StoreResult<i128> {
        let project = project.to_string();
        let (user, session) = (user_id.map(str::to_string), session_id.map(str::to_string));
        self.blocking(move |store| {
            store.cost_since(
                &project,
                since_unix_nanos,
                user.as_deref(),
                session.as_deref(),
            )
        })
        .await
    }

    async fn set_price_overrides(
        &self,
        project: &str,
        overrides_json: &str,
        now_unix_nanos: i64,
    ) -> StoreResult<()> {
        let (project, json) = (project.to_string(), overrides_json.to_string());
        self.blocking(move |store| store.set_price_overrides(&project, &json, now_unix_nanos))
            .await
    }

    async fn all_price_overrides(&self) -> StoreResult<Vec<(String, String)>> {
        self.blocking(SqliteSpanStore::all_price_overrides).await
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<bool> {
        let key = key.clone();
        self.blocking(move |store| store.insert_api_key(&key)).await
    }

    async fn api_key(&self, prefix: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let prefix = prefix.to_string();
        self.blocking(move |store| store.api_key(&prefix)).await
    }

    async fn api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        self.blocking(SqliteSpanStore::api_keys).await
    }

    async fn has_api_keys(&self) -> StoreResult<bool> {
        self.blocking(SqliteSpanStore::has_api_keys).await
    }

    async fn revoke_api_key(
        &self,
        prefix: &str,
        unix_nanos: i64,
    ) -> StoreResult<Option<ApiKeyRecord>> {
        let prefix = prefix.to_string();
        self.blocking(move |store| store.revoke_api_key(&prefix, unix_nanos))
            .await
    }
}
