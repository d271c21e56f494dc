//! [`ClickHouseStore`]: the span store of the distributed mode. Spans go in with one batch
//! insert; the trace list and the trace detail answer with the SQLite store's types and
//! semantics, computed in ClickHouse with `FINAL` so that a span written twice (redelivery, a
//! writer restarted mid-batch) is shown once even before its parts merge.

use std::time::{SystemTime, UNIX_EPOCH};

use agentstack_exporter_sqlite::store::{
    TraceCursor, TraceFilter, TracePage, TraceQuery, TraceSummary,
};
use agentstack_exporter_sqlite::{SpanRecord, SpanStatus, StorableSpan};
use clickhouse::Client;

use crate::ClickHouseStoreError;
use crate::links::{LinkRow, link_rows_of};
use crate::rows::{SPAN_COLUMNS, SpanRow, SummaryRow};
use crate::schema::{self, MIGRATIONS, SCHEMA_MIGRATIONS};
use crate::span_costs::usd_text;
use crate::statement::Statement;
use crate::trace_id::parse_trace_id;

/// The span store on one ClickHouse database, over HTTP. Cheap to clone (the client is a
/// connection pool); share one per process.
#[derive(Clone)]
pub struct ClickHouseStore {
    client: Client,
    url: String,
    database: String,
    /// User and password, for the client without a database that creates it.
    credentials: Option<(String, String)>,
}

impl std::fmt::Debug for ClickHouseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseStore")
            .field("url", &self.url)
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

/// Nanoseconds in a second.
const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// The trace summary columns of the trace list, in [`SummaryRow`]'s field order, computed over
/// the rows of the subquery (which carries `root_key`). The root is the span without a parent
/// that started first (then the smallest span id), else the earliest span, as in SQLite. The
/// `…_missing`/`root_…` pairs keep a root's NULL apart from its text: aggregate functions skip
/// rows with a NULL argument, so `argMin(service_name, …)` would not answer the root's.
const TRACE_SUMMARY_COLUMNS: &str = "trace_id,
    argMin(name, root_key) AS root_name,
    argMin(isNull(service_name), root_key) AS root_service_missing,
    argMin(ifNull(service_name, ''), root_key) AS root_service,
    min(service_name) AS any_service,
    argMin(isNull(session_id), root_key) AS root_session_missing,
    argMin(ifNull(session_id, ''), root_key) AS root_session,
    min(session_id) AS any_session,
    toInt64(min(start_unix_nanos)) AS trace_start,
    toInt64(max(end_unix_nanos)) AS trace_end,
    toInt64(count()) AS trace_span_count,
    toInt64(sum(ifNull(input_tokens, 0))) AS trace_input_tokens,
    toInt64(sum(ifNull(output_tokens, 0))) AS trace_output_tokens,
    toInt64(countIf(status = 2)) AS trace_error_count";

/// The columns the trace list reads from each span.
const TRACE_SPAN_COLUMNS: &str = "trace_id, name, service_name, session_id, start_unix_nanos, \
    end_unix_nanos, status, input_tokens, output_tokens, kind, model, user_id, input, output, \
    tuple(isNotNull(parent_span_id), start_unix_nanos, span_id) AS root_key";

#[derive(clickhouse::Row, serde::Deserialize)]
struct TraceIdRow {
    trace_id: String,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct CountRow {
    count: i64,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct VersionRow {
    version: u32,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct TextRow {
    text: String,
}

/// Whether a database name can be written into SQL as it is.
fn is_plain_identifier(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Now, in nanoseconds since the Unix epoch.
pub(crate) fn now_unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64)
}

impl ClickHouseStore {
    /// Connects to the ClickHouse server at `url` (HTTP, e.g. `http://127.0.0.1:8123`), creates
    /// `database` if it does not exist and migrates it to this build's schema. Safe when several
    /// processes connect at once.
    pub async fn connect(
        url: &str,
        database: &str,
    ) -> Result<ClickHouseStore, ClickHouseStoreError> {
        let store = ClickHouseStore::connect_unmigrated(url, database)?;
        store.migrate().await?;
        Ok(store)
    }

    /// A store on `database` at `url` that neither contacts the server nor migrates: for roles
    /// that only read (call [`check_schema`](Self::check_schema) to see that it is there).
    pub fn connect_unmigrated(
        url: &str,
        database: &str,
    ) -> Result<ClickHouseStore, ClickHouseStoreError> {
        if !is_plain_identifier(database) {
            return Err(ClickHouseStoreError::InvalidDatabaseName {
                database: database.to_string(),
            });
        }
        // Validation asks for RowBinaryWithNamesAndTypes and settings ClickHouse 18.16 lacks; the
        // row types here follow the schema of `sql/` (checked by the tests on both versions).
        let client = Client::default()
            .with_url(url)
            .with_database(database)
            // Uncompressed: the writer and ClickHouse share a network (here, a machine), and LZ4
            // on both sides cost a third of the writer's throughput in the distributed bench.
            .with_compression(clickhouse::Compression::None)
            .with_validation(false);
        Ok(ClickHouseStore {
            client,
            url: url.to_string(),
            database: database.to_string(),
            credentials: None,
        })
    }

    /// The same store, authenticating as `user` with `password` (ClickHouse's `default` user
    /// without a password otherwise). Call before [`migrate`](Self::migrate).
    pub fn with_credentials(mut self, user: &str, password: &str) -> ClickHouseStore {
        self.client = self.client.with_user(user).with_password(password);
        self.credentials = Some((user.to_string(), password.to_string()));
        self
    }

    /// The database.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's `version()`, e.g. `18.16.1`; also a readiness probe.
    pub async fn server_version(&self) -> Result<String, ClickHouseStoreError> {
        let row: TextRow = self
            .client
            .query("SELECT version()")
            .fetch_one()
            .await
            .map_err(|source| self.error("asking the server's version", source))?;
        Ok(row.text)
    }

    /// Creates the database if needed and applies the migration steps it has not had; returns
    /// the schema version it now has. Every statement is idempotent, so concurrent migrations
    /// of several processes (writers starting at once) all succeed.
    pub async fn migrate(&self) -> Result<u32, ClickHouseStoreError> {
        let server = Client::default().with_url(&self.url).with_validation(false);
        server
            .query(&format!("CREATE DATABASE IF NOT EXISTS {}", self.database))
            .execute()
            .await
            .map_err(|source| self.error("creating the database", source))?;
        for statement in schema::statements(SCHEMA_MIGRATIONS) {
            self.execute(&statement, "creating schema_migrations")
                .await?;
        }
        let applied = self.applied_versions().await?;
        let supported = schema::latest_version();
        if let Some(&found) = applied.iter().max()
            && found > supported
        {
            return Err(ClickHouseStoreError::NewerSchema {
                database: self.database.clone(),
                found,
                supported,
            });
        }
        for step in MIGRATIONS {
            if applied.contains(&step.version) {
                continue;
            }
            for statement in schema::statements(step.sql) {
                self.execute(&statement, "applying a migration step")
                    .await?;
            }
            let mut record = Statement::new(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (",
            );
            record
                .bind("?", u64::from(step.version))
                .bind(", ?", step.name)
                .bind(
                    ", toDateTime(?))",
                    now_unix_nanos() / NANOS_PER_SECOND as u64,
                );
            record
                .query(&self.client)
                .execute()
                .await
                .map_err(|source| self.error("recording a migration step", source))?;
        }
        Ok(supported)
    }

    /// Checks that the database has this build's schema (for roles that do not migrate):
    /// `Ok(version)` when up to date, else the error that says what to run.
    pub async fn check_schema(&self) -> Result<u32, ClickHouseStoreError> {
        let applied = self.applied_versions().await?;
        let found = applied.iter().copied().max().unwrap_or(0);
        let supported = schema::latest_version();
        if found > supported {
            return Err(ClickHouseStoreError::NewerSchema {
                database: self.database.clone(),
                found,
                supported,
            });
        }
        if found < supported {
            return Err(ClickHouseStoreError::NotMigrated {
                database: self.database.clone(),
                found,
                supported,
            });
        }
        Ok(found)
    }

    /// The versions recorded in `schema_migrations`.
    async fn applied_versions(&self) -> Result<Vec<u32>, ClickHouseStoreError> {
        let rows: Vec<VersionRow> = self
            .client
            .query("SELECT DISTINCT version FROM schema_migrations ORDER BY version")
            .fetch_all()
            .await
            .map_err(|source| self.error("reading schema_migrations", source))?;
        Ok(rows.into_iter().map(|row| row.version).collect())
    }

    /// Writes `spans` in one batch insert and returns how many were sent. A span already stored
    /// (same project, trace_id and span_id) is stored again but never shown twice, and the first
    /// write is the one shown, as in the SQLite store; unlike it, the count includes repeats
    /// (knowing them would cost a read per batch). A malformed span refuses the whole batch.
    /// The spans' links then go to `span_links` in a second insert; unlike SQLite, which indexes
    /// the links of a span's first write only, a repeat that carries other links adds them.
    pub async fn insert_spans<S: StorableSpan + Sync>(
        &self,
        spans: &[S],
    ) -> Result<usize, ClickHouseStoreError> {
        let rows = span_rows(spans, now_unix_nanos())?;
        if rows.is_empty() {
            return Ok(0);
        }
        self.insert_rows("spans", &rows, "inserting spans").await?;
        self.insert_links(&link_rows_of(spans, &rows)).await?;
        Ok(rows.len())
    }

    /// Writes the links of a batch just written (after its spans: a batch that fails between
    /// the two is written again whole by its retry, and both tables fold the repeats).
    async fn insert_links(&self, links: &[LinkRow]) -> Result<(), ClickHouseStoreError> {
        self.insert_rows("span_links", links, "inserting span links")
            .await
    }

    /// The most recent traces that pass `filter`, newest first (by trace start, then trace id
    /// descending), as [`SqliteSpanStore::recent_traces`] lists them.
    ///
    /// [`SqliteSpanStore::recent_traces`]: agentstack_exporter_sqlite::SqliteSpanStore::recent_traces
    pub async fn recent_traces(
        &self,
        filter: &TraceFilter,
    ) -> Result<Vec<TraceSummary>, ClickHouseStoreError> {
        let query = TraceQuery {
            filter: filter.clone(),
            ..TraceQuery::default()
        };
        self.list_traces(&query, filter.effective_limit()).await
    }

    /// One page of the traces that pass `query`, newest first (oldest first with
    /// `query.oldest_first`): at most its effective limit, after `query.before` when given, and
    /// the cursor of the next page when there are more; the same traces in the same order as
    /// [`SqliteSpanStore::trace_page`].
    ///
    /// [`SqliteSpanStore::trace_page`]: agentstack_exporter_sqlite::SqliteSpanStore::trace_page
    pub async fn trace_page(&self, query: &TraceQuery) -> Result<TracePage, ClickHouseStoreError> {
        let limit = query.filter.effective_limit();
        let mut traces = self.list_traces(query, limit + 1).await?;
        let next = if traces.len() > limit {
            traces.truncate(limit);
            traces.last().map(|last| TraceCursor {
                start_unix_nanos: last.start_unix_nanos,
                trace_id: last.trace_id.clone(),
            })
        } else {
            None
        };
        Ok(TracePage { traces, next })
    }

    /// The trace list, newest first, at most `limit`. Like the SQLite store's scan that stops
    /// as soon as no unseen trace can be newer, it first looks only at the traces with a span in
    /// the last hour before the newest span (then day, week): when `limit` of them started in
    /// that window, no trace outside it can rank before them, so the answer is exact; else the
    /// window widens, up to the whole range. Oldest first, the same from the oldest span on.
    async fn list_traces(
        &self,
        query: &TraceQuery,
        limit: usize,
    ) -> Result<Vec<TraceSummary>, ClickHouseStoreError> {
        let Some(bounds) = trace_list_bounds(query) else {
            return Ok(Vec::new());
        };
        let edge: NewestRow = newest_start_statement(query, bounds)
            .query(&self.client)
            .fetch_one()
            .await
            .map_err(|source| self.error("finding the newest span", source))?;
        if edge.spans == 0 {
            return Ok(Vec::new());
        }
        for width in CANDIDATE_WINDOWS {
            let (window, complete): (ListBounds, fn(i64, i64) -> bool) = if query.oldest_first {
                let upper = edge.start.saturating_add(width);
                if upper >= bounds.latest_start {
                    break;
                }
                (bounds.capped(upper), |start, upper| start <= upper)
            } else {
                let lower = edge.start.saturating_sub(width);
                if lower <= bounds.earliest_start {
                    break;
                }
                (bounds.narrowed(lower), |start, lower| start >= lower)
            };
            let inner = if query.oldest_first {
                window.latest_start
            } else {
                window.earliest_start
            };
            let traces = self.fetch_trace_list(query, limit, window).await?;
            if traces.len() == limit
                && traces
                    .last()
                    .is_some_and(|t| complete(t.start_unix_nanos, inner))
            {
                return Ok(traces);
            }
        }
        self.fetch_trace_list(query, limit, bounds).await
    }

    async fn fetch_trace_list(
        &self,
        query: &TraceQuery,
        limit: usize,
        bounds: ListBounds,
    ) -> Result<Vec<TraceSummary>, ClickHouseStoreError> {
        let rows: Vec<SummaryRow> = trace_list_statement_within(query, limit, bounds)
            .query(&self.client)
            .fetch_all()
            .await
            .map_err(|source| self.error("listing traces", source))?;
        Ok(rows.into_iter().map(SummaryRow::into_summary).collect())
    }

    /// For the live tail: the summaries of `trace_ids` that pass every condition of `query` (its
    /// cursor and limit aside), in the order given; ids with no span in the project are left
    /// out, as `SqliteSpanStore::traces_matching` answers.
    pub async fn traces_matching(
        &self,
        query: &TraceQuery,
        trace_ids: &[String],
    ) -> Result<Vec<TraceSummary>, ClickHouseStoreError> {
        if trace_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<SummaryRow> = traces_matching_statement(query, trace_ids)
            .query(&self.client)
            .fetch_all()
            .await
            .map_err(|source| self.error("summarizing live traces", source))?;
        let mut found: std::collections::HashMap<String, TraceSummary> = rows
            .into_iter()
            .map(|row| (row.trace_id.clone(), row.into_summary()))
            .collect();
        Ok(trace_ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    /// For the terminal's `tail`: the traces with a span that ended at or after
    /// `since_unix_nanos`, oldest trace first (by trace start, then trace id), each summarized
    /// over all its spans of every project, as `SqliteSpanStore::traces_updated_since`.
    pub async fn traces_updated_since(
        &self,
        since_unix_nanos: i64,
    ) -> Result<Vec<TraceSummary>, ClickHouseStoreError> {
        let rows: Vec<SummaryRow> = traces_updated_since_statement(since_unix_nanos)
            .query(&self.client)
            .fetch_all()
            .await
            .map_err(|source| self.error("listing updated traces", source))?;
        Ok(rows.into_iter().map(SummaryRow::into_summary).collect())
    }

    /// All spans of one trace, of every project, ordered by start time then span id; empty if
    /// no span of it is stored. `trace_id` is the full id or a prefix of at least
    /// `MIN_TRACE_ID_PREFIX` hex characters (any case) that starts exactly one stored trace id.
    pub async fn trace(&self, trace_id: &str) -> Result<Vec<SpanRecord>, ClickHouseStoreError> {
        self.trace_in_project(None, trace_id).await
    }

    /// Like [`trace`](Self::trace), but only the spans of `project` (`None`: every project); a
    /// prefix is resolved among that project's trace ids.
    pub async fn trace_in_project(
        &self,
        project: Option<&str>,
        trace_id: &str,
    ) -> Result<Vec<SpanRecord>, ClickHouseStoreError> {
        let Some(full_id) = self.resolve_trace_id(project, trace_id).await? else {
            return Ok(Vec::new());
        };
        let rows: Vec<SpanRow> = trace_spans_statement(project, &full_id)
            .query(&self.client)
            .fetch_all()
            .await
            .map_err(|source| self.error("reading a trace", source))?;
        rows.into_iter()
            .map(|row| {
                row.into_record()
                    .map_err(|reason| ClickHouseStoreError::CorruptRow {
                        table: "spans",
                        reason,
                    })
            })
            .collect()
    }

    /// The full id of `trace_id` (a full id or a unique prefix, any case) among the trace ids
    /// of `project` (`None`: all); `None` when a prefix starts none. A full id is taken as it
    /// is, stored or not.
    pub(crate) async fn resolve_trace_id(
        &self,
        project: Option<&str>,
        trace_id: &str,
    ) -> Result<Option<String>, ClickHouseStoreError> {
        let id = parse_trace_id(trace_id)?;
        if id.len() == 32 {
            return Ok(Some(id));
        }
        let mut matches: Vec<TraceIdRow> = trace_prefix_statement(project, &id)
            .query(&self.client)
            .fetch_all()
            .await
            .map_err(|source| self.error("resolving a trace id prefix", source))?;
        match matches.len() {
            0 => Ok(None),
            1 => Ok(Some(matches.remove(0).trace_id)),
            _ => Err(ClickHouseStoreError::AmbiguousTraceId {
                prefix: id,
                matches: matches
                    .into_iter()
                    .take(5)
                    .map(|row| row.trace_id)
                    .collect(),
            }),
        }
    }

    /// How many spans the store holds (every project; a span written twice counts once).
    pub async fn span_count(&self) -> Result<i64, ClickHouseStoreError> {
        let row: CountRow = self
            .client
            .query(SPAN_COUNT)
            .fetch_one()
            .await
            .map_err(|source| self.error("counting spans", source))?;
        Ok(row.count)
    }

    /// Runs one statement that returns no rows.
    pub(crate) async fn execute(
        &self,
        sql: &str,
        action: &'static str,
    ) -> Result<(), ClickHouseStoreError> {
        self.client
            .query(sql)
            .execute()
            .await
            .map_err(|source| self.error(action, source))
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Writes `rows` into `table` with one INSERT (none when there are no rows); `action` names
    /// it in the error.
    pub(crate) async fn insert_rows<T>(
        &self,
        table: &str,
        rows: &[T],
        action: &'static str,
    ) -> Result<(), ClickHouseStoreError>
    where
        T: clickhouse::RowOwned + clickhouse::RowWrite,
    {
        if rows.is_empty() {
            return Ok(());
        }
        let mut insert = self
            .client
            .insert::<T>(table)
            .await
            .map_err(|source| self.error(action, source))?;
        for row in rows {
            insert
                .write(row)
                .await
                .map_err(|source| self.error(action, source))?;
        }
        insert
            .end()
            .await
            .map_err(|source| self.error(action, source))
    }

    /// The store's error for a failure of the client while doing `action`.
    pub(crate) fn error(
        &self,
        action: &'static str,
        source: clickhouse::error::Error,
    ) -> ClickHouseStoreError {
        match source {
            clickhouse::error::Error::Network(_) | clickhouse::error::Error::TimedOut => {
                ClickHouseStoreError::Unreachable {
                    url: self.url.clone(),
                    action,
                    source,
                }
            }
            source => ClickHouseStoreError::Query {
                url: self.url.clone(),
                database: self.database.clone(),
                action,
                source,
            },
        }
    }
}

/// How many spans `spans` holds, a span written twice once.
pub(crate) const SPAN_COUNT: &str = "SELECT toInt64(count()) FROM spans FINAL";

/// The rows of `spans`, written at `write_unix_nanos`, or the error naming the first bad one.
pub(crate) fn span_rows(
    spans: &[impl StorableSpan],
    write_unix_nanos: u64,
) -> Result<Vec<SpanRow>, ClickHouseStoreError> {
    spans
        .iter()
        .enumerate()
        .map(|(index, span)| {
            SpanRow::from_span(span, write_unix_nanos).map_err(|reason| {
                ClickHouseStoreError::InvalidSpan {
                    index,
                    trace_id: span.record().trace_id.clone(),
                    span_id: span.record().span_id.clone(),
                    reason,
                }
            })
        })
        .collect()
}

/// The trace list: the summaries of the traces that pass `query`, newest first, at most
/// `limit`; `None` when no trace can pass (an `until` at the very start of time).
///
/// The candidates are the traces with a span in the time window (a trace that starts in it has
/// its earliest span there), read through the daily partitions of that window; each candidate is
/// then summarized over all its spans of the project (`FINAL`: each span once), and the
/// conditions on the whole trace, on any of its spans and on the cursor are `HAVING` clauses.
pub(crate) fn trace_list_statement(query: &TraceQuery, limit: usize) -> Option<Statement> {
    Some(trace_list_statement_within(
        query,
        limit,
        trace_list_bounds(query)?,
    ))
}

/// The widths of the candidate windows of the trace list, narrowest first.
const CANDIDATE_WINDOWS: [i64; 3] = [
    3_600 * NANOS_PER_SECOND,
    86_400 * NANOS_PER_SECOND,
    7 * 86_400 * NANOS_PER_SECOND,
];

/// The starts of the spans that can make a trace of a list: a trace that passes starts in
/// `[earliest_start, latest_start]`, so its earliest span does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListBounds {
    earliest_start: i64,
    latest_start: i64,
}

impl ListBounds {
    /// Only spans at or after `lower` (a candidate window, newest first).
    pub(crate) fn narrowed(self, lower: i64) -> ListBounds {
        ListBounds {
            earliest_start: self.earliest_start.max(lower),
            ..self
        }
    }

    /// Only spans at or before `upper` (a candidate window, oldest first).
    pub(crate) fn capped(self, upper: i64) -> ListBounds {
        ListBounds {
            latest_start: self.latest_start.min(upper),
            ..self
        }
    }
}

/// The bounds of `query`'s list; `None` when no trace can pass (an `until` at the very start
/// of time, a cursor before 1970).
pub(crate) fn trace_list_bounds(query: &TraceQuery) -> Option<ListBounds> {
    let filter = &query.filter;
    // Traces start before `until` (exclusive) and no later than the cursor's start.
    let mut latest_start = match filter.until_unix_nanos {
        None => i64::MAX,
        Some(until) => until.checked_sub(1)?,
    };
    // Newest first, traces after the cursor start no later than it; oldest first, no earlier.
    let mut earliest_start = filter.since_unix_nanos.unwrap_or(0).max(0);
    if let Some(before) = &query.before {
        if query.oldest_first {
            earliest_start = earliest_start.max(before.start_unix_nanos);
        } else {
            latest_start = latest_start.min(before.start_unix_nanos);
        }
    }
    if latest_start < 0 || earliest_start > latest_start {
        return None;
    }
    Some(ListBounds {
        earliest_start,
        latest_start,
    })
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct NewestRow {
    start: i64,
    spans: i64,
}

/// The latest span start within `bounds` in the project of `query` (the earliest, oldest
/// first), and whether there is one.
pub(crate) fn newest_start_statement(query: &TraceQuery, bounds: ListBounds) -> Statement {
    let mut sql = Statement::new(if query.oldest_first {
        "SELECT toInt64(min(start_unix_nanos)), toInt64(count()) FROM spans WHERE "
    } else {
        "SELECT toInt64(max(start_unix_nanos)), toInt64(count()) FROM spans WHERE "
    });
    if let Some(project) = &query.filter.project {
        sql.bind("project = ? AND ", project.as_str());
    }
    sql.bind("start_unix_nanos >= ?", bounds.earliest_start as u64)
        .bind(" AND start_unix_nanos <= ?", bounds.latest_start as u64);
    sql
}

/// [`trace_list_statement`] over the candidate traces with a span within `bounds`.
pub(crate) fn trace_list_statement_within(
    query: &TraceQuery,
    limit: usize,
    bounds: ListBounds,
) -> Statement {
    trace_list_statement_of(query, Some(limit), bounds, Candidates::Window)
}

/// Which traces a trace list summarizes.
pub(crate) enum Candidates<'a> {
    /// Those with a span within the bounds.
    Window,
    /// These (the live tail's).
    Ids(&'a [String]),
    /// Those with a span that ended at or after this time (the terminal's tail).
    EndedSince(u64),
}

/// The summaries of `traces_matching`: those of `trace_ids` that pass `query` (cursor aside).
pub(crate) fn traces_matching_statement(query: &TraceQuery, trace_ids: &[String]) -> Statement {
    let query = TraceQuery {
        before: None,
        ..query.clone()
    };
    let all = ListBounds {
        earliest_start: 0,
        latest_start: i64::MAX,
    };
    trace_list_statement_of(
        &query,
        Some(trace_ids.len().max(1)),
        all,
        Candidates::Ids(trace_ids),
    )
}

/// The summaries of `traces_updated_since`: the traces with a span that ended at or after
/// `since_unix_nanos`, over every project, oldest first.
pub(crate) fn traces_updated_since_statement(since_unix_nanos: i64) -> Statement {
    let query = TraceQuery {
        oldest_first: true,
        ..TraceQuery::default()
    };
    let all = ListBounds {
        earliest_start: 0,
        latest_start: i64::MAX,
    };
    trace_list_statement_of(
        &query,
        None,
        all,
        Candidates::EndedSince(since_unix_nanos.max(0) as u64),
    )
}

fn trace_list_statement_of(
    query: &TraceQuery,
    limit: Option<usize>,
    bounds: ListBounds,
    candidates: Candidates<'_>,
) -> Statement {
    let filter = &query.filter;
    let ListBounds {
        earliest_start,
        latest_start,
    } = bounds;
    let project = filter.project.as_deref();

    let mut sql = Statement::new("SELECT ");
    sql.push(TRACE_SUMMARY_COLUMNS);
    sql.push("\nFROM (SELECT ").push(TRACE_SPAN_COLUMNS);
    sql.push("\n    FROM spans FINAL\n    WHERE ");
    if let Some(project) = project {
        sql.bind("project = ? AND ", project);
    }
    match candidates {
        Candidates::Window => {
            sql.push("trace_id IN (\n        SELECT trace_id FROM spans WHERE ");
            if let Some(project) = project {
                sql.bind("project = ? AND ", project);
            }
            sql.bind("start_unix_nanos >= ?", earliest_start as u64)
                .bind(" AND start_unix_nanos <= ?", latest_start as u64)
                // The same window in whole seconds, on the partition key: only its days are read.
                .bind(
                    " AND start_time >= toDateTime(?)",
                    (earliest_start / NANOS_PER_SECOND) as u64,
                );
            if let Ok(latest_second) = u32::try_from(latest_start / NANOS_PER_SECOND) {
                sql.bind(" AND start_time <= toDateTime(?)", u64::from(latest_second));
            }
            sql.push(")");
        }
        Candidates::Ids(ids) => {
            sql.bind("has(?, trace_id)", ids.to_vec());
        }
        Candidates::EndedSince(since) => {
            sql.push("trace_id IN (\n        SELECT trace_id FROM spans WHERE ");
            if let Some(project) = project {
                sql.bind("project = ? AND ", project);
            }
            sql.bind("end_unix_nanos >= ?)", since);
        }
    }
    sql.push(")\nGROUP BY trace_id\nHAVING 1");
    if let Some(since) = filter.since_unix_nanos {
        sql.bind(" AND trace_start >= ?", since);
    }
    if let Some(until) = filter.until_unix_nanos {
        sql.bind(" AND trace_start < ?", until);
    }
    if let Some(name) = &filter.name_contains {
        sql.bind(
            " AND positionCaseInsensitiveUTF8(root_name, ?) > 0",
            name.as_str(),
        );
    }
    match filter.status {
        Some(SpanStatus::Error) => {
            sql.push(" AND trace_error_count > 0");
        }
        Some(SpanStatus::Ok) => {
            sql.push(" AND trace_error_count = 0");
        }
        Some(SpanStatus::Unset) | None => {}
    }
    if let Some(session) = &filter.session_id {
        sql.bind(
            " AND countIf(ifNull(session_id = ?, 0)) > 0",
            session.as_str(),
        );
    }
    for (column, wanted) in [
        ("service_name", &query.service_name),
        ("kind", &query.kind),
        ("model", &query.model),
        ("user_id", &query.user_id),
    ] {
        if let Some(wanted) = wanted {
            sql.push(" AND countIf(ifNull(")
                .push(column)
                .bind(" = ?, 0)) > 0", wanted.as_str());
        }
    }
    if let Some(text) = &query.text {
        // SQLite's lower() and ClickHouse's lower() both fold ASCII letters only.
        let needle = text.to_ascii_lowercase();
        sql.bind(
            " AND countIf(ifNull(position(lower(input), ?) > 0, 0)",
            needle.as_str(),
        )
        .bind(
            " OR ifNull(position(lower(output), ?) > 0, 0)) > 0",
            needle.as_str(),
        );
    }
    if let Some(min) = query.min_duration_nanos {
        sql.bind(" AND greatest(trace_end - trace_start, 0) >= ?", min);
    }
    if let Some(wanted) = query.has_alerts {
        sql.push(if wanted {
            " AND trace_id IN ("
        } else {
            " AND trace_id NOT IN ("
        });
        sql.push("SELECT ifNull(trace_id, '') FROM security_alerts");
        if let Some(project) = project {
            sql.bind(" WHERE project = ?", project);
        }
        sql.push(")");
    }
    if let Some(min) = query.min_cost_femtos {
        // The trace's priced spans of the project (of every project when none), as SQLite sums.
        // (`sum` skips the NULLs; 18.16 cannot resolve `ifNull` of a column in this subquery.)
        sql.push(" AND trace_id IN (SELECT trace_id FROM span_costs FINAL");
        if let Some(project) = project {
            sql.bind(" WHERE project = ?", project);
        }
        sql.push(" GROUP BY trace_id HAVING count(kept_cost_usd) > 0")
            .bind(
                " AND sum(kept_cost_usd) >= toDecimal128(?, 15))",
                usd_text(min),
            );
    }
    let (after, order) = if query.oldest_first {
        (">", "\nORDER BY trace_start, trace_id")
    } else {
        ("<", "\nORDER BY trace_start DESC, trace_id DESC")
    };
    if let Some(before) = &query.before {
        sql.push(" AND (trace_start ")
            .push(after)
            .bind(" ?", before.start_unix_nanos)
            .bind(" OR (trace_start = ?", before.start_unix_nanos)
            .push(" AND trace_id ")
            .push(after)
            .bind(" ?))", before.trace_id.as_str());
    }
    sql.push(order);
    if let Some(limit) = limit {
        sql.bind("\nLIMIT ?", limit as u64);
    }
    sql
}

/// The stored trace ids of `project` (`None`: all) that start with the hex prefix `prefix`, at
/// most 6 (enough to tell one from several and name 5).
pub(crate) fn trace_prefix_statement(project: Option<&str>, prefix: &str) -> Statement {
    let mut sql = Statement::new("SELECT DISTINCT trace_id FROM spans WHERE ");
    if let Some(project) = project {
        sql.bind("project = ? AND ", project);
    }
    // 'g' sorts just above every hex digit.
    sql.bind("trace_id >= ?", prefix)
        .bind(" AND trace_id < ?", format!("{prefix}g"))
        .push(" ORDER BY trace_id LIMIT 6");
    sql
}

/// The spans of the trace `trace_id` in `project` (`None`: all), each once, by start then span
/// id (then project).
pub(crate) fn trace_spans_statement(project: Option<&str>, trace_id: &str) -> Statement {
    let mut sql = Statement::new("SELECT ");
    sql.push(SPAN_COLUMNS)
        .push(" FROM spans FINAL WHERE ")
        .bind("trace_id = ?", trace_id);
    if let Some(project) = project {
        sql.bind(" AND project = ?", project);
    }
    sql.push(" ORDER BY start_unix_nanos, span_id, project");
    sql
}

/// `INSERT … VALUES` of `spans` as text: the same rows `insert_spans` sends as RowBinary, for
/// running the store's statements on another engine (the tests' current ClickHouse).
pub(crate) fn insert_values_statement(
    spans: &[impl StorableSpan],
    write_unix_nanos: u64,
) -> Result<Statement, ClickHouseStoreError> {
    let rows = span_rows(spans, write_unix_nanos)?;
    let mut sql = Statement::new("INSERT INTO spans (");
    sql.push(SPAN_COLUMNS).push(") VALUES");
    for (index, row) in rows.into_iter().enumerate() {
        sql.push(if index == 0 { "\n(" } else { ",\n(" });
        sql.bind("?", row.project)
            .bind(", ?", row.trace_id)
            .bind(", ?", row.span_id)
            .bind(", ?", row.parent_span_id)
            .bind(", ?", row.name)
            .bind(", ?", row.kind)
            .bind(", ?", row.service_name)
            .bind(", ?", row.start_unix_nanos)
            .bind(", ?", row.end_unix_nanos)
            .bind(", ?", u64::from(row.start_time))
            .bind(", ?", u64::from(row.status))
            .bind(", ?", row.status_message)
            .bind(", ?", row.provider)
            .bind(", ?", row.model)
            .bind(", ?", row.input_tokens)
            .bind(", ?", row.output_tokens)
            .bind(", ?", row.cache_read_input_tokens)
            .bind(", ?", row.cache_creation_input_tokens)
            .bind(", ?", row.reasoning_output_tokens)
            .bind(", ?", row.session_id)
            .bind(", ?", row.user_id)
            .bind(", ?", row.input)
            .bind(", ?", row.output)
            .bind(", ?", row.attributes)
            .bind(", ?", row.events)
            .bind(", ?", row.links)
            .bind(", ?", row.resource)
            .bind(", ?)", row.write_rank);
    }
    Ok(sql)
}
