//! Cost per (project, model, agent, UTC hour) in `cost_metrics`: the cost worker adds rows, the
//! SummingMergeTree adds rows of one key together as parts merge, and reads sum again with
//! `GROUP BY`, so an hour reads the same before and after its merge. Money is exact: femtodollars
//! (the cost worker's `Usd`, an i128) are stored as `Decimal128(15)` dollars.

use crate::statement::Statement;
use crate::{ClickHouseStore, ClickHouseStoreError};

/// One row of `cost_metrics`: what a group of spans of one key cost and used.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, clickhouse::Row, serde::Serialize, serde::Deserialize,
)]
pub struct CostMetricRow {
    /// The project.
    pub project: String,
    /// The model as the spans named it (empty when they named none).
    pub model: String,
    /// The agent the spans worked for (empty when unknown).
    pub agent: String,
    /// The start of the UTC hour, seconds since the Unix epoch (column `hour`).
    #[serde(rename = "hour")]
    pub hour_unix_seconds: u32,
    /// The cost, in femtodollars (10⁻¹⁵ USD; column `cost_usd`, dollars).
    #[serde(rename = "cost_usd")]
    pub cost_femto_usd: i128,
    /// Of it, the part that rests on estimated tokens (column `estimated_cost_usd`).
    #[serde(rename = "estimated_cost_usd")]
    pub estimated_cost_femto_usd: i128,
    /// Input tokens (cached included).
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
    /// Of them, spans with a cost.
    pub priced_spans: u64,
    /// Of them, spans whose cost rests on estimated tokens.
    pub estimated_spans: u64,
}

/// The summed rows of `project` (`None`: all) in the hours `[since, until)` (seconds), by key.
pub(crate) fn cost_metrics_statement(
    project: Option<&str>,
    since_unix_seconds: u32,
    until_unix_seconds: u32,
) -> Statement {
    let mut sql = Statement::new(
        "SELECT project, model, agent, toUInt32(hour), sum(cost_usd), sum(estimated_cost_usd), \
         sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), \
         sum(reasoning_tokens), sum(spans), sum(priced_spans), sum(estimated_spans) \
         FROM cost_metrics WHERE ",
    );
    if let Some(project) = project {
        sql.bind("project = ? AND ", project);
    }
    sql.bind("hour >= toDateTime(?)", u64::from(since_unix_seconds))
        .bind(" AND hour < toDateTime(?)", u64::from(until_unix_seconds))
        .push(" GROUP BY project, model, agent, hour ORDER BY project, model, agent, hour");
    sql
}

impl ClickHouseStore {
    /// Adds `rows` to `cost_metrics` in one insert (rows of one key add up, never replace).
    /// [`insert_span_costs`](Self::insert_span_costs) adds its new span rows to `cost_metrics`
    /// itself (the view of migration 6): use one or the other for the same spans, not both.
    pub async fn insert_cost_metrics(
        &self,
        rows: &[CostMetricRow],
    ) -> Result<(), ClickHouseStoreError> {
        self.insert_rows("cost_metrics", rows, "inserting cost metrics")
            .await
    }

    /// The cost of `project` (`None`: every project) per model, agent and hour in
    /// `[since, until)` (Unix seconds), each key once with its rows summed, by key.
    pub async fn cost_metrics(
        &self,
        project: Option<&str>,
        since_unix_seconds: u32,
        until_unix_seconds: u32,
    ) -> Result<Vec<CostMetricRow>, ClickHouseStoreError> {
        cost_metrics_statement(project, since_unix_seconds, until_unix_seconds)
            .query(self.client())
            .fetch_all()
            .await
            .map_err(|source| self.error("reading cost metrics", source))
    }
}
