//! Span costs, their hourly aggregates and per-project price overrides: migration step 6 adds
//! `span_costs` (one row per priced span, written once; a rowid table since step 7),
//! `cost_metrics` (per project, model, agent and UTC hour, summed only from newly written
//! `span_costs` rows in the same transaction, so an aggregate always equals the sum of its
//! spans) and `price_overrides`.
//!
//! # Units
//!
//! The cost engine computes exact femtodollars (10⁻¹⁵ USD, an `i128`). SQLite integers are
//! `i64`, and a femtodollar `i64` overflows at $9,223, so every amount is stored in two
//! integer columns: `*_nanos`, whole nanodollars (10⁻⁹ USD, floored), and `*_sub_femtos`, the
//! femtodollars below the nanodollar (0 ≤ x < 10⁶). Both sum safely in `i64` — nanodollars up
//! to $9.2 billion, the remainders over more than 9 × 10¹² spans — and
//! `nanos × 10⁶ + sub_femtos` gives back the exact femtodollar sum, so no rounding ever
//! accumulates, however many spans are added.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior};

use super::{SqliteSpanStore, StoreError};

/// Femtodollars in a nanodollar.
const FEMTOS_PER_NANO: i128 = 1_000_000;

/// The tables and indexes of step 6.
pub(super) const MIGRATION_6: &str = "CREATE TABLE span_costs (
        project               TEXT    NOT NULL,
        trace_id              TEXT    NOT NULL,
        span_id               TEXT    NOT NULL,
        start_unix_nanos      INTEGER NOT NULL,
        end_unix_nanos        INTEGER NOT NULL,
        model                 TEXT    NOT NULL DEFAULT '',
        matched_model         TEXT,
        provider              TEXT,
        agent                 TEXT    NOT NULL DEFAULT '',
        session_id            TEXT,
        user_id               TEXT,
        cost_nanos            INTEGER,
        cost_sub_femtos       INTEGER,
        estimated             INTEGER NOT NULL DEFAULT 0,
        producer_cost         TEXT,
        differs               INTEGER NOT NULL DEFAULT 0,
        input_tokens          INTEGER NOT NULL DEFAULT 0,
        output_tokens         INTEGER NOT NULL DEFAULT 0,
        cache_read_tokens     INTEGER NOT NULL DEFAULT 0,
        cache_write_tokens    INTEGER NOT NULL DEFAULT 0,
        reasoning_tokens      INTEGER NOT NULL DEFAULT 0,
        breakdown             TEXT    NOT NULL,
        PRIMARY KEY (project, trace_id, span_id)
    ) STRICT, WITHOUT ROWID;
    -- costs over a time range (groupings by session and user, budgets restored at start-up)
    CREATE INDEX span_costs_by_end ON span_costs (project, end_unix_nanos);
    CREATE TABLE cost_metrics (
        project                   TEXT    NOT NULL,
        model                     TEXT    NOT NULL,
        agent                     TEXT    NOT NULL,
        hour_unix_seconds         INTEGER NOT NULL,
        cost_nanos                INTEGER NOT NULL DEFAULT 0,
        cost_sub_femtos           INTEGER NOT NULL DEFAULT 0,
        estimated_cost_nanos      INTEGER NOT NULL DEFAULT 0,
        estimated_cost_sub_femtos INTEGER NOT NULL DEFAULT 0,
        input_tokens              INTEGER NOT NULL DEFAULT 0,
        output_tokens             INTEGER NOT NULL DEFAULT 0,
        cache_read_tokens         INTEGER NOT NULL DEFAULT 0,
        cache_write_tokens        INTEGER NOT NULL DEFAULT 0,
        reasoning_tokens          INTEGER NOT NULL DEFAULT 0,
        span_count                INTEGER NOT NULL DEFAULT 0,
        priced_span_count         INTEGER NOT NULL DEFAULT 0,
        estimated_span_count      INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (project, hour_unix_seconds, model, agent)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE price_overrides (
        project            TEXT    NOT NULL PRIMARY KEY,
        overrides          TEXT    NOT NULL,
        updated_unix_nanos INTEGER NOT NULL
    ) STRICT;";

/// Step 7: `span_costs` as a rowid table. Its rows (~650 bytes) are far above the ~1/20 of a
/// page that a `WITHOUT ROWID` table suits (an index b-tree keeps whole rows in its interior
/// pages too), and keyed by random trace ids every write rewrote pages all over the table. Now
/// rows are appended by rowid and only the (project, trace_id, span_id) key index takes the
/// random inserts. Same columns, copied over.
pub(super) const MIGRATION_7: &str = "CREATE TABLE span_costs_v2 (
        project               TEXT    NOT NULL,
        trace_id              TEXT    NOT NULL,
        span_id               TEXT    NOT NULL,
        start_unix_nanos      INTEGER NOT NULL,
        end_unix_nanos        INTEGER NOT NULL,
        model                 TEXT    NOT NULL DEFAULT '',
        matched_model         TEXT,
        provider              TEXT,
        agent                 TEXT    NOT NULL DEFAULT '',
        session_id            TEXT,
        user_id               TEXT,
        cost_nanos            INTEGER,
        cost_sub_femtos       INTEGER,
        estimated             INTEGER NOT NULL DEFAULT 0,
        producer_cost         TEXT,
        differs               INTEGER NOT NULL DEFAULT 0,
        input_tokens          INTEGER NOT NULL DEFAULT 0,
        output_tokens         INTEGER NOT NULL DEFAULT 0,
        cache_read_tokens     INTEGER NOT NULL DEFAULT 0,
        cache_write_tokens    INTEGER NOT NULL DEFAULT 0,
        reasoning_tokens      INTEGER NOT NULL DEFAULT 0,
        breakdown             TEXT    NOT NULL,
        PRIMARY KEY (project, trace_id, span_id)
    ) STRICT;
    INSERT INTO span_costs_v2 (
        project, trace_id, span_id, start_unix_nanos, end_unix_nanos, model, matched_model,
        provider, agent, session_id, user_id, cost_nanos, cost_sub_femtos, estimated,
        producer_cost, differs, input_tokens, output_tokens, cache_read_tokens,
        cache_write_tokens, reasoning_tokens, breakdown
    ) SELECT
        project, trace_id, span_id, start_unix_nanos, end_unix_nanos, model, matched_model,
        provider, agent, session_id, user_id, cost_nanos, cost_sub_femtos, estimated,
        producer_cost, differs, input_tokens, output_tokens, cache_read_tokens,
        cache_write_tokens, reasoning_tokens, breakdown
    FROM span_costs ORDER BY end_unix_nanos;
    DROP TABLE span_costs;
    ALTER TABLE span_costs_v2 RENAME TO span_costs;
    CREATE INDEX span_costs_by_end ON span_costs (project, end_unix_nanos);";

/// One priced span: one row of `span_costs`. Amounts are exact femtodollars (the store splits
/// them, see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpanCostRecord {
    /// The span's project.
    pub project: String,
    /// Its trace.
    pub trace_id: String,
    /// The span.
    pub span_id: String,
    /// Its start, nanoseconds since the Unix epoch.
    pub start_unix_nanos: i64,
    /// Its end: the time the cost counts at (hour of `cost_metrics`, budgets, ranges).
    pub end_unix_nanos: i64,
    /// The model as the span named it (empty when none).
    pub model: String,
    /// The price-table model it was priced as, when priced.
    pub matched_model: Option<String>,
    /// `gen_ai.provider.name`.
    pub provider: Option<String>,
    /// The agent the span worked for (empty when unknown).
    pub agent: String,
    /// `gen_ai.conversation.id`.
    pub session_id: Option<String>,
    /// The end user.
    pub user_id: Option<String>,
    /// The cost the span keeps (the producer's when it sent one, else ours), femtodollars;
    /// `None` when it has none (an unknown model, no usage).
    pub cost_femtos: Option<i128>,
    /// Whether that cost rests on estimated tokens.
    pub estimated: bool,
    /// The producer's own cost, exact decimal USD text.
    pub producer_cost: Option<String>,
    /// Whether the producer's cost and ours differ.
    pub differs: bool,
    /// Input tokens (cached included).
    pub input_tokens: i64,
    /// Output tokens (reasoning included).
    pub output_tokens: i64,
    /// Input tokens read from the cache.
    pub cache_read_tokens: i64,
    /// Input tokens written to the cache.
    pub cache_write_tokens: i64,
    /// Reasoning tokens.
    pub reasoning_tokens: i64,
    /// The cost engine's account of the span (`SpanCost` as JSON text).
    pub breakdown: String,
}

/// What the spans of one trace cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceCost {
    /// The sum of the kept costs of its priced spans, femtodollars.
    pub cost_femtos: i128,
    /// Whether any of them rests on estimated tokens.
    pub estimated: bool,
    /// How many of its spans have a cost.
    pub priced_spans: i64,
}

/// How [`SqliteSpanStore::cost_report`] groups costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CostGroupBy {
    /// The model as spans named it (from `cost_metrics`).
    Model,
    /// The UTC day (from `cost_metrics`).
    Day,
    /// The agent (from `cost_metrics`).
    Agent,
    /// The session (from `span_costs`).
    Session,
    /// The end user (from `span_costs`).
    User,
}

impl CostGroupBy {
    /// Every grouping.
    pub const ALL: [CostGroupBy; 5] = [
        CostGroupBy::Model,
        CostGroupBy::Day,
        CostGroupBy::Agent,
        CostGroupBy::Session,
        CostGroupBy::User,
    ];

    /// `model`, `day`, `agent`, `session` or `user`.
    pub fn name(self) -> &'static str {
        match self {
            CostGroupBy::Model => "model",
            CostGroupBy::Day => "day",
            CostGroupBy::Agent => "agent",
            CostGroupBy::Session => "session",
            CostGroupBy::User => "user",
        }
    }

    /// The grouping of a [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<CostGroupBy> {
        CostGroupBy::ALL.into_iter().find(|g| g.name() == name)
    }

    /// Whether the hourly `cost_metrics` answer it (else the spans' own rows do).
    pub fn from_hourly_metrics(self) -> bool {
        matches!(
            self,
            CostGroupBy::Model | CostGroupBy::Day | CostGroupBy::Agent
        )
    }
}

/// The conditions of [`SqliteSpanStore::cost_report`].
#[derive(Debug, Clone)]
pub struct CostQuery {
    /// The project.
    pub project: String,
    /// How to group.
    pub group_by: CostGroupBy,
    /// Spans that ended at or after this time. Groupings answered from the hourly
    /// `cost_metrics` count whole hours: the hour holding `since` is included.
    pub since_unix_nanos: Option<i64>,
    /// Spans that ended before this time; for hourly groupings, hours that start before it.
    pub until_unix_nanos: Option<i64>,
    /// The width of a bucket of the series, in seconds (3600 or 86400 for hourly groupings;
    /// any positive width for the others).
    pub bucket_seconds: i64,
}

/// Cost, estimated cost and tokens of a set of spans.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CostTotals {
    /// Kept cost, femtodollars.
    pub cost_femtos: i128,
    /// Of it, what rests on estimated tokens.
    pub estimated_cost_femtos: i128,
    /// Input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Spans counted.
    pub span_count: i64,
}

/// One group of a [`CostReport`], or one bucket of its series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostGroup {
    /// The group's key: the model, agent, session or user (empty when unknown), or the day
    /// as `YYYY-MM-DD`.
    pub key: String,
    /// The start of the bucket, seconds since the Unix epoch (series only; 0 in `groups`).
    pub bucket_start_unix_seconds: i64,
    /// Its figures.
    pub totals: CostTotals,
}

/// What [`SqliteSpanStore::cost_report`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CostReport {
    /// All spans of the range.
    pub total: CostTotals,
    /// Per group, most expensive first (then by key).
    pub groups: Vec<CostGroup>,
    /// Per bucket and group, oldest bucket first, then by key.
    pub series: Vec<CostGroup>,
}

/// Splits exact femtodollars into (whole nanodollars, femtodollars below), floored, so that
/// the remainder is in `0..10⁶`. Amounts past what `i64` nanodollars hold saturate.
fn split_femtos(femtos: i128) -> (i64, i64) {
    let nanos = femtos.div_euclid(FEMTOS_PER_NANO);
    let rest = femtos.rem_euclid(FEMTOS_PER_NANO);
    (
        i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX }),
        rest as i64,
    )
}

/// The exact femtodollars of summed (nanos, sub-femtos) columns.
fn join_femtos(nanos: i64, sub_femtos: i64) -> i128 {
    i128::from(nanos) * FEMTOS_PER_NANO + i128::from(sub_femtos)
}

/// The UTC hour of a span that ended at `end_unix_nanos`, in seconds (as the cost engine's
/// `hour_start`).
fn hour_of(end_unix_nanos: i64) -> i64 {
    end_unix_nanos.div_euclid(1_000_000_000).div_euclid(3600) * 3600
}

const INSERT_SPAN_COST: &str = "INSERT OR IGNORE INTO span_costs (
        project, trace_id, span_id, start_unix_nanos, end_unix_nanos, model, matched_model,
        provider, agent, session_id, user_id, cost_nanos, cost_sub_femtos, estimated,
        producer_cost, differs, input_tokens, output_tokens, cache_read_tokens,
        cache_write_tokens, reasoning_tokens, breakdown
    ) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
        ?19, ?20, ?21, ?22)";

/// Adds the figures of a write's new spans of one (project, model, agent, hour) to its row;
/// ?14 is how many spans they are.
const ADD_TO_METRICS: &str = "INSERT INTO cost_metrics (
        project, model, agent, hour_unix_seconds, cost_nanos, cost_sub_femtos,
        estimated_cost_nanos, estimated_cost_sub_femtos, input_tokens, output_tokens,
        cache_read_tokens, cache_write_tokens, reasoning_tokens, span_count, priced_span_count,
        estimated_span_count
    ) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
    ON CONFLICT (project, hour_unix_seconds, model, agent) DO UPDATE SET
        cost_nanos = cost_nanos + excluded.cost_nanos,
        cost_sub_femtos = cost_sub_femtos + excluded.cost_sub_femtos,
        estimated_cost_nanos = estimated_cost_nanos + excluded.estimated_cost_nanos,
        estimated_cost_sub_femtos = estimated_cost_sub_femtos + excluded.estimated_cost_sub_femtos,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
        reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
        span_count = span_count + excluded.span_count,
        priced_span_count = priced_span_count + excluded.priced_span_count,
        estimated_span_count = estimated_span_count + excluded.estimated_span_count";

/// A `cost_metrics` row's key: project, model, agent, hour (seconds since the epoch).
type MetricsKey<'a> = (&'a str, &'a str, &'a str, i64);

/// The figures one write adds to one `cost_metrics` row: the sums over its new spans of that
/// (project, model, agent, hour), each column summed as the row sums it (nanodollars and the
/// femtodollars below them apart), so one upsert per row gives what one per span gave.
#[derive(Debug, Default)]
struct MetricsSum {
    cost_nanos: i64,
    cost_sub_femtos: i64,
    estimated_cost_nanos: i64,
    estimated_cost_sub_femtos: i64,
    input_tokens: i64,
    output_tokens: i64,
    cache_read_tokens: i64,
    cache_write_tokens: i64,
    reasoning_tokens: i64,
    span_count: i64,
    priced_span_count: i64,
    estimated_span_count: i64,
}

impl MetricsSum {
    /// Adds one new span's figures.
    fn add(&mut self, cost: &SpanCostRecord, split: Option<(i64, i64)>) {
        let (nanos, sub) = split.unwrap_or((0, 0));
        let estimated = cost.estimated && split.is_some();
        let add = |sum: &mut i64, n: i64| *sum = sum.saturating_add(n);
        add(&mut self.cost_nanos, nanos);
        add(&mut self.cost_sub_femtos, sub);
        if estimated {
            add(&mut self.estimated_cost_nanos, nanos);
            add(&mut self.estimated_cost_sub_femtos, sub);
        }
        add(&mut self.input_tokens, cost.input_tokens);
        add(&mut self.output_tokens, cost.output_tokens);
        add(&mut self.cache_read_tokens, cost.cache_read_tokens);
        add(&mut self.cache_write_tokens, cost.cache_write_tokens);
        add(&mut self.reasoning_tokens, cost.reasoning_tokens);
        add(&mut self.span_count, 1);
        add(&mut self.priced_span_count, i64::from(split.is_some()));
        add(&mut self.estimated_span_count, i64::from(estimated));
    }
}

const TRACE_COST: &str = "SELECT COALESCE(SUM(cost_nanos), 0), COALESCE(SUM(cost_sub_femtos), 0),
        COALESCE(MAX(estimated * (cost_nanos IS NOT NULL)), 0), COUNT(cost_nanos)
    FROM span_costs WHERE project = ?1 AND trace_id = ?2";

/// [`TRACE_COST`] over every project (?1 is ignored): the local viewer's store has one.
const TRACE_COST_ANY_PROJECT: &str = "SELECT COALESCE(SUM(cost_nanos), 0),
        COALESCE(SUM(cost_sub_femtos), 0),
        COALESCE(MAX(estimated * (cost_nanos IS NOT NULL)), 0), COUNT(cost_nanos)
    FROM span_costs WHERE ?1 IS NOT NULL AND trace_id = ?2";

const SPAN_COST_COLUMNS: &str = "project, trace_id, span_id, start_unix_nanos, end_unix_nanos, \
    model, matched_model, provider, agent, session_id, user_id, cost_nanos, cost_sub_femtos, \
    estimated, producer_cost, differs, input_tokens, output_tokens, cache_read_tokens, \
    cache_write_tokens, reasoning_tokens, breakdown";

/// The traces whose spans all ended before ?1 (as `DELETE_TRACES_ENDED_BEFORE` picks them).
const OLD_TRACES: &str = traces_ended_before!("old.trace_id");

fn span_cost_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SpanCostRecord> {
    let nanos: Option<i64> = row.get(11)?;
    let sub: Option<i64> = row.get(12)?;
    Ok(SpanCostRecord {
        project: row.get(0)?,
        trace_id: row.get(1)?,
        span_id: row.get(2)?,
        start_unix_nanos: row.get(3)?,
        end_unix_nanos: row.get(4)?,
        model: row.get(5)?,
        matched_model: row.get(6)?,
        provider: row.get(7)?,
        agent: row.get(8)?,
        session_id: row.get(9)?,
        user_id: row.get(10)?,
        cost_femtos: nanos.map(|n| join_femtos(n, sub.unwrap_or(0))),
        estimated: row.get(13)?,
        producer_cost: row.get(14)?,
        differs: row.get(15)?,
        input_tokens: row.get(16)?,
        output_tokens: row.get(17)?,
        cache_read_tokens: row.get(18)?,
        cache_write_tokens: row.get(19)?,
        reasoning_tokens: row.get(20)?,
        breakdown: row.get(21)?,
    })
}

/// Retention, in the transaction that deletes the spans: takes the cost rows of the traces
/// about to be deleted out of `cost_metrics` (so the aggregates still equal the sum of the
/// span costs left), then deletes those rows. Runs before the spans are deleted.
pub(super) fn delete_costs_of_traces_ended_before(
    tx: &Transaction<'_>,
    unix_nanos: i64,
) -> rusqlite::Result<()> {
    let subtract = format!(
        "WITH gone AS (
            SELECT project, model, agent,
                   (end_unix_nanos / 1000000000 - (CASE WHEN end_unix_nanos < 0 AND
                        end_unix_nanos % 1000000000 != 0 THEN 1 ELSE 0 END)) AS secs,
                   cost_nanos, cost_sub_femtos, estimated, input_tokens, output_tokens,
                   cache_read_tokens, cache_write_tokens, reasoning_tokens
            FROM span_costs WHERE trace_id IN ({OLD_TRACES})
        ),
        hours AS (
            SELECT project, model, agent,
                   (secs / 3600 - (CASE WHEN secs < 0 AND secs % 3600 != 0 THEN 1 ELSE 0 END))
                       * 3600 AS hour,
                   SUM(COALESCE(cost_nanos, 0)) AS c, SUM(COALESCE(cost_sub_femtos, 0)) AS cs,
                   SUM(CASE WHEN estimated AND cost_nanos IS NOT NULL THEN cost_nanos ELSE 0 END)
                       AS e,
                   SUM(CASE WHEN estimated AND cost_nanos IS NOT NULL THEN cost_sub_femtos
                       ELSE 0 END) AS es,
                   SUM(input_tokens) AS i, SUM(output_tokens) AS o, SUM(cache_read_tokens) AS cr,
                   SUM(cache_write_tokens) AS cw, SUM(reasoning_tokens) AS r, COUNT(*) AS n,
                   COUNT(cost_nanos) AS p,
                   SUM(CASE WHEN estimated AND cost_nanos IS NOT NULL THEN 1 ELSE 0 END) AS en
            FROM gone GROUP BY project, model, agent, hour
        )
        UPDATE cost_metrics SET
            cost_nanos = cost_metrics.cost_nanos - hours.c,
            cost_sub_femtos = cost_metrics.cost_sub_femtos - hours.cs,
            estimated_cost_nanos = cost_metrics.estimated_cost_nanos - hours.e,
            estimated_cost_sub_femtos = cost_metrics.estimated_cost_sub_femtos - hours.es,
            input_tokens = cost_metrics.input_tokens - hours.i,
            output_tokens = cost_metrics.output_tokens - hours.o,
            cache_read_tokens = cost_metrics.cache_read_tokens - hours.cr,
            cache_write_tokens = cost_metrics.cache_write_tokens - hours.cw,
            reasoning_tokens = cost_metrics.reasoning_tokens - hours.r,
            span_count = cost_metrics.span_count - hours.n,
            priced_span_count = cost_metrics.priced_span_count - hours.p,
            estimated_span_count = cost_metrics.estimated_span_count - hours.en
        FROM hours
        WHERE cost_metrics.project = hours.project AND cost_metrics.model = hours.model
          AND cost_metrics.agent = hours.agent AND cost_metrics.hour_unix_seconds = hours.hour"
    );
    tx.prepare_cached(&subtract)?.execute([unix_nanos])?;
    tx.prepare_cached("DELETE FROM cost_metrics WHERE span_count <= 0")?
        .execute([])?;
    tx.prepare_cached(&format!(
        "DELETE FROM span_costs WHERE trace_id IN ({OLD_TRACES})"
    ))?
    .execute([unix_nanos])?;
    Ok(())
}

/// Whether the priced spans of trace `trace_id` (of `project`, `None`: any) cost at least
/// `min_femtos` in all (the trace list's `min_cost`).
pub(super) fn trace_costs_at_least(
    tx: &Transaction<'_>,
    project: Option<&str>,
    trace_id: &str,
    min_femtos: i128,
) -> rusqlite::Result<bool> {
    let sql = match project {
        Some(_) => TRACE_COST,
        None => TRACE_COST_ANY_PROJECT,
    };
    let (nanos, sub, _, priced): (i64, i64, bool, i64) = tx.prepare_cached(sql)?.query_row(
        rusqlite::params![project.unwrap_or_default(), trace_id],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
    )?;
    Ok(priced > 0 && join_femtos(nanos, sub) >= min_femtos)
}

/// The time condition of a range over `column` (`?2` since, `?3` until, both nullable).
const RANGE: &str = "(?2 IS NULL OR {c} >= ?2) AND (?3 IS NULL OR {c} < ?3)";

impl SqliteSpanStore {
    /// Writes `costs` in one transaction and returns the positions in `costs` of the rows that
    /// were new. A span already priced (same project, trace and span id) is skipped, and only
    /// the new rows are added to `cost_metrics`, in the same transaction: a span delivered
    /// twice is counted once.
    pub fn insert_span_costs(&self, costs: &[SpanCostRecord]) -> Result<Vec<usize>, StoreError> {
        if costs.is_empty() {
            return Ok(Vec::new());
        }
        self.with_conn("writing span costs", |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut new = Vec::new();
            {
                let mut insert = tx.prepare_cached(INSERT_SPAN_COST)?;
                // The new rows' figures, summed per cost_metrics row (in the order first
                // met), then added with one upsert per row.
                let mut sums: Vec<(MetricsKey<'_>, MetricsSum)> = Vec::new();
                let mut row_of: HashMap<MetricsKey<'_>, usize> = HashMap::new();
                for (at, cost) in costs.iter().enumerate() {
                    let split = cost.cost_femtos.map(split_femtos);
                    let inserted = insert.execute(rusqlite::params![
                        cost.project,
                        cost.trace_id,
                        cost.span_id,
                        cost.start_unix_nanos,
                        cost.end_unix_nanos,
                        cost.model,
                        cost.matched_model,
                        cost.provider,
                        cost.agent,
                        cost.session_id,
                        cost.user_id,
                        split.map(|(nanos, _)| nanos),
                        split.map(|(_, sub)| sub),
                        cost.estimated,
                        cost.producer_cost,
                        cost.differs,
                        cost.input_tokens,
                        cost.output_tokens,
                        cost.cache_read_tokens,
                        cost.cache_write_tokens,
                        cost.reasoning_tokens,
                        cost.breakdown,
                    ])?;
                    if inserted == 0 {
                        continue;
                    }
                    new.push(at);
                    let key = (
                        cost.project.as_str(),
                        cost.model.as_str(),
                        cost.agent.as_str(),
                        hour_of(cost.end_unix_nanos),
                    );
                    let row = *row_of.entry(key).or_insert_with(|| {
                        sums.push((key, MetricsSum::default()));
                        sums.len() - 1
                    });
                    sums[row].1.add(cost, split);
                }
                let mut add = tx.prepare_cached(ADD_TO_METRICS)?;
                for ((project, model, agent, hour), sum) in &sums {
                    add.execute(rusqlite::params![
                        project,
                        model,
                        agent,
                        hour,
                        sum.cost_nanos,
                        sum.cost_sub_femtos,
                        sum.estimated_cost_nanos,
                        sum.estimated_cost_sub_femtos,
                        sum.input_tokens,
                        sum.output_tokens,
                        sum.cache_read_tokens,
                        sum.cache_write_tokens,
                        sum.reasoning_tokens,
                        sum.span_count,
                        sum.priced_span_count,
                        sum.estimated_span_count,
                    ])?;
                }
            }
            tx.commit()?;
            Ok(new)
        })
    }

    /// The cost of each of `trace_ids` (of `project`) that has priced spans.
    pub fn trace_costs(
        &self,
        project: &str,
        trace_ids: &[&str],
    ) -> Result<HashMap<String, TraceCost>, StoreError> {
        self.with_conn("summing trace costs", |conn| {
            let mut stmt = conn.prepare_cached(TRACE_COST)?;
            let mut found = HashMap::new();
            for trace_id in trace_ids {
                let (nanos, sub, estimated, priced): (i64, i64, bool, i64) = stmt
                    .query_row(rusqlite::params![project, trace_id], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                    })?;
                if priced > 0 {
                    found.insert(
                        (*trace_id).to_string(),
                        TraceCost {
                            cost_femtos: join_femtos(nanos, sub),
                            estimated,
                            priced_spans: priced,
                        },
                    );
                }
            }
            Ok(found)
        })
    }

    /// The cost rows of the spans of one trace (of `project`), by span id.
    pub fn span_costs_of_trace(
        &self,
        project: &str,
        trace_id: &str,
    ) -> Result<HashMap<String, SpanCostRecord>, StoreError> {
        self.with_conn("reading span costs", |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {SPAN_COST_COLUMNS} FROM span_costs WHERE project = ?1 AND trace_id = ?2"
            ))?;
            stmt.query_map(rusqlite::params![project, trace_id], span_cost_from_row)?
                .map(|row| row.map(|cost| (cost.span_id.clone(), cost)))
                .collect()
        })
    }

    /// Costs of `query.project` over a time range, in total, per group and per bucket and
    /// group. Model, day and agent come from the hourly `cost_metrics` (whole hours); session
    /// and user from `span_costs` (each span at its end time).
    pub fn cost_report(&self, query: &CostQuery) -> Result<CostReport, StoreError> {
        let bucket = query.bucket_seconds.max(1);
        let (key_sql, table, time) = match query.group_by {
            CostGroupBy::Model => ("model", "cost_metrics", "hour_unix_seconds"),
            CostGroupBy::Agent => ("agent", "cost_metrics", "hour_unix_seconds"),
            CostGroupBy::Day => (
                "strftime('%Y-%m-%d', hour_unix_seconds, 'unixepoch')",
                "cost_metrics",
                "hour_unix_seconds",
            ),
            CostGroupBy::Session => ("COALESCE(session_id, '')", "span_costs", "end_unix_nanos"),
            CostGroupBy::User => ("COALESCE(user_id, '')", "span_costs", "end_unix_nanos"),
        };
        // Hourly rows are selected by the hour they start: the hour holding `since` counts.
        let (since, until) = if query.group_by.from_hourly_metrics() {
            (
                query.since_unix_nanos.map(hour_of),
                query
                    .until_unix_nanos
                    .map(|until| until.div_euclid(1_000_000_000)),
            )
        } else {
            (query.since_unix_nanos, query.until_unix_nanos)
        };
        let (figures, seconds) = if table == "cost_metrics" {
            (
                "SUM(cost_nanos), SUM(cost_sub_femtos), SUM(estimated_cost_nanos), \
                 SUM(estimated_cost_sub_femtos), SUM(input_tokens), SUM(output_tokens), \
                 SUM(span_count)",
                "hour_unix_seconds",
            )
        } else {
            (
                "SUM(COALESCE(cost_nanos, 0)), SUM(COALESCE(cost_sub_femtos, 0)), \
                 SUM(CASE WHEN estimated THEN COALESCE(cost_nanos, 0) ELSE 0 END), \
                 SUM(CASE WHEN estimated THEN COALESCE(cost_sub_femtos, 0) ELSE 0 END), \
                 SUM(input_tokens), SUM(output_tokens), COUNT(*)",
                "(end_unix_nanos / 1000000000)",
            )
        };
        let range = RANGE.replace("{c}", time);
        let totals_of = |row: &rusqlite::Row<'_>, at: usize| -> rusqlite::Result<CostTotals> {
            let get = |i: usize| -> rusqlite::Result<i64> {
                Ok(row.get::<_, Option<i64>>(at + i)?.unwrap_or(0))
            };
            Ok(CostTotals {
                cost_femtos: join_femtos(get(0)?, get(1)?),
                estimated_cost_femtos: join_femtos(get(2)?, get(3)?),
                input_tokens: get(4)?,
                output_tokens: get(5)?,
                span_count: get(6)?,
            })
        };
        let total_sql = format!("SELECT {figures} FROM {table} WHERE project = ?1 AND {range}");
        let groups_sql = format!(
            "SELECT {key_sql} AS key, {figures} FROM {table} WHERE project = ?1 AND {range}
             GROUP BY key"
        );
        let series_sql = format!(
            "SELECT ({seconds} - (({seconds} % ?4) + ?4) % ?4) AS bucket, {key_sql} AS key,
                    {figures}
             FROM {table} WHERE project = ?1 AND {range}
             GROUP BY bucket, key ORDER BY bucket, key"
        );
        self.with_conn("computing costs", |conn| {
            let tx = conn.transaction()?;
            let total = tx
                .prepare_cached(&total_sql)?
                .query_row(rusqlite::params![query.project, since, until], |row| {
                    totals_of(row, 0)
                })?;
            let mut groups = tx
                .prepare_cached(&groups_sql)?
                .query_map(rusqlite::params![query.project, since, until], |row| {
                    Ok(CostGroup {
                        key: row.get(0)?,
                        bucket_start_unix_seconds: 0,
                        totals: totals_of(row, 1)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            groups.sort_by(|a, b| {
                b.totals
                    .cost_femtos
                    .cmp(&a.totals.cost_femtos)
                    .then_with(|| a.key.cmp(&b.key))
            });
            let series = tx
                .prepare_cached(&series_sql)?
                .query_map(
                    rusqlite::params![query.project, since, until, bucket],
                    |row| {
                        Ok(CostGroup {
                            bucket_start_unix_seconds: row.get(0)?,
                            key: row.get(1)?,
                            totals: totals_of(row, 2)?,
                        })
                    },
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(CostReport {
                total,
                groups,
                series,
            })
        })
    }

    /// The kept cost, femtodollars, of the spans of `project` that ended at or after
    /// `since_unix_nanos`, of one user or session when given: a budget's spend after a
    /// restart.
    pub fn cost_since(
        &self,
        project: &str,
        since_unix_nanos: i64,
        user_id: Option<&str>,
        session_id: Option<&str>,
    ) -> Result<i128, StoreError> {
        self.with_conn("summing costs for a budget", |conn| {
            let (nanos, sub): (i64, i64) = conn
                .prepare_cached(
                    "SELECT COALESCE(SUM(cost_nanos), 0), COALESCE(SUM(cost_sub_femtos), 0)
                     FROM span_costs
                     WHERE project = ?1 AND end_unix_nanos >= ?2
                       AND (?3 IS NULL OR user_id = ?3) AND (?4 IS NULL OR session_id = ?4)",
                )?
                .query_row(
                    rusqlite::params![project, since_unix_nanos, user_id, session_id],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )?;
            Ok(join_femtos(nanos, sub))
        })
    }

    /// Whether an alert of `dedup_key` was stored for `project` (a budget's crossing in a
    /// period, after a restart).
    pub fn alert_exists(&self, project: &str, dedup_key: &str) -> Result<bool, StoreError> {
        self.with_conn("looking up an alert", |conn| {
            conn.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM security_alerts WHERE project = ?1 AND dedup_key = ?2)",
            )?
            .query_row(rusqlite::params![project, dedup_key], |row| row.get(0))
        })
    }

    /// Stores `overrides_json` (a `PriceOverrides` as JSON text, checked by the caller) as the
    /// price overrides of `project`, replacing any before.
    pub fn set_price_overrides(
        &self,
        project: &str,
        overrides_json: &str,
        now_unix_nanos: i64,
    ) -> Result<(), StoreError> {
        self.with_conn("storing price overrides", |conn| {
            conn.prepare_cached(
                "INSERT INTO price_overrides (project, overrides, updated_unix_nanos)
                 VALUES (?1, ?2, ?3)
                 ON CONFLICT (project) DO UPDATE SET overrides = excluded.overrides,
                     updated_unix_nanos = excluded.updated_unix_nanos",
            )?
            .execute(rusqlite::params![project, overrides_json, now_unix_nanos])?;
            Ok(())
        })
    }

    /// The stored price overrides of `project` (JSON text) and when they were set.
    pub fn price_overrides(&self, project: &str) -> Result<Option<(String, i64)>, StoreError> {
        self.with_conn("reading price overrides", |conn| {
            conn.prepare_cached(
                "SELECT overrides, updated_unix_nanos FROM price_overrides WHERE project = ?1",
            )?
            .query_row([project], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()
        })
    }

    /// Every project's stored price overrides: (project, JSON text).
    pub fn all_price_overrides(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.with_conn("reading price overrides", |conn| {
            conn.prepare_cached("SELECT project, overrides FROM price_overrides ORDER BY project")?
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SpanRecord;

    const HOUR: i64 = 3_600_000_000_000;

    fn cost(trace: u8, span: u8, end: i64, model: &str, femtos: Option<i128>) -> SpanCostRecord {
        SpanCostRecord {
            project: "p".into(),
            trace_id: format!("{trace:032x}"),
            span_id: format!("{span:016x}"),
            start_unix_nanos: end - 1,
            end_unix_nanos: end,
            model: model.into(),
            matched_model: Some(model.into()),
            agent: "researcher".into(),
            session_id: Some(format!("s{}", trace % 2)),
            user_id: Some("u1".into()),
            cost_femtos: femtos,
            input_tokens: 100,
            output_tokens: 10,
            breakdown: "{}".into(),
            ..SpanCostRecord::default()
        }
    }

    /// The sum of span_costs and of cost_metrics, exact.
    fn sums(store: &SqliteSpanStore) -> ((i128, i64, i64), (i128, i64, i64)) {
        store
            .with_conn("test", |conn| {
                let spans = conn.query_row(
                    "SELECT COALESCE(SUM(cost_nanos),0), COALESCE(SUM(cost_sub_femtos),0),
                            COALESCE(SUM(input_tokens),0), COUNT(*) FROM span_costs",
                    [],
                    |r| {
                        Ok((
                            join_femtos(r.get(0)?, r.get(1)?),
                            r.get::<_, i64>(2)?,
                            r.get::<_, i64>(3)?,
                        ))
                    },
                )?;
                let metrics = conn.query_row(
                    "SELECT COALESCE(SUM(cost_nanos),0), COALESCE(SUM(cost_sub_femtos),0),
                            COALESCE(SUM(input_tokens),0), COALESCE(SUM(span_count),0)
                     FROM cost_metrics",
                    [],
                    |r| {
                        Ok((
                            join_femtos(r.get(0)?, r.get(1)?),
                            r.get::<_, i64>(2)?,
                            r.get::<_, i64>(3)?,
                        ))
                    },
                )?;
                Ok((spans, metrics))
            })
            .unwrap()
    }

    #[test]
    fn step_7_keeps_the_costs_of_a_step_6_file_in_a_rowid_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("traces.db");
        let t0 = 1_796_083_200 * 1_000_000_000;
        let written = [
            cost(1, 1, t0 + 10, "gpt-4o", Some(3_500_000_000_000)),
            cost(2, 1, t0 + 5, "claude", None),
        ];
        {
            let step_6 = crate::sqlite_file::Schema {
                application_id: super::super::APPLICATION_ID,
                migrations: &super::super::MIGRATIONS[..6],
            };
            let conn = crate::sqlite_file::open_file(&path, &step_6).unwrap();
            let store = SqliteSpanStore::from_connection(conn, Some(path.clone()), "v6".into());
            assert_eq!(store.insert_span_costs(&written).unwrap(), [0, 1]);
        }
        let store = SqliteSpanStore::open(&path).unwrap();
        let kept = store
            .span_costs_of_trace("p", &format!("{:032x}", 1))
            .unwrap();
        assert_eq!(kept.values().collect::<Vec<_>>(), [&written[0]]);
        let (spans, metrics) = sums(&store);
        assert_eq!(spans, metrics, "the aggregates still equal the rows");
        assert_eq!(spans.0, 3_500_000_000_000);
        // A rowid table now (a WITHOUT ROWID one has no rowid column), still keyed: a repeat
        // is ignored, a new span is written.
        let rowids: i64 = store
            .with_conn("test", |conn| {
                conn.query_row("SELECT COUNT(rowid) FROM span_costs", [], |r| r.get(0))
            })
            .unwrap();
        assert_eq!(rowids, 2);
        assert_eq!(
            store
                .insert_span_costs(&[written[1].clone(), cost(3, 1, t0, "gpt-4o", Some(1))])
                .unwrap(),
            [1]
        );
    }

    #[test]
    fn amounts_split_and_join_exactly() {
        for femtos in [
            0i128,
            1,
            999_999,
            1_000_000,
            3_500_000_000_000,
            -1,
            -1_000_001,
            123_456_789_012_345_678,
        ] {
            let (nanos, sub) = split_femtos(femtos);
            assert!((0..1_000_000).contains(&sub), "{femtos}: {sub}");
            assert_eq!(join_femtos(nanos, sub), femtos);
        }
    }

    #[test]
    fn a_span_is_priced_once_and_aggregates_equal_the_spans() {
        let store = SqliteSpanStore::open_in_memory().unwrap();
        let t0 = 1_796_083_200 * 1_000_000_000; // 2026-12-01T00:00:00Z
        // Sub-nanodollar parts that only add up exactly if nothing is rounded per span.
        let batch = vec![
            cost(1, 1, t0 + 10, "gpt-4o", Some(3_500_000_000_000)),
            cost(1, 2, t0 + 20, "gpt-4o", Some(333_333)),
            cost(2, 1, t0 + HOUR + 5, "gpt-4o", Some(666_667)),
            cost(2, 2, t0 + HOUR + 6, "claude", None),
        ];
        assert_eq!(store.insert_span_costs(&batch).unwrap(), [0, 1, 2, 3]);
        let mut again = batch[..2].to_vec();
        again.push(cost(3, 1, t0, "gpt-4o", Some(1)));
        assert_eq!(
            store.insert_span_costs(&again).unwrap(),
            [2],
            "a repeat is not priced again"
        );
        let (spans, metrics) = sums(&store);
        assert_eq!(spans, metrics);
        assert_eq!(spans.0, 3_500_000_000_000 + 333_333 + 666_667 + 1);
        assert_eq!(spans.2, 5);
        let costs = store
            .trace_costs("p", &[&format!("{:032x}", 1), &format!("{:032x}", 9)])
            .unwrap();
        assert_eq!(costs.len(), 1);
        assert_eq!(costs[&format!("{:032x}", 1)].cost_femtos, 3_500_000_333_333);
        assert!(
            store
                .trace_costs("other", &[&format!("{:032x}", 1)])
                .unwrap()
                .is_empty()
        );

        let report = store
            .cost_report(&CostQuery {
                project: "p".into(),
                group_by: CostGroupBy::Model,
                since_unix_nanos: Some(t0),
                until_unix_nanos: Some(t0 + 2 * HOUR),
                bucket_seconds: 3600,
            })
            .unwrap();
        assert_eq!(report.total.cost_femtos, spans.0);
        assert_eq!(report.total.span_count, 5);
        assert_eq!(report.groups[0].key, "gpt-4o");
        assert_eq!(report.groups[0].totals.cost_femtos, spans.0);
        assert_eq!(report.groups[1].key, "claude");
        assert_eq!(report.series.len(), 3, "{:?}", report.series);
        assert_eq!(
            report.series[0].bucket_start_unix_seconds,
            t0 / 1_000_000_000
        );
        let by_session = store
            .cost_report(&CostQuery {
                group_by: CostGroupBy::Session,
                since_unix_nanos: Some(t0 + 15),
                until_unix_nanos: None,
                bucket_seconds: 86_400,
                project: "p".into(),
            })
            .unwrap();
        // Exact range on span end: the first span (t0+10) is out.
        assert_eq!(by_session.total.span_count, 3);
        assert_eq!(by_session.total.cost_femtos, 333_333 + 666_667);
        let keys: Vec<&str> = by_session.groups.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, ["s0", "s1"], "most expensive first");
        assert_eq!(
            store.cost_since("p", t0 + HOUR, None, Some("s0")).unwrap(),
            666_667
        );
    }

    #[test]
    fn retention_takes_the_costs_of_deleted_traces_out_of_the_aggregates() {
        let store = SqliteSpanStore::open_in_memory().unwrap();
        let t0 = 1_796_083_200 * 1_000_000_000;
        let spans: Vec<SpanRecord> = [(1u8, t0), (2, t0 + 10 * HOUR)]
            .iter()
            .map(|&(trace, end)| {
                let mut span = SpanRecord::new(
                    format!("{trace:032x}"),
                    format!("{:016x}", 1),
                    "llm",
                    end - 1,
                    end,
                );
                span.project = "p".into();
                span
            })
            .collect();
        store.insert_spans(&spans).unwrap();
        store
            .insert_span_costs(&[
                cost(1, 1, t0, "gpt-4o", Some(5_000_000_000_001)),
                cost(2, 1, t0 + 10 * HOUR, "gpt-4o", Some(7)),
            ])
            .unwrap();
        assert_eq!(store.delete_older_than(t0 + HOUR).unwrap(), 1);
        let (spans, metrics) = sums(&store);
        assert_eq!(spans, metrics);
        assert_eq!(spans, (7, 100, 1));
        let rows: i64 = store
            .with_conn("test", |conn| {
                conn.query_row("SELECT COUNT(*) FROM cost_metrics", [], |r| r.get(0))
            })
            .unwrap();
        assert_eq!(rows, 1, "the emptied hour is gone");
    }

    #[test]
    fn overrides_are_stored_per_project() {
        let store = SqliteSpanStore::open_in_memory().unwrap();
        assert_eq!(store.price_overrides("p").unwrap(), None);
        store
            .set_price_overrides("p", r#"{"models":{}}"#, 1)
            .unwrap();
        store
            .set_price_overrides("p", r#"{"models":{"x":{}}}"#, 2)
            .unwrap();
        assert_eq!(
            store.price_overrides("p").unwrap(),
            Some((r#"{"models":{"x":{}}}"#.to_string(), 2))
        );
        assert_eq!(store.all_price_overrides().unwrap().len(), 1);
        assert_eq!(store.price_overrides("q").unwrap(), None);
    }
}
