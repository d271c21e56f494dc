//! One cost row per priced span in `span_costs` (project, trace, span), written once as the
//! SQLite store writes it, and what is read from it: trace totals, a trace's span rows, budget
//! spend. Each row written is also added to its hour of `cost_metrics` by the materialized view
//! of migration 6, in the same insert, so the hourly figures are sums of written span rows.

use std::collections::{HashMap, HashSet};

use agentstack_exporter_sqlite::store::{SpanCostRecord, TraceCost};

use crate::statement::Statement;
use crate::store::now_unix_nanos;
use crate::{ClickHouseStore, ClickHouseStoreError};

/// Femtodollars in a dollar: the scale of `Decimal128(15)`.
pub(crate) const FEMTOS_PER_USD: i128 = 1_000_000_000_000_000;

/// The columns of `span_costs` in [`SpanCostRow`]'s field order.
pub(crate) const SPAN_COST_COLUMNS: &str = "project, trace_id, span_id, start_unix_nanos, \
    end_unix_nanos, end_time, model, matched_model, provider, agent, session_id, user_id, \
    kept_cost_usd, estimated, producer_cost, differs, input_tokens, output_tokens, \
    cache_read_tokens, cache_write_tokens, reasoning_tokens, breakdown, write_rank";

/// One row of `span_costs`.
#[derive(Debug, Clone, clickhouse::Row, serde::Serialize, serde::Deserialize)]
pub(crate) struct SpanCostRow {
    pub project: String,
    pub trace_id: String,
    pub span_id: String,
    pub start_unix_nanos: i64,
    pub end_unix_nanos: i64,
    /// The end in whole seconds (clamped to what `DateTime` holds): its hour and partition.
    pub end_time: u32,
    pub model: String,
    pub matched_model: Option<String>,
    pub provider: Option<String>,
    pub agent: String,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    /// Femtodollars (`Decimal128(15)` dollars).
    pub kept_cost_usd: Option<i128>,
    pub estimated: u8,
    pub producer_cost: Option<String>,
    pub differs: u8,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub reasoning_tokens: i64,
    pub breakdown: String,
    pub write_rank: u64,
}

impl SpanCostRow {
    pub(crate) fn new(cost: &SpanCostRecord, write_unix_nanos: u64) -> SpanCostRow {
        let end_seconds = cost.end_unix_nanos.div_euclid(1_000_000_000);
        SpanCostRow {
            project: cost.project.clone(),
            trace_id: cost.trace_id.clone(),
            span_id: cost.span_id.clone(),
            start_unix_nanos: cost.start_unix_nanos,
            end_unix_nanos: cost.end_unix_nanos,
            end_time: end_seconds.clamp(0, i64::from(u32::MAX)) as u32,
            model: cost.model.clone(),
            matched_model: cost.matched_model.clone(),
            provider: cost.provider.clone(),
            agent: cost.agent.clone(),
            session_id: cost.session_id.clone(),
            user_id: cost.user_id.clone(),
            kept_cost_usd: cost.cost_femtos,
            estimated: u8::from(cost.estimated),
            producer_cost: cost.producer_cost.clone(),
            differs: u8::from(cost.differs),
            input_tokens: cost.input_tokens,
            output_tokens: cost.output_tokens,
            cache_read_tokens: cost.cache_read_tokens,
            cache_write_tokens: cost.cache_write_tokens,
            reasoning_tokens: cost.reasoning_tokens,
            breakdown: cost.breakdown.clone(),
            write_rank: u64::MAX - write_unix_nanos,
        }
    }

    fn into_record(self) -> SpanCostRecord {
        SpanCostRecord {
            project: self.project,
            trace_id: self.trace_id,
            span_id: self.span_id,
            start_unix_nanos: self.start_unix_nanos,
            end_unix_nanos: self.end_unix_nanos,
            model: self.model,
            matched_model: self.matched_model,
            provider: self.provider,
            agent: self.agent,
            session_id: self.session_id,
            user_id: self.user_id,
            cost_femtos: self.kept_cost_usd,
            estimated: self.estimated != 0,
            producer_cost: self.producer_cost,
            differs: self.differs != 0,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cache_read_tokens: self.cache_read_tokens,
            cache_write_tokens: self.cache_write_tokens,
            reasoning_tokens: self.reasoning_tokens,
            breakdown: self.breakdown,
        }
    }
}

/// Femtodollars as the decimal dollar text `toDecimal128(…, 15)` reads exactly.
pub(crate) fn usd_text(femtos: i128) -> String {
    let sign = if femtos < 0 { "-" } else { "" };
    let abs = femtos.unsigned_abs();
    let per = FEMTOS_PER_USD as u128;
    format!("{sign}{}.{:015}", abs / per, abs % per)
}

/// The stored keys among `projects` × `traces` × `spans` (a superset query; the caller picks
/// its triples).
pub(crate) fn stored_span_costs_statement(
    projects: Vec<String>,
    traces: Vec<String>,
    spans: Vec<String>,
) -> Statement {
    let mut sql =
        Statement::new("SELECT DISTINCT project, trace_id, span_id FROM span_costs WHERE ");
    sql.bind("has(?, project)", projects)
        .bind(" AND has(?, trace_id)", traces)
        .bind(" AND has(?, span_id)", spans);
    sql
}

/// Per trace of `trace_ids` in `project`: the summed kept cost, whether a priced span rests
/// on estimated tokens, and how many spans are priced; only traces with a priced span.
pub(crate) fn trace_costs_statement(project: &str, trace_ids: Vec<String>) -> Statement {
    let mut sql = Statement::new(
        "SELECT trace_id, sum(ifNull(kept_cost_usd, toDecimal128(0, 15))), \
         max(estimated = 1 AND isNotNull(kept_cost_usd)), toInt64(count(kept_cost_usd)) AS priced \
         FROM span_costs FINAL WHERE ",
    );
    sql.bind("project = ?", project)
        .bind(" AND has(?, trace_id)", trace_ids)
        .push(" GROUP BY trace_id HAVING priced > 0 ORDER BY trace_id");
    sql
}

/// The cost rows of one trace of `project`.
pub(crate) fn span_costs_of_trace_statement(project: &str, trace_id: &str) -> Statement {
    let mut sql = Statement::new("SELECT ");
    sql.push(SPAN_COST_COLUMNS)
        .push(" FROM span_costs FINAL WHERE ")
        .bind("project = ?", project)
        .bind(" AND trace_id = ?", trace_id)
        .push(" ORDER BY span_id");
    sql
}

/// The summed kept cost of the spans of `project` that ended at or after `since`, of one
/// user or session when given.
pub(crate) fn cost_since_statement(
    project: &str,
    since_unix_nanos: i64,
    user_id: Option<&str>,
    session_id: Option<&str>,
) -> Statement {
    let mut sql = Statement::new(
        "SELECT sum(ifNull(kept_cost_usd, toDecimal128(0, 15))) FROM span_costs FINAL WHERE ",
    );
    sql.bind("project = ?", project)
        .bind(" AND end_unix_nanos >= ?", since_unix_nanos);
    if let Some(user) = user_id {
        sql.bind(" AND user_id = ?", user);
    }
    if let Some(session) = session_id {
        sql.bind(" AND session_id = ?", session);
    }
    sql
}

/// `INSERT … VALUES` of the rows `insert_span_costs` would send for `costs` (all of them new)
/// at that write time, for running on another engine (the tests' current ClickHouse).
pub(crate) fn insert_values_statement(
    costs: &[SpanCostRecord],
    write_unix_nanos: u64,
) -> Statement {
    let mut sql = Statement::new("INSERT INTO span_costs (");
    sql.push(SPAN_COST_COLUMNS).push(") VALUES");
    for (index, cost) in costs.iter().enumerate() {
        let row = SpanCostRow::new(cost, write_unix_nanos);
        sql.push(if index == 0 { "\n(" } else { ",\n(" });
        sql.bind("?", row.project)
            .bind(", ?", row.trace_id)
            .bind(", ?", row.span_id)
            .bind(", ?", row.start_unix_nanos)
            .bind(", ?", row.end_unix_nanos)
            .bind(", ?", u64::from(row.end_time))
            .bind(", ?", row.model)
            .bind(", ?", row.matched_model)
            .bind(", ?", row.provider)
            .bind(", ?", row.agent)
            .bind(", ?", row.session_id)
            .bind(", ?", row.user_id);
        // A decimal literal, which the Values parser reads exactly (digits, sign and point only,
        // so written in place); 18.16 refuses a `toDecimal128` expression for Nullable there.
        match row.kept_cost_usd {
            Some(femtos) => sql.push(", ").push(&usd_text(femtos)),
            None => sql.push(", NULL"),
        };
        sql.bind(", ?", u64::from(row.estimated))
            .bind(", ?", row.producer_cost)
            .bind(", ?", u64::from(row.differs))
            .bind(", ?", row.input_tokens)
            .bind(", ?", row.output_tokens)
            .bind(", ?", row.cache_read_tokens)
            .bind(", ?", row.cache_write_tokens)
            .bind(", ?", row.reasoning_tokens)
            .bind(", ?", row.breakdown)
            .bind(", ?)", row.write_rank);
    }
    sql
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct SpanKeyRow {
    project: String,
    trace_id: String,
    span_id: String,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct TraceCostRow {
    trace_id: String,
    cost: i128,
    estimated: u8,
    priced: i64,
}

impl ClickHouseStore {
    /// Writes the cost rows of `costs` whose span (project, trace, span id) is not priced yet,
    /// in one insert that also adds them to `cost_metrics`, and returns their positions in
    /// `costs`, as `SqliteSpanStore::insert_span_costs` (a repeat within the batch: its first).
    ///
    /// The check is a read before the write: two writers pricing the same new span at the same
    /// moment (a redelivered batch claimed while its first worker still runs) both find it new;
    /// `span_costs` still shows it once (`FINAL`, the first write wins), but `cost_metrics`
    /// counts it twice. SQLite's transaction has no such window.
    pub async fn insert_span_costs(
        &self,
        costs: &[SpanCostRecord],
    ) -> Result<Vec<usize>, ClickHouseStoreError> {
        if costs.is_empty() {
            return Ok(Vec::new());
        }
        let distinct = |field: fn(&SpanCostRecord) -> &str| -> Vec<String> {
            let set: HashSet<&str> = costs.iter().map(field).collect();
            set.into_iter().map(str::to_string).collect()
        };
        let stored: Vec<SpanKeyRow> = stored_span_costs_statement(
            distinct(|c| &c.project),
            distinct(|c| &c.trace_id),
            distinct(|c| &c.span_id),
        )
        .query(self.client())
        .fetch_all()
        .await
        .map_err(|source| self.error("looking up priced spans", source))?;
        let mut seen: HashSet<(String, String, String)> = stored
            .into_iter()
            .map(|row| (row.project, row.trace_id, row.span_id))
            .collect();
        let new: Vec<usize> = costs
            .iter()
            .enumerate()
            .filter(|(_, cost)| {
                seen.insert((
                    cost.project.clone(),
                    cost.trace_id.clone(),
                    cost.span_id.clone(),
                ))
            })
            .map(|(at, _)| at)
            .collect();
        if new.is_empty() {
            return Ok(new);
        }
        let now = now_unix_nanos();
        let rows: Vec<SpanCostRow> = new
            .iter()
            .map(|&at| SpanCostRow::new(&costs[at], now))
            .collect();
        self.insert_rows("span_costs", &rows, "inserting span costs")
            .await?;
        Ok(new)
    }

    /// The cost of each of `trace_ids` (of `project`) that has priced spans.
    pub async fn trace_costs(
        &self,
        project: &str,
        trace_ids: &[&str],
    ) -> Result<HashMap<String, TraceCost>, ClickHouseStoreError> {
        if trace_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids = trace_ids.iter().map(|id| id.to_string()).collect();
        let rows: Vec<TraceCostRow> = trace_costs_statement(project, ids)
            .query(self.client())
            .fetch_all()
            .await
            .map_err(|source| self.error("summing trace costs", source))?;
        Ok(rows
            .into_iter()
            .map(|row| {
                (
                    row.trace_id,
                    TraceCost {
                        cost_femtos: row.cost,
                        estimated: row.estimated != 0,
                        priced_spans: row.priced,
                    },
                )
            })
            .collect())
    }

    /// The cost rows of the spans of one trace (of `project`), by span id.
    pub async fn span_costs_of_trace(
        &self,
        project: &str,
        trace_id: &str,
    ) -> Result<HashMap<String, SpanCostRecord>, ClickHouseStoreError> {
        let rows: Vec<SpanCostRow> = span_costs_of_trace_statement(project, trace_id)
            .query(self.client())
            .fetch_all()
            .await
            .map_err(|source| self.error("reading span costs", source))?;
        Ok(rows
            .into_iter()
            .map(|row| (row.span_id.clone(), row.into_record()))
            .collect())
    }

    /// The kept cost, femtodollars, of the spans of `project` that ended at or after
    /// `since_unix_nanos`, of one user or session when given: a budget's spend after a
    /// restart.
    pub async fn cost_since(
        &self,
        project: &str,
        since_unix_nanos: i64,
        user_id: Option<&str>,
        session_id: Option<&str>,
    ) -> Result<i128, ClickHouseStoreError> {
        cost_since_statement(project, since_unix_nanos, user_id, session_id)
            .query(self.client())
            .fetch_one()
            .await
            .map_err(|source| self.error("summing costs for a budget", source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clickhouse::Row;

    #[test]
    fn span_cost_columns_are_in_field_order() {
        let listed: Vec<&str> = SPAN_COST_COLUMNS.split(',').map(str::trim).collect();
        assert_eq!(listed, SpanCostRow::COLUMN_NAMES);
    }

    #[test]
    fn femtodollars_read_as_exact_dollar_text() {
        assert_eq!(usd_text(0), "0.000000000000000");
        assert_eq!(usd_text(1), "0.000000000000001");
        assert_eq!(usd_text(-1_500_000_000_000_000), "-1.500000000000000");
        assert_eq!(
            usd_text(5_000_000 * FEMTOS_PER_USD + 7),
            "5000000.000000000000007"
        );
    }
}
