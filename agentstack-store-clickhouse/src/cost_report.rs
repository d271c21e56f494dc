//! Cost reports, as `SqliteSpanStore::cost_report` computes them: a project's costs over a
//! time range in total, per group (most expensive first) and per bucket and group. Model, day
//! and agent come from the hourly `cost_metrics` (whole hours: the hour holding `since`
//! counts); session and user from `span_costs` (each span once, at its end time).

use agentstack_exporter_sqlite::store::{
    CostGroup, CostGroupBy, CostQuery, CostReport, CostTotals,
};

use crate::statement::Statement;
use crate::{ClickHouseStore, ClickHouseStoreError};

/// Nanoseconds in a second.
const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// Where a grouping reads from: its key, table and time in seconds, and its figures in
/// [`FiguresRow`]'s order.
struct Source {
    key: &'static str,
    table: &'static str,
    seconds: &'static str,
    figures: &'static str,
}

const HOURLY_FIGURES: &str = "sum(cost_usd), sum(estimated_cost_usd), \
    toInt64(sum(input_tokens)), toInt64(sum(output_tokens)), toInt64(sum(spans))";

const SPAN_FIGURES: &str = "sum(ifNull(kept_cost_usd, toDecimal128(0, 15))), \
    sum(if(estimated = 1, ifNull(kept_cost_usd, toDecimal128(0, 15)), toDecimal128(0, 15))), \
    toInt64(sum(input_tokens)), toInt64(sum(output_tokens)), toInt64(count())";

/// The hour's start in seconds, as a signed number (the bounds may be before 1970).
const HOUR_SECONDS: &str = "toInt64(toUInt32(hour))";
/// A span's end in seconds, truncated as SQLite's integer division truncates.
const END_SECONDS: &str = "intDiv(end_unix_nanos, 1000000000)";

fn source(group_by: CostGroupBy) -> Source {
    let hourly = |key| Source {
        key,
        table: "cost_metrics",
        seconds: HOUR_SECONDS,
        figures: HOURLY_FIGURES,
    };
    let spans = |key| Source {
        key,
        table: "span_costs FINAL",
        seconds: END_SECONDS,
        figures: SPAN_FIGURES,
    };
    match group_by {
        CostGroupBy::Model => hourly("model"),
        CostGroupBy::Agent => hourly("agent"),
        CostGroupBy::Day => hourly("toString(toDate(hour))"),
        CostGroupBy::Session => spans("ifNull(session_id, '')"),
        CostGroupBy::User => spans("ifNull(user_id, '')"),
    }
}

/// The range of `query` in the grouping's own time: whole hours by their start (from the
/// hour holding `since`), or span ends in nanoseconds.
fn range(query: &CostQuery) -> (Option<i64>, Option<i64>) {
    if query.group_by.from_hourly_metrics() {
        (
            query
                .since_unix_nanos
                .map(|since| since.div_euclid(NANOS_PER_SECOND).div_euclid(3600) * 3600),
            query
                .until_unix_nanos
                .map(|until| until.div_euclid(NANOS_PER_SECOND)),
        )
    } else {
        (query.since_unix_nanos, query.until_unix_nanos)
    }
}

/// `FROM … WHERE project and range` of `query`.
fn from_where(query: &CostQuery, source: &Source) -> Statement {
    let time = if query.group_by.from_hourly_metrics() {
        HOUR_SECONDS
    } else {
        "end_unix_nanos"
    };
    let (since, until) = range(query);
    let mut sql = Statement::new(" FROM ");
    sql.push(source.table)
        .bind(" WHERE project = ?", query.project.as_str());
    if let Some(since) = since {
        sql.push(" AND ").push(time).bind(" >= ?", since);
    }
    if let Some(until) = until {
        sql.push(" AND ").push(time).bind(" < ?", until);
    }
    sql
}

/// The three statements of a report: total, groups, series.
pub(crate) fn cost_report_statements(query: &CostQuery) -> [Statement; 3] {
    let source = source(query.group_by);
    let bucket = query.bucket_seconds.max(1);
    let mut total = Statement::new("SELECT ");
    total
        .push(source.figures)
        .append(from_where(query, &source));
    let mut groups = Statement::new("SELECT ");
    groups
        .push(source.key)
        .push(" AS key, ")
        .push(source.figures)
        .append(from_where(query, &source))
        .push(" GROUP BY key ORDER BY key");
    let seconds = source.seconds;
    let mut series = Statement::new("SELECT ");
    series
        .push(seconds)
        .push(" - ((")
        .push(seconds)
        .bind(" % ?", bucket)
        .bind(") + ?)", bucket)
        .bind(" % ? AS bucket, ", bucket)
        .push(source.key)
        .push(" AS key, ")
        .push(source.figures)
        .append(from_where(query, &source))
        .push(" GROUP BY bucket, key ORDER BY bucket, key");
    [total, groups, series]
}

/// Figures as the report's queries read them.
#[derive(clickhouse::Row, serde::Deserialize)]
struct FiguresRow {
    cost: i128,
    estimated_cost: i128,
    input_tokens: i64,
    output_tokens: i64,
    span_count: i64,
}

impl FiguresRow {
    fn totals(self) -> CostTotals {
        CostTotals {
            cost_femtos: self.cost,
            estimated_cost_femtos: self.estimated_cost,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            span_count: self.span_count,
        }
    }
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct GroupRow {
    key: String,
    cost: i128,
    estimated_cost: i128,
    input_tokens: i64,
    output_tokens: i64,
    span_count: i64,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct BucketRow {
    bucket: i64,
    key: String,
    cost: i128,
    estimated_cost: i128,
    input_tokens: i64,
    output_tokens: i64,
    span_count: i64,
}

impl ClickHouseStore {
    /// Costs of `query.project` over a time range, in total, per group (most expensive first,
    /// then by key) and per bucket and group (oldest bucket first, then by key).
    pub async fn cost_report(&self, query: &CostQuery) -> Result<CostReport, ClickHouseStoreError> {
        let [total, groups, series] = cost_report_statements(query);
        let action = "computing costs";
        let total: FiguresRow = total
            .query(self.client())
            .fetch_one()
            .await
            .map_err(|source| self.error(action, source))?;
        let groups: Vec<GroupRow> = groups
            .query(self.client())
            .fetch_all()
            .await
            .map_err(|source| self.error(action, source))?;
        let series: Vec<BucketRow> = series
            .query(self.client())
            .fetch_all()
            .await
            .map_err(|source| self.error(action, source))?;
        let mut groups: Vec<CostGroup> = groups
            .into_iter()
            .map(|row| CostGroup {
                key: row.key,
                bucket_start_unix_seconds: 0,
                totals: CostTotals {
                    cost_femtos: row.cost,
                    estimated_cost_femtos: row.estimated_cost,
                    input_tokens: row.input_tokens,
                    output_tokens: row.output_tokens,
                    span_count: row.span_count,
                },
            })
            .collect();
        groups.sort_by(|a, b| {
            b.totals
                .cost_femtos
                .cmp(&a.totals.cost_femtos)
                .then_with(|| a.key.cmp(&b.key))
        });
        let mut series: Vec<CostGroup> = series
            .into_iter()
            .map(|row| CostGroup {
                key: row.key,
                bucket_start_unix_seconds: row.bucket,
                totals: CostTotals {
                    cost_femtos: row.cost,
                    estimated_cost_femtos: row.estimated_cost,
                    input_tokens: row.input_tokens,
                    output_tokens: row.output_tokens,
                    span_count: row.span_count,
                },
            })
            .collect();
        // Byte order of the keys, as SQLite's.
        series.sort_by(|a, b| {
            (a.bucket_start_unix_seconds, &a.key).cmp(&(b.bucket_start_unix_seconds, &b.key))
        });
        Ok(CostReport {
            total: total.totals(),
            groups,
            series,
        })
    }
}
