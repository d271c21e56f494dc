//! One suite of store tests, run against both span stores: `SqliteSpanStore` (in memory) and
//! `ClickHouseStore` (a real ClickHouse 18.16 server started by the test). Each case asserts
//! the expected answer; `both_stores_answer_alike` also compares the two stores' answers whole.

mod support;

use agentstack_exporter_sqlite::store::{
    AlertQuery, AlertSeverity, CostGroupBy, CostQuery, SessionCursor, SessionQuery, TraceQuery,
};
use agentstack_exporter_sqlite::{ApiKeyRecord, SpanStatus, SqliteSpanStore};
use support::{
    ClickHouseServer, DAY, P, S, StoreUnderTest, T0, USD, alert, cost_fixture, fixture, in_project,
    link_fixture, numbers, queries, sid, span, stats_windows, tid,
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
    oldest_first_pages_walk_every_trace_in_start_order,
    updated_traces_are_listed_oldest_first_over_every_project,
    alert_pages_are_newest_first_filtered_and_walk_once,
    sessions_are_grouped_most_recent_first,
    conversations_follow_links_both_ways_within_the_project,
    a_conversation_stops_at_its_bound_nearest_first,
    span_costs_are_written_once_and_summed,
    cost_reports_group_by_hour_or_by_span,
    price_overrides_replace_the_ones_before,
    api_keys_are_stored_listed_and_revoked_once,
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

async fn oldest_first_pages_walk_every_trace_in_start_order(store: &impl StoreUnderTest) {
    store.insert(&fixture()).await;
    store.insert(&fixture()).await;
    for (name, query, newest_first) in queries() {
        let expected: Vec<u128> = newest_first.into_iter().rev().collect();
        for limit in [100, 1, 2, 5] {
            let mut query = query.clone();
            query.oldest_first = true;
            query.filter.limit = limit;
            let mut walked = Vec::new();
            let mut pages = 0;
            loop {
                let page = store.page(&query).await;
                pages += 1;
                assert!(page.traces.len() <= limit, "{}: {name}", store.name());
                walked.extend(numbers(&page));
                match page.next {
                    Some(next) => {
                        let last = page.traces.last().expect("a page with a next has traces");
                        assert_eq!(
                            (next.start_unix_nanos, next.trace_id.as_str()),
                            (last.start_unix_nanos, last.trace_id.as_str())
                        );
                        query.before = Some(next);
                    }
                    None => break,
                }
                assert!(pages < 100, "{}: the walk does not end", store.name());
            }
            assert_eq!(walked, expected, "{}: {name} by {limit}", store.name());
            assert_eq!(
                pages,
                expected.len().div_ceil(limit).max(1),
                "{}: {name} by {limit}",
                store.name()
            );
        }
    }
    // Equal starts (traces 9 and 10): by trace id, ascending.
    let mut query = in_project(Some("default"), TraceQuery::default());
    query.oldest_first = true;
    query.filter.since_unix_nanos = Some(T0 + 490 * S);
    query.filter.limit = 1;
    let first = store.page(&query).await;
    assert_eq!(numbers(&first), [9], "{}", store.name());
    query.before = first.next;
    assert_eq!(numbers(&store.page(&query).await), [10], "{}", store.name());
}

async fn updated_traces_are_listed_oldest_first_over_every_project(store: &impl StoreUnderTest) {
    store.insert(&fixture()).await;
    store.insert(&fixture()).await;
    // Traces with a span that ended at or after T0 + 250 s.
    let updated = store.updated_since(T0 + 250 * S).await;
    let ids: Vec<String> = updated.iter().map(|t| t.trace_id.clone()).collect();
    let expected: Vec<String> = [5, 6, 7, 8, 9, 10, 11, 12].into_iter().map(tid).collect();
    assert_eq!(ids, expected, "{}", store.name());
    let six = &updated[1];
    assert_eq!(
        (six.root_name.as_str(), six.span_count, six.end_unix_nanos),
        ("Shared id", 2, T0 + 310 * S),
        "{}: summed over both projects",
        store.name()
    );
    assert_eq!(store.updated_since(T0 + 10_000 * S).await, vec![]);
    assert_eq!(
        store.updated_since(i64::MIN).await.len(),
        14,
        "{}: every trace",
        store.name()
    );
}

/// An alert at `time` nanoseconds after T0.
fn timed_alert(
    project: &str,
    key: &str,
    trace: Option<u128>,
    time: i64,
    severity: AlertSeverity,
) -> agentstack_exporter_sqlite::store::AlertRecord {
    let mut alert = alert(project, key, trace);
    alert.time_unix_nanos = T0 + time;
    alert.severity = severity;
    alert.span_id = trace.map(|_| sid(7));
    alert.evidence = format!(r#"[{{"key":"{key}"}}]"#);
    alert
}

async fn alert_pages_are_newest_first_filtered_and_walk_once(store: &impl StoreUnderTest) {
    let mut k2 = timed_alert("default", "k2", Some(2), 1, AlertSeverity::Low);
    k2.detector = "pii_leak".into();
    let first = [
        timed_alert("default", "k1", Some(1), 0, AlertSeverity::High),
        k2,
        timed_alert("default", "k3", Some(1), 1, AlertSeverity::Critical),
    ];
    let second = [
        timed_alert("other", "k4", Some(5), 5, AlertSeverity::Medium),
        timed_alert("default", "k5", None, -10, AlertSeverity::Medium),
        timed_alert("default", "k1", Some(1), 99, AlertSeverity::Low),
    ];
    store.insert_alerts(&first).await;
    store.insert_alerts(&second).await;
    let keys = |query: AlertQuery| async move {
        let page = store.alert_page(&query).await;
        page.alerts
            .into_iter()
            .map(|a| a.dedup_key)
            .collect::<Vec<_>>()
    };
    let default = || AlertQuery {
        project: Some("default".into()),
        ..AlertQuery::default()
    };
    // k2 and k3 share a time: the one written later first.
    assert_eq!(
        keys(default()).await,
        ["k3", "k2", "k1", "k5"],
        "{}",
        store.name()
    );
    assert_eq!(
        keys(AlertQuery::default()).await,
        ["k4", "k3", "k2", "k1", "k5"],
        "{}",
        store.name()
    );
    // Every field as written (the repeat of k1 was not written), with an id.
    let page = store.alert_page(&default()).await;
    let k1 = &page.alerts[2];
    assert_eq!(
        k1,
        &agentstack_exporter_sqlite::store::AlertRecord {
            id: k1.id,
            ..first[0].clone()
        },
        "{}",
        store.name()
    );
    assert!(
        page.alerts[0].id > page.alerts[1].id,
        "{}: ids grow in write order",
        store.name()
    );
    // Walked two at a time: each once, in order, the cursor at the last one of a page.
    let mut query = AlertQuery {
        limit: 2,
        ..AlertQuery::default()
    };
    let mut walked = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.alert_page(&query).await;
        pages += 1;
        walked.extend(page.alerts.iter().map(|a| a.dedup_key.clone()));
        match page.next {
            Some(next) => {
                let last = page.alerts.last().unwrap();
                assert_eq!(next, (last.time_unix_nanos, last.id), "{}", store.name());
                query.before = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(walked, ["k4", "k3", "k2", "k1", "k5"], "{}", store.name());
    assert_eq!(pages, 3, "{}", store.name());
    for (query, expected) in [
        (
            AlertQuery {
                trace_id: Some(tid(1)),
                ..default()
            },
            vec!["k3", "k1"],
        ),
        (
            AlertQuery {
                detector: Some("pii_leak".into()),
                ..default()
            },
            vec!["k2"],
        ),
        (
            AlertQuery {
                min_severity: Some(AlertSeverity::High),
                ..default()
            },
            vec!["k3", "k1"],
        ),
        (
            AlertQuery {
                since_unix_nanos: Some(T0 + 1),
                ..default()
            },
            vec!["k3", "k2"],
        ),
        (
            AlertQuery {
                until_unix_nanos: Some(T0 + 1),
                ..default()
            },
            vec!["k1", "k5"],
        ),
        (
            AlertQuery {
                until_unix_nanos: Some(i64::MIN),
                ..default()
            },
            vec![],
        ),
        (
            AlertQuery {
                project: Some("nobody".into()),
                ..AlertQuery::default()
            },
            vec![],
        ),
    ] {
        assert_eq!(
            keys(query.clone()).await,
            expected,
            "{}: {query:?}",
            store.name()
        );
    }
    assert!(
        store.alert_exists("default", "k1").await,
        "{}",
        store.name()
    );
    assert!(store.alert_exists("other", "k4").await, "{}", store.name());
    assert!(!store.alert_exists("other", "k1").await, "{}", store.name());
    assert!(
        !store.alert_exists("default", "nope").await,
        "{}",
        store.name()
    );
}

/// The fixture and a session `s3` over two traces: an error, tokens, two users.
fn session_spans() -> Vec<agentstack_exporter_sqlite::SpanRecord> {
    let mut spans = fixture();
    let mut a = span(30, 0x30, None, "s3 a", 600, 610);
    a.session_id = Some("s3".into());
    a.user_id = Some("u1".into());
    a.input_tokens = Some(7);
    a.status = SpanStatus::Error;
    let mut b = span(31, 0x31, None, "s3 b", 620, 625);
    b.session_id = Some("s3".into());
    b.user_id = Some("u9".into());
    b.output_tokens = Some(4);
    let mut c = span(31, 0x32, Some(0x31), "s3 c", 621, 622);
    c.session_id = Some("s3".into());
    spans.extend([a, b, c]);
    spans
}

async fn sessions_are_grouped_most_recent_first(store: &impl StoreUnderTest) {
    store.insert(&session_spans()).await;
    store.insert(&session_spans()).await;
    let ids = |page: &agentstack_exporter_sqlite::store::SessionPage| {
        page.sessions
            .iter()
            .map(|s| s.session_id.clone())
            .collect::<Vec<_>>()
    };
    let default = || SessionQuery {
        project: Some("default".into()),
        ..SessionQuery::default()
    };
    let page = store.session_page(&default()).await;
    assert_eq!(ids(&page), ["s3", "s2", "s1"], "{}", store.name());
    assert_eq!(page.next, None);
    let s3 = &page.sessions[0];
    assert_eq!(
        (s3.trace_count, s3.span_count, s3.error_count),
        (2, 3, 1),
        "{}",
        store.name()
    );
    assert_eq!(
        (
            s3.start_unix_nanos,
            s3.end_unix_nanos,
            s3.last_start_unix_nanos
        ),
        (T0 + 600 * S, T0 + 625 * S, T0 + 621 * S),
        "{}",
        store.name()
    );
    assert_eq!(
        (s3.input_tokens, s3.output_tokens, s3.user_id.as_deref()),
        (7, 4, Some("u9")),
        "{}: the greatest user",
        store.name()
    );
    let s1 = &page.sessions[2];
    assert_eq!(
        (s1.trace_count, s1.span_count, s1.user_id.as_deref()),
        (1, 1, Some("u1"))
    );
    assert_eq!(page.sessions[1].user_id, None, "{}", store.name());
    // Over every project, s1 holds the other project's trace 5 too.
    let every = store.session_page(&SessionQuery::default()).await;
    assert_eq!(ids(&every), ["s3", "s1", "s2"], "{}", store.name());
    assert_eq!(
        (
            every.sessions[1].trace_count,
            every.sessions[1].last_start_unix_nanos
        ),
        (2, T0 + 240 * S),
        "{}",
        store.name()
    );
    // One at a time.
    let mut query = SessionQuery {
        limit: 1,
        ..default()
    };
    let mut walked = Vec::new();
    loop {
        let page = store.session_page(&query).await;
        walked.extend(ids(&page));
        match page.next {
            Some(next) => {
                let last = page.sessions.last().unwrap();
                assert_eq!(
                    next,
                    SessionCursor {
                        last_start_unix_nanos: last.last_start_unix_nanos,
                        session_id: last.session_id.clone(),
                    }
                );
                query.before = Some(next);
            }
            None => break,
        }
        assert!(walked.len() < 10, "{}: the walk does not end", store.name());
    }
    assert_eq!(walked, ["s3", "s2", "s1"], "{}", store.name());
    for (query, expected) in [
        (
            SessionQuery {
                since_unix_nanos: Some(T0 + 181 * S),
                ..default()
            },
            vec!["s3"],
        ),
        (
            SessionQuery {
                until_unix_nanos: Some(T0 + S),
                ..default()
            },
            vec!["s1"],
        ),
        (
            SessionQuery {
                user_id: Some("u1".into()),
                ..default()
            },
            vec!["s3", "s1"],
        ),
        // u2's span carries no session.
        (
            SessionQuery {
                user_id: Some("u2".into()),
                ..default()
            },
            vec![],
        ),
        (
            SessionQuery {
                project: Some("other".into()),
                ..SessionQuery::default()
            },
            vec!["s1"],
        ),
    ] {
        let page = store.session_page(&query).await;
        assert_eq!(ids(&page), expected, "{}: {query:?}", store.name());
    }
}

async fn conversations_follow_links_both_ways_within_the_project(store: &impl StoreUnderTest) {
    store.insert(&link_fixture()).await;
    store.insert(&link_fixture()).await;
    let traces = |conversation: Option<agentstack_exporter_sqlite::store::Conversation>| {
        conversation.map(|c| {
            assert!(!c.truncated);
            c.traces
                .iter()
                .map(|t| u128::from_str_radix(&t.trace_id, 16).unwrap())
                .collect::<Vec<_>>()
        })
    };
    for (asked, expected) in [
        (40, vec![41, 40, 42]),
        (42, vec![41, 40, 42]),
        (41, vec![41, 40, 42]),
        (43, vec![43]),
        (44, vec![44, 45]),
        (45, vec![44, 45]),
    ] {
        let conversation = store.conversation("default", &tid(asked)).await.unwrap();
        assert_eq!(
            traces(conversation.clone()),
            Some(expected),
            "{}: from {asked}",
            store.name()
        );
        let conversation = conversation.unwrap();
        assert_eq!(
            conversation.id(),
            Some(conversation.traces[0].trace_id.as_str())
        );
    }
    let chain = store
        .conversation("default", &tid(43))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        chain.traces[0].span_count,
        2,
        "{}: each span once",
        store.name()
    );
    // Project `other`: trace 40 has no span there; 46's link to it connects nothing listed.
    assert_eq!(
        traces(store.conversation("other", &tid(46)).await.unwrap()),
        Some(vec![46]),
        "{}",
        store.name()
    );
    assert_eq!(
        traces(store.conversation("other", &tid(40)).await.unwrap()),
        None
    );
    assert_eq!(
        traces(store.conversation("default", &tid(99)).await.unwrap()),
        None,
        "{}: linked to, but no span",
        store.name()
    );
    let ambiguous = store.conversation("default", "00000000").await.unwrap_err();
    assert!(
        ambiguous.contains("matches several traces"),
        "{}: {ambiguous}",
        store.name()
    );
    let invalid = store.conversation("default", "xyz").await.unwrap_err();
    assert!(invalid.contains("is not a trace id"), "{}", store.name());
}

async fn a_conversation_stops_at_its_bound_nearest_first(store: &impl StoreUnderTest) {
    use agentstack_exporter_sqlite::store::MAX_CONVERSATION_TRACES;
    // A hub and more traces linking to it than a conversation holds, plus one linked from the
    // first of them (two links away).
    let hub = 0x5000u128;
    let mut spans = vec![support::linked_span("default", hub, 0x5000, 0, &[])];
    let spokes = MAX_CONVERSATION_TRACES as u128 + 1;
    for n in 1..=spokes {
        spans.push(support::linked_span(
            "default",
            hub + n,
            0x5000 + n as u64,
            n as i64,
            &[(hub, 0x5000)],
        ));
    }
    spans.push(support::linked_span(
        "default",
        0x9000,
        0x9000,
        -5,
        &[(hub + 1, 0x5001)],
    ));
    store.insert(&spans).await;
    let conversation = store
        .conversation("default", &tid(hub))
        .await
        .unwrap()
        .unwrap();
    assert!(conversation.truncated, "{}", store.name());
    let ids: Vec<String> = conversation
        .traces
        .iter()
        .map(|t| t.trace_id.clone())
        .collect();
    // The hub and the spokes nearest it (by trace id, as the walk meets them), earliest first;
    // the trace two links away is not reached.
    let expected: Vec<String> = (0..MAX_CONVERSATION_TRACES as u128)
        .map(|n| tid(hub + n))
        .collect();
    assert_eq!(ids, expected, "{}", store.name());
}

async fn span_costs_are_written_once_and_summed(store: &impl StoreUnderTest) {
    store.insert(&fixture()).await;
    let costs = cost_fixture();
    let mut first = costs.clone();
    first.push(costs[0].clone());
    assert_eq!(
        store.insert_span_costs(&first).await,
        [0, 1, 2, 3, 4],
        "{}: a repeat in the batch is not new",
        store.name()
    );
    let mut again = vec![costs[2].clone()];
    let mut new = costs[0].clone();
    new.span_id = sid(9);
    new.cost_femtos = Some(USD);
    again.push(new.clone());
    again.push(costs[0].clone());
    assert_eq!(
        store.insert_span_costs(&again).await,
        [1],
        "{}",
        store.name()
    );
    assert_eq!(store.insert_span_costs(&[]).await, Vec::<usize>::new());
    let totals = store
        .trace_costs("default", &[&tid(1), &tid(2), &tid(3), &tid(77)])
        .await;
    assert_eq!(totals.len(), 3, "{}", store.name());
    let one = totals[&tid(1)];
    assert_eq!(
        (one.cost_femtos, one.estimated, one.priced_spans),
        (5 * USD / 2, false, 2),
        "{}: c1 and the new span; c2 has no cost",
        store.name()
    );
    let two = totals[&tid(2)];
    assert_eq!(
        (two.cost_femtos, two.estimated, two.priced_spans),
        (USD / 4, true, 1)
    );
    assert_eq!(totals[&tid(3)].cost_femtos, 1, "{}", store.name());
    let other = store.trace_costs("other", &[&tid(1)]).await;
    assert_eq!(other[&tid(1)].cost_femtos, 9 * USD, "{}", store.name());
    let rows = store.span_costs_of_trace("default", &tid(1)).await;
    assert_eq!(rows.len(), 3, "{}", store.name());
    assert_eq!(rows[&sid(1)], costs[0], "{}: as written", store.name());
    assert_eq!(rows[&sid(2)], costs[1], "{}", store.name());
    assert_eq!(rows[&sid(9)], new, "{}", store.name());
    assert!(
        store
            .span_costs_of_trace("default", &tid(77))
            .await
            .is_empty()
    );
    // Budget spend: the spans that ended since, of one user or session.
    assert_eq!(
        store.cost_since("default", T0, None, None).await,
        5 * USD / 2 + USD / 4 + 1,
        "{}",
        store.name()
    );
    assert_eq!(
        store.cost_since("default", T0 + 15 * S, None, None).await,
        USD / 4 + 1,
        "{}",
        store.name()
    );
    assert_eq!(
        store.cost_since("default", T0, Some("u1"), None).await,
        5 * USD / 2 + 1,
        "{}",
        store.name()
    );
    assert_eq!(
        store.cost_since("default", T0, None, Some("s1")).await,
        5 * USD / 2,
        "{}",
        store.name()
    );
    assert_eq!(store.cost_since("nobody", 0, None, None).await, 0);
    // The trace list's min_cost, over the costs of the project's spans.
    for (project, min, expected) in [
        (Some("default"), 2 * USD, vec![1]),
        (Some("default"), 1, vec![3, 2, 1]),
        (Some("default"), USD / 4 + 1, vec![1]),
        (Some("other"), 9 * USD, vec![]),
        (None, 11 * USD, vec![1]),
    ] {
        let mut query = in_project(project, TraceQuery::default());
        query.min_cost_femtos = Some(min);
        assert_eq!(
            numbers(&store.page(&query).await),
            expected,
            "{}: {project:?} at least {min}",
            store.name()
        );
    }
}

async fn cost_reports_group_by_hour_or_by_span(store: &impl StoreUnderTest) {
    let costs = cost_fixture();
    store.insert_span_costs(&costs).await;
    // Written again: no figure changes.
    assert_eq!(store.insert_span_costs(&costs).await, Vec::<usize>::new());
    let report = |group_by: CostGroupBy, since: Option<i64>, until: Option<i64>, bucket: i64| async move {
        let query = CostQuery {
            project: "default".into(),
            group_by,
            since_unix_nanos: since,
            until_unix_nanos: until,
            bucket_seconds: bucket,
        };
        store.cost_report(&query).await
    };
    let summary = |groups: &[agentstack_exporter_sqlite::store::CostGroup]| {
        groups
            .iter()
            .map(|g| {
                (
                    g.bucket_start_unix_seconds,
                    g.key.clone(),
                    g.totals.cost_femtos,
                    g.totals.span_count,
                )
            })
            .collect::<Vec<_>>()
    };
    let t0 = T0 / S;
    let by_model = report(CostGroupBy::Model, None, None, 3600).await;
    let total = by_model.total;
    assert_eq!(
        (
            total.cost_femtos,
            total.estimated_cost_femtos,
            total.input_tokens,
            total.output_tokens,
            total.span_count
        ),
        (3 * USD / 2 + USD / 4 + 1, USD / 4, 161, 12, 4),
        "{}",
        store.name()
    );
    assert_eq!(
        summary(&by_model.groups),
        [
            (0, "gpt-4o".to_string(), 3 * USD / 2, 2),
            (0, "claude".to_string(), USD / 4 + 1, 2)
        ],
        "{}",
        store.name()
    );
    assert_eq!(by_model.groups[1].totals.estimated_cost_femtos, USD / 4);
    assert_eq!(
        summary(&by_model.series),
        [
            (t0, "claude".to_string(), USD / 4, 1),
            (t0, "gpt-4o".to_string(), 3 * USD / 2, 1),
            (t0 + 3600, "gpt-4o".to_string(), 0, 1),
            (t0 + 86_400, "claude".to_string(), 1, 1),
        ],
        "{}",
        store.name()
    );
    // Whole hours: `since` inside the first hour still counts all of it.
    assert_eq!(
        report(CostGroupBy::Model, Some(T0 + 30 * S), None, 3600).await,
        by_model,
        "{}",
        store.name()
    );
    let later = report(CostGroupBy::Agent, Some(T0 + 3600 * S), None, 86_400).await;
    assert_eq!(
        summary(&later.groups),
        [(0, "a".to_string(), 1, 1), (0, "b".to_string(), 0, 1)],
        "{}",
        store.name()
    );
    let early = report(CostGroupBy::Agent, None, Some(T0 + 3600 * S), 86_400).await;
    assert_eq!(
        summary(&early.series),
        [(t0, "a".to_string(), 3 * USD / 2 + USD / 4, 2)],
        "{}",
        store.name()
    );
    let by_day = report(CostGroupBy::Day, None, None, 86_400).await;
    assert_eq!(
        summary(&by_day.groups),
        [
            (0, "2026-11-20".to_string(), 3 * USD / 2 + USD / 4, 3),
            (0, "2026-11-21".to_string(), 1, 1)
        ],
        "{}",
        store.name()
    );
    // Sessions and users count each span at its end, to the nanosecond.
    let by_session = report(CostGroupBy::Session, Some(T0 + 15 * S), None, 86_400).await;
    assert_eq!(
        summary(&by_session.groups),
        [
            (0, String::new(), USD / 4, 1),
            (0, "s2".to_string(), 1, 1),
            (0, "s1".to_string(), 0, 1)
        ],
        "{}",
        store.name()
    );
    assert_eq!(by_session.total.span_count, 3, "{}", store.name());
    assert_eq!(
        summary(&by_session.series),
        [
            (t0, String::new(), USD / 4, 1),
            (t0, "s1".to_string(), 0, 1),
            (t0 + 86_400, "s2".to_string(), 1, 1)
        ],
        "{}",
        store.name()
    );
    let by_user = report(CostGroupBy::User, None, Some(T0 + 86_401 * S), 3600).await;
    assert_eq!(
        summary(&by_user.groups),
        [
            (0, "u1".to_string(), 3 * USD / 2, 1),
            (0, "u2".to_string(), USD / 4, 1),
            (0, String::new(), 0, 1)
        ],
        "{}: until is exclusive",
        store.name()
    );
    let nothing = store
        .cost_report(&CostQuery {
            project: "nobody".into(),
            group_by: CostGroupBy::Session,
            since_unix_nanos: None,
            until_unix_nanos: None,
            bucket_seconds: 0,
        })
        .await;
    assert_eq!(nothing, Default::default(), "{}", store.name());
    let other = store
        .cost_report(&CostQuery {
            project: "other".into(),
            group_by: CostGroupBy::Model,
            since_unix_nanos: None,
            until_unix_nanos: None,
            bucket_seconds: 3600,
        })
        .await;
    assert_eq!(other.total.cost_femtos, 9 * USD, "{}", store.name());
}

async fn price_overrides_replace_the_ones_before(store: &impl StoreUnderTest) {
    assert_eq!(store.price_overrides("p1").await, None);
    assert_eq!(store.all_price_overrides().await, vec![]);
    store.set_price_overrides("p1", r#"{"a":1}"#, 5).await;
    store.set_price_overrides("p0", r#"{"b":2}"#, 6).await;
    store.set_price_overrides("p1", r#"{"a":3}"#, 7).await;
    assert_eq!(
        store.price_overrides("p1").await,
        Some((r#"{"a":3}"#.to_string(), 7)),
        "{}",
        store.name()
    );
    assert_eq!(store.price_overrides("p2").await, None);
    assert_eq!(
        store.all_price_overrides().await,
        vec![
            ("p0".to_string(), r#"{"b":2}"#.to_string()),
            ("p1".to_string(), r#"{"a":3}"#.to_string())
        ],
        "{}",
        store.name()
    );
}

async fn api_keys_are_stored_listed_and_revoked_once(store: &impl StoreUnderTest) {
    assert!(!store.has_api_keys().await, "{}", store.name());
    let key = |prefix: &str, project: &str, created: i64| ApiKeyRecord {
        prefix: prefix.to_string(),
        sha256: format!("{:064x}", created),
        project: project.to_string(),
        created_unix_nanos: created,
        revoked_unix_nanos: None,
    };
    let first = key("ask_00000001", "default", 20);
    assert!(store.insert_api_key(&first).await, "{}", store.name());
    let clash = key("ask_00000001", "other", 30);
    assert!(
        !store.insert_api_key(&clash).await,
        "{}: the prefix is taken",
        store.name()
    );
    let older = key("ask_00000002", "other", 10);
    assert!(store.insert_api_key(&older).await);
    assert_eq!(
        store.api_key("ask_00000001").await,
        Some(first.clone()),
        "{}",
        store.name()
    );
    assert_eq!(store.api_key("ask_nothing").await, None);
    assert_eq!(
        store.api_keys().await,
        vec![older.clone(), first.clone()],
        "{}: oldest first",
        store.name()
    );
    let revoked = store.revoke_api_key("ask_00000001", 100).await.unwrap();
    assert_eq!(revoked.revoked_unix_nanos, Some(100), "{}", store.name());
    assert!(!revoked.is_active());
    let again = store.revoke_api_key("ask_00000001", 200).await.unwrap();
    assert_eq!(
        again.revoked_unix_nanos,
        Some(100),
        "{}: the first revocation stays",
        store.name()
    );
    assert_eq!(store.revoke_api_key("ask_nothing", 1).await, None);
    assert_eq!(
        store.api_keys().await,
        vec![
            older,
            ApiKeyRecord {
                revoked_unix_nanos: Some(100),
                ..first
            }
        ],
        "{}",
        store.name()
    );
    assert!(
        store.has_api_keys().await,
        "{}: revoked keys count",
        store.name()
    );
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
        for (limit, oldest_first) in [(100, false), (3, false), (100, true), (3, true)] {
            let mut query = query.clone();
            query.filter.limit = limit;
            query.oldest_first = oldest_first;
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
