//! One suite of store tests, run against both span stores: `SqliteSpanStore` (in memory) and
//! `ClickHouseStore` (a real ClickHouse 18.16 server started by the test). Each case asserts
//! the expected answer; `both_stores_answer_alike` also compares the two stores' answers whole.

mod support;

use agentstack_exporter_sqlite::store::TraceQuery;
use agentstack_exporter_sqlite::{SpanStatus, SqliteSpanStore};
use support::{
    ClickHouseServer, DAY, P, S, StoreUnderTest, T0, alert, fixture, in_project, numbers, queries,
    sid, span, stats_windows, tid,
};

/// Runs a case against each store: `case!(name)` makes `sqlite::name` and `clickhouse::name`.
macro_rules! shared_cases {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let store = super::SqliteSpanStore::open_in_memory().unwrap();
                    super::$case(&store).await;
                }
            )*
        }
        mod clickhouse {
            $(
                #[tokio::test]
                async fn $case() {
                    let server = super::ClickHouseServer::start().await;
                    let store = server.store().await;
                    super::$case(&store).await;
                }
            )*
        }
    };
}

shared_cases!(
    every_filter_lists_the_expected_traces,
    summaries_pick_the_root_and_sum_the_spans,
    pagination_walks_every_trace_once,
    trace_detail_is_ordered_and_resolves_prefixes,
    projects_are_isolated,
    duplicate_delivery_is_shown_once_and_the_first_write_wins,
    a_malformed_span_refuses_its_whole_batch,
    stats_count_spans_traces_latency_and_tokens,
    alerts_are_stored_once_and_select_traces,
    the_live_tail_summarizes_the_ids_it_is_given,
);

async fn every_filter_lists_the_expected_traces(store: &impl StoreUnderTest) {
    store.insert(&fixture()).await;
    for (name, query, expected) in queries() {
        let page = store.page(&query).await;
        assert_eq!(numbers(&page), expected, "{}: {name}", store.name());
        assert_eq!(page.next, None, "{}: {name}", store.name());
    }
}

async fn summaries_pick_the_root_and_sum_the_spans(store: &impl StoreUnderTest) {
    store.insert(&fixture()).await;
    let page = store.page(&in_project(None, TraceQuery::default())).await;
    let summary = |n: u128| {
        page.traces
            .iter()
            .find(|trace| trace.trace_id == tid(n))
            .unwrap_or_else(|| panic!("{}: trace {n} missing", store.name()))
    };
    let one = summary(1);
    assert_eq!(
        (
            one.root_name.as_str(),
            one.service_name.as_deref(),
            one.session_id.as_deref()
        ),
        ("Support agent", Some("support"), Some("s1"))
    );
    assert_eq!(
        (
            one.span_count,
            one.input_tokens,
            one.output_tokens,
            one.error_count
        ),
        (2, 120, 30, 0)
    );
    assert_eq!(
        (one.start_unix_nanos, one.end_unix_nanos),
        (T0, T0 + 30 * S)
    );
    // The root arrived after its child; it has no service, so the smallest of the others.
    let three = summary(3);
    assert_eq!(three.root_name, "Late root");
    assert_eq!(three.service_name.as_deref(), Some("alpha"));
    assert_eq!(
        (three.start_unix_nanos, three.span_count, three.input_tokens),
        (T0 + 120 * S, 3, 5)
    );
    // No root at all: the earliest span stands in, with its session.
    let four = summary(4);
    assert_eq!(
        (four.root_name.as_str(), four.session_id.as_deref()),
        ("orphan b", Some("s2"))
    );
    assert_eq!(four.service_name, None);
    let two = summary(2);
    assert_eq!(two.error_count, 1);
    // One trace id in two projects, listed over every project: summed together.
    let six = summary(6);
    assert_eq!((six.root_name.as_str(), six.span_count), ("Shared id", 2));
    assert_eq!(
        (six.start_unix_nanos, six.end_unix_nanos),
        (T0 + 300 * S, T0 + 310 * S)
    );
}

async fn pagination_walks_every_trace_once(store: &impl StoreUnderTest) {
    store.insert(&fixture()).await;
    for (project, limit, status) in [
        (Some("default"), 3, None),
        (None, 2, None),
        (None, 1, None),
        (Some("default"), 4, Some(SpanStatus::Ok)),
    ] {
        let mut all = in_project(project, TraceQuery::default());
        all.filter.status = status;
        let expected = numbers(&store.page(&all).await);
        let mut query = all.clone();
        query.filter.limit = limit;
        let mut walked = Vec::new();
        let mut pages = 0;
        loop {
            let page = store.page(&query).await;
            pages += 1;
            assert!(page.traces.len() <= limit, "{}", store.name());
            walked.extend(numbers(&page));
            match page.next {
                Some(next) => query.before = Some(next),
                None => break,
            }
            assert!(pages < 100, "{}: the walk does not end", store.name());
        }
        assert_eq!(walked, expected, "{}: {project:?} by {limit}", store.name());
        assert_eq!(
            pages,
            expected.len().div_ceil(limit).max(1),
            "{}",
            store.name()
        );
    }
}

async fn trace_detail_is_ordered_and_resolves_prefixes(store: &impl StoreUnderTest) {
    let spans = fixture();
    store.insert(&spans).await;
    let three = store.trace(Some("default"), &tid(3)).await.unwrap();
    let ids: Vec<&str> = three.iter().map(|span| span.span_id.as_str()).collect();
    assert_eq!(ids, [sid(4), sid(5), sid(6)], "{}: by start", store.name());
    // Every field comes back as written.
    let one = store.trace(None, &tid(1)).await.unwrap();
    let written: Vec<_> = spans
        .iter()
        .filter(|span| span.trace_id == tid(1))
        .cloned()
        .collect();
    assert_eq!(one, written, "{}", store.name());
    // Equal starts: by span id.
    let mut twins = vec![
        span(20, 0x22, None, "b", 5, 6),
        span(20, 0x21, None, "a", 5, 6),
    ];
    twins[0].project = "twins".into();
    twins[1].project = "twins".into();
    store.insert(&twins).await;
    let got = store.trace(Some("twins"), &tid(20)).await.unwrap();
    assert_eq!(
        got.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );

    let by_prefix = store.trace(Some("default"), "ABCDEF01").await.unwrap();
    assert_eq!(
        by_prefix.len(),
        2,
        "{}: a unique prefix, any case",
        store.name()
    );
    assert_eq!(by_prefix[0].name, "prefixed");
    let ambiguous = store.trace(Some("default"), "00000000").await.unwrap_err();
    assert!(
        ambiguous.contains("matches several traces"),
        "{}: {ambiguous}",
        store.name()
    );
    let invalid = store.trace(None, "xyz").await.unwrap_err();
    assert!(
        invalid.contains("is not a trace id"),
        "{}: {invalid}",
        store.name()
    );
    let short = store.trace(None, "abcdef0").await.unwrap_err();
    assert!(short.contains("too short"), "{}: {short}", store.name());
    assert_eq!(store.trace(None, &tid(0xdead)).await.unwrap(), vec![]);
    assert_eq!(
        store.trace(Some("other"), "abcdef01").await.unwrap(),
        vec![]
    );
}

async fn projects_are_isolated(store: &impl StoreUnderTest) {
    store.insert(&fixture()).await;
    assert_eq!(store.trace(Some("other"), &tid(1)).await.unwrap(), vec![]);
    assert_eq!(store.trace(Some("default"), &tid(5)).await.unwrap(), vec![]);
    assert_eq!(store.trace(Some("nobody"), &tid(6)).await.unwrap(), vec![]);
    let names = |spans: Vec<agentstack_exporter_sqlite::SpanRecord>| {
        spans.into_iter().map(|span| span.name).collect::<Vec<_>>()
    };
    assert_eq!(
        names(store.trace(Some("default"), &tid(6)).await.unwrap()),
        ["Shared id"]
    );
    assert_eq!(
        names(store.trace(Some("other"), &tid(6)).await.unwrap()),
        ["Shared id (other)"]
    );
    assert_eq!(
        names(store.trace(None, &tid(6)).await.unwrap()),
        ["Shared id", "Shared id (other)"]
    );
    let other = store
        .page(&in_project(Some("other"), TraceQuery::default()))
        .await;
    let six = &other.traces[0];
    assert_eq!(
        (
            six.root_name.as_str(),
            six.span_count,
            six.service_name.as_deref()
        ),
        ("Shared id (other)", 1, None)
    );
    assert_eq!(
        numbers(
            &store
                .page(&in_project(Some("nobody"), TraceQuery::default()))
                .await
        ),
        Vec::<u128>::new()
    );
}

async fn duplicate_delivery_is_shown_once_and_the_first_write_wins(store: &impl StoreUnderTest) {
    let spans = fixture();
    store.insert(&spans).await;
    let every = in_project(None, TraceQuery::default());
    let once = store.page(&every).await;
    // Delivered again, whole and in parts, with no merge in between (no OPTIMIZE).
    store.insert(&spans).await;
    store.insert(&spans[..5]).await;
    let mut changed = spans[0].clone();
    changed.name = "rewritten".into();
    changed.end_unix_nanos += 1_000 * S;
    store.insert(&[changed]).await;
    assert_eq!(store.page(&every).await, once, "{}", store.name());
    assert_eq!(
        store.span_count().await,
        spans.len() as i64,
        "{}",
        store.name()
    );
    let one = store.trace(None, &tid(1)).await.unwrap();
    assert_eq!(one.len(), 2, "{}", store.name());
    assert_eq!(
        one[0].name,
        "Support agent",
        "{}: the first write wins",
        store.name()
    );
    for (name, query, expected) in queries() {
        assert_eq!(
            numbers(&store.page(&query).await),
            expected,
            "{}: {name}",
            store.name()
        );
    }
}

async fn a_malformed_span_refuses_its_whole_batch(store: &impl StoreUnderTest) {
    let mut spans = fixture();
    spans[3].trace_id = "NOT-HEX".into();
    let error = store.insert_refused(&spans).await;
    assert!(
        error.contains("span 3 of the batch"),
        "{}: {error}",
        store.name()
    );
    assert!(
        error.contains("nothing of this batch was written"),
        "{}: {error}",
        store.name()
    );
    assert_eq!(store.span_count().await, 0, "{}", store.name());
    let mut bad_parent = span(1, 1, None, "x", 0, 1);
    bad_parent.parent_span_id = Some("short".into());
    let error = store.insert_refused(&[bad_parent]).await;
    assert!(
        error.contains("parent_span_id"),
        "{}: {error}",
        store.name()
    );
}

async fn stats_count_spans_traces_latency_and_tokens(store: &impl StoreUnderTest) {
    store.insert(&fixture()).await;
    store.insert(&fixture()).await;
    let windows = stats_windows();
    let stats = store.stats(&windows[0]).await;
    assert_eq!(
        (stats.span_count, stats.trace_count),
        (18, 13),
        "{}",
        store.name()
    );
    assert_eq!((stats.error_span_count, stats.error_trace_count), (1, 1));
    assert_eq!((stats.input_tokens, stats.output_tokens), (125, 30));
    // Roots of the default project: 1, 1, 1, 2 (six times), 10, 19 and 30 s.
    let latency = stats.root_latency.expect("root spans");
    assert_eq!(
        (latency.p50_nanos, latency.p95_nanos, latency.p99_nanos),
        (2 * S, 30 * S, 30 * S),
        "{}",
        store.name()
    );
    let buckets: Vec<_> = stats
        .buckets
        .iter()
        .map(|b| (b.start_unix_nanos, b.span_count, b.input_tokens))
        .collect();
    assert_eq!(
        buckets,
        [(T0 - DAY, 3, 0), (T0, 15, 125)],
        "{}",
        store.name()
    );
    let window = store.stats(&windows[3]).await;
    assert_eq!(
        (window.span_count, window.trace_count),
        (6, 3),
        "{}",
        store.name()
    );
    let nothing = store.stats(&windows[6]).await;
    assert_eq!((nothing.span_count, nothing.root_latency), (0, None));
    assert!(nothing.buckets.is_empty());
}

async fn alerts_are_stored_once_and_select_traces(store: &impl StoreUnderTest) {
    store.insert(&fixture()).await;
    let alerts = [
        alert("default", "a1", Some(2)),
        alert("default", "a2", Some(3)),
        alert("other", "a3", Some(5)),
        alert("default", "budget", None),
        alert("default", "a1", Some(2)),
    ];
    assert_eq!(
        store.insert_alerts(&alerts).await,
        ["a1", "a2", "a3", "budget"],
        "{}",
        store.name()
    );
    let again = [
        alert("default", "a2", Some(3)),
        alert("other", "a5", Some(6)),
        alert("other", "a1", Some(6)),
    ];
    assert_eq!(
        store.insert_alerts(&again).await,
        ["a5", "a1"],
        "{}: keys are per project",
        store.name()
    );
    let with = |project: Option<&str>, wanted: bool| {
        let mut query = in_project(project, TraceQuery::default());
        query.has_alerts = Some(wanted);
        query
    };
    for (query, expected) in [
        (with(Some("default"), true), vec![3, 2]),
        (with(Some("other"), true), vec![6, 5]),
        (with(None, true), vec![6, 5, 3, 2]),
        (
            with(Some("default"), false),
            vec![12, 11, 10, 9, 8, 7, 6, 4, 1, P, 13],
        ),
    ] {
        assert_eq!(
            numbers(&store.page(&query).await),
            expected,
            "{}: {query:?}",
            store.name()
        );
    }
    let summary = store
        .trace_alerts("default", &[&tid(2), &tid(3), &tid(1)])
        .await;
    assert_eq!(summary.len(), 2, "{}", store.name());
    assert_eq!(summary[&tid(2)].count, 1);
    let other = store.trace_alerts("other", &[&tid(6)]).await;
    assert_eq!(
        other[&tid(6)].count,
        2,
        "{}: a5 and a1 of project other",
        store.name()
    );
}

/// The ids the live tail hands over, in its order, with one unknown.
fn live_ids() -> Vec<String> {
    [3, 1, 0x99, 6, 5, 2].into_iter().map(tid).collect()
}

async fn the_live_tail_summarizes_the_ids_it_is_given(store: &impl StoreUnderTest) {
    store.insert(&fixture()).await;
    store.insert(&fixture()).await;
    let mut query = in_project(Some("default"), TraceQuery::default());
    // The cursor is ignored by the live tail.
    query.before = Some(agentstack_exporter_sqlite::store::TraceCursor {
        start_unix_nanos: 0,
        trace_id: tid(0),
    });
    let got = store.matching(&query, &live_ids()).await;
    let ids: Vec<&str> = got.iter().map(|t| t.trace_id.as_str()).collect();
    assert_eq!(ids, [tid(3), tid(1), tid(6), tid(2)], "{}", store.name());
    assert_eq!(
        got[2].span_count,
        1,
        "{}: only the project's spans",
        store.name()
    );
    query.filter.status = Some(SpanStatus::Error);
    let errors = store.matching(&query, &live_ids()).await;
    assert_eq!(errors.len(), 1, "{}", store.name());
    assert_eq!(errors[0].trace_id, tid(2));
}

/// Both stores, same spans: the same pages, page for page, for every query and its walk.
#[tokio::test]
async fn both_stores_answer_alike() {
    let server = ClickHouseServer::start().await;
    let clickhouse = server.store().await;
    let sqlite = SqliteSpanStore::open_in_memory().unwrap();
    let spans = fixture();
    StoreUnderTest::insert(&sqlite, &spans).await;
    StoreUnderTest::insert(&clickhouse, &spans).await;
    StoreUnderTest::insert(&clickhouse, &spans).await;
    for (name, query, _) in queries() {
        for limit in [100, 3] {
            let mut query = query.clone();
            query.filter.limit = limit;
            loop {
                let expected = StoreUnderTest::page(&sqlite, &query).await;
                let got = StoreUnderTest::page(&clickhouse, &query).await;
                assert_eq!(got, expected, "{name}, by {limit}");
                match expected.next {
                    Some(next) => query.before = Some(next),
                    None => break,
                }
            }
        }
    }
    for n in [1, 2, 3, 4, 5, 6, 13, P] {
        for project in [None, Some("default"), Some("other")] {
            assert_eq!(
                StoreUnderTest::trace(&clickhouse, project, &tid(n)).await,
                StoreUnderTest::trace(&sqlite, project, &tid(n)).await,
                "trace {n} in {project:?}"
            );
        }
    }
    assert_eq!(
        StoreUnderTest::span_count(&clickhouse).await,
        StoreUnderTest::span_count(&sqlite).await
    );
    for (name, query, _) in queries() {
        assert_eq!(
            StoreUnderTest::matching(&clickhouse, &query, &live_ids()).await,
            StoreUnderTest::matching(&sqlite, &query, &live_ids()).await,
            "live tail: {name}"
        );
    }
    for window in stats_windows() {
        assert_eq!(
            StoreUnderTest::stats(&clickhouse, &window).await,
            StoreUnderTest::stats(&sqlite, &window).await,
            "{window:?}"
        );
    }
}
