//! Security and budget alerts in `security_alerts`: written once per (project, dedup key), as
//! the SQLite store writes them (a repeat, e.g. a span scanned again after a replay, is not new),
//! listed newest first in keyset pages, and read by the trace list's `has_alerts` condition.
//! An alert's id is its write time in nanoseconds (plus its place in the batch), kept in the
//! version column (`write_rank` = `u64::MAX` − id): ids grow in write order, as SQLite's rowids.

use std::collections::{HashMap, HashSet};

use agentstack_exporter_sqlite::store::{
    AlertPage, AlertQuery, AlertRecord, AlertSeverity, DEFAULT_TRACE_LIMIT, MAX_TRACE_LIMIT,
    TraceAlerts,
};

use crate::statement::Statement;
use crate::store::now_unix_nanos;
use crate::{ClickHouseStore, ClickHouseStoreError};

/// One row of `security_alerts`.
#[derive(Debug, Clone, clickhouse::Row, serde::Serialize)]
struct AlertRow {
    project: String,
    dedup_key: String,
    trace_id: Option<String>,
    span_id: Option<String>,
    detector: String,
    title: String,
    evidence: String,
    score: i64,
    severity: String,
    severity_rank: u8,
    time_unix_nanos: u64,
    write_rank: u64,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct KeyRow {
    project: String,
    dedup_key: String,
}

/// The stored (project, dedup key) pairs among `projects` × `keys` (a superset query; the caller
/// picks its pairs).
pub(crate) fn stored_keys_statement(projects: Vec<String>, keys: Vec<String>) -> Statement {
    let mut sql = Statement::new("SELECT DISTINCT project, dedup_key FROM security_alerts WHERE ");
    sql.bind("has(?, project)", projects)
        .bind(" AND has(?, dedup_key)", keys);
    sql
}

/// `INSERT … VALUES` of `alerts` as `insert_alerts` writes them when all are new, their ids
/// from `first_id` on, for running on another engine (the tests' current ClickHouse).
pub(crate) fn insert_values_statement(alerts: &[AlertRecord], first_id: i64) -> Statement {
    let mut sql = Statement::new(
        "INSERT INTO security_alerts (project, dedup_key, trace_id, span_id, detector, title, \
         evidence, score, severity, severity_rank, time_unix_nanos, write_rank) VALUES",
    );
    for (at, alert) in alerts.iter().enumerate() {
        sql.push(if at == 0 { "\n(" } else { ",\n(" });
        sql.bind("?", alert.project.as_str())
            .bind(", ?", alert.dedup_key.as_str())
            .bind(", ?", alert.trace_id.clone())
            .bind(", ?", alert.span_id.clone())
            .bind(", ?", alert.detector.as_str())
            .bind(", ?", alert.title.as_str())
            .bind(", ?", alert.evidence.as_str())
            .bind(", ?", alert.score)
            .bind(", ?", alert.severity.name())
            .bind(", ?", u64::from(severity_rank(alert.severity)))
            .bind(", ?", alert.time_unix_nanos.max(0) as u64)
            .bind(", ?)", u64::MAX - (first_id + at as i64) as u64);
    }
    sql
}

/// The alert count and highest severity rank of each of `trace_ids` with alerts in `project`.
pub(crate) fn trace_alerts_statement(project: &str, trace_ids: Vec<String>) -> Statement {
    let mut sql = Statement::new(
        "SELECT ifNull(trace_id, '') AS id, toInt64(count()), max(severity_rank) \
         FROM security_alerts FINAL WHERE ",
    );
    sql.bind("project = ?", project)
        .bind(" AND has(?, ifNull(trace_id, ''))", trace_ids)
        .push(" GROUP BY id ORDER BY id");
    sql
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct TraceAlertsRow {
    trace_id: String,
    count: i64,
    max_rank: u8,
}

impl ClickHouseStore {
    /// The alert count and highest severity of each of `trace_ids` (of `project`) that has
    /// alerts, as `SqliteSpanStore::trace_alerts` answers.
    pub async fn trace_alerts(
        &self,
        project: &str,
        trace_ids: &[&str],
    ) -> Result<HashMap<String, TraceAlerts>, ClickHouseStoreError> {
        if trace_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids = trace_ids.iter().map(|id| id.to_string()).collect();
        let rows: Vec<TraceAlertsRow> = trace_alerts_statement(project, ids)
            .query(self.client())
            .fetch_all()
            .await
            .map_err(|source| self.error("summarizing alerts", source))?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let max_severity = severity_of_rank(row.max_rank);
                (
                    row.trace_id,
                    TraceAlerts {
                        count: row.count,
                        max_severity,
                    },
                )
            })
            .collect())
    }

    /// Writes the alerts whose (project, dedup key) is not stored yet, in one insert, and returns
    /// them (the new ones, in the order given) with their ids: the write time in nanoseconds
    /// plus the place in the batch, growing in write order like SQLite's rowids (but not dense,
    /// and ordered across processes only as their clocks are). Two processes writing the same new alert at the same moment may both
    /// call it new; it is still stored and counted once (ReplacingMergeTree, `FINAL`).
    pub async fn insert_alerts(
        &self,
        alerts: &[AlertRecord],
    ) -> Result<Vec<AlertRecord>, ClickHouseStoreError> {
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        let projects: HashSet<&str> = alerts.iter().map(|a| a.project.as_str()).collect();
        let keys: HashSet<&str> = alerts.iter().map(|a| a.dedup_key.as_str()).collect();
        let stored: Vec<KeyRow> = stored_keys_statement(
            projects.into_iter().map(str::to_string).collect(),
            keys.into_iter().map(str::to_string).collect(),
        )
        .query(self.client())
        .fetch_all()
        .await
        .map_err(|source| self.error("looking up stored alerts", source))?;
        let mut seen: HashSet<(String, String)> = stored
            .into_iter()
            .map(|row| (row.project, row.dedup_key))
            .collect();
        let first_id = now_unix_nanos() as i64;
        let new: Vec<AlertRecord> = alerts
            .iter()
            .filter(|alert| seen.insert((alert.project.clone(), alert.dedup_key.clone())))
            .enumerate()
            .map(|(at, alert)| AlertRecord {
                id: first_id + at as i64,
                ..alert.clone()
            })
            .collect();
        if new.is_empty() {
            return Ok(new);
        }
        let rows: Vec<AlertRow> = new
            .iter()
            .map(|alert| AlertRow {
                project: alert.project.clone(),
                dedup_key: alert.dedup_key.clone(),
                trace_id: alert.trace_id.clone(),
                span_id: alert.span_id.clone(),
                detector: alert.detector.clone(),
                title: alert.title.clone(),
                evidence: alert.evidence.clone(),
                score: alert.score,
                severity: alert.severity.name().to_string(),
                severity_rank: severity_rank(alert.severity),
                time_unix_nanos: alert.time_unix_nanos.max(0) as u64,
                write_rank: u64::MAX - alert.id as u64,
            })
            .collect();
        self.insert_rows("security_alerts", &rows, "inserting alerts")
            .await?;
        Ok(new)
    }
}

/// The columns of [`AlertReadRow`].
const ALERT_COLUMNS: &str = "project, dedup_key, trace_id, span_id, detector, title, evidence, \
    score, severity_rank, time_unix_nanos, toInt64(bitNot(write_rank)) AS id";

/// One alert as `alert_page` reads it.
#[derive(clickhouse::Row, serde::Deserialize)]
struct AlertReadRow {
    project: String,
    dedup_key: String,
    trace_id: Option<String>,
    span_id: Option<String>,
    detector: String,
    title: String,
    evidence: String,
    score: i64,
    severity_rank: u8,
    time_unix_nanos: u64,
    id: i64,
}

impl AlertReadRow {
    fn into_record(self) -> AlertRecord {
        AlertRecord {
            id: self.id,
            project: self.project,
            dedup_key: self.dedup_key,
            trace_id: self.trace_id,
            span_id: self.span_id,
            detector: self.detector,
            title: self.title,
            evidence: self.evidence,
            score: self.score,
            severity: severity_of_rank(self.severity_rank),
            // Written from a non-negative i64.
            time_unix_nanos: self.time_unix_nanos as i64,
        }
    }
}

/// The effective page size of an alert query (as the SQLite store's).
fn alert_limit(query: &AlertQuery) -> usize {
    match query.limit {
        0 => DEFAULT_TRACE_LIMIT,
        limit => limit.min(MAX_TRACE_LIMIT),
    }
}

/// The alerts of `query`, newest first (by time, then id), at most `limit`; `None` when none
/// can pass (a bound before 1970, which no stored alert has).
pub(crate) fn alert_page_statement(query: &AlertQuery, limit: usize) -> Option<Statement> {
    let mut sql = Statement::new("SELECT ");
    sql.push(ALERT_COLUMNS)
        .push(" FROM security_alerts FINAL WHERE 1");
    if let Some(project) = &query.project {
        sql.bind(" AND project = ?", project.as_str());
    }
    if let Some(trace_id) = &query.trace_id {
        sql.bind(" AND trace_id = ?", trace_id.as_str());
    }
    if let Some(detector) = &query.detector {
        sql.bind(" AND detector = ?", detector.as_str());
    }
    if let Some(min) = query.min_severity {
        sql.bind(" AND severity_rank >= ?", u64::from(severity_rank(min)));
    }
    // Stored times are never negative (written clamped at 0).
    if let Some(since) = query.since_unix_nanos {
        sql.bind(" AND time_unix_nanos >= ?", since.max(0) as u64);
    }
    if let Some(until) = query.until_unix_nanos {
        if until <= 0 {
            return None;
        }
        sql.bind(" AND time_unix_nanos < ?", until as u64);
    }
    if let Some((time, id)) = query.before {
        if time < 0 {
            return None;
        }
        sql.bind(" AND (time_unix_nanos < ?", time as u64)
            .bind(" OR (time_unix_nanos = ?", time as u64)
            .bind(" AND id < ?))", id);
    }
    sql.bind(
        " ORDER BY time_unix_nanos DESC, id DESC LIMIT ?",
        limit as u64,
    );
    Some(sql)
}

/// Whether `project` has an alert of `dedup_key`.
pub(crate) fn alert_exists_statement(project: &str, dedup_key: &str) -> Statement {
    let mut sql = Statement::new("SELECT toUInt8(count() > 0) FROM security_alerts WHERE ");
    sql.bind("project = ?", project)
        .bind(" AND dedup_key = ?", dedup_key);
    sql
}

impl ClickHouseStore {
    /// One page of alerts, newest first (by time, then id), with the SQLite store's filters
    /// and cursor (`next` is the (time, id) of the page's last alert).
    pub async fn alert_page(&self, query: &AlertQuery) -> Result<AlertPage, ClickHouseStoreError> {
        let limit = alert_limit(query);
        let Some(statement) = alert_page_statement(query, limit + 1) else {
            return Ok(AlertPage {
                alerts: Vec::new(),
                next: None,
            });
        };
        let rows: Vec<AlertReadRow> = statement
            .query(self.client())
            .fetch_all()
            .await
            .map_err(|source| self.error("listing alerts", source))?;
        let mut alerts: Vec<AlertRecord> =
            rows.into_iter().map(AlertReadRow::into_record).collect();
        let next = if alerts.len() > limit {
            alerts.truncate(limit);
            alerts.last().map(|last| (last.time_unix_nanos, last.id))
        } else {
            None
        };
        Ok(AlertPage { alerts, next })
    }

    /// Whether an alert of `dedup_key` was stored for `project` (a budget's crossing in a
    /// period, after a restart).
    pub async fn alert_exists(
        &self,
        project: &str,
        dedup_key: &str,
    ) -> Result<bool, ClickHouseStoreError> {
        let found: u8 = alert_exists_statement(project, dedup_key)
            .query(self.client())
            .fetch_one()
            .await
            .map_err(|source| self.error("looking up an alert", source))?;
        Ok(found == 1)
    }
}

/// The severity of a stored rank (an unknown rank reads as the lowest).
fn severity_of_rank(rank: u8) -> AlertSeverity {
    AlertSeverity::ALL
        .get(usize::from(rank))
        .copied()
        .unwrap_or(AlertSeverity::Low)
}

/// The rank of a severity, lowest 0, as the SQLite store ranks them.
fn severity_rank(severity: AlertSeverity) -> u8 {
    AlertSeverity::ALL
        .iter()
        .position(|s| *s == severity)
        .unwrap_or(0) as u8
}
