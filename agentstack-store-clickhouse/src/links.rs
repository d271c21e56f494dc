//! Span links in `span_links` (one row per link of a written span, from its `links` JSON) and
//! the conversations they make: the traces connected to one through links, either way, as
//! `SqliteSpanStore::conversation` finds them. ClickHouse 18.16 has no recursive CTE, so the
//! walk is breadth first in rounds here, one query per round over the links of the round's
//! traces, visiting the links in the order SQLite's queue does.

use std::collections::{HashMap, HashSet};

use agentstack_exporter_sqlite::StorableSpan;

use crate::rows::SpanRow;
use agentstack_exporter_sqlite::store::{Conversation, MAX_CONVERSATION_TRACES, TraceQuery};

use crate::statement::Statement;
use crate::trace_id::is_lower_hex;
use crate::{ClickHouseStore, ClickHouseStoreError};

/// The columns of `span_links` in [`LinkRow`]'s field order.
pub(crate) const LINK_COLUMNS: &str =
    "project, trace_id, span_id, linked_trace_id, linked_span_id, start_time";

/// One row of `span_links`.
#[derive(Debug, Clone, clickhouse::Row, serde::Serialize, serde::Deserialize)]
pub(crate) struct LinkRow {
    pub project: String,
    pub trace_id: String,
    pub span_id: String,
    pub linked_trace_id: String,
    pub linked_span_id: String,
    /// The linking span's start, whole seconds (the partition key, as in `spans`).
    pub start_time: u32,
}

/// A link as the `links` column holds it (`[{"trace_id", "span_id", "attributes"}]`); the
/// attributes are not indexed.
#[derive(serde::Deserialize)]
struct StoredLink {
    trace_id: String,
    span_id: String,
}

/// The rows of the links of `span` (whose start second is `start_time`). Text that is not a
/// JSON array of links, and links whose ids are not lowercase hex of the right length, index
/// nothing (the span keeps them as they came), as in the SQLite store.
pub(crate) fn link_rows(span: &impl StorableSpan, start_time: u32) -> Vec<LinkRow> {
    let links = span.links();
    if links == "[]" {
        return Vec::new();
    }
    let Ok(links) = serde_json::from_str::<Vec<serde_json::Value>>(&links) else {
        return Vec::new();
    };
    let (project, span) = (span.project(), span.record());
    links
        .into_iter()
        .filter_map(|link| serde_json::from_value::<StoredLink>(link).ok())
        .filter(|link| is_lower_hex(&link.trace_id, 32) && is_lower_hex(&link.span_id, 16))
        .map(|link| LinkRow {
            project: project.to_string(),
            trace_id: span.trace_id.clone(),
            span_id: span.span_id.clone(),
            linked_trace_id: link.trace_id,
            linked_span_id: link.span_id,
            start_time,
        })
        .collect()
}

/// The link rows of `spans`, whose checked rows are `rows`.
pub(crate) fn link_rows_of(spans: &[impl StorableSpan], rows: &[SpanRow]) -> Vec<LinkRow> {
    spans
        .iter()
        .zip(rows)
        .flat_map(|(span, row)| link_rows(span, row.start_time))
        .collect()
}

/// `INSERT … VALUES` of the link rows `insert_spans` would send for `spans`; `None` when they
/// have no link.
pub(crate) fn insert_links_statement(
    spans: &[impl StorableSpan],
) -> Result<Option<Statement>, ClickHouseStoreError> {
    let rows = crate::store::span_rows(spans, 0)?;
    let links = link_rows_of(spans, &rows);
    if links.is_empty() {
        return Ok(None);
    }
    let mut sql = Statement::new("INSERT INTO span_links (");
    sql.push(LINK_COLUMNS).push(") VALUES");
    for (index, link) in links.into_iter().enumerate() {
        sql.push(if index == 0 { "\n(" } else { ",\n(" });
        sql.bind("?", link.project)
            .bind(", ?", link.trace_id)
            .bind(", ?", link.span_id)
            .bind(", ?", link.linked_trace_id)
            .bind(", ?", link.linked_span_id)
            .bind(", ?)", u64::from(link.start_time));
    }
    Ok(Some(sql))
}

/// The links of `project` from or to any of `trace_ids`, each once.
pub(crate) fn links_of_statement(project: &str, trace_ids: Vec<String>) -> Statement {
    let mut sql = Statement::new(
        "SELECT DISTINCT trace_id, span_id, linked_trace_id, linked_span_id FROM span_links \
         WHERE ",
    );
    sql.bind("project = ?", project)
        .bind(" AND (has(?, trace_id)", trace_ids.clone())
        .bind(" OR has(?, linked_trace_id))", trace_ids);
    sql
}

/// One link as the walk reads it.
#[derive(Debug, Clone, clickhouse::Row, serde::Deserialize)]
struct LinkEnds {
    trace_id: String,
    span_id: String,
    linked_trace_id: String,
    linked_span_id: String,
}

/// The next traces of the walk: for each trace of `round` in order, the traces its spans link
/// to (by span id, then linked trace and span, as SQLite's key), then the traces linking to it
/// (by trace id, then span ids, as its index), each not `seen` yet; at most `room`.
fn next_round(
    round: &[String],
    mut links: Vec<LinkEnds>,
    seen: &mut HashSet<String>,
    room: usize,
) -> Vec<String> {
    links.sort_by(|a, b| {
        (&a.span_id, &a.linked_trace_id, &a.linked_span_id).cmp(&(
            &b.span_id,
            &b.linked_trace_id,
            &b.linked_span_id,
        ))
    });
    let mut from: HashMap<&str, Vec<&str>> = HashMap::new();
    for link in &links {
        from.entry(link.trace_id.as_str())
            .or_default()
            .push(link.linked_trace_id.as_str());
    }
    let mut backward = links.clone();
    backward.sort_by(|a, b| {
        (&a.trace_id, &a.span_id, &a.linked_span_id).cmp(&(
            &b.trace_id,
            &b.span_id,
            &b.linked_span_id,
        ))
    });
    let mut to: HashMap<&str, Vec<&str>> = HashMap::new();
    for link in &backward {
        to.entry(link.linked_trace_id.as_str())
            .or_default()
            .push(link.trace_id.as_str());
    }
    let mut next = Vec::new();
    for trace in round {
        let found = from.get(trace.as_str()).into_iter().flatten();
        let found = found.chain(to.get(trace.as_str()).into_iter().flatten());
        for id in found {
            if next.len() == room {
                return next;
            }
            if seen.insert((*id).to_string()) {
                next.push((*id).to_string());
            }
        }
    }
    next
}

impl ClickHouseStore {
    /// The conversation of the trace `trace_id` (full id or unique prefix) in `project`: that
    /// trace and every trace connected to it through span links of the project, either way, up
    /// to `MAX_CONVERSATION_TRACES` traces, earliest first, as
    /// `SqliteSpanStore::conversation` answers. `None` when the project has no such trace.
    pub async fn conversation(
        &self,
        project: &str,
        trace_id: &str,
    ) -> Result<Option<Conversation>, ClickHouseStoreError> {
        let Some(full_id) = self.resolve_trace_id(Some(project), trace_id).await? else {
            return Ok(None);
        };
        // One more than the bound, to know whether the links reach further.
        let bound = MAX_CONVERSATION_TRACES + 1;
        let mut ids = vec![full_id.clone()];
        let mut seen: HashSet<String> = ids.iter().cloned().collect();
        let mut round = ids.clone();
        while !round.is_empty() && ids.len() < bound {
            let links: Vec<LinkEnds> = links_of_statement(project, round.clone())
                .query(self.client())
                .fetch_all()
                .await
                .map_err(|source| self.error("following span links", source))?;
            round = next_round(&round, links, &mut seen, bound - ids.len());
            ids.extend(round.iter().cloned());
        }
        let truncated = ids.len() > MAX_CONVERSATION_TRACES;
        ids.truncate(MAX_CONVERSATION_TRACES);
        let mut query = TraceQuery::default();
        query.filter.project = Some(project.to_string());
        let mut traces = self.traces_matching(&query, &ids).await?;
        // The trace asked for has no span in the project: no conversation.
        if !traces.iter().any(|trace| trace.trace_id == full_id) {
            return Ok(None);
        }
        traces.sort_by(|a, b| {
            (a.start_unix_nanos, &a.trace_id).cmp(&(b.start_unix_nanos, &b.trace_id))
        });
        Ok(Some(Conversation { traces, truncated }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentstack_exporter_sqlite::SpanRecord;
    use clickhouse::Row;

    #[test]
    fn link_columns_are_in_field_order() {
        let listed: Vec<&str> = LINK_COLUMNS.split(',').map(str::trim).collect();
        assert_eq!(listed, LinkRow::COLUMN_NAMES);
    }

    #[test]
    fn only_well_formed_links_are_indexed() {
        let t = "a".repeat(32);
        let s = "b".repeat(16);
        let good = format!(r#"{{"trace_id":"{t}","span_id":"{s}","attributes":{{}}}}"#);
        let mut span = SpanRecord::new("c".repeat(32), "d".repeat(16), "x", 0, 1);
        span.links = format!(
            r#"[{good}, {{"trace_id":"{}","span_id":"{s}"}}, {{"trace_id":"{t}"}}, 7, "x"]"#,
            "A".repeat(32)
        );
        let found = link_rows(&span, 5);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (
                found[0].linked_trace_id.as_str(),
                found[0].linked_span_id.as_str()
            ),
            (t.as_str(), s.as_str())
        );
        for malformed in ["", "not json", "{}", "[[1]]", "null"] {
            span.links = malformed.to_string();
            assert!(link_rows(&span, 5).is_empty(), "{malformed:?}");
        }
    }
}
