//! Sessions: the spans that carry one `session_id` (`gen_ai.conversation.id`), grouped, most
//! recently active first, in keyset pages on (latest span start, session id), with the SQLite
//! store's conditions and answers (each span once: `FINAL`).

use agentstack_exporter_sqlite::store::{SessionCursor, SessionPage, SessionQuery, SessionSummary};

use crate::statement::Statement;
use crate::{ClickHouseStore, ClickHouseStoreError};

/// One session as the page query computes it.
#[derive(clickhouse::Row, serde::Deserialize)]
struct SessionRow {
    session_id: String,
    trace_count: i64,
    span_count: i64,
    start: i64,
    end: i64,
    last_start: i64,
    input_tokens: i64,
    output_tokens: i64,
    error_count: i64,
    user_id: Option<String>,
}

impl SessionRow {
    fn into_summary(self) -> SessionSummary {
        SessionSummary {
            session_id: self.session_id,
            trace_count: self.trace_count,
            span_count: self.span_count,
            start_unix_nanos: self.start,
            end_unix_nanos: self.end,
            last_start_unix_nanos: self.last_start,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            error_count: self.error_count,
            user_id: self.user_id,
        }
    }
}

/// The sessions of `query`, most recently active first, at most `limit`. Over every project
/// (`project` `None`), a session id is one session, as in SQLite.
pub(crate) fn session_page_statement(query: &SessionQuery, limit: usize) -> Statement {
    let mut sql = Statement::new(
        "SELECT assumeNotNull(session_id) AS session, toInt64(uniqExact(trace_id)), \
         toInt64(count()), toInt64(min(start_unix_nanos)), toInt64(max(end_unix_nanos)), \
         toInt64(max(start_unix_nanos)) AS last_start, toInt64(sum(ifNull(input_tokens, 0))), \
         toInt64(sum(ifNull(output_tokens, 0))), toInt64(countIf(status = 2)), max(user_id) \
         FROM spans FINAL WHERE isNotNull(session_id)",
    );
    if let Some(project) = &query.project {
        sql.bind(" AND project = ?", project.as_str());
    }
    sql.push(" GROUP BY session HAVING 1");
    if let Some(since) = query.since_unix_nanos {
        sql.bind(" AND last_start >= ?", since);
    }
    if let Some(until) = query.until_unix_nanos {
        sql.bind(" AND min(start_unix_nanos) < ?", until);
    }
    if let Some(user) = &query.user_id {
        sql.bind(" AND countIf(ifNull(user_id = ?, 0)) > 0", user.as_str());
    }
    if let Some(before) = &query.before {
        sql.bind(" AND (last_start < ?", before.last_start_unix_nanos)
            .bind(" OR (last_start = ?", before.last_start_unix_nanos)
            .bind(" AND session < ?))", before.session_id.as_str());
    }
    sql.bind(
        " ORDER BY last_start DESC, session DESC LIMIT ?",
        limit as u64,
    );
    sql
}

impl ClickHouseStore {
    /// One page of sessions, most recently active first (by latest span start, then session
    /// id descending), as `SqliteSpanStore::session_page` answers.
    pub async fn session_page(
        &self,
        query: &SessionQuery,
    ) -> Result<SessionPage, ClickHouseStoreError> {
        let limit = query.effective_limit();
        let rows: Vec<SessionRow> = session_page_statement(query, limit + 1)
            .query(self.client())
            .fetch_all()
            .await
            .map_err(|source| self.error("listing sessions", source))?;
        let mut sessions: Vec<SessionSummary> =
            rows.into_iter().map(SessionRow::into_summary).collect();
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
