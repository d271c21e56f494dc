//! Sessions (conversations): the spans that carry one `gen_ai.conversation.id`, grouped, most
//! recently active first, with keyset pagination on (latest span start, session id).
//!
//! # The session index
//!
//! `session_traces` (migration step 8) finds the traces of a session: a row per session, trace
//! and project for each write that stored new spans of that session in that trace, at the
//! earliest start among them. It replaced `spans_by_session`, an index entry per span: with
//! many live sessions each write put entries into nearly every leaf page of that index, so a
//! commit rewrote the whole index (and the checkpoint copied it again). A trace's spans mostly
//! arrive in one or two writes, so the rows are several times fewer.
//!
//! Every row's start is the start of one of the trace's spans of the session, so a scan of the
//! rows newest (or oldest) first meets each trace no later than a scan of those spans would;
//! the trace list's early stop ([`SqliteSpanStore::recent_traces`]) stays exact.

use std::collections::HashMap;

use rusqlite::Transaction;

use super::{DEFAULT_TRACE_LIMIT, MAX_TRACE_LIMIT, SpanRecord, SqliteSpanStore, StoreError};

/// Step 8: `session_traces`, filled from the spans already stored; `spans_by_session` goes.
pub(super) const MIGRATION_8: &str = "CREATE TABLE session_traces (
        session_id       TEXT    NOT NULL,
        start_unix_nanos INTEGER NOT NULL,
        trace_id         TEXT    NOT NULL,
        project          TEXT    NOT NULL,
        PRIMARY KEY (session_id, start_unix_nanos, trace_id, project)
    ) STRICT, WITHOUT ROWID;
    INSERT INTO session_traces (session_id, start_unix_nanos, trace_id, project)
        SELECT session_id, MIN(start_unix_nanos), trace_id, project FROM spans
        WHERE session_id IS NOT NULL
        GROUP BY session_id, trace_id, project;
    DROP INDEX IF EXISTS spans_by_session;";

/// One row of `session_traces`.
const INSERT_SESSION_TRACE: &str = "INSERT OR IGNORE INTO session_traces
    (session_id, start_unix_nanos, trace_id, project) VALUES (?1, ?2, ?3, ?4)";

/// Retention: the rows of the traces whose spans all ended before ?1 (the spans that go with
/// `DELETE_TRACES_ENDED_BEFORE`).
pub(super) const DELETE_SESSION_TRACES_ENDED_BEFORE: &str = concat!(
    "DELETE FROM session_traces WHERE (trace_id, project) IN (",
    traces_ended_before!("old.trace_id, old.project"),
    ")"
);

/// The `session_traces` rows of one write: per (session, trace, project) of its new spans, the
/// earliest start.
#[derive(Debug, Default)]
pub(super) struct SessionTraces<'a> {
    earliest: HashMap<(&'a str, &'a str, &'a str), i64>,
}

impl<'a> SessionTraces<'a> {
    /// Notes a newly stored span of `project`.
    pub(super) fn add(&mut self, project: &'a str, span: &'a SpanRecord) {
        let Some(session) = span.session_id.as_deref() else {
            return;
        };
        self.earliest
            .entry((session, span.trace_id.as_str(), project))
            .and_modify(|start| *start = (*start).min(span.start_unix_nanos))
            .or_insert(span.start_unix_nanos);
    }

    /// Writes the rows, in the transaction that stored the spans.
    pub(super) fn write(self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        if self.earliest.is_empty() {
            return Ok(());
        }
        let mut insert = tx.prepare_cached(INSERT_SESSION_TRACE)?;
        for ((session, trace, project), start) in self.earliest {
            insert.execute(rusqlite::params![session, start, trace, project])?;
        }
        Ok(())
    }
}

/// Which sessions [`SqliteSpanStore::session_page`] lists; the default lists every session.
#[derive(Debug, Clone, Default)]
pub struct SessionQuery {
    /// Only the spans of this project; `None`: every project.
    pub project: Option<String>,
    /// Only sessions with a span starting at or after this time (ns since the Unix epoch).
    pub since_unix_nanos: Option<i64>,
    /// Only sessions whose first span starts before this time (exclusive).
    pub until_unix_nanos: Option<i64>,
    /// Only sessions with a span of this end user.
    pub user_id: Option<String>,
    /// At most this many sessions; 0 means [`DEFAULT_TRACE_LIMIT`], and more than
    /// [`MAX_TRACE_LIMIT`] means [`MAX_TRACE_LIMIT`].
    pub limit: usize,
    /// Only sessions after this place in the order (the previous page's `next`).
    pub before: Option<SessionCursor>,
}

impl SessionQuery {
    /// The number of sessions this query asks for, after the default and the cap.
    pub fn effective_limit(&self) -> usize {
        match self.limit {
            0 => DEFAULT_TRACE_LIMIT,
            limit => limit.min(MAX_TRACE_LIMIT),
        }
    }
}

/// A place in the most-recent-first order of sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCursor {
    /// The latest span start of the last session of a page.
    pub last_start_unix_nanos: i64,
    /// Its session id.
    pub session_id: String,
}

/// One session at a glance, computed from its spans.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SessionSummary {
    /// The session (`gen_ai.conversation.id`, OpenInference `session.id`).
    pub session_id: String,
    /// How many traces have a span of the session.
    pub trace_count: i64,
    /// How many spans carry the session.
    pub span_count: i64,
    /// The earliest span start.
    pub start_unix_nanos: i64,
    /// The latest span end.
    pub end_unix_nanos: i64,
    /// The latest span start (the order of the list).
    pub last_start_unix_nanos: i64,
    /// Input tokens over its spans.
    pub input_tokens: i64,
    /// Output tokens over its spans.
    pub output_tokens: i64,
    /// Spans with an error status.
    pub error_count: i64,
    /// An end user of its spans (the greatest id, if several).
    pub user_id: Option<String>,
}

/// One page of [`SqliteSpanStore::session_page`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPage {
    /// The sessions, most recently active first.
    pub sessions: Vec<SessionSummary>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<SessionCursor>,
}

/// Sessions of project ?1 (NULL: all), active since ?2, started before ?3, with a span of user
/// ?4, after the cursor (?5, ?6); NULL means no condition. At most ?7 rows.
const SESSION_PAGE: &str = "WITH traces AS (
        SELECT DISTINCT session_id, trace_id, project FROM session_traces
        WHERE (?1 IS NULL OR project = ?1)
    )
    SELECT s.session_id, COUNT(DISTINCT s.trace_id), COUNT(*),
        MIN(s.start_unix_nanos), MAX(s.end_unix_nanos), MAX(s.start_unix_nanos) AS last_start,
        COALESCE(SUM(s.input_tokens), 0), COALESCE(SUM(s.output_tokens), 0),
        COALESCE(SUM(s.status = 2), 0), MAX(s.user_id)
    FROM traces CROSS JOIN spans AS s
        ON s.trace_id = traces.trace_id AND s.project = traces.project
       AND s.session_id = traces.session_id
    GROUP BY s.session_id
    HAVING (?2 IS NULL OR MAX(s.start_unix_nanos) >= ?2)
       AND (?3 IS NULL OR MIN(s.start_unix_nanos) < ?3)
       AND (?4 IS NULL OR MAX(s.user_id = ?4))
       AND (?5 IS NULL OR (MAX(s.start_unix_nanos), s.session_id) < (?5, ?6))
    ORDER BY last_start DESC, s.session_id DESC
    LIMIT ?7";

impl SqliteSpanStore {
    /// One page of sessions, most recently active first.
    pub fn session_page(&self, query: &SessionQuery) -> Result<SessionPage, StoreError> {
        let limit = query.effective_limit();
        let mut sessions = self.with_conn("listing sessions", |conn| {
            let mut stmt = conn.prepare_cached(SESSION_PAGE)?;
            let before = query.before.as_ref();
            stmt.query_map(
                rusqlite::params![
                    query.project,
                    query.since_unix_nanos,
                    query.until_unix_nanos,
                    query.user_id,
                    before.map(|b| b.last_start_unix_nanos),
                    before.map(|b| b.session_id.as_str()),
                    (limit + 1) as i64,
                ],
                |row| {
                    Ok(SessionSummary {
                        session_id: row.get(0)?,
                        trace_count: row.get(1)?,
                        span_count: row.get(2)?,
                        start_unix_nanos: row.get(3)?,
                        end_unix_nanos: row.get(4)?,
                        last_start_unix_nanos: row.get(5)?,
                        input_tokens: row.get(6)?,
                        output_tokens: row.get(7)?,
                        error_count: row.get(8)?,
                        user_id: row.get(9)?,
                    })
                },
            )?
            .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let next = if sessions.len() > limit {
            sessions.truncate(limit);
            sessions.last().map(|last| SessionCursor {
                last_start_unix_nanos: last.last_start_unix_nanos,
                session_id: last.session_id.clone(),
            })
        } else {
            None
        };
        Ok(SessionPage { sessions, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SpanRecord;

    fn span(trace: &str, span: &str, session: Option<&str>, start: i64) -> SpanRecord {
        let mut record = SpanRecord::new(
            format!("{trace:0>32}"),
            format!("{span:0>16}"),
            "step",
            start,
            start + 10,
        );
        record.session_id = session.map(str::to_string);
        record.input_tokens = Some(5);
        record
    }

    fn store_with(spans: &[SpanRecord]) -> SqliteSpanStore {
        let store = SqliteSpanStore::open_in_memory().unwrap();
        store.insert_spans(spans).unwrap();
        store
    }

    #[test]
    fn sessions_group_their_traces_most_recent_first() {
        let store = store_with(&[
            span("1", "1", Some("s-old"), 100),
            span("2", "2", Some("s-old"), 200),
            span("2", "3", Some("s-old"), 210),
            span("3", "4", Some("s-new"), 500),
            span("4", "5", None, 900),
        ]);
        let page = store.session_page(&SessionQuery::default()).unwrap();
        let ids: Vec<_> = page
            .sessions
            .iter()
            .map(|s| s.session_id.as_str())
            .collect();
        assert_eq!(ids, ["s-new", "s-old"]);
        let old = &page.sessions[1];
        assert_eq!((old.trace_count, old.span_count), (2, 3));
        assert_eq!((old.start_unix_nanos, old.end_unix_nanos), (100, 220));
        assert_eq!(old.input_tokens, 15);
        assert_eq!(page.next, None);
    }

    /// The `session_traces` rows, in key order.
    fn session_rows(store: &SqliteSpanStore) -> Vec<(String, i64, String)> {
        store
            .with_conn("test", |conn| {
                let mut stmt = conn.prepare(
                    "SELECT session_id, start_unix_nanos, trace_id FROM session_traces
                     ORDER BY session_id, start_unix_nanos, trace_id",
                )?;
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .unwrap()
    }

    #[test]
    fn a_write_indexes_each_session_trace_once_at_its_earliest_span() {
        let store = store_with(&[
            span("1", "1", Some("s"), 300),
            span("1", "2", Some("s"), 100),
            span("1", "3", None, 50),
            span("2", "4", Some("s"), 200),
        ]);
        let t = |n: &str| format!("{n:0>32}");
        assert_eq!(
            session_rows(&store),
            [("s".into(), 100, t("1")), ("s".into(), 200, t("2"))]
        );
        // A later write of the trace adds its own row; a span written again adds none.
        store
            .insert_spans(&[
                span("1", "5", Some("s"), 400),
                span("1", "1", Some("s"), 300),
            ])
            .unwrap();
        assert_eq!(session_rows(&store).len(), 3);
        // The session still counts each trace and each of its spans once.
        let page = store.session_page(&SessionQuery::default()).unwrap();
        let session = &page.sessions[0];
        assert_eq!((session.trace_count, session.span_count), (2, 4));
        assert_eq!(session.last_start_unix_nanos, 400);
        let traces = store
            .recent_traces(&crate::store::TraceFilter {
                session_id: Some("s".into()),
                ..Default::default()
            })
            .unwrap();
        let ids: Vec<_> = traces.iter().map(|t| t.trace_id.clone()).collect();
        assert_eq!(
            ids,
            [t("2"), t("1")],
            "trace 1 started at 50, before trace 2"
        );

        // Retention takes the rows of the traces it deletes.
        assert_eq!(store.delete_older_than(100).unwrap(), 0);
        store
            .insert_spans(&[span("9", "1", Some("s"), 10)])
            .unwrap();
        assert_eq!(store.delete_older_than(100).unwrap(), 1);
        assert_eq!(session_rows(&store).len(), 3);
        assert!(
            session_rows(&store)
                .iter()
                .all(|(_, _, trace)| *trace != t("9"))
        );
    }

    #[test]
    fn the_session_page_reads_the_spans_of_the_session_traces_only() {
        let store = store_with(&[]);
        let plan: Vec<String> = store
            .with_conn("test", |conn| {
                let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {SESSION_PAGE}"))?;
                stmt.query_map(
                    rusqlite::params![
                        None::<String>,
                        None::<i64>,
                        None::<i64>,
                        None::<String>,
                        None::<i64>,
                        None::<String>,
                        10
                    ],
                    |r| r.get(3),
                )?
                .collect()
            })
            .unwrap();
        assert!(
            plan.iter()
                .any(|step| step.starts_with("SEARCH s USING INDEX sqlite_autoindex_spans_1")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|step| step == "SCAN s"), "{plan:?}");
    }

    #[test]
    fn the_cursor_walks_every_session_once() {
        let spans: Vec<_> = (0..7)
            .map(|i| span(&i.to_string(), "1", Some(&format!("s{i}")), 100 * i))
            .collect();
        let store = store_with(&spans);
        let mut query = SessionQuery {
            limit: 3,
            ..SessionQuery::default()
        };
        let mut seen = Vec::new();
        loop {
            let page = store.session_page(&query).unwrap();
            seen.extend(page.sessions.into_iter().map(|s| s.session_id));
            match page.next {
                Some(next) => query.before = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, ["s6", "s5", "s4", "s3", "s2", "s1", "s0"]);
    }

    #[test]
    fn sessions_are_scoped_to_their_project_and_user() {
        let mut theirs = span("1", "1", Some("shared"), 100);
        theirs.project = "other".to_string();
        let mut ours = span("2", "2", Some("mine"), 100);
        ours.user_id = Some("alice".to_string());
        let store = store_with(&[theirs, ours]);
        let query = SessionQuery {
            project: Some(crate::DEFAULT_PROJECT.to_string()),
            ..SessionQuery::default()
        };
        let page = store.session_page(&query).unwrap();
        assert_eq!(page.sessions.len(), 1);
        assert_eq!(page.sessions[0].session_id, "mine");
        let bob = SessionQuery {
            user_id: Some("bob".to_string()),
            ..query
        };
        assert!(store.session_page(&bob).unwrap().sessions.is_empty());
    }
}
