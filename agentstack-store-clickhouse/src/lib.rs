//! The ClickHouse span store of AgentStack's distributed mode (stage 3): [`ClickHouseStore`]
//! writes spans in batches and answers the same trace queries as the SQLite store, with the same
//! types (`SpanRecord`, `TraceQuery`, `TracePage`, …), on ClickHouse 18.16 and on current
//! ClickHouse alike.
//!
//! - [`schema`]: the versioned migrations (`sql/*.sql`), safe when several processes migrate at once.
//! - [`store`]: [`ClickHouseStore`]: connect, insert, trace list and detail, counts.
//! - [`stats`]: counts, error rate, root latency percentiles and tokens per bucket of a window.
//! - [`retention`]: moving daily partitions to `spans_archive` and dropping old ones whole.
//! - [`alerts`]: security and budget alerts, stored once per dedup key, newest-first pages.
//! - [`sessions`]: sessions grouped from the spans' `session_id`, keyset pages.
//! - [`links`]: span links and the conversations they make.
//! - [`cost`]: cost per project, model, agent and hour, summed by ClickHouse.
//! - [`span_costs`]: one cost row per priced span, written once; trace totals, budget spend.
//! - [`cost_report`]: costs grouped by model, day, agent, session or user, with a series.
//! - [`prices`]: each project's price overrides.
//! - [`api_keys`]: the server's API keys (their SHA-256), revocations.
//! - [`error`]: [`ClickHouseStoreError`], which says what to do next.

pub mod alerts;
pub mod api_keys;
pub mod cost;
pub mod cost_report;
pub mod error;
pub mod links;
pub mod prices;
pub mod retention;
pub mod schema;
pub mod sessions;
pub mod span_costs;
pub mod stats;
pub mod store;

mod rows;
mod statement;
mod trace_id;

pub use cost::CostMetricRow;
pub use error::ClickHouseStoreError;
pub use retention::PartitionDay;
pub use store::ClickHouseStore;

/// The store's statements as SQL text, values in place, exactly as it sends them: for running
/// them on another ClickHouse (the tests run them on current ClickHouse through chDB and compare
/// the answers with 18.16's). Not a stable API.
#[doc(hidden)]
pub mod sql_text {
    use agentstack_exporter_sqlite::StorableSpan;
    use agentstack_exporter_sqlite::store::TraceQuery;

    use crate::ClickHouseStoreError;

    /// Every statement of every migration step, the ledger first, in order.
    pub fn schema() -> Vec<String> {
        let mut statements = crate::schema::statements(crate::schema::SCHEMA_MIGRATIONS);
        for step in crate::schema::MIGRATIONS {
            statements.extend(crate::schema::statements(step.sql));
        }
        statements
    }

    /// `INSERT … VALUES` of the rows `insert_spans` would send for `spans` at that write time.
    pub fn insert_spans(
        spans: &[impl StorableSpan],
        write_unix_nanos: u64,
    ) -> Result<String, ClickHouseStoreError> {
        Ok(crate::store::insert_values_statement(spans, write_unix_nanos)?.render())
    }

    /// The trace list query of `trace_page` (one more than the limit), `None` when it sends none.
    pub fn trace_page(query: &TraceQuery) -> Option<String> {
        crate::store::trace_list_statement(query, query.filter.effective_limit() + 1)
            .map(|statement| statement.render())
    }

    /// The first query of `trace_page` (the newest span start) and its list over the candidate
    /// window from `lower`; `None` when it sends none.
    pub fn trace_page_window(query: &TraceQuery, lower: i64) -> Option<Vec<String>> {
        let bounds = crate::store::trace_list_bounds(query)?;
        Some(vec![
            crate::store::newest_start_statement(query, bounds).render(),
            crate::store::trace_list_statement_within(
                query,
                query.filter.effective_limit() + 1,
                bounds.narrowed(lower),
            )
            .render(),
        ])
    }

    /// `INSERT … VALUES` of the link rows `insert_spans` would send for `spans`, if any.
    pub fn insert_links(
        spans: &[impl StorableSpan],
    ) -> Result<Option<String>, ClickHouseStoreError> {
        Ok(crate::links::insert_links_statement(spans)?.map(|statement| statement.render()))
    }

    /// The summaries of `traces_updated_since`.
    pub fn traces_updated_since(since_unix_nanos: i64) -> String {
        crate::store::traces_updated_since_statement(since_unix_nanos).render()
    }

    /// The alert page query of `alert_page` (one more than the limit), `None` when it sends none.
    pub fn alert_page(query: &agentstack_exporter_sqlite::store::AlertQuery) -> Option<String> {
        let limit = match query.limit {
            0 => agentstack_exporter_sqlite::store::DEFAULT_TRACE_LIMIT,
            limit => limit.min(agentstack_exporter_sqlite::store::MAX_TRACE_LIMIT),
        };
        crate::alerts::alert_page_statement(query, limit + 1).map(|statement| statement.render())
    }

    /// The lookup of `alert_exists`.
    pub fn alert_exists(project: &str, dedup_key: &str) -> String {
        crate::alerts::alert_exists_statement(project, dedup_key).render()
    }

    /// The session page query of `session_page` (one more than the limit).
    pub fn session_page(query: &agentstack_exporter_sqlite::store::SessionQuery) -> String {
        crate::sessions::session_page_statement(query, query.effective_limit() + 1).render()
    }

    /// One round of the conversation walk: the links from or to `trace_ids`.
    pub fn conversation_links(project: &str, trace_ids: Vec<String>) -> String {
        crate::links::links_of_statement(project, trace_ids).render()
    }

    /// The reads of the API keys: one key, every key, whether there is any.
    pub fn api_keys(prefix: &str) -> Vec<String> {
        vec![
            crate::api_keys::api_key_statement(prefix).render(),
            crate::api_keys::api_keys_statement().render(),
            crate::api_keys::HAS_API_KEYS.to_string(),
        ]
    }

    /// `INSERT … VALUES` of `alerts`, all new, their ids from `first_id` on.
    pub fn insert_alerts(
        alerts: &[agentstack_exporter_sqlite::store::AlertRecord],
        first_id: i64,
    ) -> String {
        crate::alerts::insert_values_statement(alerts, first_id).render()
    }

    /// `INSERT … VALUES` of `costs`, all new, written at `write_unix_nanos`.
    pub fn insert_span_costs(
        costs: &[agentstack_exporter_sqlite::store::SpanCostRecord],
        write_unix_nanos: u64,
    ) -> String {
        crate::span_costs::insert_values_statement(costs, write_unix_nanos).render()
    }

    /// The reads of span costs: the stored keys of `insert_span_costs`, `trace_costs`,
    /// `span_costs_of_trace` and `cost_since` (of one user, of one session, of all).
    pub fn span_cost_reads(project: &str, trace_ids: Vec<String>, since: i64) -> Vec<String> {
        use crate::span_costs as costs;
        let first = trace_ids.first().cloned().unwrap_or_default();
        vec![
            costs::stored_span_costs_statement(
                vec![project.to_string(), "other".into()],
                trace_ids.clone(),
                vec![format!("{:016x}", 1), format!("{:016x}", 2)],
            )
            .render(),
            costs::trace_costs_statement(project, trace_ids).render(),
            costs::span_costs_of_trace_statement(project, &first).render(),
            costs::cost_since_statement(project, since, None, None).render(),
            costs::cost_since_statement(project, since, Some("u1"), None).render(),
            costs::cost_since_statement(project, since, None, Some("s1")).render(),
        ]
    }

    /// The three statements of `cost_report`: total, groups, series.
    pub fn cost_report(query: &agentstack_exporter_sqlite::store::CostQuery) -> Vec<String> {
        crate::cost_report::cost_report_statements(query)
            .iter()
            .map(|statement| statement.render())
            .collect()
    }

    /// `INSERT … VALUES` of one set of price overrides.
    pub fn set_price_overrides(project: &str, json: &str, updated: i64, version: u64) -> String {
        crate::prices::insert_values_statement(project, json, updated, version).render()
    }

    /// The reads of price overrides: one project's, every project's.
    pub fn price_overrides(project: &str) -> Vec<String> {
        vec![
            crate::prices::price_overrides_statement(project).render(),
            crate::prices::ALL_PRICE_OVERRIDES.to_string(),
        ]
    }

    /// `INSERT … VALUES` of an API key (`revoked`: its revocation row).
    pub fn insert_api_key(
        key: &agentstack_exporter_sqlite::ApiKeyRecord,
        write_unix_nanos: u64,
        revoked: bool,
    ) -> String {
        crate::api_keys::insert_values_statement(key, write_unix_nanos, revoked).render()
    }

    /// The prefix lookup of `trace_in_project`.
    pub fn trace_prefix(project: Option<&str>, prefix: &str) -> String {
        crate::store::trace_prefix_statement(project, prefix).render()
    }

    /// The span query of `trace_in_project`.
    pub fn trace_spans(project: Option<&str>, trace_id: &str) -> String {
        crate::store::trace_spans_statement(project, trace_id).render()
    }

    /// The lookup of stored alert keys of `insert_alerts`.
    pub fn stored_alert_keys(projects: Vec<String>, keys: Vec<String>) -> String {
        crate::alerts::stored_keys_statement(projects, keys).render()
    }

    /// The cost read of `cost_metrics`.
    pub fn cost_metrics(project: Option<&str>, since: u32, until: u32) -> String {
        crate::cost::cost_metrics_statement(project, since, until).render()
    }

    /// The live tail's summaries of `trace_ids`.
    pub fn traces_matching(query: &TraceQuery, trace_ids: &[String]) -> String {
        crate::store::traces_matching_statement(query, trace_ids).render()
    }

    /// The alert summaries of `trace_ids`.
    pub fn trace_alerts(project: &str, trace_ids: Vec<String>) -> String {
        crate::alerts::trace_alerts_statement(project, trace_ids).render()
    }

    /// The span count.
    pub fn span_count() -> String {
        crate::store::SPAN_COUNT.to_string()
    }

    /// The four statements of `stats`, `None` when it sends none.
    pub fn stats(window: &agentstack_exporter_sqlite::store::StatsWindow) -> Option<Vec<String>> {
        Some(vec![
            crate::stats::span_totals_statement(window)?.render(),
            crate::stats::trace_totals_statement(window)?.render(),
            crate::stats::root_latency_statement(window)?.render(),
            crate::stats::token_buckets_statement(window)?.render(),
        ])
    }

    /// The partition listing of retention.
    pub fn partitions(table: &str) -> String {
        crate::retention::partitions_statement(table).render()
    }

    /// The statements that move one day to the archive.
    pub fn archive_partition(partition: &str) -> Vec<String> {
        vec![
            crate::retention::archive_partition_statement(partition).render(),
            crate::retention::drop_partition_statement("spans", partition).render(),
        ]
    }

    /// The statement that drops one day of `table`.
    pub fn drop_partition(table: &str, partition: &str) -> String {
        crate::retention::drop_partition_statement(table, partition).render()
    }
}
