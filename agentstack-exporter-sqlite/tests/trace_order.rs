//! The trace list in both orders: oldest first walks exactly the traces newest first walks,
//! reversed, page by page, with the time window and the other filters applied alike.

use agentstack_exporter_sqlite::store::{TraceFilter, TraceQuery};
use agentstack_exporter_sqlite::{SpanRecord, SqliteSpanStore};

fn tid(n: u32) -> String {
    format!("{n:032x}")
}

/// 40 traces of 1–4 spans, with starts that interleave across traces and some equal starts.
fn store() -> SqliteSpanStore {
    let store = SqliteSpanStore::open_in_memory().unwrap();
    let mut spans = Vec::new();
    for n in 0..40u32 {
        let start = i64::from((n * 7) % 23) * 100 + i64::from(n % 3);
        for s in 0..(n % 4 + 1) {
            let span_start = start + i64::from(s) * 250;
            let mut span = SpanRecord::new(
                tid(n),
                format!("{:016x}", s + 1),
                if n % 5 == 0 { "special run" } else { "run" },
                span_start,
                span_start + 50,
            );
            if s > 0 {
                span.parent_span_id = Some(format!("{:016x}", 1));
            }
            spans.push(span);
        }
    }
    store.insert_spans(&spans).unwrap();
    store
}

/// Every page of `query`, concatenated.
fn walk(store: &SqliteSpanStore, mut query: TraceQuery) -> Vec<(i64, String)> {
    let mut all = Vec::new();
    loop {
        let page = store.trace_page(&query).unwrap();
        all.extend(
            page.traces
                .iter()
                .map(|t| (t.start_unix_nanos, t.trace_id.clone())),
        );
        match page.next {
            Some(next) => query.before = Some(next),
            None => return all,
        }
    }
}

fn query(oldest_first: bool, filter: TraceFilter) -> TraceQuery {
    TraceQuery {
        filter: TraceFilter { limit: 7, ..filter },
        oldest_first,
        ..TraceQuery::default()
    }
}

#[test]
fn oldest_first_is_newest_first_reversed() {
    let store = store();
    for filter in [
        TraceFilter::default(),
        TraceFilter {
            since_unix_nanos: Some(600),
            until_unix_nanos: Some(1_700),
            ..TraceFilter::default()
        },
        TraceFilter {
            name_contains: Some("special".into()),
            ..TraceFilter::default()
        },
    ] {
        let newest = walk(&store, query(false, filter.clone()));
        let mut oldest = walk(&store, query(true, filter.clone()));
        assert!(!oldest.is_empty());
        assert!(
            oldest.windows(2).all(|w| w[0] < w[1]),
            "oldest first, strictly: {oldest:?}"
        );
        oldest.reverse();
        assert_eq!(oldest, newest, "{filter:?}");
    }
    assert_eq!(walk(&store, query(true, TraceFilter::default())).len(), 40);
}
