//! What the store tests share: a real ClickHouse 18.16 server started for the test (and stopped
//! when it ends), the [`StoreUnderTest`] face that lets one test body run against both the SQLite
//! store and the ClickHouse store, and the fixture of spans they all write.

#![allow(dead_code, async_fn_in_trait)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use agentstack_exporter_sqlite::store::{
    AlertPage, AlertQuery, AlertRecord, AlertSeverity, Conversation, CostQuery, CostReport,
    SessionPage, SessionQuery, SpanCostRecord, SpanStats, StatsWindow, TraceAlerts, TraceCost,
    TraceFilter, TracePage, TraceQuery, TraceSummary,
};
use agentstack_exporter_sqlite::{ApiKeyRecord, SpanRecord, SpanStatus, SqliteSpanStore};
use agentstack_store_clickhouse::ClickHouseStore;

/// A ClickHouse server of its own for one test: a temporary data directory, free loopback ports,
/// started by `scripts/start-test-server`, killed (and its directory removed) on drop.
pub struct ClickHouseServer {
    pid: u32,
    http_port: u16,
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("no free loopback port")
        .port()
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/start-test-server")
}

impl ClickHouseServer {
    /// Starts the server and waits until it answers (at most 60 s).
    pub async fn start() -> ClickHouseServer {
        let installed = Command::new("sh")
            .args(["-c", "command -v clickhouse-server"])
            .output()
            .is_ok_and(|out| out.status.success());
        assert!(
            installed,
            "clickhouse-server is not installed; these tests need the real ClickHouse server: \
             run `apt-get install -y clickhouse-server clickhouse-client` (Debian's 18.16)"
        );
        let dir = tempfile::tempdir().expect("no temporary directory");
        let (http_port, tcp_port) = (free_port(), free_port());
        let out = Command::new(script())
            .arg(dir.path())
            .arg(http_port.to_string())
            .arg(tcp_port.to_string())
            .output()
            .expect("cannot run scripts/start-test-server");
        assert!(
            out.status.success(),
            "scripts/start-test-server failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pid: u32 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("start-test-server prints the server's pid");
        let server = ClickHouseServer {
            pid,
            http_port,
            dir,
        };
        let probe = ClickHouseStore::connect_unmigrated(&server.url(), "default").unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match probe.server_version().await {
                Ok(_) => break,
                Err(error) if Instant::now() < deadline => {
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!(
                    "ClickHouse did not start within 60 s: {error}; its log: {}",
                    std::fs::read_to_string(
                        server.dir.path().join("log/clickhouse-server.err.log")
                    )
                    .unwrap_or_default()
                ),
            }
        }
        server
    }

    /// Its HTTP URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// A new store on a database of its own (so tests on one server never meet).
    pub async fn store(&self) -> ClickHouseStore {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let database = format!("test_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        ClickHouseStore::connect(&self.url(), &database)
            .await
            .expect("connecting to the test server")
    }
}

impl Drop for ClickHouseServer {
    fn drop(&mut self) {
        // A throwaway server on a temporary directory: killed outright (a graceful stop of 18.16
        // waits about 15 s for its HTTP connections), then its directory goes with `dir`.
        let _ = Command::new("kill")
            .args(["-9", &self.pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        // The script's shell has exited, so the server was reparented and init reaps it.
        while Path::new(&format!("/proc/{}", self.pid)).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// One face of both span stores, so that one test body runs against each.
pub trait StoreUnderTest {
    /// Which store, in assertion messages.
    fn name(&self) -> &'static str;
    async fn insert(&self, spans: &[SpanRecord]);
    async fn page(&self, query: &TraceQuery) -> TracePage;
    /// The trace's spans, or the error's message.
    async fn trace(&self, project: Option<&str>, trace_id: &str)
    -> Result<Vec<SpanRecord>, String>;
    async fn span_count(&self) -> i64;
    /// Writes a batch that must be refused; the error's message.
    async fn insert_refused(&self, spans: &[SpanRecord]) -> String;
    async fn stats(&self, window: &StatsWindow) -> SpanStats;
    /// Writes alerts; the dedup keys of those that were new.
    async fn insert_alerts(&self, alerts: &[AlertRecord]) -> Vec<String>;
    async fn matching(&self, query: &TraceQuery, trace_ids: &[String]) -> Vec<TraceSummary>;
    async fn trace_alerts(&self, project: &str, trace_ids: &[&str])
    -> HashMap<String, TraceAlerts>;
    async fn updated_since(&self, since_unix_nanos: i64) -> Vec<TraceSummary>;
    async fn alert_page(&self, query: &AlertQuery) -> AlertPage;
    async fn alert_exists(&self, project: &str, dedup_key: &str) -> bool;
    async fn session_page(&self, query: &SessionQuery) -> SessionPage;
    /// The conversation, or the error's message.
    async fn conversation(
        &self,
        project: &str,
        trace_id: &str,
    ) -> Result<Option<Conversation>, String>;
    async fn insert_span_costs(&self, costs: &[SpanCostRecord]) -> Vec<usize>;
    async fn trace_costs(&self, project: &str, trace_ids: &[&str]) -> HashMap<String, TraceCost>;
    async fn span_costs_of_trace(
        &self,
        project: &str,
        trace_id: &str,
    ) -> HashMap<String, SpanCostRecord>;
    async fn cost_report(&self, query: &CostQuery) -> CostReport;
    async fn cost_since(
        &self,
        project: &str,
        since_unix_nanos: i64,
        user_id: Option<&str>,
        session_id: Option<&str>,
    ) -> i128;
    async fn set_price_overrides(&self, project: &str, json: &str, now_unix_nanos: i64);
    async fn price_overrides(&self, project: &str) -> Option<(String, i64)>;
    async fn all_price_overrides(&self) -> Vec<(String, String)>;
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> bool;
    async fn api_key(&self, prefix: &str) -> Option<ApiKeyRecord>;
    async fn api_keys(&self) -> Vec<ApiKeyRecord>;
    async fn has_api_keys(&self) -> bool;
    async fn revoke_api_key(&self, prefix: &str, unix_nanos: i64) -> Option<ApiKeyRecord>;
}

/// The methods of [`StoreUnderTest`] added for the server's `Store`, implemented alike for
/// both stores: `$store` is the type, `$($await)*` empty for SQLite, `.await` for ClickHouse.
macro_rules! store_methods {
    ($store:ty, $name:literal $(, $await:tt)?) => {
        async fn updated_since(&self, since_unix_nanos: i64) -> Vec<TraceSummary> {
            <$store>::traces_updated_since(self, since_unix_nanos)$(.$await)?
                .expect(concat!($name, " traces_updated_since"))
        }
        async fn alert_page(&self, query: &AlertQuery) -> AlertPage {
            <$store>::alert_page(self, query)$(.$await)?.expect(concat!($name, " alert_page"))
        }
        async fn alert_exists(&self, project: &str, dedup_key: &str) -> bool {
            <$store>::alert_exists(self, project, dedup_key)$(.$await)?
                .expect(concat!($name, " alert_exists"))
        }
        async fn session_page(&self, query: &SessionQuery) -> SessionPage {
            <$store>::session_page(self, query)$(.$await)?.expect(concat!($name, " session_page"))
        }
        async fn conversation(
            &self,
            project: &str,
            trace_id: &str,
        ) -> Result<Option<Conversation>, String> {
            <$store>::conversation(self, project, trace_id)$(.$await)?
                .map_err(|error| error.to_string())
        }
        async fn insert_span_costs(&self, costs: &[SpanCostRecord]) -> Vec<usize> {
            <$store>::insert_span_costs(self, costs)$(.$await)?
                .expect(concat!($name, " insert_span_costs"))
        }
        async fn trace_costs(
            &self,
            project: &str,
            trace_ids: &[&str],
        ) -> HashMap<String, TraceCost> {
            <$store>::trace_costs(self, project, trace_ids)$(.$await)?
                .expect(concat!($name, " trace_costs"))
        }
        async fn span_costs_of_trace(
            &self,
            project: &str,
            trace_id: &str,
        ) -> HashMap<String, SpanCostRecord> {
            <$store>::span_costs_of_trace(self, project, trace_id)$(.$await)?
                .expect(concat!($name, " span_costs_of_trace"))
        }
        async fn cost_report(&self, query: &CostQuery) -> CostReport {
            <$store>::cost_report(self, query)$(.$await)?.expect(concat!($name, " cost_report"))
        }
        async fn cost_since(
            &self,
            project: &str,
            since_unix_nanos: i64,
            user_id: Option<&str>,
            session_id: Option<&str>,
        ) -> i128 {
            <$store>::cost_since(self, project, since_unix_nanos, user_id, session_id)$(.$await)?
                .expect(concat!($name, " cost_since"))
        }
        async fn set_price_overrides(&self, project: &str, json: &str, now_unix_nanos: i64) {
            <$store>::set_price_overrides(self, project, json, now_unix_nanos)$(.$await)?
                .expect(concat!($name, " set_price_overrides"))
        }
        async fn price_overrides(&self, project: &str) -> Option<(String, i64)> {
            <$store>::price_overrides(self, project)$(.$await)?
                .expect(concat!($name, " price_overrides"))
        }
        async fn all_price_overrides(&self) -> Vec<(String, String)> {
            <$store>::all_price_overrides(self)$(.$await)?
                .expect(concat!($name, " all_price_overrides"))
        }
        async fn insert_api_key(&self, key: &ApiKeyRecord) -> bool {
            <$store>::insert_api_key(self, key)$(.$await)?.expect(concat!($name, " insert_api_key"))
        }
        async fn api_key(&self, prefix: &str) -> Option<ApiKeyRecord> {
            <$store>::api_key(self, prefix)$(.$await)?.expect(concat!($name, " api_key"))
        }
        async fn api_keys(&self) -> Vec<ApiKeyRecord> {
            <$store>::api_keys(self)$(.$await)?.expect(concat!($name, " api_keys"))
        }
        async fn has_api_keys(&self) -> bool {
            <$store>::has_api_keys(self)$(.$await)?.expect(concat!($name, " has_api_keys"))
        }
        async fn revoke_api_key(&self, prefix: &str, unix_nanos: i64) -> Option<ApiKeyRecord> {
            <$store>::revoke_api_key(self, prefix, unix_nanos)$(.$await)?
                .expect(concat!($name, " revoke_api_key"))
        }
    };
}

impl StoreUnderTest for SqliteSpanStore {
    fn name(&self) -> &'static str {
        "sqlite"
    }
    async fn insert(&self, spans: &[SpanRecord]) {
        self.insert_spans(spans).expect("sqlite insert");
    }
    async fn page(&self, query: &TraceQuery) -> TracePage {
        self.trace_page(query).expect("sqlite trace_page")
    }
    async fn trace(
        &self,
        project: Option<&str>,
        trace_id: &str,
    ) -> Result<Vec<SpanRecord>, String> {
        self.trace_in_project(project, trace_id)
            .map_err(|error| error.to_string())
    }
    async fn span_count(&self) -> i64 {
        SqliteSpanStore::span_count(self).expect("sqlite span_count")
    }
    async fn insert_refused(&self, spans: &[SpanRecord]) -> String {
        self.insert_spans(spans)
            .expect_err("sqlite accepted a malformed batch")
            .to_string()
    }
    async fn stats(&self, window: &StatsWindow) -> SpanStats {
        SqliteSpanStore::stats(self, window).expect("sqlite stats")
    }
    async fn insert_alerts(&self, alerts: &[AlertRecord]) -> Vec<String> {
        let new = SqliteSpanStore::insert_alerts(self, alerts).expect("sqlite insert_alerts");
        new.into_iter().map(|alert| alert.dedup_key).collect()
    }
    async fn matching(&self, query: &TraceQuery, trace_ids: &[String]) -> Vec<TraceSummary> {
        self.traces_matching(query, trace_ids)
            .expect("sqlite traces_matching")
    }
    async fn trace_alerts(
        &self,
        project: &str,
        trace_ids: &[&str],
    ) -> HashMap<String, TraceAlerts> {
        SqliteSpanStore::trace_alerts(self, project, trace_ids).expect("sqlite trace_alerts")
    }
    store_methods!(SqliteSpanStore, "sqlite");
}

impl StoreUnderTest for ClickHouseStore {
    fn name(&self) -> &'static str {
        "clickhouse"
    }
    async fn insert(&self, spans: &[SpanRecord]) {
        self.insert_spans(spans).await.expect("clickhouse insert");
    }
    async fn page(&self, query: &TraceQuery) -> TracePage {
        self.trace_page(query).await.expect("clickhouse trace_page")
    }
    async fn trace(
        &self,
        project: Option<&str>,
        trace_id: &str,
    ) -> Result<Vec<SpanRecord>, String> {
        self.trace_in_project(project, trace_id)
            .await
            .map_err(|error| error.to_string())
    }
    async fn span_count(&self) -> i64 {
        ClickHouseStore::span_count(self)
            .await
            .expect("clickhouse span_count")
    }
    async fn insert_refused(&self, spans: &[SpanRecord]) -> String {
        self.insert_spans(spans)
            .await
            .expect_err("clickhouse accepted a malformed batch")
            .to_string()
    }
    async fn stats(&self, window: &StatsWindow) -> SpanStats {
        ClickHouseStore::stats(self, window)
            .await
            .expect("clickhouse stats")
    }
    async fn insert_alerts(&self, alerts: &[AlertRecord]) -> Vec<String> {
        let new = ClickHouseStore::insert_alerts(self, alerts)
            .await
            .expect("clickhouse insert_alerts");
        new.into_iter().map(|alert| alert.dedup_key).collect()
    }
    async fn matching(&self, query: &TraceQuery, trace_ids: &[String]) -> Vec<TraceSummary> {
        self.traces_matching(query, trace_ids)
            .await
            .expect("clickhouse traces_matching")
    }
    async fn trace_alerts(
        &self,
        project: &str,
        trace_ids: &[&str],
    ) -> HashMap<String, TraceAlerts> {
        ClickHouseStore::trace_alerts(self, project, trace_ids)
            .await
            .expect("clickhouse trace_alerts")
    }
    store_methods!(ClickHouseStore, "clickhouse", await);
}

/// The trace id of fixture trace `n`.
pub fn tid(n: u128) -> String {
    format!("{n:032x}")
}

/// The span id of fixture span `n`.
pub fn sid(n: u64) -> String {
    format!("{n:016x}")
}

/// 2026-11-20T00:00:00Z in nanoseconds: the fixture's epoch.
pub const T0: i64 = 1_795_132_800 * 1_000_000_000;
/// A second in nanoseconds.
pub const S: i64 = 1_000_000_000;

/// A span of trace `trace`, span `span`, from `start` to `end` seconds after [`T0`].
pub fn span(
    trace: u128,
    span: u64,
    parent: Option<u64>,
    name: &str,
    start: i64,
    end: i64,
) -> SpanRecord {
    let mut record = SpanRecord::new(tid(trace), sid(span), name, T0 + start * S, T0 + end * S);
    record.parent_span_id = parent.map(sid);
    record
}

/// The fixture: traces of two projects that between them exercise every filter.
///
/// | trace | project | root                      | what else                                     |
/// |-------|---------|---------------------------|-----------------------------------------------|
/// | 1     | default | "Support agent" @0, 30 s  | llm gpt-4o (svc chat), session s1, user u1, tokens, input "Refund please" |
/// | 2     | default | "search tool" @60, 1 s    | error span, kind tool, service tools          |
/// | 3     | default | (root arrives late) @120  | child starts before the root; model claude    |
/// | 4     | default | none: only a child @180   | root never came; session s2, output "DONE"    |
/// | 5     | other   | "Other project" @240      | project isolation; same session s1            |
/// | 6     | default and other | "Shared id" @300 | the same trace id in two projects           |
/// | 7..=12| default | "batch N" @400+10N        | plain traces for paging, two with equal start |
/// | 13    | default | "yesterday" @-1 day       | another day (partition)                       |
/// | P     | default | "prefixed" @-200          | the one id starting `abcdef01`                |
pub fn fixture() -> Vec<SpanRecord> {
    let mut spans = Vec::new();

    let mut root = span(1, 1, None, "Support agent", 0, 30);
    root.kind = Some("agent".into());
    root.service_name = Some("support".into());
    root.session_id = Some("s1".into());
    root.user_id = Some("u1".into());
    root.input = Some(r#"{"text":"Refund please"}"#.into());
    spans.push(root);
    let mut llm = span(1, 2, Some(1), "chat gpt-4o", 1, 20);
    llm.kind = Some("llm".into());
    llm.service_name = Some("chat".into());
    llm.model = Some("gpt-4o".into());
    llm.provider = Some("openai".into());
    llm.input_tokens = Some(120);
    llm.output_tokens = Some(30);
    llm.output = Some(r#"{"text":"100% done_ok"}"#.into());
    llm.attributes = r#"{"gen_ai.request.model":"gpt-4o"}"#.into();
    llm.events = r#"[{"name":"tick","time_unix_nanos":1,"attributes":{}}]"#.into();
    llm.resource = r#"{"service.name":"chat"}"#.into();
    spans.push(llm);

    let mut search = span(2, 3, None, "search tool", 60, 61);
    search.kind = Some("tool".into());
    search.service_name = Some("tools".into());
    search.status = SpanStatus::Error;
    search.status_message = Some("timeout".into());
    spans.push(search);

    // Trace 3: a child that started before its root, and a root without a service (so any
    // span's, the smallest, stands in).
    let mut early_child = span(3, 4, Some(5), "early child", 120, 125);
    early_child.service_name = Some("zeta".into());
    early_child.model = Some("claude-sonnet".into());
    early_child.input_tokens = Some(5);
    spans.push(early_child);
    let mut late_root = span(3, 5, None, "Late root", 121, 140);
    late_root.status = SpanStatus::Ok;
    spans.push(late_root);
    let mut sibling = span(3, 6, Some(5), "sibling", 122, 123);
    sibling.service_name = Some("alpha".into());
    spans.push(sibling);

    // Trace 4: only children (the root never arrived): the earliest span stands in.
    let mut orphan = span(4, 7, Some(99), "orphan b", 180, 181);
    orphan.session_id = Some("s2".into());
    orphan.output = Some(r#"{"text":"DONE"}"#.into());
    spans.push(orphan);
    let mut orphan2 = span(4, 8, Some(99), "orphan a", 182, 183);
    orphan2.user_id = Some("u2".into());
    spans.push(orphan2);

    let mut other = span(5, 9, None, "Other project", 240, 250);
    other.project = "other".into();
    other.session_id = Some("s1".into());
    other.model = Some("gpt-4o".into());
    spans.push(other);

    let mut shared_default = span(6, 10, None, "Shared id", 300, 301);
    shared_default.service_name = Some("svc-default".into());
    spans.push(shared_default);
    let mut shared_other = span(6, 10, None, "Shared id (other)", 302, 310);
    shared_other.project = "other".into();
    spans.push(shared_other);

    for n in 7..=12u64 {
        // Traces 9 and 10 start at the same instant: the trace id breaks the tie.
        let start = if n == 10 {
            400 + 10 * 9
        } else {
            400 + 10 * n as i64
        };
        spans.push(span(
            n.into(),
            100 + n,
            None,
            &format!("batch {n}"),
            start,
            start + 2,
        ));
    }
    // A trace whose id has a prefix of its own (the others all start with zeros).
    spans.push(span(UNIQUE_PREFIX_TRACE, 300, None, "prefixed", -200, -190));
    spans.push(span(
        UNIQUE_PREFIX_TRACE,
        301,
        Some(300),
        "prefixed child",
        -199,
        -195,
    ));
    // A trace far in the past (another day, another partition).
    spans.push(span(13, 200, None, "yesterday", -86_400, -86_399));
    spans
}

/// The fixture trace whose id starts `abcdef01`.
pub const UNIQUE_PREFIX_TRACE: u128 = 0xabcdef01_00000000_00000000_0000000e;
/// [`UNIQUE_PREFIX_TRACE`] as it appears in the expected lists.
pub const P: u128 = UNIQUE_PREFIX_TRACE;

/// Ids (as fixture numbers) of a page's traces.
pub fn numbers(page: &TracePage) -> Vec<u128> {
    page.traces
        .iter()
        .map(|trace| u128::from_str_radix(&trace.trace_id, 16).expect("hex trace id"))
        .collect()
}

/// A query of the default project with at most 100 traces.
pub fn in_default(query: TraceQuery) -> TraceQuery {
    in_project(Some("default"), query)
}

pub fn in_project(project: Option<&str>, mut query: TraceQuery) -> TraceQuery {
    query.filter.project = project.map(str::to_string);
    query.filter.limit = 100;
    query
}

pub fn filter(filter: TraceFilter) -> TraceQuery {
    TraceQuery {
        filter,
        ..TraceQuery::default()
    }
}

/// Every query of the suite, named, with the traces it must list (newest first).
pub fn queries() -> Vec<(&'static str, TraceQuery, Vec<u128>)> {
    let all_default = vec![12, 11, 10, 9, 8, 7, 6, 4, 3, 2, 1, P, 13];
    let some = |text: &str| Some(text.to_string());
    vec![
        (
            "default project",
            in_default(TraceQuery::default()),
            all_default.clone(),
        ),
        (
            "every project",
            in_project(None, TraceQuery::default()),
            vec![12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, P, 13],
        ),
        (
            "other project",
            in_project(Some("other"), TraceQuery::default()),
            vec![6, 5],
        ),
        (
            "service chat (a child's)",
            in_default(TraceQuery {
                service_name: some("chat"),
                ..TraceQuery::default()
            }),
            vec![1],
        ),
        (
            "service tools",
            in_default(TraceQuery {
                service_name: some("tools"),
                ..TraceQuery::default()
            }),
            vec![2],
        ),
        (
            "root name contains, any case",
            in_default(filter(TraceFilter {
                name_contains: some("SUPPORT"),
                ..TraceFilter::default()
            })),
            vec![1],
        ),
        (
            "root name of a late root",
            in_default(filter(TraceFilter {
                name_contains: some("root"),
                ..TraceFilter::default()
            })),
            vec![3],
        ),
        (
            "root name of a trace without root: its earliest span",
            in_default(filter(TraceFilter {
                name_contains: some("orphan"),
                ..TraceFilter::default()
            })),
            vec![4],
        ),
        (
            "status error",
            in_default(filter(TraceFilter {
                status: Some(SpanStatus::Error),
                ..TraceFilter::default()
            })),
            vec![2],
        ),
        (
            "status ok",
            in_default(filter(TraceFilter {
                status: Some(SpanStatus::Ok),
                ..TraceFilter::default()
            })),
            vec![12, 11, 10, 9, 8, 7, 6, 4, 3, 1, P, 13],
        ),
        (
            "kind llm",
            in_default(TraceQuery {
                kind: some("llm"),
                ..TraceQuery::default()
            }),
            vec![1],
        ),
        (
            "kind tool",
            in_default(TraceQuery {
                kind: some("tool"),
                ..TraceQuery::default()
            }),
            vec![2],
        ),
        (
            "model in default",
            in_default(TraceQuery {
                model: some("gpt-4o"),
                ..TraceQuery::default()
            }),
            vec![1],
        ),
        (
            "model in every project",
            in_project(
                None,
                TraceQuery {
                    model: some("gpt-4o"),
                    ..TraceQuery::default()
                },
            ),
            vec![5, 1],
        ),
        (
            "session in every project",
            in_project(
                None,
                filter(TraceFilter {
                    session_id: some("s1"),
                    ..TraceFilter::default()
                }),
            ),
            vec![5, 1],
        ),
        (
            "session of a child",
            in_default(filter(TraceFilter {
                session_id: some("s2"),
                ..TraceFilter::default()
            })),
            vec![4],
        ),
        (
            "user u1",
            in_default(TraceQuery {
                user_id: some("u1"),
                ..TraceQuery::default()
            }),
            vec![1],
        ),
        (
            "user of a later span",
            in_default(TraceQuery {
                user_id: some("u2"),
                ..TraceQuery::default()
            }),
            vec![4],
        ),
        (
            "min duration",
            in_default(TraceQuery {
                min_duration_nanos: Some(19 * S),
                ..TraceQuery::default()
            }),
            vec![3, 1],
        ),
        (
            "min duration over two projects' spans",
            in_project(
                None,
                TraceQuery {
                    min_duration_nanos: Some(10 * S),
                    ..TraceQuery::default()
                },
            ),
            vec![6, 5, 3, 1, P],
        ),
        (
            "text in input, any case",
            in_default(TraceQuery {
                text: some("REFUND"),
                ..TraceQuery::default()
            }),
            vec![1],
        ),
        (
            "text in output",
            in_default(TraceQuery {
                text: some("done"),
                ..TraceQuery::default()
            }),
            vec![4, 1],
        ),
        (
            "text with % and _ taken literally",
            in_default(TraceQuery {
                text: some("0% done_"),
                ..TraceQuery::default()
            }),
            vec![1],
        ),
        (
            "text matching nothing",
            in_default(TraceQuery {
                text: some("d%e"),
                ..TraceQuery::default()
            }),
            vec![],
        ),
        (
            "since",
            in_default(filter(TraceFilter {
                since_unix_nanos: Some(T0 + 400 * S),
                ..TraceFilter::default()
            })),
            vec![12, 11, 10, 9, 8, 7],
        ),
        (
            "until (exclusive)",
            in_default(filter(TraceFilter {
                until_unix_nanos: Some(T0 + 60 * S),
                ..TraceFilter::default()
            })),
            vec![1, P, 13],
        ),
        (
            "since and until",
            in_default(filter(TraceFilter {
                since_unix_nanos: Some(T0 + 60 * S),
                until_unix_nanos: Some(T0 + 181 * S),
                ..TraceFilter::default()
            })),
            vec![4, 3, 2],
        ),
        (
            "since cuts a trace that started before",
            in_default(filter(TraceFilter {
                since_unix_nanos: Some(T0 + 121 * S),
                until_unix_nanos: Some(T0 + 170 * S),
                ..TraceFilter::default()
            })),
            vec![],
        ),
        (
            "until at the start of time",
            in_default(filter(TraceFilter {
                until_unix_nanos: Some(i64::MIN),
                ..TraceFilter::default()
            })),
            vec![],
        ),
        (
            "several conditions at once",
            in_default(TraceQuery {
                filter: TraceFilter {
                    session_id: some("s1"),
                    status: Some(SpanStatus::Ok),
                    ..TraceFilter::default()
                },
                model: some("gpt-4o"),
                text: some("please"),
                ..TraceQuery::default()
            }),
            vec![1],
        ),
    ]
}

/// A day in nanoseconds.
pub const DAY: i64 = 86_400 * S;

/// The stats windows of the suite.
pub fn stats_windows() -> Vec<StatsWindow> {
    let window =
        |project: Option<&str>, since: Option<i64>, until: Option<i64>, bucket: i64| StatsWindow {
            project: project.map(str::to_string),
            since_unix_nanos: since,
            until_unix_nanos: until,
            bucket_nanos: bucket,
        };
    vec![
        window(Some("default"), None, None, DAY),
        window(None, None, None, 60 * S),
        window(Some("other"), None, None, 1),
        window(
            Some("default"),
            Some(T0 + 60 * S),
            Some(T0 + 300 * S),
            10 * S,
        ),
        window(None, Some(T0), None, 0),
        window(None, None, Some(T0), DAY),
        window(None, None, Some(i64::MIN), DAY),
        window(None, Some(i64::MIN), Some(i64::MAX), DAY),
        window(Some("nobody"), None, None, DAY),
    ]
}

/// An alert of `project` on fixture trace `trace` (`None`: a budget alert, on no trace).
pub fn alert(project: &str, key: &str, trace: Option<u128>) -> AlertRecord {
    AlertRecord {
        id: 0,
        project: project.to_string(),
        dedup_key: key.to_string(),
        trace_id: trace.map(tid),
        span_id: None,
        detector: "prompt_injection".to_string(),
        title: format!("alert {key}"),
        evidence: "[]".to_string(),
        score: 80,
        severity: AlertSeverity::High,
        time_unix_nanos: T0,
    }
}

/// A span of trace `trace` at `start` seconds after [`T0`] (one second long) whose links point
/// at the spans `links` (trace, span), as the `links` column holds them.
pub fn linked_span(
    project: &str,
    trace: u128,
    span_id: u64,
    start: i64,
    links: &[(u128, u64)],
) -> SpanRecord {
    let mut record = span(
        trace,
        span_id,
        None,
        &format!("linked {trace:x}"),
        start,
        start + 1,
    );
    record.project = project.to_string();
    let links: Vec<String> = links
        .iter()
        .map(|(t, s)| {
            format!(
                r#"{{"trace_id":"{}","span_id":"{}","attributes":{{"k":"v"}}}}"#,
                tid(*t),
                sid(*s)
            )
        })
        .collect();
    record.links = format!("[{}]", links.join(","));
    record
}

/// The link fixture: 41 → 40, 42 → 41 (a chain), 43 alone, 44 → 99 ← 45 (99 has no span),
/// and 46 of project `other` → 40; plus a span whose links are not JSON.
pub fn link_fixture() -> Vec<SpanRecord> {
    let mut spans = vec![
        linked_span("default", 40, 0x40, 700, &[]),
        linked_span("default", 41, 0x41, 690, &[(40, 0x40)]),
        linked_span("default", 42, 0x42, 710, &[(41, 0x41), (41, 0x41)]),
        linked_span("default", 43, 0x43, 720, &[]),
        linked_span("default", 44, 0x44, 730, &[(99, 0x99)]),
        linked_span("default", 45, 0x45, 740, &[(99, 0x99)]),
        linked_span("other", 46, 0x46, 750, &[(40, 0x40)]),
    ];
    let mut broken = linked_span("default", 43, 0x47, 721, &[]);
    broken.links = "not json".into();
    spans.push(broken);
    spans
}

/// Femtodollars in a dollar.
pub const USD: i128 = 1_000_000_000_000_000;

/// A priced span of project `default` that ended `end` seconds after [`T0`].
pub fn span_cost(
    trace: u128,
    span: u64,
    end: i64,
    model: &str,
    femtos: Option<i128>,
) -> SpanCostRecord {
    SpanCostRecord {
        project: "default".into(),
        trace_id: tid(trace),
        span_id: sid(span),
        start_unix_nanos: T0 + (end - 1) * S,
        end_unix_nanos: T0 + end * S,
        model: model.into(),
        matched_model: femtos.map(|_| model.to_string()),
        provider: Some("openai".into()),
        agent: "a".into(),
        cost_femtos: femtos,
        input_tokens: 10,
        output_tokens: 1,
        breakdown: format!(r#"{{"span":{span}}}"#),
        ..SpanCostRecord::default()
    }
}

/// The cost fixture (see `span_costs_are_written_once_and_summed` in the shared suite).
pub fn cost_fixture() -> Vec<SpanCostRecord> {
    let mut c1 = span_cost(1, 1, 10, "gpt-4o", Some(3 * USD / 2));
    c1.session_id = Some("s1".into());
    c1.user_id = Some("u1".into());
    c1.input_tokens = 100;
    c1.output_tokens = 10;
    c1.producer_cost = Some("1.5".into());
    c1.cache_read_tokens = 3;
    c1.reasoning_tokens = 2;
    let mut c2 = span_cost(1, 2, 3_605, "gpt-4o", None);
    c2.agent = "b".into();
    c2.session_id = Some("s1".into());
    c2.input_tokens = 50;
    c2.output_tokens = 0;
    let mut c3 = span_cost(2, 3, 20, "claude", Some(USD / 4));
    c3.estimated = true;
    c3.user_id = Some("u2".into());
    c3.differs = true;
    let mut c4 = span_cost(3, 4, 86_401, "claude", Some(1));
    c4.session_id = Some("s2".into());
    c4.user_id = Some("u1".into());
    c4.input_tokens = 1;
    let mut c5 = span_cost(1, 1, 10, "gpt-4o", Some(9 * USD));
    c5.project = "other".into();
    vec![c1, c2, c3, c4, c5]
}
