//! Security alerts (and budget alerts, which travel the same path): migration step 5 adds the
//! `security_alerts` table. An alert is written once per `dedup_key` (a repeat is a no-op, so a
//! span scanned twice after a replay raises one row), listed newest first with keyset
//! pagination, and summarized per trace (count and highest severity) for the trace list.

use std::collections::HashMap;

use super::{DEFAULT_TRACE_LIMIT, MAX_TRACE_LIMIT, SqliteSpanStore, StoreError};

/// The `security_alerts` table and its indexes: the list (per project, newest first), the
/// alerts of one trace, and retention by time.
pub(super) const MIGRATION_5: &str = "CREATE TABLE security_alerts (
        id              INTEGER PRIMARY KEY,
        project         TEXT    NOT NULL,
        dedup_key       TEXT    NOT NULL,
        trace_id        TEXT,
        span_id         TEXT,
        detector        TEXT    NOT NULL,
        title           TEXT    NOT NULL,
        evidence        TEXT    NOT NULL DEFAULT '[]',
        score           INTEGER NOT NULL,
        severity        TEXT    NOT NULL,
        severity_rank   INTEGER NOT NULL,
        time_unix_nanos INTEGER NOT NULL,
        UNIQUE (project, dedup_key)
    ) STRICT;
    CREATE INDEX alerts_by_time ON security_alerts (project, time_unix_nanos, id);
    CREATE INDEX alerts_by_trace ON security_alerts (project, trace_id)
        WHERE trace_id IS NOT NULL;";

/// How bad an alert is, lowest first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum AlertSeverity {
    /// Worth a look.
    Low,
    /// Likely a problem.
    Medium,
    /// An attack or a leak, most likely.
    High,
    /// Act now.
    Critical,
}

impl AlertSeverity {
    /// Every severity, lowest first.
    pub const ALL: [AlertSeverity; 4] = [
        AlertSeverity::Low,
        AlertSeverity::Medium,
        AlertSeverity::High,
        AlertSeverity::Critical,
    ];

    /// `low`, `medium`, `high` or `critical`.
    pub fn name(self) -> &'static str {
        match self {
            AlertSeverity::Low => "low",
            AlertSeverity::Medium => "medium",
            AlertSeverity::High => "high",
            AlertSeverity::Critical => "critical",
        }
    }

    /// The severity of a [`name`](Self::name), case-insensitively.
    pub fn from_name(name: &str) -> Option<AlertSeverity> {
        AlertSeverity::ALL
            .into_iter()
            .find(|severity| severity.name().eq_ignore_ascii_case(name))
    }

    fn rank(self) -> i64 {
        self as i64
    }

    fn from_rank(rank: i64) -> Option<AlertSeverity> {
        AlertSeverity::ALL.into_iter().find(|s| s.rank() == rank)
    }
}

/// One alert: one row of `security_alerts`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AlertRecord {
    /// The row id (ignored when writing).
    pub id: i64,
    /// The project of the spans (or budget) that raised it.
    pub project: String,
    /// What makes a repeat of the same alert: the same key in the same project is written once
    /// (e.g. `TRACE:SPAN:DETECTOR`, or `budget:daily:2026-12-01`).
    #[serde(skip)]
    pub dedup_key: String,
    /// The trace, if the alert is about one.
    pub trace_id: Option<String>,
    /// The span that raised it, if any.
    pub span_id: Option<String>,
    /// The detector (`prompt_injection`, `pii_leak`, `runaway_loop`, `budget`, …).
    pub detector: String,
    /// A short title a person reads first.
    pub title: String,
    /// The evidence: JSON array text (PII in it is already redacted).
    #[serde(skip)]
    pub evidence: String,
    /// 0–100.
    pub score: i64,
    /// The severity of the score.
    pub severity: AlertSeverity,
    /// When it was raised, nanoseconds since the Unix epoch.
    pub time_unix_nanos: i64,
}

/// Which alerts [`SqliteSpanStore::alert_page`] lists; the default lists them all.
#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    /// Only this project's; `None`: every project.
    pub project: Option<String>,
    /// Only the alerts of this trace.
    pub trace_id: Option<String>,
    /// Only this detector's.
    pub detector: Option<String>,
    /// Only alerts at least this severe.
    pub min_severity: Option<AlertSeverity>,
    /// Only alerts raised at or after this time.
    pub since_unix_nanos: Option<i64>,
    /// Only alerts raised before this time.
    pub until_unix_nanos: Option<i64>,
    /// At most this many; 0 means [`DEFAULT_TRACE_LIMIT`], capped at [`MAX_TRACE_LIMIT`].
    pub limit: usize,
    /// Only alerts after this place of the newest-first order: (time, id) of the last one seen.
    pub before: Option<(i64, i64)>,
}

/// One page of [`SqliteSpanStore::alert_page`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertPage {
    /// Newest first.
    pub alerts: Vec<AlertRecord>,
    /// (time, id) where the next page starts; `None` on the last page.
    pub next: Option<(i64, i64)>,
}

/// The alerts of one trace at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TraceAlerts {
    /// How many alerts name the trace.
    pub count: i64,
    /// The highest severity among them.
    pub max_severity: AlertSeverity,
}

const INSERT_ALERT: &str = "INSERT OR IGNORE INTO security_alerts
        (project, dedup_key, trace_id, span_id, detector, title, evidence, score, severity,
         severity_rank, time_unix_nanos)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

const ALERT_COLUMNS: &str = "id, project, dedup_key, trace_id, span_id, detector, title, \
    evidence, score, severity_rank, time_unix_nanos";

const TRACE_ALERTS: &str = "SELECT COUNT(*), MAX(severity_rank) FROM security_alerts
    WHERE project = ?1 AND trace_id = ?2";

fn alert_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AlertRecord> {
    let rank: i64 = row.get(9)?;
    Ok(AlertRecord {
        id: row.get(0)?,
        project: row.get(1)?,
        dedup_key: row.get(2)?,
        trace_id: row.get(3)?,
        span_id: row.get(4)?,
        detector: row.get(5)?,
        title: row.get(6)?,
        evidence: row.get(7)?,
        score: row.get(8)?,
        severity: AlertSeverity::from_rank(rank).unwrap_or(AlertSeverity::Low),
        time_unix_nanos: row.get(10)?,
    })
}

impl SqliteSpanStore {
    /// Writes `alerts` in one transaction; an alert whose (project, dedup key) is stored
    /// already is skipped. Returns the alerts that were new, with their ids.
    pub fn insert_alerts(&self, alerts: &[AlertRecord]) -> Result<Vec<AlertRecord>, StoreError> {
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        self.with_conn("writing alerts", |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut new = Vec::new();
            {
                let mut insert = tx.prepare_cached(INSERT_ALERT)?;
                for alert in alerts {
                    let inserted = insert.execute(rusqlite::params![
                        alert.project,
                        alert.dedup_key,
                        alert.trace_id,
                        alert.span_id,
                        alert.detector,
                        alert.title,
                        alert.evidence,
                        alert.score,
                        alert.severity.name(),
                        alert.severity.rank(),
                        alert.time_unix_nanos,
                    ])?;
                    if inserted == 1 {
                        new.push(AlertRecord {
                            id: tx.last_insert_rowid(),
                            ..alert.clone()
                        });
                    }
                }
            }
            tx.commit()?;
            Ok(new)
        })
    }

    /// One page of alerts, newest first.
    pub fn alert_page(&self, query: &AlertQuery) -> Result<AlertPage, StoreError> {
        let limit = match query.limit {
            0 => DEFAULT_TRACE_LIMIT,
            limit => limit.min(MAX_TRACE_LIMIT),
        };
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM security_alerts
             WHERE (?1 IS NULL OR project = ?1) AND (?2 IS NULL OR trace_id = ?2)
               AND (?3 IS NULL OR detector = ?3) AND (?4 IS NULL OR severity_rank >= ?4)
               AND (?5 IS NULL OR time_unix_nanos >= ?5) AND (?6 IS NULL OR time_unix_nanos < ?6)
               AND (?7 IS NULL OR (time_unix_nanos, id) < (?7, ?8))
             ORDER BY time_unix_nanos DESC, id DESC
             LIMIT ?9"
        );
        let mut alerts = self.with_conn("listing alerts", |conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            stmt.query_map(
                rusqlite::params![
                    query.project,
                    query.trace_id,
                    query.detector,
                    query.min_severity.map(AlertSeverity::rank),
                    query.since_unix_nanos,
                    query.until_unix_nanos,
                    query.before.map(|(time, _)| time),
                    query.before.map(|(_, id)| id),
                    (limit + 1) as i64,
                ],
                alert_from_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let next = if alerts.len() > limit {
            alerts.truncate(limit);
            alerts.last().map(|last| (last.time_unix_nanos, last.id))
        } else {
            None
        };
        Ok(AlertPage { alerts, next })
    }

    /// The alert count and highest severity of each of `trace_ids` (of `project`) that has
    /// alerts.
    pub fn trace_alerts(
        &self,
        project: &str,
        trace_ids: &[&str],
    ) -> Result<HashMap<String, TraceAlerts>, StoreError> {
        self.with_conn("summarizing alerts", |conn| {
            let mut stmt = conn.prepare_cached(TRACE_ALERTS)?;
            let mut found = HashMap::new();
            for trace_id in trace_ids {
                let (count, rank): (i64, Option<i64>) = stmt
                    .query_row(rusqlite::params![project, trace_id], |row| {
                        Ok((row.get(0)?, row.get(1)?))
                    })?;
                if let Some(max_severity) = rank.and_then(AlertSeverity::from_rank)
                    && count > 0
                {
                    found.insert(
                        (*trace_id).to_string(),
                        TraceAlerts {
                            count,
                            max_severity,
                        },
                    );
                }
            }
            Ok(found)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(key: &str, trace: &str, severity: AlertSeverity, time: i64) -> AlertRecord {
        AlertRecord {
            id: 0,
            project: crate::DEFAULT_PROJECT.to_string(),
            dedup_key: key.to_string(),
            trace_id: Some(trace.to_string()),
            span_id: Some("00f067aa0ba902b7".to_string()),
            detector: "prompt_injection".to_string(),
            title: "Prompt injection in a tool output".to_string(),
            evidence: r#"[{"text":"ignore previous instructions"}]"#.to_string(),
            score: 80,
            severity,
            time_unix_nanos: time,
        }
    }

    #[test]
    fn a_repeated_key_is_written_once() {
        let store = SqliteSpanStore::open_in_memory().unwrap();
        let first = store
            .insert_alerts(&[alert("k1", "t1", AlertSeverity::High, 10)])
            .unwrap();
        assert_eq!(first.len(), 1);
        assert!(first[0].id > 0);
        let again = store
            .insert_alerts(&[
                alert("k1", "t1", AlertSeverity::High, 20),
                alert("k2", "t1", AlertSeverity::Low, 30),
            ])
            .unwrap();
        assert_eq!(again.len(), 1, "only k2 is new");
        let page = store.alert_page(&AlertQuery::default()).unwrap();
        assert_eq!(page.alerts.len(), 2);
    }

    #[test]
    fn pages_are_newest_first_and_filters_apply() {
        let store = SqliteSpanStore::open_in_memory().unwrap();
        let alerts: Vec<_> = (0..5)
            .map(|i| {
                let severity = if i % 2 == 0 {
                    AlertSeverity::Critical
                } else {
                    AlertSeverity::Low
                };
                alert(&format!("k{i}"), &format!("t{}", i % 2), severity, i * 10)
            })
            .collect();
        store.insert_alerts(&alerts).unwrap();
        let mut query = AlertQuery {
            limit: 2,
            ..AlertQuery::default()
        };
        let mut times = Vec::new();
        loop {
            let page = store.alert_page(&query).unwrap();
            times.extend(page.alerts.iter().map(|a| a.time_unix_nanos));
            match page.next {
                Some(next) => query.before = Some(next),
                None => break,
            }
        }
        assert_eq!(times, [40, 30, 20, 10, 0]);
        let critical = store
            .alert_page(&AlertQuery {
                min_severity: Some(AlertSeverity::High),
                ..AlertQuery::default()
            })
            .unwrap();
        assert_eq!(critical.alerts.len(), 3);
        let other_project = store
            .alert_page(&AlertQuery {
                project: Some("other".to_string()),
                ..AlertQuery::default()
            })
            .unwrap();
        assert!(other_project.alerts.is_empty());
    }

    #[test]
    fn traces_summarize_their_alerts() {
        let store = SqliteSpanStore::open_in_memory().unwrap();
        store
            .insert_alerts(&[
                alert("a", "t1", AlertSeverity::Low, 1),
                alert("b", "t1", AlertSeverity::High, 2),
            ])
            .unwrap();
        let found = store
            .trace_alerts(crate::DEFAULT_PROJECT, &["t1", "t2"])
            .unwrap();
        assert_eq!(
            found["t1"],
            TraceAlerts {
                count: 2,
                max_severity: AlertSeverity::High
            }
        );
        assert!(!found.contains_key("t2"));
    }
}
