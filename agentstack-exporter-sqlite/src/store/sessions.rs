//! Sessions (conversations): the spans that carry one `gen_ai.conversation.id`, grouped, most
//! recently active first, with keyset pagination on (latest span start, session id).

use super::{DEFAULT_TRACE_LIMIT, MAX_TRACE_LIMIT, SqliteSpanStore, StoreError};

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
const SESSION_PAGE: &str = "SELECT session_id, COUNT(DISTINCT trace_id), COUNT(*),
        MIN(start_unix_nanos), MAX(end_unix_nanos), MAX(start_unix_nanos) AS last_start,
        COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0),
        COALESCE(SUM(status = 2), 0), MAX(user_id)
    FROM spans
    WHERE session_id IS NOT NULL AND (?1 IS NULL OR project = ?1)
    GROUP BY session_id
    HAVING (?2 IS NULL OR MAX(start_unix_nanos) >= ?2)
       AND (?3 IS NULL OR MIN(start_unix_nanos) < ?3)
       AND (?4 IS NULL OR MAX(user_id = ?4))
       AND (?5 IS NULL OR (MAX(start_unix_nanos), session_id) < (?5, ?6))
    ORDER BY last_start DESC, session_id DESC
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
