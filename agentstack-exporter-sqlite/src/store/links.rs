//! Span links, indexed, and the conversations they make. Migration step 4 adds the
//! `span_links` table, one row per link of a stored span; [`SqliteSpanStore::insert_spans`]
//! fills it from each new span's `links` JSON. [`SqliteSpanStore::conversation`] follows the
//! links both ways from one trace to every trace connected to it: AutoGen's runtime, for one,
//! starts a trace per message and ties it to its cause only with a link.

use rusqlite::{OptionalExtension, Transaction};

use super::{
    Lookup, SUMMARY_OF_TRACE, SpanRecord, SqliteSpanStore, StoreError, TraceSummary,
    parse_trace_id, resolve_trace_id, summary_from_row,
};

/// The most traces [`SqliteSpanStore::conversation`] follows from the one it starts at.
pub const MAX_CONVERSATION_TRACES: usize = 1000;

/// One row per link; the key makes a repeat a no-op. The key serves the links *from* the spans
/// of a trace, `span_links_to` the links *to* a trace.
pub(super) const MIGRATION_4: &str = "CREATE TABLE span_links (
        project         TEXT NOT NULL,
        trace_id        TEXT NOT NULL,
        span_id         TEXT NOT NULL,
        linked_trace_id TEXT NOT NULL,
        linked_span_id  TEXT NOT NULL,
        PRIMARY KEY (project, trace_id, span_id, linked_trace_id, linked_span_id)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX span_links_to ON span_links (project, linked_trace_id, trace_id);
    -- The links already stored as JSON text (since step 2), where they point to a span.
    INSERT OR IGNORE INTO span_links
        (project, trace_id, span_id, linked_trace_id, linked_span_id)
    SELECT spans.project, spans.trace_id, spans.span_id,
           json_extract(link.value, '$.trace_id'), json_extract(link.value, '$.span_id')
    FROM spans, json_each(CASE WHEN json_valid(spans.links) THEN spans.links ELSE '[]' END) AS link
    WHERE link.type = 'object'
      AND json_type(link.value, '$.trace_id') = 'text'
      AND json_type(link.value, '$.span_id') = 'text';";

/// Writes one link of a span; a link already stored is left as it is.
const INSERT_LINK: &str = "INSERT OR IGNORE INTO span_links
        (project, trace_id, span_id, linked_trace_id, linked_span_id)
    VALUES (?1, ?2, ?3, ?4, ?5)";

/// The traces connected to trace ?2 of project ?1 through links, in either direction, ?2
/// first, breadth first (SQLite's recursive CTE is a queue), at most ?3. `UNION` keeps each
/// trace once, so a cycle of links ends. `CROSS JOIN` keeps the queue's one row as the outer
/// loop, so each step is one index lookup, not a scan of the project's links.
const CONVERSATION_TRACE_IDS: &str = "WITH RECURSIVE conversation(trace_id) AS (
        SELECT ?2
        UNION
        SELECT link.linked_trace_id FROM conversation CROSS JOIN span_links AS link
            ON link.project = ?1 AND link.trace_id = conversation.trace_id
        UNION
        SELECT link.trace_id FROM conversation CROSS JOIN span_links AS link
            ON link.project = ?1 AND link.linked_trace_id = conversation.trace_id
        LIMIT ?3
    )
    SELECT trace_id FROM conversation";

/// Retention: the links of the traces whose spans all ended before ?1 (the spans that go with
/// `DELETE_TRACES_ENDED_BEFORE`). By (project, trace id), so that the key finds them.
pub(super) const DELETE_LINKS_OF_TRACES_ENDED_BEFORE: &str = concat!(
    "DELETE FROM span_links WHERE (project, trace_id) IN (",
    traces_ended_before!("old.project, old.trace_id"),
    ")"
);

/// A link as the `links` column holds it (`[{"trace_id", "span_id", "attributes"}]`); the
/// attributes are not indexed.
#[derive(serde::Deserialize)]
struct StoredLink {
    trace_id: String,
    span_id: String,
}

/// The (trace id, span id) each link of a `links` column points to. Text that is not a JSON
/// array of links, and links whose ids are not lowercase hex of the right length, index
/// nothing: the column keeps them as they came.
fn linked_spans(links: &str) -> Vec<StoredLink> {
    // Most spans have none: no parse for them.
    if links == "[]" {
        return Vec::new();
    }
    let Ok(links) = serde_json::from_str::<Vec<serde_json::Value>>(links) else {
        return Vec::new();
    };
    links
        .into_iter()
        .filter_map(|link| serde_json::from_value::<StoredLink>(link).ok())
        .filter(|link| {
            super::is_lower_hex(&link.trace_id, 32) && super::is_lower_hex(&link.span_id, 16)
        })
        .collect()
}

/// Indexes `links` (its `links` text) of `span` of `project`, just written, in the transaction
/// that wrote it.
pub(super) fn insert_links(
    tx: &Transaction<'_>,
    project: &str,
    span: &SpanRecord,
    links: &str,
) -> rusqlite::Result<()> {
    let links = linked_spans(links);
    if links.is_empty() {
        return Ok(());
    }
    let mut insert = tx.prepare_cached(INSERT_LINK)?;
    for link in links {
        insert.execute(rusqlite::params![
            project,
            span.trace_id,
            span.span_id,
            link.trace_id,
            link.span_id
        ])?;
    }
    Ok(())
}

/// The traces of one conversation: see [`SqliteSpanStore::conversation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// Every trace of it that has spans in the project, earliest start first (then by trace
    /// id); the first one's id is the conversation's id.
    pub traces: Vec<TraceSummary>,
    /// Whether the links reach more than [`MAX_CONVERSATION_TRACES`] traces: then `traces` holds
    /// those nearest (in links) to the trace asked for.
    pub truncated: bool,
}

impl Conversation {
    /// The id of the conversation: its earliest trace's id (`None` when it has no trace).
    pub fn id(&self) -> Option<&str> {
        self.traces.first().map(|trace| trace.trace_id.as_str())
    }
}

impl SqliteSpanStore {
    /// The conversation of the trace `trace_id` (full id or unique prefix, as for
    /// [`trace`](Self::trace)) in `project`: that trace and every trace connected to it through
    /// span links of the project, in either direction (a link from its spans, a link to them,
    /// and so on), up to [`MAX_CONVERSATION_TRACES`] traces. A linked trace with no span in the
    /// project still connects the traces linked to it, but is not listed. `None` when the
    /// project has no such trace.
    pub fn conversation(
        &self,
        project: &str,
        trace_id: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        let id = parse_trace_id(trace_id)?;
        self.with_conn("reading a conversation", |conn| {
            let tx = conn.transaction()?;
            let full_id = match resolve_trace_id(&tx, Some(project), &id)? {
                Lookup::Found(Some(full_id)) => full_id,
                Lookup::Found(None) => return Ok(Lookup::Found(None)),
                Lookup::Ambiguous(matches) => return Ok(Lookup::Ambiguous(matches)),
            };
            // One more than the bound, to know whether the links reach further.
            let limit = i64::try_from(MAX_CONVERSATION_TRACES + 1).unwrap_or(i64::MAX);
            let ids = tx
                .prepare_cached(CONVERSATION_TRACE_IDS)?
                .query_map(rusqlite::params![project, full_id, limit], |row| {
                    row.get::<_, String>(0)
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let truncated = ids.len() > MAX_CONVERSATION_TRACES;
            let mut summarize = tx.prepare_cached(SUMMARY_OF_TRACE)?;
            let mut summary_of = |id: &str| {
                summarize
                    .query_row(rusqlite::params![id, project], summary_from_row)
                    .optional()
            };
            // The trace asked for has no span in the project: no conversation.
            let Some(asked) = summary_of(&full_id)? else {
                return Ok(Lookup::Found(None));
            };
            let mut traces = vec![asked];
            for id in ids.iter().take(MAX_CONVERSATION_TRACES) {
                if traces.len() == MAX_CONVERSATION_TRACES {
                    break;
                }
                if *id != full_id
                    && let Some(summary) = summary_of(id)?
                {
                    traces.push(summary);
                }
            }
            traces.sort_by(|a, b| {
                (a.start_unix_nanos, &a.trace_id).cmp(&(b.start_unix_nanos, &b.trace_id))
            });
            Ok(Lookup::Found(Some(Conversation { traces, truncated })))
        })?
        .or_ambiguous(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_conversation_walk_uses_both_indexes() {
        let store = SqliteSpanStore::open_in_memory().unwrap();
        let conn = store.conn.lock().unwrap();
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {CONVERSATION_TRACE_IDS}"))
            .unwrap();
        let plan = stmt
            .query_map(rusqlite::params!["p", "t", 10], |row| {
                row.get::<_, String>(3)
            })
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            plan.contains("USING PRIMARY KEY (project=? AND trace_id=?)"),
            "{plan}"
        );
        assert!(
            plan.contains("USING COVERING INDEX span_links_to (project=? AND linked_trace_id=?)"),
            "{plan}"
        );
        assert!(!plan.contains("SCAN link"), "{plan}");
    }

    #[test]
    fn retention_finds_the_links_by_key() {
        let store = SqliteSpanStore::open_in_memory().unwrap();
        let conn = store.conn.lock().unwrap();
        let mut stmt = conn
            .prepare(&format!(
                "EXPLAIN QUERY PLAN {DELETE_LINKS_OF_TRACES_ENDED_BEFORE}"
            ))
            .unwrap();
        let plan = stmt
            .query_map([0i64], |row| row.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(!plan.contains("SCAN span_links"), "{plan}");
        assert!(plan.contains("spans_by_end"), "{plan}");
    }

    #[test]
    fn only_well_formed_links_are_indexed() {
        let t = "a".repeat(32);
        let s = "b".repeat(16);
        let good = format!(r#"{{"trace_id":"{t}","span_id":"{s}","attributes":{{}}}}"#);
        let links = format!(
            r#"[{good}, {{"trace_id":"{}","span_id":"{s}"}}, {{"trace_id":"{t}"}}, 7, "x"]"#,
            "A".repeat(32)
        );
        let found = linked_spans(&links);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].trace_id.as_str(), found[0].span_id.as_str()),
            (t.as_str(), s.as_str())
        );
        for malformed in ["", "not json", "{}", "[[1]]", "null"] {
            assert!(linked_spans(malformed).is_empty(), "{malformed:?}");
        }
    }
}
