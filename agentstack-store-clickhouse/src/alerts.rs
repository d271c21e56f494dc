//! Security and budget alerts in `security_alerts`: written once per (project, dedup key), as
//! the SQLite store writes them (a repeat, e.g. a span scanned again after a replay, is not new),
//! and read by the trace list's `has_alerts` condition.

use std::collections::{HashMap, HashSet};

use agentstack_exporter_sqlite::store::{AlertRecord, AlertSeverity, TraceAlerts};

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
                let max_severity = AlertSeverity::ALL
                    .get(usize::from(row.max_rank))
                    .copied()
                    .unwrap_or(AlertSeverity::Low);
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
    /// them (the new ones, in the order given). Unlike the SQLite store there is no row id: `id`
    /// is returned as 0. Two processes writing the same new alert at the same moment may both
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
        let new: Vec<AlertRecord> = alerts
            .iter()
            .filter(|alert| seen.insert((alert.project.clone(), alert.dedup_key.clone())))
            .map(|alert| AlertRecord {
                id: 0,
                ..alert.clone()
            })
            .collect();
        if new.is_empty() {
            return Ok(new);
        }
        let write_rank = u64::MAX - now_unix_nanos();
        let action = "inserting alerts";
        let mut insert = self
            .client()
            .insert::<AlertRow>("security_alerts")
            .await
            .map_err(|source| self.error(action, source))?;
        for alert in &new {
            let row = AlertRow {
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
                write_rank,
            };
            insert
                .write(&row)
                .await
                .map_err(|source| self.error(action, source))?;
        }
        insert
            .end()
            .await
            .map_err(|source| self.error(action, source))?;
        Ok(new)
    }
}

/// The rank of a severity, lowest 0, as the SQLite store ranks them.
fn severity_rank(severity: AlertSeverity) -> u8 {
    AlertSeverity::ALL
        .iter()
        .position(|s| *s == severity)
        .unwrap_or(0) as u8
}
