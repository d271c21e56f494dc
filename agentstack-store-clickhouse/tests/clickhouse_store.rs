//! What only the ClickHouse store does, against a real ClickHouse 18.16 server: migrations (also
//! two at once), the errors that say what to do, retention by daily partitions, big batches.

mod support;

use agentstack_exporter_sqlite::store::{TraceFilter, TraceQuery};
use agentstack_store_clickhouse::{ClickHouseStore, ClickHouseStoreError, schema};
use support::{ClickHouseServer, S, span};

const DAY: i64 = 86_400 * S;

#[tokio::test]
async fn two_processes_migrating_at_once_leave_one_schema() {
    let server = ClickHouseServer::start().await;
    let url = server.url();
    // Two stores connecting to the same new database at the same moment, then a third later.
    let (a, b) = tokio::join!(
        ClickHouseStore::connect(&url, "shared_db"),
        ClickHouseStore::connect(&url, "shared_db")
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let again = ClickHouseStore::connect(&url, "shared_db").await.unwrap();
    assert_eq!(
        again.check_schema().await.unwrap(),
        schema::latest_version()
    );
    assert_eq!(a.migrate().await.unwrap(), schema::latest_version());
    // Both can write and read at once, and see each other's spans.
    a.insert_spans(&[span(1, 1, None, "from a", 0, 1)])
        .await
        .unwrap();
    b.insert_spans(&[span(2, 2, None, "from b", 0, 1)])
        .await
        .unwrap();
    assert_eq!(again.span_count().await.unwrap(), 2);
    let tables = again.server_version().await.expect("the server answers");
    assert!(
        tables.starts_with("18.16"),
        "tests run on Debian's 18.16, found {tables}"
    );
}

#[tokio::test]
async fn schema_checks_say_what_to_run() {
    let server = ClickHouseServer::start().await;
    let store = server.store().await;
    // A database no one migrated: the reading roles are told to migrate.
    let fresh = ClickHouseStore::connect_unmigrated(&server.url(), "default").unwrap();
    fresh
        .migrate()
        .await
        .expect("migrating the default database works too");
    let unmigrated = ClickHouseStore::connect_unmigrated(&server.url(), store.database()).unwrap();
    assert_eq!(
        unmigrated.check_schema().await.unwrap(),
        schema::latest_version()
    );

    // A newer AgentStack migrated this database: this build refuses to touch it.
    let client = clickhouse::Client::default()
        .with_url(server.url())
        .with_database(store.database());
    client
        .query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', now())")
        .execute()
        .await
        .unwrap();
    let error = ClickHouseStore::connect(&server.url(), store.database())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClickHouseStoreError::NewerSchema { found: 99, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("upgrade agentstack"), "{error}");
    let error = store.check_schema().await.unwrap_err();
    assert!(
        matches!(error, ClickHouseStoreError::NewerSchema { .. }),
        "{error}"
    );

    let error = ClickHouseStore::connect_unmigrated(&server.url(), "no-dashes; DROP").unwrap_err();
    assert!(
        error.to_string().contains("not a usable database name"),
        "{error}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_named_with_what_to_check() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let error = ClickHouseStore::connect(&url, "agentstack")
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClickHouseStoreError::Unreachable { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&url), "{message}");
    assert!(
        message.contains("is clickhouse-server running"),
        "{message}"
    );
}

#[tokio::test]
async fn a_missing_table_is_reported_with_the_migration_to_run() {
    let server = ClickHouseServer::start().await;
    let store = server.store().await;
    let client = clickhouse::Client::default()
        .with_url(server.url())
        .with_database(store.database());
    client.query("DROP TABLE spans").execute().await.unwrap();
    let error = store.span_count().await.unwrap_err();
    assert!(
        matches!(error, ClickHouseStoreError::Query { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("agentstack migrate"), "{error}");
}

#[tokio::test]
async fn a_batch_of_20000_spans_goes_in_one_insert() {
    let server = ClickHouseServer::start().await;
    let store = server.store().await;
    let spans: Vec<_> = (0..20_000u64)
        .map(|n| {
            let mut record = span(u128::from(n / 10), n, None, "span", n as i64, n as i64 + 1);
            record.input = Some(format!(
                "{{\"text\":\"{}\"}}",
                "x".repeat((n % 500) as usize)
            ));
            record
        })
        .collect();
    assert_eq!(store.insert_spans(&spans).await.unwrap(), 20_000);
    assert_eq!(store.span_count().await.unwrap(), 20_000);
    let page = store
        .trace_page(&TraceQuery {
            filter: TraceFilter {
                limit: 5,
                ..TraceFilter::default()
            },
            ..TraceQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.traces.len(), 5);
    assert_eq!(page.traces[0].span_count, 10);
    let detail = store.trace(&support::tid(1999)).await.unwrap();
    assert_eq!(detail, spans[19_990..].to_vec());
}

/// Spans on whole days before `now`: `days_ago` days back, at 06:00 UTC of that day.
fn on_day(now: i64, days_ago: i64, trace: u128) -> agentstack_exporter_sqlite::SpanRecord {
    let day_start = (now / DAY - days_ago) * DAY;
    let mut record = span(
        trace,
        trace as u64,
        None,
        &format!("{days_ago} days ago"),
        0,
        1,
    );
    record.start_unix_nanos = day_start + 6 * 3600 * S;
    record.end_unix_nanos = record.start_unix_nanos + S;
    record
}

#[tokio::test]
async fn retention_moves_then_drops_whole_days() {
    let server = ClickHouseServer::start().await;
    let store = server.store().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let ages = [0, 1, 6, 8, 30, 89, 91, 120];
    // Each span links to one other, so `span_links` has the same days.
    let with_link = |mut span: agentstack_exporter_sqlite::SpanRecord| {
        span.links = format!(
            r#"[{{"trace_id":"{:032x}","span_id":"{:016x}"}}]"#,
            0x99, 0x99
        );
        span
    };
    let spans: Vec<_> = ages
        .iter()
        .enumerate()
        .map(|(n, &age)| with_link(on_day(now, age, n as u128 + 1)))
        .collect();
    store.insert_spans(&spans).await.unwrap();
    // Twice, unmerged: the archive must not show it twice either.
    store.insert_spans(&spans).await.unwrap();
    assert_eq!(store.partitions("spans").await.unwrap().len(), ages.len());
    assert_eq!(
        store.partitions("span_links").await.unwrap().len(),
        ages.len()
    );

    // Hot window 7 days: the days 8, 30, 89, 91 and 120 days ago move to the archive.
    let moved = store.archive_older_than(7).await.unwrap();
    assert_eq!(moved.len(), 5, "{moved:?}");
    assert_eq!(store.partitions("spans").await.unwrap().len(), 3);
    assert_eq!(store.partitions("spans_archive").await.unwrap(), moved);
    assert_eq!(store.span_count().await.unwrap(), 3);
    assert_eq!(store.archived_span_count().await.unwrap(), 5);
    // Nothing left to move: running again is a no-op.
    assert_eq!(store.archive_older_than(7).await.unwrap(), vec![]);

    // Retention 90 days: the days 91 and 120 days ago are dropped (from the archive, where they
    // are), and a day of spans written late into `spans` past the window is dropped there too.
    store
        .insert_spans(&[with_link(on_day(now, 100, 50))])
        .await
        .unwrap();
    let dropped = store.drop_older_than(90).await.unwrap();
    assert_eq!(dropped.len(), 3, "{dropped:?}");
    // The links of those days go with them (the archived days keep theirs).
    assert_eq!(
        store.partitions("span_links").await.unwrap().len(),
        ages.len() - 2,
        "{dropped:?}"
    );
    assert_eq!(store.archived_span_count().await.unwrap(), 3);
    assert_eq!(store.span_count().await.unwrap(), 3);
    let oldest_archived = &store.partitions("spans_archive").await.unwrap()[0];
    assert_eq!(oldest_archived.day, now / DAY - 89);

    // An explicit cutoff (an injected clock): a day is moved only once it is wholly before it.
    let today = now / DAY;
    assert_eq!(
        store.archive_before(today * DAY - 1).await.unwrap().len(),
        1,
        "6 days ago"
    );
    let yesterday = store.archive_before(today * DAY).await.unwrap();
    assert_eq!(
        yesterday.iter().map(|d| d.day).collect::<Vec<_>>(),
        [today - 1]
    );
    assert_eq!(store.span_count().await.unwrap(), 1);
}

#[tokio::test]
async fn cost_rows_of_one_key_add_up_before_and_after_their_merge() {
    use agentstack_store_clickhouse::CostMetricRow;
    let server = ClickHouseServer::start().await;
    let store = server.store().await;
    let hour = 1_795_132_800u32;
    let row = |project: &str, model: &str, hour: u32, femto: i128, spans: u64| CostMetricRow {
        project: project.into(),
        model: model.into(),
        agent: "support".into(),
        hour_unix_seconds: hour,
        cost_femto_usd: femto,
        estimated_cost_femto_usd: femto / 2,
        input_tokens: 100 * spans,
        output_tokens: 10 * spans,
        spans,
        priced_spans: spans,
        ..CostMetricRow::default()
    };
    // Far more than an i64 of femtodollars (9,223 USD): exact all the same.
    let big = 5_000_000 * 1_000_000_000_000_000i128 + 1;
    store
        .insert_cost_metrics(&[
            row("p", "gpt-4o", hour, big, 2),
            row("p", "claude", hour, 7, 1),
        ])
        .await
        .unwrap();
    store
        .insert_cost_metrics(&[
            row("p", "gpt-4o", hour, big, 3),
            row("q", "gpt-4o", hour, 1, 1),
        ])
        .await
        .unwrap();
    store
        .insert_cost_metrics(&[row("p", "gpt-4o", hour + 3600, 1, 1)])
        .await
        .unwrap();
    let mut summed_gpt = row("p", "gpt-4o", hour, 2 * big, 5);
    summed_gpt.estimated_cost_femto_usd = 2 * (big / 2);
    let expected = vec![
        row("p", "claude", hour, 7, 1),
        summed_gpt,
        row("p", "gpt-4o", hour + 3600, 1, 1),
    ];
    assert_eq!(
        store
            .cost_metrics(Some("p"), hour, hour + 7200)
            .await
            .unwrap(),
        expected
    );
    let client = clickhouse::Client::default()
        .with_url(server.url())
        .with_database(store.database());
    client
        .query("OPTIMIZE TABLE cost_metrics FINAL")
        .execute()
        .await
        .unwrap();
    assert_eq!(
        store
            .cost_metrics(Some("p"), hour, hour + 7200)
            .await
            .unwrap(),
        expected
    );
    assert_eq!(
        store
            .cost_metrics(None, hour, hour + 3600)
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        store
            .cost_metrics(Some("p"), hour + 3600, hour + 7200)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn credentials_are_sent() {
    let server = ClickHouseServer::start().await;
    let default_user = ClickHouseStore::connect_unmigrated(&server.url(), "creds")
        .unwrap()
        .with_credentials("default", "");
    default_user.migrate().await.unwrap();
    let stranger = ClickHouseStore::connect_unmigrated(&server.url(), "creds")
        .unwrap()
        .with_credentials("nobody", "wrong");
    let error = stranger.span_count().await.unwrap_err();
    assert!(error.to_string().contains("nobody"), "{error}");
}
