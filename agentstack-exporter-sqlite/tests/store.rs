//! Tests of the span store through its public API, on real files.

use std::sync::Arc;
use std::thread;

use agentstack_exporter_sqlite::store::{
    DEFAULT_TRACE_LIMIT, MAX_TRACE_LIMIT, SqliteSpanStore, StoreError, TraceFilter, TraceSummary,
};
use agentstack_exporter_sqlite::{SpanRecord, SpanStatus, SqliteSpool};

/// A 32-hex trace id made of `n` in hex, left-padded with zeros.
fn tid(n: u64) -> String {
    format!("{n:032x}")
}

/// A 16-hex span id made of `n`.
fn sid(n: u64) -> String {
    format!("{n:016x}")
}

fn span(trace: &str, id: u64, parent: Option<u64>, name: &str, start: i64, end: i64) -> SpanRecord {
    let mut span = SpanRecord::new(trace, sid(id), name, start, end);
    span.parent_span_id = parent.map(sid);
    span
}

fn full_record() -> SpanRecord {
    SpanRecord {
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        span_id: "00f067aa0ba902b7".into(),
        parent_span_id: Some("53995c3f42cd8ad8".into()),
        name: "chat gpt-4o".into(),
        kind: Some("llm".into()),
        service_name: Some("support-bot".into()),
        start_unix_nanos: 1_700_000_000_000_000_000,
        end_unix_nanos: 1_700_000_001_250_000_000,
        status: SpanStatus::Error,
        status_message: Some("rate limited".into()),
        provider: Some("openai".into()),
        model: Some("gpt-4o-2024-08-06".into()),
        input_tokens: Some(1200),
        output_tokens: Some(300),
        cache_read_input_tokens: Some(1000),
        cache_creation_input_tokens: Some(50),
        reasoning_output_tokens: Some(120),
        session_id: Some("conv-42".into()),
        user_id: Some("user-7".into()),
        input: Some(r#"[{"role":"user","content":"héllo \"world\""}]"#.into()),
        output: Some(r#"{"role":"assistant","content":"hi"}"#.into()),
        attributes: r#"{"gen_ai.operation.name":"chat","gen_ai.request.temperature":0.2}"#.into(),
        events: r#"[{"name":"retry","time_unix_nanos":1700000000500000000,"attributes":{"n":1}}]"#
            .into(),
        project: "support".into(),
        links: r#"[{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","attributes":{}}]"#
            .into(),
        resource: r#"{"service.name":"support-bot","telemetry.sdk.language":"rust"}"#.into(),
    }
}

#[test]
fn a_full_record_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteSpanStore::open(dir.path().join("traces.db")).unwrap();
    let record = full_record();
    assert_eq!(
        store.insert_spans(std::slice::from_ref(&record)).unwrap(),
        1
    );
    assert_eq!(store.trace(&record.trace_id).unwrap(), vec![record.clone()]);
    assert_eq!(record.duration_nanos(), 1_250_000_000);
    assert_eq!(record.total_tokens(), 1500);

    // A record with every optional field empty round-trips too.
    let bare = SpanRecord::new(tid(9), sid(9), "bare", 5, 4);
    store.insert_spans(std::slice::from_ref(&bare)).unwrap();
    assert_eq!(store.trace(&tid(9)).unwrap(), vec![bare.clone()]);
    assert_eq!(
        bare.duration_nanos(),
        0,
        "an end before the start is 0, not negative"
    );
    assert_eq!(bare.total_tokens(), 0);
}

#[test]
fn a_span_written_twice_is_stored_once() {
    let store = SqliteSpanStore::open_in_memory().unwrap();
    let first = span(&tid(1), 1, None, "first", 10, 20);
    let mut again = first.clone();
    again.name = "second write".into();
    // Twice in one batch.
    assert_eq!(
        store
            .insert_spans(&[first.clone(), again.clone(), first.clone()])
            .unwrap(),
        1
    );
    // Again in later batches, alone and beside a new span.
    assert_eq!(store.insert_spans(std::slice::from_ref(&again)).unwrap(), 0);
    let other = span(&tid(1), 2, Some(1), "child", 11, 19);
    assert_eq!(store.insert_spans(&[first.clone(), other]).unwrap(), 1);
    assert_eq!(store.span_count().unwrap(), 2);
    // The first write wins.
    let spans = store.trace(&tid(1)).unwrap();
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0], first);
    let summary = &store.recent_traces(&TraceFilter::default()).unwrap()[0];
    assert_eq!(summary.span_count, 2);
    // The same span id in another trace is another span.
    assert_eq!(
        store
            .insert_spans(&[span(&tid(2), 1, None, "x", 1, 2)])
            .unwrap(),
        1
    );
    assert!(store.insert_spans::<SpanRecord>(&[]).is_ok());
}

/// Traces with known summaries:
/// - 1: "Plan trip", start 1000, session s1, no error
/// - 2: "search web", start 2000, session s2, one error child
/// - 3: "plan dinner", start 3000, session s1
/// - 4: root not arrived, earliest span "llm call" at 4000
/// - 5: "Long agent", start 1500 but with a child starting at 9000 (the newest span of all)
fn sample_store() -> SqliteSpanStore {
    let store = SqliteSpanStore::open_in_memory().unwrap();
    let mut spans = Vec::new();
    let mut root1 = span(&tid(1), 1, None, "Plan trip", 1000, 1900);
    root1.session_id = Some("s1".into());
    spans.push(root1);
    spans.push(span(&tid(1), 2, Some(1), "tool", 1100, 1200));

    let mut root2 = span(&tid(2), 1, None, "search web", 2000, 2500);
    root2.session_id = Some("s2".into());
    root2.status = SpanStatus::Ok;
    let mut failing = span(&tid(2), 2, Some(1), "fetch", 2100, 2200);
    failing.status = SpanStatus::Error;
    spans.extend([root2, failing]);

    let mut root3 = span(&tid(3), 1, None, "plan dinner", 3000, 3100);
    root3.session_id = Some("s1".into());
    spans.push(root3);

    spans.push(span(&tid(4), 7, Some(6), "llm call", 4000, 4400));
    spans.push(span(&tid(4), 8, Some(6), "tool call", 4100, 4200));

    spans.push(span(&tid(5), 1, None, "Long agent", 1500, 9500));
    spans.push(span(&tid(5), 2, Some(1), "late step", 9000, 9400));
    store.insert_spans(&spans).unwrap();
    store
}

fn ids(traces: &[TraceSummary]) -> Vec<String> {
    traces.iter().map(|t| t.trace_id.clone()).collect()
}

fn recent(store: &SqliteSpanStore, filter: TraceFilter) -> Vec<String> {
    ids(&store.recent_traces(&filter).unwrap())
}

#[test]
fn recent_traces_are_newest_first_by_trace_start() {
    let store = sample_store();
    assert_eq!(
        recent(&store, TraceFilter::default()),
        [tid(4), tid(3), tid(2), tid(5), tid(1)]
    );
    // The long trace's late child is the newest span, yet the trace is older than 2, 3 and 4.
    let two = TraceFilter {
        limit: 2,
        ..Default::default()
    };
    assert_eq!(recent(&store, two), [tid(4), tid(3)]);
    let four = TraceFilter {
        limit: 4,
        ..Default::default()
    };
    assert_eq!(recent(&store, four), [tid(4), tid(3), tid(2), tid(5)]);
    let orphan = &store.recent_traces(&TraceFilter::default()).unwrap()[0];
    assert_eq!(
        orphan.root_name, "llm call",
        "the earliest span stands in for a missing root"
    );
}

#[test]
fn recent_traces_filter_by_time() {
    let store = sample_store();
    let window = TraceFilter {
        since_unix_nanos: Some(1500),
        until_unix_nanos: Some(3000),
        ..Default::default()
    };
    // since is inclusive, until exclusive, both on the trace's start.
    assert_eq!(recent(&store, window), [tid(2), tid(5)]);
    let since = TraceFilter {
        since_unix_nanos: Some(3000),
        ..Default::default()
    };
    assert_eq!(recent(&store, since), [tid(4), tid(3)]);
    let until = TraceFilter {
        until_unix_nanos: Some(1500),
        ..Default::default()
    };
    assert_eq!(recent(&store, until), [tid(1)]);
    let nothing = TraceFilter {
        until_unix_nanos: Some(i64::MIN),
        ..Default::default()
    };
    assert!(recent(&store, nothing).is_empty());
}

#[test]
fn recent_traces_filter_by_root_name_case_insensitively() {
    let store = sample_store();
    let plan = TraceFilter {
        name_contains: Some("PLAN".into()),
        ..Default::default()
    };
    assert_eq!(recent(&store, plan), [tid(3), tid(1)]);
    // Only the root's name counts, not a child's.
    let child = TraceFilter {
        name_contains: Some("fetch".into()),
        ..Default::default()
    };
    assert!(recent(&store, child).is_empty());
    let orphan = TraceFilter {
        name_contains: Some("LLM".into()),
        ..Default::default()
    };
    assert_eq!(recent(&store, orphan), [tid(4)]);
}

#[test]
fn recent_traces_filter_by_status() {
    let store = sample_store();
    let errors = TraceFilter {
        status: Some(SpanStatus::Error),
        ..Default::default()
    };
    assert_eq!(recent(&store, errors), [tid(2)]);
    let ok = TraceFilter {
        status: Some(SpanStatus::Ok),
        ..Default::default()
    };
    assert_eq!(recent(&store, ok), [tid(4), tid(3), tid(5), tid(1)]);
    let unset = TraceFilter {
        status: Some(SpanStatus::Unset),
        ..Default::default()
    };
    assert_eq!(recent(&store, unset).len(), 5);
    let limited = TraceFilter {
        status: Some(SpanStatus::Ok),
        limit: 2,
        ..Default::default()
    };
    assert_eq!(recent(&store, limited), [tid(4), tid(3)]);
}

#[test]
fn recent_traces_filter_by_session() {
    let store = sample_store();
    let s1 = TraceFilter {
        session_id: Some("s1".into()),
        ..Default::default()
    };
    assert_eq!(recent(&store, s1), [tid(3), tid(1)]);
    let s1_plan_recent = TraceFilter {
        session_id: Some("s1".into()),
        since_unix_nanos: Some(2000),
        ..Default::default()
    };
    assert_eq!(recent(&store, s1_plan_recent), [tid(3)]);
    let none = TraceFilter {
        session_id: Some("nobody".into()),
        ..Default::default()
    };
    assert!(recent(&store, none).is_empty());
    let summaries = store
        .recent_traces(&TraceFilter {
            session_id: Some("s2".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(summaries[0].session_id.as_deref(), Some("s2"));
}

#[test]
fn recent_traces_limit_defaults_and_caps() {
    let store = SqliteSpanStore::open_in_memory().unwrap();
    let spans: Vec<SpanRecord> = (0..1100)
        .map(|i| span(&tid(i + 1), 1, None, "t", i as i64, i as i64 + 1))
        .collect();
    store.insert_spans(&spans).unwrap();
    let all = store.recent_traces(&TraceFilter::default()).unwrap();
    assert_eq!(all.len(), DEFAULT_TRACE_LIMIT);
    assert_eq!(all[0].trace_id, tid(1100));
    assert_eq!(all[49].trace_id, tid(1051));
    let many = TraceFilter {
        limit: 5000,
        ..Default::default()
    };
    assert_eq!(store.recent_traces(&many).unwrap().len(), MAX_TRACE_LIMIT);
    let three = TraceFilter {
        limit: 3,
        ..Default::default()
    };
    assert_eq!(recent(&store, three), [tid(1100), tid(1099), tid(1098)]);
}

#[test]
fn summaries_are_right_when_the_root_arrives_last() {
    let store = SqliteSpanStore::open_in_memory().unwrap();
    let trace = tid(0xabc);
    let mut llm = span(&trace, 2, Some(1), "chat", 1_200, 1_800);
    llm.input_tokens = Some(100);
    llm.output_tokens = Some(40);
    llm.service_name = Some("worker".into());
    let mut llm2 = span(&trace, 3, Some(1), "chat again", 1_900, 2_600);
    llm2.input_tokens = Some(250);
    llm2.output_tokens = None;
    llm2.status = SpanStatus::Error;
    // Starts before the root (a skewed clock): the root is still the span without a parent.
    let mut tool = span(&trace, 4, Some(2), "search", 950, 1_400);
    tool.status = SpanStatus::Error;
    tool.output_tokens = Some(5);
    store.insert_spans(&[llm2, tool]).unwrap();
    store.insert_spans(&[llm]).unwrap();

    let before = &store.recent_traces(&TraceFilter::default()).unwrap()[0];
    assert_eq!(
        before.root_name, "search",
        "earliest span while the root is missing"
    );
    assert_eq!(before.service_name.as_deref(), Some("worker"));
    assert_eq!(before.start_unix_nanos, 950);
    assert_eq!(before.span_count, 3);

    let mut root = span(&trace, 1, None, "support agent", 1_000, 2_700);
    root.service_name = Some("support-bot".into());
    root.session_id = Some("conv-1".into());
    root.input_tokens = Some(1);
    store.insert_spans(&[root]).unwrap();

    let expected = TraceSummary {
        trace_id: trace.clone(),
        root_name: "support agent".into(),
        service_name: Some("support-bot".into()),
        session_id: Some("conv-1".into()),
        start_unix_nanos: 950,
        end_unix_nanos: 2_700,
        span_count: 4,
        input_tokens: 351,
        output_tokens: 45,
        error_count: 2,
    };
    assert_eq!(
        store.recent_traces(&TraceFilter::default()).unwrap(),
        vec![expected.clone()]
    );
    assert_eq!(
        store.traces_updated_since(0).unwrap(),
        vec![expected.clone()]
    );
    assert_eq!(expected.duration_nanos(), 1_750);
    assert!(expected.has_error());
    assert_eq!(expected.total_tokens(), 396);
}

#[test]
fn a_trace_is_ordered_and_found_by_a_unique_prefix() {
    let store = SqliteSpanStore::open_in_memory().unwrap();
    let a = "abcdef0123456789abcdef0123456789";
    let b = "abcdef01ffffffffffffffffffffffff";
    let c = "0123456789abcdef0123456789abcdef";
    store
        .insert_spans(&[
            span(a, 3, Some(1), "same start, higher id", 20, 30),
            span(a, 1, None, "root", 10, 50),
            span(a, 2, Some(1), "same start, lower id", 20, 25),
            span(a, 9, Some(1), "last", 40, 45),
            span(b, 1, None, "other", 5, 6),
            span(c, 1, None, "third", 5, 6),
        ])
        .unwrap();
    let names: Vec<String> = store
        .trace(a)
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(
        names,
        [
            "root",
            "same start, lower id",
            "same start, higher id",
            "last"
        ]
    );

    // Unique prefixes, any case, surrounding spaces ignored.
    assert_eq!(store.trace("abcdef012").unwrap().len(), 4);
    assert_eq!(store.trace(" ABCDEF01F ").unwrap().len(), 1);
    assert_eq!(store.trace("01234567").unwrap()[0].name, "third");
    assert_eq!(store.trace(&a.to_uppercase()).unwrap().len(), 4);
    // Ambiguous.
    match store.trace("abcdef01") {
        Err(StoreError::AmbiguousTraceId { prefix, matches }) => {
            assert_eq!(prefix, "abcdef01");
            assert_eq!(matches, [a.to_string(), b.to_string()]);
        }
        other => panic!("expected an ambiguous prefix, got {other:?}"),
    }
    // None.
    assert!(store.trace("ffffffff").unwrap().is_empty());
    assert!(store.trace(&tid(77)).unwrap().is_empty());
    // Not a trace id.
    for bad in ["abcdef0", "abcdefgh", "", &format!("{a}0"), "abcd-ef01"] {
        assert!(
            matches!(store.trace(bad), Err(StoreError::InvalidTraceId { .. })),
            "{bad:?} should be refused"
        );
    }
}

#[test]
fn traces_updated_since_are_the_traces_with_a_span_ending_then_oldest_first() {
    let store = SqliteSpanStore::open_in_memory().unwrap();
    store
        .insert_spans(&[
            span(&tid(1), 1, None, "done early", 100, 200),
            span(&tid(2), 1, None, "started early, ends late", 150, 1000),
            span(&tid(2), 2, Some(1), "early child", 160, 170),
            span(&tid(3), 1, None, "late", 600, 700),
            span(&tid(4), 1, None, "exactly at since", 450, 500),
        ])
        .unwrap();
    let updated = store.traces_updated_since(500).unwrap();
    assert_eq!(ids(&updated), [tid(2), tid(4), tid(3)]);
    assert_eq!(updated[0].span_count, 2, "the whole trace is summarized");
    assert_eq!(updated[0].start_unix_nanos, 150);
    assert!(store.traces_updated_since(1001).unwrap().is_empty());
    assert_eq!(store.traces_updated_since(0).unwrap().len(), 4);
}

#[test]
fn delete_older_than_removes_whole_traces_that_ended_before() {
    let store = SqliteSpanStore::open_in_memory().unwrap();
    store
        .insert_spans(&[
            span(&tid(1), 1, None, "old", 100, 200),
            span(&tid(1), 2, Some(1), "old child", 110, 190),
            span(&tid(2), 1, None, "old root, late child", 100, 200),
            span(&tid(2), 2, Some(1), "late child", 150, 600),
            span(&tid(3), 1, None, "ends exactly at the cut", 400, 500),
            span(&tid(4), 1, None, "new", 700, 800),
        ])
        .unwrap();
    assert_eq!(store.delete_older_than(500).unwrap(), 2);
    assert!(store.trace(&tid(1)).unwrap().is_empty());
    assert_eq!(store.trace(&tid(2)).unwrap().len(), 2, "kept whole");
    assert_eq!(store.trace(&tid(3)).unwrap().len(), 1);
    assert_eq!(store.span_count().unwrap(), 4);
    assert_eq!(store.delete_older_than(500).unwrap(), 0);
    assert_eq!(store.delete_older_than(i64::MAX).unwrap(), 4);
    assert_eq!(store.span_count().unwrap(), 0);
}

fn user_version(path: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap()
}

#[test]
fn reopening_keeps_the_data_and_migrates_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("dirs").join("traces.db");
    {
        let store = SqliteSpanStore::open(&path).unwrap();
        assert_eq!(store.path(), Some(path.as_path()));
        store.insert_spans(&[full_record()]).unwrap();
    }
    assert_eq!(user_version(&path), SqliteSpanStore::schema_version());
    for _ in 0..2 {
        let store = SqliteSpanStore::open(&path).unwrap();
        assert_eq!(store.span_count().unwrap(), 1);
        assert_eq!(
            store.trace(&full_record().trace_id).unwrap(),
            vec![full_record()]
        );
    }
    assert_eq!(user_version(&path), SqliteSpanStore::schema_version());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_file_from_a_newer_version_is_refused_with_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    drop(SqliteSpanStore::open(&path).unwrap());
    let newer = SqliteSpanStore::schema_version() + 1;
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", newer)
        .unwrap();
    match SqliteSpanStore::open(&path) {
        Err(error @ StoreError::NewerSchema { .. }) => {
            let StoreError::NewerSchema {
                found, supported, ..
            } = &error
            else {
                unreachable!()
            };
            assert_eq!(
                (*found, *supported),
                (newer, SqliteSpanStore::schema_version())
            );
            assert!(error.to_string().contains("upgrade agentstack"), "{error}");
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    assert_eq!(user_version(&path), newer, "the newer file is left alone");
}

#[test]
fn files_that_are_not_a_span_store_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "this is not a database, just some text that is long enough".repeat(20),
    )
    .unwrap();
    assert!(
        matches!(
            SqliteSpanStore::open(&text),
            Err(StoreError::NotADatabase { .. })
        ),
        "{:?}",
        SqliteSpanStore::open(&text)
    );
    let spool = dir.path().join("spool.db");
    drop(SqliteSpool::open(&spool, 1024).unwrap());
    assert!(matches!(
        SqliteSpanStore::open(&spool),
        Err(StoreError::WrongFile { .. })
    ));
    let foreign = dir.path().join("foreign.db");
    let conn = rusqlite::Connection::open(&foreign).unwrap();
    conn.execute_batch("CREATE TABLE t (x); PRAGMA user_version = 3;")
        .unwrap();
    drop(conn);
    assert!(matches!(
        SqliteSpanStore::open(&foreign),
        Err(StoreError::WrongFile { .. })
    ));
    // A directory where the parent directory should be.
    let blocked = dir.path().join("notes.txt").join("traces.db");
    assert!(matches!(
        SqliteSpanStore::open(&blocked),
        Err(StoreError::CreateDir { .. })
    ));
}

#[test]
fn a_writer_and_a_reader_work_on_one_file_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    let writer = Arc::new(SqliteSpanStore::open(&path).unwrap());
    let reader = SqliteSpanStore::open(&path).unwrap();
    const BATCHES: u64 = 200;
    const PER_BATCH: u64 = 5;
    let handle = {
        let writer = Arc::clone(&writer);
        thread::spawn(move || {
            for batch in 0..BATCHES {
                let trace = tid(batch + 1);
                let spans: Vec<SpanRecord> = (0..PER_BATCH)
                    .map(|i| {
                        let parent = (i > 0).then_some(1);
                        let start = (batch * 100 + i) as i64;
                        span(&trace, i + 1, parent, "step", start, start + 50)
                    })
                    .collect();
                assert_eq!(writer.insert_spans(&spans).unwrap(), PER_BATCH as usize);
            }
        })
    };
    loop {
        let writing = !handle.is_finished();
        let count = reader.span_count().unwrap();
        let traces = reader.recent_traces(&TraceFilter::default()).unwrap();
        // Each batch is one transaction: a reader never sees half a trace.
        assert_eq!(count % PER_BATCH as i64, 0);
        assert!(traces.iter().all(|t| t.span_count == PER_BATCH as i64));
        reader.traces_updated_since(0).unwrap();
        if !writing {
            break;
        }
    }
    handle.join().unwrap();
    assert_eq!(reader.span_count().unwrap(), (BATCHES * PER_BATCH) as i64);
    assert_eq!(
        reader.recent_traces(&TraceFilter::default()).unwrap()[0].trace_id,
        tid(BATCHES)
    );
}

#[test]
fn the_store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SqliteSpanStore>();
    assert_send_sync::<SqliteSpool>();
}

#[test]
fn several_handles_can_create_one_fresh_file_at_once() {
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = Arc::new(dir.path().join(format!("round{round}.db")));
        let threads: Vec<_> = (0..4u64)
            .map(|n| {
                let path = Arc::clone(&path);
                thread::spawn(move || {
                    let store = SqliteSpanStore::open(&*path).unwrap();
                    store
                        .insert_spans(&[span(&tid(n + 1), 1, None, "t", 1, 2)])
                        .unwrap();
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let store = SqliteSpanStore::open(&*path).unwrap();
        assert_eq!(store.span_count().unwrap(), 4);
    }
}

/// The SQL of schema version 1 (migration step 1 as released), to make a file of that version.
const SCHEMA_V1: &str = "CREATE TABLE spans (
        trace_id                    TEXT    NOT NULL,
        span_id                     TEXT    NOT NULL,
        parent_span_id              TEXT,
        name                        TEXT    NOT NULL,
        kind                        TEXT,
        service_name                TEXT,
        start_unix_nanos            INTEGER NOT NULL,
        end_unix_nanos              INTEGER NOT NULL,
        status                      INTEGER NOT NULL CHECK (status IN (0, 1, 2)),
        status_message              TEXT,
        provider                    TEXT,
        model                       TEXT,
        input_tokens                INTEGER,
        output_tokens               INTEGER,
        cache_read_input_tokens     INTEGER,
        cache_creation_input_tokens INTEGER,
        reasoning_output_tokens     INTEGER,
        session_id                  TEXT,
        user_id                     TEXT,
        input                       TEXT,
        output                      TEXT,
        attributes                  TEXT    NOT NULL,
        events                      TEXT    NOT NULL,
        PRIMARY KEY (trace_id, span_id)
    ) STRICT;
    CREATE INDEX spans_by_start ON spans (start_unix_nanos, trace_id);
    CREATE INDEX spans_by_end ON spans (end_unix_nanos, trace_id);
    CREATE INDEX spans_by_session ON spans (session_id, start_unix_nanos, trace_id)
        WHERE session_id IS NOT NULL;
    PRAGMA application_id = 1095980115;
    PRAGMA user_version = 1;";

#[test]
fn a_version_1_file_is_migrated_with_its_spans_in_the_default_project() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        conn.execute(
            "INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_unix_nanos,
                 end_unix_nanos, status, status_message, model, input_tokens, session_id,
                 attributes, events)
             VALUES (?1, ?2, NULL, 'research', 'agent', 100, 200, 2, 'boom', 'gpt-4o', 42,
                 'conv-1', '{\"a\":1}', '[]')",
            [tid(1), sid(1)],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO spans (trace_id, span_id, parent_span_id, name, start_unix_nanos,
                 end_unix_nanos, status, attributes, events)
             VALUES (?1, ?2, ?3, 'search', 110, 150, 0, '{}', '[]')",
            [tid(1), sid(2), sid(1)],
        )
        .unwrap();
    }

    let store = SqliteSpanStore::open(&path).unwrap();
    assert_eq!(SqliteSpanStore::schema_version(), 9);
    let spans = store.trace(&tid(1)).unwrap();
    assert_eq!(spans.len(), 2);
    let root = &spans[0];
    assert_eq!(root.name, "research");
    assert_eq!(root.project, "default");
    assert_eq!(root.links, "[]");
    assert_eq!(root.resource, "{}");
    assert_eq!(root.status, SpanStatus::Error);
    assert_eq!(root.status_message.as_deref(), Some("boom"));
    assert_eq!(root.model.as_deref(), Some("gpt-4o"));
    assert_eq!(root.input_tokens, Some(42));
    assert_eq!(root.attributes, r#"{"a":1}"#);
    assert_eq!(spans[1].parent_span_id, Some(sid(1)));
    assert_eq!(spans[1].project, "default");
    let in_default = store.trace_in_project(Some("default"), &tid(1)).unwrap();
    assert_eq!(in_default, spans);
    let session = TraceFilter {
        session_id: Some("conv-1".into()),
        project: Some("default".into()),
        ..Default::default()
    };
    assert_eq!(store.recent_traces(&session).unwrap().len(), 1);

    // The old identity still holds within the default project: a repeat is ignored.
    assert_eq!(store.insert_spans(std::slice::from_ref(root)).unwrap(), 0);
    drop(store);
    // Opening again finds nothing left to migrate.
    let store = SqliteSpanStore::open(&path).unwrap();
    assert_eq!(store.span_count().unwrap(), 2);
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, SqliteSpanStore::schema_version());
}

#[test]
fn the_same_trace_and_span_in_two_projects_are_two_spans() {
    let store = SqliteSpanStore::open_in_memory().unwrap();
    let mut a = span(&tid(7), 1, None, "in a", 100, 200);
    a.project = "project-a".into();
    a.input_tokens = Some(10);
    let mut b = span(&tid(7), 1, None, "in b", 100, 300);
    b.project = "project-b".into();
    b.input_tokens = Some(5);
    assert_eq!(store.insert_spans(&[a.clone(), b.clone()]).unwrap(), 2);
    // Each is still written only once.
    assert_eq!(store.insert_spans(&[a.clone(), b.clone()]).unwrap(), 0);
    assert_eq!(store.span_count().unwrap(), 2);

    assert_eq!(
        store.trace_in_project(Some("project-a"), &tid(7)).unwrap(),
        vec![a.clone()]
    );
    assert_eq!(
        store
            .trace_in_project(Some("project-b"), &tid(7)[..8])
            .unwrap(),
        vec![b.clone()]
    );
    assert!(
        store
            .trace_in_project(Some("project-c"), &tid(7))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.trace(&tid(7)).unwrap().len(),
        2,
        "None: every project"
    );

    let in_a = TraceFilter {
        project: Some("project-a".into()),
        ..Default::default()
    };
    let traces = store.recent_traces(&in_a).unwrap();
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0].root_name, "in a");
    assert_eq!(traces[0].input_tokens, 10);
    assert_eq!(traces[0].span_count, 1);
    let in_b = TraceFilter {
        project: Some("project-b".into()),
        ..Default::default()
    };
    let traces = store.recent_traces(&in_b).unwrap();
    assert_eq!(traces[0].root_name, "in b");
    assert_eq!(traces[0].end_unix_nanos, 300);
    let nowhere = TraceFilter {
        project: Some("project-c".into()),
        ..Default::default()
    };
    assert!(store.recent_traces(&nowhere).unwrap().is_empty());
    let all = store.recent_traces(&TraceFilter::default()).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].span_count, 2);
}

#[test]
fn a_checkpoint_from_another_connection_copies_what_the_writer_left_in_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    let writer = SqliteSpanStore::open(&path).unwrap();
    let checkpointer = SqliteSpanStore::open(&path).unwrap();
    // The writer never copies the log itself.
    writer.set_wal_autocheckpoint(0).unwrap();
    let spans: Vec<SpanRecord> = (1..=200)
        .map(|n| span(&tid(n), n, None, "x", 1, 2))
        .collect();
    writer.insert_spans(&spans).unwrap();
    let wal = dir.path().join("traces.db-wal");
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
    let done = checkpointer.checkpoint().unwrap();
    assert!(done.wal_frames > 0, "{done:?}");
    assert_eq!(done.copied_frames, done.wal_frames, "{done:?}");
    // Nothing new since: nothing more to copy, and the next write starts the log over.
    assert_eq!(checkpointer.checkpoint().unwrap(), done);
    writer
        .insert_spans(&[span(&tid(201), 201, None, "x", 1, 2)])
        .unwrap();
    let after = checkpointer.checkpoint().unwrap();
    assert!(
        after.wal_frames < done.wal_frames,
        "{after:?} after {done:?}"
    );
    drop(writer);
    assert_eq!(checkpointer.span_count().unwrap(), 201);
    // In memory there is no log: nothing to copy.
    let memory = SqliteSpanStore::open_in_memory().unwrap();
    assert_eq!(memory.checkpoint().unwrap().wal_frames, -1);
}

#[test]
fn a_new_store_has_8_kib_pages_and_an_old_file_keeps_its_4_kib_pages() {
    let dir = tempfile::tempdir().unwrap();
    let page_size = |path: &std::path::Path| -> i64 {
        rusqlite::Connection::open(path)
            .unwrap()
            .query_row("PRAGMA page_size", [], |row| row.get(0))
            .unwrap()
    };
    let new = dir.path().join("new.db");
    SqliteSpanStore::open(&new).unwrap();
    assert_eq!(page_size(&new), 8192);
    // A file made before (SQLite's default 4 KiB) opens, migrates and works as it is.
    let old = dir.path().join("old.db");
    rusqlite::Connection::open(&old)
        .unwrap()
        .execute_batch("PRAGMA page_size = 4096; CREATE TABLE t (x); DROP TABLE t;")
        .unwrap();
    let store = SqliteSpanStore::open(&old).unwrap();
    store.set_cache_size_kib(64 * 1024).unwrap();
    store
        .insert_spans(&[span(&tid(1), 1, None, "x", 1, 2)])
        .unwrap();
    assert_eq!(store.span_count().unwrap(), 1);
    drop(store);
    assert_eq!(page_size(&old), 4096);
}
