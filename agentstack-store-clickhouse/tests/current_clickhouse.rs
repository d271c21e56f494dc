//! The schema and every statement the store sends, run on current ClickHouse (26.9, in-process
//! through chDB: `/work/shared/tools/clickhouse-current`) and on the Debian 18.16 server, with
//! the same spans: both must accept every statement and give the same answers, byte for byte.

mod support;

use std::path::PathBuf;
use std::process::Command;

use agentstack_exporter_sqlite::ApiKeyRecord;
use agentstack_exporter_sqlite::store::TraceQuery;
use agentstack_exporter_sqlite::store::{
    AlertQuery, AlertSeverity, CostGroupBy, CostQuery, SessionCursor, SessionQuery, TraceCursor,
};
use agentstack_store_clickhouse::sql_text;
use support::{
    ClickHouseServer, P, S, T0, USD, alert, cost_fixture, fixture, in_project, link_fixture,
    queries, stats_windows, tid,
};

/// The tool that runs SQL on current ClickHouse: `AGENTSTACK_CLICKHOUSE_CURRENT`, else the
/// project's shared tool.
fn clickhouse_current() -> PathBuf {
    std::env::var_os("AGENTSTACK_CLICKHOUSE_CURRENT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/tools/clickhouse-current"))
}

/// Every statement of the store, in an order that exercises it all: the schema, the fixture
/// written twice (unmerged repeats), each trace list query and its second page, the trace
/// detail and prefix lookups, the counts, and retention moving and dropping one day.
fn script() -> Vec<String> {
    let mut statements = sql_text::schema();
    let spans = fixture();
    // Two deliveries, the second later (so a lower write rank: the first must win).
    statements.push(sql_text::insert_spans(&spans, 1_000).unwrap());
    let mut changed = spans.clone();
    for span in &mut changed {
        span.name.push_str(" (repeat)");
    }
    statements.push(sql_text::insert_spans(&changed, 2_000).unwrap());
    for (_, query, _) in queries() {
        statements.extend(sql_text::trace_page(&query));
        statements.extend(
            sql_text::trace_page_window(&query, T0 + 200 * S)
                .into_iter()
                .flatten(),
        );
        let mut small = query.clone();
        small.filter.limit = 2;
        statements.extend(sql_text::trace_page(&small));
        // A second page, after the first trace of the first.
        small.before = Some(agentstack_exporter_sqlite::store::TraceCursor {
            start_unix_nanos: T0 + 400 * S,
            trace_id: tid(9),
        });
        statements.extend(sql_text::trace_page(&small));
    }
    for project in [None, Some("default"), Some("other")] {
        for n in [1, 3, 6, P] {
            statements.push(sql_text::trace_spans(project, &tid(n)));
        }
        statements.push(sql_text::trace_prefix(project, "abcdef01"));
        statements.push(sql_text::trace_prefix(project, "00000000"));
    }
    for project in [None, Some("default")] {
        for wanted in [true, false] {
            let mut query = in_project(project, TraceQuery::default());
            query.has_alerts = Some(wanted);
            statements.extend(sql_text::trace_page(&query));
        }
    }
    statements.push(sql_text::stored_alert_keys(
        vec!["default".into(), "other".into()],
        vec!["a1".into(), "it's".into()],
    ));
    statements.push(sql_text::traces_matching(
        &in_project(Some("default"), TraceQuery::default()),
        &[tid(3), tid(1), tid(0x99)],
    ));
    statements.push(sql_text::trace_alerts("default", vec![tid(2), tid(3)]));
    statements.push(sql_text::cost_metrics(Some("p"), 0, u32::MAX));
    statements.push(sql_text::span_count());
    for window in stats_windows() {
        statements.extend(sql_text::stats(&window).into_iter().flatten());
    }
    statements.extend(added_reads());
    statements.push(sql_text::partitions("spans"));
    // The fixture's day before T0 (trace 13 and the prefixed trace) goes to the archive, then
    // is dropped from it.
    statements.extend(sql_text::archive_partition("2026-11-19"));
    statements.push(sql_text::partitions("spans"));
    statements.push(sql_text::partitions("spans_archive"));
    statements.push("SELECT toInt64(count()) FROM spans_archive FINAL".to_string());
    statements.push(sql_text::span_count());
    statements.extend(sql_text::trace_page(&in_project(
        None,
        TraceQuery::default(),
    )));
    statements.push(sql_text::drop_partition("spans_archive", "2026-11-19"));
    statements.push(sql_text::partitions("spans_archive"));
    statements
}

/// The statements of the reads added for the server's `Store` (sort=oldest, min_cost, the
/// terminal's tail, alerts, sessions, links, costs, price overrides, API keys), with the rows
/// they read written first.
fn added_reads() -> Vec<String> {
    let mut statements = Vec::new();
    for (_, query, _) in queries() {
        let mut oldest = query.clone();
        oldest.oldest_first = true;
        statements.extend(sql_text::trace_page(&oldest));
        statements.extend(
            sql_text::trace_page_window(&oldest, T0 + 200 * S)
                .into_iter()
                .flatten(),
        );
        oldest.filter.limit = 2;
        oldest.before = Some(TraceCursor {
            start_unix_nanos: T0 + 60 * S,
            trace_id: tid(2),
        });
        statements.extend(sql_text::trace_page(&oldest));
    }
    statements.push(sql_text::traces_updated_since(T0 + 250 * S));
    statements.push(sql_text::traces_updated_since(i64::MIN));

    // Links: the link fixture written twice (repeats), then walked.
    let links = link_fixture();
    statements.push(sql_text::insert_spans(&links, 3_000).unwrap());
    for _ in 0..2 {
        statements.extend(sql_text::insert_links(&links).unwrap());
    }
    statements.push(sql_text::conversation_links("default", vec![tid(40)]));
    statements.push(sql_text::conversation_links(
        "default",
        vec![tid(41), tid(42), tid(99)],
    ));
    statements.push(sql_text::conversation_links("other", vec![tid(40)]));

    // Sessions.
    let default = || SessionQuery {
        project: Some("default".into()),
        ..SessionQuery::default()
    };
    for query in [
        SessionQuery::default(),
        default(),
        SessionQuery {
            limit: 1,
            before: Some(SessionCursor {
                last_start_unix_nanos: T0 + 180 * S,
                session_id: "s2".into(),
            }),
            ..default()
        },
        SessionQuery {
            since_unix_nanos: Some(T0 + 181 * S),
            until_unix_nanos: Some(T0 + 1_000 * S),
            user_id: Some("u1".into()),
            ..default()
        },
    ] {
        statements.push(sql_text::session_page(&query));
    }

    // Alerts: written, then paged.
    let mut alerts = vec![
        alert("default", "a1", Some(1)),
        alert("default", "a2", Some(2)),
        alert("other", "a3", Some(5)),
        alert("default", "it's", None),
    ];
    alerts[1].time_unix_nanos += 1;
    alerts[1].severity = AlertSeverity::Low;
    statements.push(sql_text::insert_alerts(&alerts, 1_000));
    for query in [
        AlertQuery::default(),
        AlertQuery {
            project: Some("default".into()),
            limit: 2,
            ..AlertQuery::default()
        },
        AlertQuery {
            project: Some("default".into()),
            trace_id: Some(tid(1)),
            detector: Some("prompt_injection".into()),
            min_severity: Some(AlertSeverity::High),
            since_unix_nanos: Some(T0),
            until_unix_nanos: Some(T0 + 1),
            before: Some((T0 + 1, 1_002)),
            ..AlertQuery::default()
        },
    ] {
        statements.extend(sql_text::alert_page(&query));
    }
    statements.push(sql_text::alert_exists("default", "it's"));
    statements.push(sql_text::alert_exists("other", "a1"));

    // Span costs: written (the view adds them to cost_metrics), then read.
    statements.push(sql_text::insert_span_costs(&cost_fixture(), 1_000));
    statements.extend(sql_text::span_cost_reads(
        "default",
        vec![tid(1), tid(2), tid(3)],
        T0,
    ));
    statements.push(sql_text::cost_metrics(None, 0, u32::MAX));
    for group_by in CostGroupBy::ALL {
        for (since, until, bucket) in [
            (None, None, 3_600),
            (Some(T0 + 15 * S), Some(T0 + 86_401 * S), 86_400),
        ] {
            statements.extend(sql_text::cost_report(&CostQuery {
                project: "default".into(),
                group_by,
                since_unix_nanos: since,
                until_unix_nanos: until,
                bucket_seconds: bucket,
            }));
        }
    }
    for min in [1, USD / 4 + 1, 11 * USD] {
        for project in [None, Some("default")] {
            let mut query = in_project(project, Default::default());
            query.min_cost_femtos = Some(min);
            statements.extend(sql_text::trace_page(&query));
        }
    }

    // Price overrides: the latest set of a project wins.
    statements.push(sql_text::set_price_overrides("p1", r#"{"a":1}"#, 5, 10));
    statements.push(sql_text::set_price_overrides("p0", r#"{"b":2}"#, 6, 11));
    statements.push(sql_text::set_price_overrides("p1", r#"{"a":3}"#, 7, 12));
    statements.extend(sql_text::price_overrides("p1"));

    // API keys: stored, then revoked.
    let key = ApiKeyRecord {
        prefix: "ask_00000001".into(),
        sha256: "ab".repeat(32),
        project: "default".into(),
        created_unix_nanos: 20,
        revoked_unix_nanos: None,
    };
    statements.extend(sql_text::api_keys("ask_00000001"));
    statements.push(sql_text::insert_api_key(&key, 1_000, false));
    statements.extend(sql_text::api_keys("ask_00000001"));
    let revoked = ApiKeyRecord {
        revoked_unix_nanos: Some(100),
        ..key
    };
    statements.push(sql_text::insert_api_key(&revoked, 2_000, true));
    statements.extend(sql_text::api_keys("ask_00000001"));
    statements
}

/// What 18.16 answers to `statements`, printed as `clickhouse-current` prints it.
async fn run_on_18_16(server: &ClickHouseServer, statements: &[String]) -> String {
    let store = server.store().await; // a fresh database of its own
    let client = clickhouse::Client::default()
        .with_url(server.url())
        .with_database(store.database());
    // The store migrated it; start from nothing, as chDB does (the view before its tables).
    for table in [
        "span_costs_to_cost_metrics",
        "schema_migrations",
        "spans",
        "spans_archive",
        "security_alerts",
        "cost_metrics",
        "span_links",
        "span_costs",
        "price_overrides",
        "api_keys",
    ] {
        client
            .query(&format!("DROP TABLE {table}"))
            .execute()
            .await
            .unwrap();
    }
    let mut printed = String::new();
    for (index, statement) in statements.iter().enumerate() {
        let returns_rows = statement.trim_start().starts_with("SELECT");
        if returns_rows {
            let bytes = client
                .query_raw(statement)
                .fetch_bytes("TabSeparatedWithNames")
                .unwrap()
                .collect()
                .await
                .unwrap_or_else(|error| {
                    panic!(
                        "18.16 refused statement {}: {error}\n{statement}",
                        index + 1
                    )
                });
            let text = String::from_utf8(bytes.to_vec()).unwrap();
            if !text.trim().is_empty() {
                printed.push_str(&text);
            }
        } else {
            client
                .query_raw(statement)
                .execute()
                .await
                .unwrap_or_else(|error| {
                    panic!(
                        "18.16 refused statement {}: {error}\n{statement}",
                        index + 1
                    )
                });
        }
    }
    printed
}

#[tokio::test]
async fn every_statement_holds_on_current_clickhouse_and_answers_as_on_18_16() {
    let statements = script();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("store.sql");
    // Only how the answers print differs: current ClickHouse drops a decimal's trailing zeros
    // (18.16 prints all 15 places). The store reads decimals as binary, so print them alike.
    let mut text = String::from("SET output_format_decimal_trailing_zeros = 1;\n");
    for statement in &statements {
        assert!(
            !statement.lines().any(|line| line.trim_start().starts_with("--")
                || (line.trim_end().ends_with(';'))),
            "a statement the tool would split: {statement}"
        );
        text.push_str(statement);
        text.push_str(";\n");
    }
    std::fs::write(&file, &text).unwrap();
    let tool = clickhouse_current();
    let out = Command::new(&tool)
        .arg(&file)
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "cannot run {} (the current-ClickHouse tool): {error}",
                tool.display()
            )
        });
    let current = String::from_utf8_lossy(&out.stdout).to_string();
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "current ClickHouse refused a statement:\n{log}"
    );
    assert!(
        log.contains("engine: ClickHouse 26."),
        "not current ClickHouse: {log}"
    );
    assert!(
        log.contains(&format!("-- {} statements ran", statements.len() + 1)),
        "{log}"
    );

    let server = ClickHouseServer::start().await;
    let old = run_on_18_16(&server, &statements).await;
    // The answers are not empty: the fixture's traces are in them, once, by their first write.
    assert!(
        old.contains("Support agent") && !old.contains("(repeat)"),
        "{old}"
    );
    // The added reads answered too: links, alerts, costs (and the view's hourly rows), prices,
    // keys.
    for answer in [
        "0000000000000041\t00000000000000000000000000000028\t0000000000000040",
        "prompt_injection\talert a2",
        "1.750000000000001",
        "{\"a\":3}",
        "ask_00000001",
    ] {
        assert!(old.contains(answer), "no {answer:?} in {old}");
    }
    assert!(
        old.lines().count() > 200,
        "too few answers to compare: {old}"
    );
    if old != current {
        let first = old
            .lines()
            .zip(current.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(old.lines().count().min(current.lines().count()));
        panic!(
            "18.16 and current ClickHouse answer differently from line {}:\n18.16:   {:?}\ncurrent: {:?}",
            first + 1,
            old.lines().nth(first),
            current.lines().nth(first)
        );
    }
}
