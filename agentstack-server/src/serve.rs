//! `agentstack serve`: every stage of the [`pipeline`] in one process — the OTLP collector, the
//! in-process bus, the writer, security and cost workers into the SQLite span store and the
//! REST API reading it, behind the API keys of the store ([`crate::auth`]). Given a Redis and a
//! ClickHouse URL it runs the same stages on them instead ([`crate::roles`]). Its options
//! ([`ServeArgs`]) are every role's. On Ctrl-C or SIGTERM the listeners stop accepting, the bus
//! is drained into the store, and it exits.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

use crate::alerts::webhooks::WebhookConfig;
use crate::bus::InProcessBus;
use crate::collector;
use crate::logging::LogFormat;
use crate::pipeline::{self, Backend, Retention, Stages};
use crate::pricing::ProjectPricing;
use crate::roles::ClickHouseArgs;
use crate::store::{SqliteStore, Store};
use crate::workers::cost;
use crate::workers::writer::Batching;
use agentstack_security::SecurityConfig;

/// Where the server's span store is by default, relative to the working directory.
pub const DEFAULT_DB_PATH: &str = "./.agentstack/server.db";
/// How long traces are kept by default, in days.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// How often the retention sweep runs.
pub const RETENTION_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);
/// How many accepted requests (batches) may wait for the writer before the collector answers 503.
pub const DEFAULT_BUS_CAPACITY: usize = 1024;

/// `agentstack serve`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Where the OTLP/HTTP collector listens (POST /v1/traces); port 0 picks a free port
    #[arg(
        long,
        value_name = "ADDR",
        env = "AGENTSTACK_OTLP_HTTP_ADDR",
        default_value = "127.0.0.1:4318"
    )]
    pub otlp_http: SocketAddr,

    /// Where the OTLP/gRPC collector listens (opentelemetry.proto.collector.trace.v1
    /// TraceService/Export); port 0 picks a free port
    #[arg(
        long,
        value_name = "ADDR",
        env = "AGENTSTACK_OTLP_GRPC_ADDR",
        default_value = "127.0.0.1:4317"
    )]
    pub otlp_grpc: SocketAddr,

    /// Do not listen for OTLP/gRPC (only OTLP/HTTP)
    #[arg(long, env = "AGENTSTACK_NO_OTLP_GRPC")]
    pub no_otlp_grpc: bool,

    /// Where the REST API listens (GET /api/v1/traces, /api/v1/stats, /api/openapi.json);
    /// port 0 picks a free port
    #[arg(
        long,
        value_name = "ADDR",
        env = "AGENTSTACK_API_ADDR",
        default_value = "127.0.0.1:8000"
    )]
    pub api: SocketAddr,

    /// The server's SQLite span store (created if missing); read it with `agentstack traces --db`
    #[arg(long, value_name = "PATH", env = "AGENTSTACK_DB", default_value = DEFAULT_DB_PATH)]
    pub db: PathBuf,

    /// The largest request body accepted as sent, in bytes (larger: 413)
    #[arg(long, value_name = "BYTES", default_value_t = collector::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// The largest request body accepted after gzip decompression, in bytes (larger: 413)
    #[arg(long, value_name = "BYTES", default_value_t = collector::DEFAULT_MAX_DECOMPRESSED_BYTES)]
    pub max_decompressed_bytes: usize,

    /// How many accepted requests may wait for the store before the collector answers 503
    #[arg(long, value_name = "BATCHES", default_value_t = DEFAULT_BUS_CAPACITY)]
    pub bus_capacity: usize,

    /// The token that opens the admin routes of API keys (POST /api/v1/projects/{name}/keys,
    /// GET /api/v1/keys, DELETE /api/v1/keys/{prefix}); without it they answer 403
    #[arg(
        long,
        value_name = "TOKEN",
        env = "AGENTSTACK_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,

    /// Delete traces whose spans all ended more than this many days ago (checked at start-up
    /// and every hour); 0 keeps everything
    #[arg(
        long,
        value_name = "DAYS",
        env = "AGENTSTACK_RETENTION_DAYS",
        default_value_t = DEFAULT_RETENTION_DAYS
    )]
    pub retention_days: u32,

    /// The dashboard's built assets (index.html and assets/), served at `/` by the API
    #[arg(
        long,
        value_name = "DIR",
        env = "AGENTSTACK_DASHBOARD_DIR",
        default_value = crate::api::dashboard::SOURCE_TREE_DIST
    )]
    pub dashboard_dir: PathBuf,

    /// A TOML file of these settings (its `[serve]` table); flags and environment variables
    /// win over it. Without this option, ./agentstack.toml is read if it exists
    #[arg(long, value_name = "FILE", env = "AGENTSTACK_CONFIG")]
    pub config: Option<PathBuf>,

    /// Do not scan spans for security threats (no security worker, no alerts)
    #[arg(long, env = "AGENTSTACK_NO_SECURITY")]
    pub no_security: bool,

    /// The security engine's settings: the config file's `[security]` table (rules directory,
    /// detector weights, thresholds, dedup window); defaults otherwise.
    #[arg(skip)]
    pub security: SecurityConfig,

    /// Where alerts are sent: the config file's `[[alerts.webhooks]]`.
    #[arg(skip)]
    pub webhooks: Vec<WebhookConfig>,

    /// A prices.json (written by `agentstack prices update`) to price spans with instead of
    /// the bundled table
    #[arg(long, value_name = "FILE", env = "AGENTSTACK_PRICES_FILE")]
    pub prices_file: Option<PathBuf>,

    /// The config file's `[cost]` table: budgets and per-project price overrides.
    #[arg(skip)]
    pub cost: crate::config::CostSection,

    /// Distributed mode: the Redis that carries the bus (`redis://HOST:PORT/DB`); with
    /// --clickhouse-url, `serve` runs the distributed pipeline, and the roles need both
    #[arg(long, value_name = "URL", env = "AGENTSTACK_REDIS_URL")]
    pub redis_url: Option<String>,

    /// Distributed mode: where ClickHouse is and who to be there.
    #[command(flatten)]
    pub clickhouse: ClickHouseArgs,

    /// Distributed mode: the Redis stream is trimmed to about this many batches (MAXLEN ~)
    #[arg(long, value_name = "ENTRIES", default_value_t = 1_000_000)]
    pub stream_max_len: usize,

    /// Distributed mode: a batch left unacknowledged this long by its worker (it died) is taken
    /// over by another worker of its group
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub claim_idle_ms: u64,

    /// Distributed mode: a batch delivered this many times without an ack goes to the
    /// dead-letter stream
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_deliveries: usize,

    /// Distributed mode: the writer inserts once it has this many spans …
    #[arg(long, value_name = "SPANS", default_value_t = 1_000)]
    pub write_batch_rows: usize,

    /// … or once its first batch waited this long
    #[arg(long, value_name = "MS", default_value_t = 1_000)]
    pub write_batch_ms: u64,

    /// Distributed mode: spans older than this many days move to `spans_archive`
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub hot_days: u32,

    /// Distributed mode: days older than this are dropped from ClickHouse (0 keeps everything)
    #[arg(long, value_name = "DAYS", default_value_t = 90)]
    pub clickhouse_retention_days: u32,

    /// Where a worker role answers /healthz, /readyz and /metrics (the collector and the API
    /// answer them on their own port)
    #[arg(long, value_name = "ADDR", env = "AGENTSTACK_HEALTH_ADDR")]
    pub health: Option<SocketAddr>,

    /// How log lines on stderr are written: text, or json (one object per line)
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        env = "AGENTSTACK_LOG_FORMAT",
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,

    /// Which log events are written: a level (error, warn, info, debug, trace) or directives
    /// such as "info,agentstack_server::bus=debug"
    #[arg(
        long = "log",
        value_name = "FILTER",
        env = "AGENTSTACK_LOG",
        default_value = crate::logging::DEFAULT_FILTER
    )]
    pub log_filter: String,
}

/// Runs the server until `shutdown` completes, then drains the bus into the store: every stage
/// in this process, on the in-process bus and SQLite, or, given `--redis-url` and
/// `--clickhouse-url`, on Redis and ClickHouse.
pub async fn run(
    args: &ServeArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if args.redis_url.is_some() || args.clickhouse.url.is_some() {
        return crate::roles::run_distributed(Stages::ALL, args, "serve", shutdown).await;
    }
    let mut stages = Stages::ALL;
    stages.security = !args.no_security;
    // Refused before the store file is made: only a store that already holds an active key
    // lets the server face the network.
    let active_keys = if args.db.exists() {
        let db = args.db.clone();
        tokio::task::spawn_blocking(move || {
            agentstack_exporter_sqlite::SqliteSpanStore::open(&db)?
                .api_keys()
                .map(|keys| keys.into_iter().filter(|k| k.is_active()).count())
        })
        .await
        .context("reading the API keys")?
        .with_context(|| format!("cannot read the API keys in {}", args.db.display()))?
    } else {
        0
    };
    pipeline::refuse_open_listeners(stages, args, active_keys)?;
    let loopback_only = args.otlp_http.ip().is_loopback()
        && args.api.ip().is_loopback()
        && (args.no_otlp_grpc || args.otlp_grpc.ip().is_loopback());
    let sqlite = SqliteStore::open(&args.db)
        .await
        .with_context(|| format!("cannot open the span store {}", args.db.display()))?;
    // The API and the key checks read through connections of their own: WAL lets them read
    // while the writer writes.
    let api_store = SqliteStore::open(&args.db).await.with_context(|| {
        format!(
            "cannot open the span store {} for the API",
            args.db.display()
        )
    })?;
    let key_store = SqliteStore::open(&args.db)
        .await
        .with_context(|| format!("cannot open {} for the API keys", args.db.display()))?;
    // The write-ahead log is copied into the file by a connection of its own, off the
    // writer's path (the copy and its fsyncs would hold the writer, and the cost worker
    // behind it, for tens of milliseconds each time).
    let checkpointer = SqliteStore::open(&args.db)
        .await
        .with_context(|| format!("cannot open {} for its WAL checkpoints", args.db.display()))?;
    {
        let writer = Arc::clone(sqlite.sqlite());
        let api = Arc::clone(api_store.sqlite());
        tokio::task::spawn_blocking(move || {
            writer.set_wal_autocheckpoint(crate::store::WRITER_AUTOCHECKPOINT_PAGES)?;
            writer.set_cache_size_kib(crate::store::CACHE_KIB)?;
            api.set_cache_size_kib(crate::store::CACHE_KIB)
        })
        .await
        .context("configuring the span store")?
        .with_context(|| format!("cannot configure the span store {}", args.db.display()))?;
    }
    let checkpoints =
        tokio::spawn(checkpointer.checkpoint_every(crate::store::CHECKPOINT_INTERVAL));
    let groups = stages.groups();
    let retention = match args.retention_days {
        0 => Retention::Off,
        days => Retention::Sqlite {
            store: Arc::clone(sqlite.sqlite()),
            days,
        },
    };
    let backend = Backend {
        bus: Arc::new(InProcessBus::new(args.bus_capacity, &groups)),
        store: Arc::new(sqlite) as Arc<dyn Store>,
        api_store: Arc::new(api_store),
        key_store: Arc::new(key_store),
        retention,
        redis: None,
        loopback_only,
        batching: Batching::EMBEDDED,
    };
    let served = pipeline::run(stages, backend, args, "serve", shutdown).await;
    // Every worker has drained; closing the last connection checkpoints what is left.
    checkpoints.abort();
    served
}

/// The cost worker's prices (the table, each project's overrides from the config file and,
/// winning over them, from the store) and budgets (their spend in the current period read
/// back from the store).
pub(crate) async fn cost_settings(
    args: &ServeArgs,
    store: &Arc<dyn Store>,
) -> anyhow::Result<(
    (Arc<ProjectPricing>, agentstack_cost::BudgetTracker),
    Vec<agentstack_cost::Budget>,
)> {
    let table = ProjectPricing::table_from(args.prices_file.as_deref())?;
    let pricing = Arc::new(ProjectPricing::new(table, &args.cost.overrides)?);
    let budgets = args
        .cost
        .budgets()
        .map_err(|message| anyhow::anyhow!("the config file's {message}"))?;
    let mut tracker = agentstack_cost::BudgetTracker::new(budgets.clone())?;
    let now = crate::clock::now_unix_nanos();
    cost::restore_budgets(&mut tracker, &budgets, store.as_ref(), now)
        .await
        .context("cannot read the budgets' spend")?;
    let stored = store
        .all_price_overrides()
        .await
        .context("cannot read the stored price overrides")?;
    for problem in pricing.load_stored(stored) {
        tracing::warn!(%problem, "a stored price override is not used");
    }
    Ok(((pricing, tracker), budgets))
}

/// Completes on Ctrl-C, or SIGTERM on Unix. The handlers are installed when this is called,
/// not when the future is first polled: a signal that arrives while the server is still
/// starting (its banner already printed) is then a graceful shutdown too, not the default
/// action that kills the process. Call it on the runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let received = |signal: Option<tokio::signal::unix::Signal>| async move {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = received(interrupt) => {}
                () = received(terminate) => {}
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        shutting_down();
    }
}

fn shutting_down() {
    tracing::info!("shutting down: no new requests; storing what was accepted");
}
