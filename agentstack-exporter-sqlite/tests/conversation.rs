//! The span links index (store migration 4) and the conversations it makes, through the
//! store's public API, on real files.

use agentstack_exporter_sqlite::SpanRecord;
use agentstack_exporter_sqlite::store::{MAX_CONVERSATION_TRACES, SqliteSpanStore, StoreError};

/// Trace `n`: its number first, so that its first 8 characters pick it.
fn tid(n: u64) -> String {
    format!("{n:08x}{:024x}", 0)
}

fn sid(n: u64) -> String {
    format!("{n:016x}")
}

/// The root span 1 of trace `n` in `project`, starting at `start`, linked to span 1 of each
/// trace of `links`.
fn root(project: &str, n: u64, start: i64, links: &[u64]) -> SpanRecord {
    let mut span = SpanRecord::new(tid(n), sid(1), format!("trace {n}"), start, start + 10);
    span.project = project.to_string();
    let links: Vec<_> = links
        .iter()
        .map(|l| serde_json::json!({"trace_id": tid(*l), "span_id": sid(1), "attributes": {}}))
        .collect();
    span.links = serde_json::Value::Array(links).to_string();
    span
}

fn conversation_ids(store: &SqliteSpanStore, project: &str, n: u64) -> Option<Vec<String>> {
    store
        .conversation(project, &tid(n))
        .unwrap()
        .map(|conversation| {
            assert!(!conversation.truncated);
            assert_eq!(
                conversation.id(),
                Some(conversation.traces[0].trace_id.as_str())
            );
            conversation
                .traces
                .into_iter()
                .map(|t| t.trace_id)
                .collect()
        })
}

fn link_rows(path: &std::path::Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM span_links", [], |row| row.get(0))
        .unwrap()
}

/// 1 ← 2 ← 3 (2 links to 1, 3 to 2), 4 → 1, and 5 alone, in project "p"; 6 in project "q"
/// links to 1.
fn linked_store(path: &std::path::Path) -> SqliteSpanStore {
    let store = SqliteSpanStore::open(path).unwrap();
    let spans = [
        root("p", 3, 300, &[2]),
        root("p", 1, 100, &[]),
        root("p", 2, 200, &[1]),
        root("p", 4, 50, &[1]),
        root("p", 5, 150, &[]),
        root("q", 6, 10, &[1]),
    ];
    assert_eq!(store.insert_spans(&spans).unwrap(), 6);
    store
}

#[test]
fn a_conversation_is_every_trace_linked_either_way_in_start_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    let store = linked_store(&path);
    let expected = Some(vec![tid(4), tid(1), tid(2), tid(3)]);
    for n in [1, 2, 3, 4] {
        assert_eq!(conversation_ids(&store, "p", n), expected, "from trace {n}");
    }
    assert_eq!(
        conversation_ids(&store, "p", 5),
        Some(vec![tid(5)]),
        "no links"
    );
    // The link of project q to trace 1 is not followed in p, and trace 1 is not in q.
    assert_eq!(conversation_ids(&store, "q", 6), Some(vec![tid(6)]));
    assert_eq!(conversation_ids(&store, "q", 1), None);
    assert_eq!(conversation_ids(&store, "p", 6), None);
    assert_eq!(conversation_ids(&store, "p", 99), None, "no such trace");

    // A prefix works as for one trace; a bad id is a typed error.
    let by_prefix = store.conversation("p", &tid(3)[..8]).unwrap().unwrap();
    assert_eq!(by_prefix.id(), Some(tid(4).as_str()));
    assert!(matches!(
        store.conversation("p", "0000000"),
        Err(StoreError::InvalidTraceId { .. })
    ));
    let twins: Vec<_> = [
        "ffffffff000000000000000000000001",
        "ffffffff000000000000000000000002",
    ]
    .into_iter()
    .map(|id| {
        let mut span = root("p", 0, 500, &[]);
        span.trace_id = id.to_string();
        span
    })
    .collect();
    store.insert_spans(&twins).unwrap();
    assert!(matches!(
        store.conversation("p", "FFFFFFFF"),
        Err(StoreError::AmbiguousTraceId { .. })
    ));
    assert!(matches!(
        store.conversation("p", "not-hex!"),
        Err(StoreError::InvalidTraceId { .. })
    ));

    // Writing the same spans again adds no link.
    assert_eq!(link_rows(&path), 4);
    assert_eq!(
        store
            .insert_spans(&[root("p", 2, 200, &[1]), root("p", 3, 300, &[2])])
            .unwrap(),
        0
    );
    assert_eq!(link_rows(&path), 4);
    // A repeat of a span with other links keeps the first write, links included.
    store.insert_spans(&[root("p", 5, 150, &[3])]).unwrap();
    assert_eq!(conversation_ids(&store, "p", 5), Some(vec![tid(5)]));
}

#[test]
fn a_linked_trace_not_stored_still_connects_and_cycles_end() {
    let store = SqliteSpanStore::open_in_memory().unwrap();
    // 1 and 2 both link to 9, which never arrived; 3 ↔ 4 link to each other.
    let spans = [
        root("p", 1, 100, &[9]),
        root("p", 2, 200, &[9]),
        root("p", 3, 300, &[4]),
        root("p", 4, 400, &[3]),
    ];
    store.insert_spans(&spans).unwrap();
    assert_eq!(conversation_ids(&store, "p", 2), Some(vec![tid(1), tid(2)]));
    assert_eq!(conversation_ids(&store, "p", 4), Some(vec![tid(3), tid(4)]));
}

#[test]
fn a_conversation_stops_at_its_bound() {
    let store = SqliteSpanStore::open_in_memory().unwrap();
    // A chain 1 ← 2 ← … ← N, longer than the bound.
    let n = MAX_CONVERSATION_TRACES as u64 + 5;
    let spans: Vec<_> = (1..=n)
        .map(|i| {
            let links: &[u64] = if i == 1 { &[] } else { &[i - 1] };
            root("p", i, i as i64 * 10, links)
        })
        .collect();
    store.insert_spans(&spans).unwrap();
    let conversation = store.conversation("p", &tid(1)).unwrap().unwrap();
    assert!(conversation.truncated);
    assert_eq!(conversation.traces.len(), MAX_CONVERSATION_TRACES);
    // Breadth first from trace 1: the nearest traces, in start order.
    assert_eq!(conversation.id(), Some(tid(1).as_str()));
    assert_eq!(
        conversation.traces.last().unwrap().trace_id,
        tid(MAX_CONVERSATION_TRACES as u64)
    );
    let whole = store.conversation("p", &tid(n / 2)).unwrap().unwrap();
    assert!(whole.truncated);
    assert_eq!(whole.traces.len(), MAX_CONVERSATION_TRACES);
}

#[test]
fn retention_deletes_the_links_of_the_traces_it_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    let store = linked_store(&path);
    assert_eq!(link_rows(&path), 4);
    // Traces 1 (100..110), 4 (50..60) and 6 (10..20) end before 120; their spans go, and
    // the links from them (4 → 1, 6 → 1), not the links to them (2 → 1).
    assert_eq!(store.delete_older_than(120).unwrap(), 3);
    assert_eq!(link_rows(&path), 2);
    assert_eq!(conversation_ids(&store, "p", 3), Some(vec![tid(2), tid(3)]));
}

#[test]
fn a_version_3_file_gets_the_links_it_already_holds_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    drop(linked_store(&path));
    {
        // Back to schema 3: the spans with their links JSON, no index of them, and none of
        // the tables of the later steps.
        let conn = rusqlite::Connection::open(&path).unwrap();
        let later: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT IN ('spans', 'api_keys')",
            )
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for table in later {
            conn.execute_batch(&format!("DROP TABLE {table};")).unwrap();
        }
        conn.execute_batch("PRAGMA user_version = 3;").unwrap();
        conn.execute(
            "UPDATE spans SET links = 'not json' WHERE trace_id = ?1",
            [tid(5)],
        )
        .unwrap();
    }
    let store = SqliteSpanStore::open(&path).unwrap();
    assert_eq!(link_rows(&path), 4);
    assert_eq!(
        conversation_ids(&store, "p", 3),
        Some(vec![tid(4), tid(1), tid(2), tid(3)])
    );
    assert_eq!(conversation_ids(&store, "p", 5), Some(vec![tid(5)]));
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, SqliteSpanStore::schema_version());
}
