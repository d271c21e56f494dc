//! `agentstack serve`: every role in one process — the OTLP/HTTP collector, the in-process bus,
//! the writer worker into the SQLite span store and the REST API reading it, both behind the
//! API keys of the store ([`crate::auth`]). On Ctrl-C or
//! SIGTERM both listeners stop accepting, the bus is drained into the store, and it exits.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use agentstack_exporter_sqlite::{DEFAULT_PROJECT, SqliteSpanStore};
use anyhow::{Context, bail};

use crate::alerts::webhooks::{WebhookConfig, Webhooks};
use crate::alerts::{self, AlertFeed};
use crate::api::{API_PREFIX, ApiRouter};
use crate::auth::KeyRing;
use crate::bus::{InProcessBus, SECURITY_GROUP, SpanBus, WRITER_GROUP};
use crate::collector::{self, CollectorConfig, TRACES_PATH};
use crate::live::LiveFeed;
use crate::pricing::ProjectPricing;
use crate::store::{SqliteStore, Store};
use crate::workers::cost::{self, COST_GROUP};
use crate::workers::security;
use crate::workers::writer;
use agentstack_security::{SecurityConfig, SecurityEngine};

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
}

/// Runs the server until `shutdown` completes, then drains the bus into the store.
pub async fn run(
    args: &ServeArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let loopback_only = args.otlp_http.ip().is_loopback()
        && args.api.ip().is_loopback()
        && (args.no_otlp_grpc || args.otlp_grpc.ip().is_loopback());
    // Only a store that already holds an active key lets the server face the network; the
    // check reads the file without creating it.
    let active_keys = if args.db.exists() {
        let db = args.db.clone();
        tokio::task::spawn_blocking(move || {
            SqliteSpanStore::open(&db)?
                .api_keys()
                .map(|keys| keys.into_iter().filter(|k| k.is_active()).count())
        })
        .await
        .context("reading the API keys")?
        .with_context(|| format!("cannot read the API keys in {}", args.db.display()))?
    } else {
        0
    };
    if active_keys == 0 {
        let mut listeners = vec![
            ("--otlp-http", args.otlp_http, "spans may only come from"),
            ("--api", args.api, "the API may only answer"),
        ];
        if !args.no_otlp_grpc {
            listeners.push(("--otlp-grpc", args.otlp_grpc, "spans may only come from"));
        }
        for (flag, addr, what) in listeners {
            if !addr.ip().is_loopback() {
                bail!(
                    "no API keys configured, so {what} this machine, but {flag} {addr} is not a \
                     loopback address; create a key with `agentstack keys create --project NAME \
                     --db {}`, or listen on 127.0.0.1 (or [::1])",
                    args.db.display()
                );
            }
        }
    }
    let sqlite = SqliteStore::open(&args.db)
        .await
        .with_context(|| format!("cannot open the span store {}", args.db.display()))?;
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    // The API reads through a connection of its own: WAL lets it read while the writer writes.
    let api_store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&args.db).await.with_context(|| {
            format!(
                "cannot open the span store {} for the API",
                args.db.display()
            )
        })?);
    let listener = tokio::net::TcpListener::bind(args.otlp_http)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} for OTLP/HTTP; is another collector running there? choose \
                 another address with --otlp-http",
                args.otlp_http
            )
        })?;
    let local = listener
        .local_addr()
        .context("reading the collector's address")?;
    let api_listener = tokio::net::TcpListener::bind(args.api)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} for the API; is another server running there? choose \
                 another address with --api",
                args.api
            )
        })?;
    let api_local = api_listener
        .local_addr()
        .context("reading the API's address")?;
    let grpc_listener = if args.no_otlp_grpc {
        None
    } else {
        let listener = tokio::net::TcpListener::bind(args.otlp_grpc)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {} for OTLP/gRPC; is another collector running there? \
                     choose another address with --otlp-grpc, or --no-otlp-grpc",
                    args.otlp_grpc
                )
            })?;
        Some(listener)
    };
    let grpc_local = grpc_listener
        .as_ref()
        .map(tokio::net::TcpListener::local_addr)
        .transpose()
        .context("reading the gRPC collector's address")?;

    // The keys are checked through a connection of their own, so no request waits for a write.
    let key_store = SqliteStore::open(&args.db)
        .await
        .with_context(|| format!("cannot open {} for the API keys", args.db.display()))?;
    let keys = Arc::new(KeyRing::new(Arc::new(key_store), loopback_only));
    let key_projects = keys.list().await.context("listing the API keys")?;
    let groups: &[&str] = if args.no_security {
        &[WRITER_GROUP, COST_GROUP]
    } else {
        &[WRITER_GROUP, SECURITY_GROUP, COST_GROUP]
    };
    let bus = Arc::new(InProcessBus::new(args.bus_capacity, groups));
    let subscription = bus.subscribe(WRITER_GROUP)?;
    // The alert path: workers raise into the sink; the dispatcher stores, publishes and hands
    // the new alerts to the webhooks.
    let webhooks = Webhooks::start(&args.webhooks)?.map(Arc::new);
    let (alert_sink, alert_queue) = alerts::alert_channel(alerts::ALERT_QUEUE_CAPACITY);
    let alert_feed = AlertFeed::default();
    let dispatcher = {
        let hooks = webhooks.clone();
        tokio::spawn(alerts::dispatcher::run(
            alert_queue,
            Arc::clone(&store),
            alert_feed.clone(),
            move |new| {
                if let Some(hooks) = &hooks {
                    hooks.send(new);
                }
            },
        ))
    };
    let security = if args.no_security {
        None
    } else {
        let config = args.security.clone();
        let (engine, rule_errors) =
            tokio::task::spawn_blocking(move || SecurityEngine::new(config))
                .await
                .context("loading the security rules")?;
        for error in &rule_errors {
            eprintln!("agentstack serve: security rules: {error} (the other rules are used)");
        }
        let subscription = bus.subscribe(SECURITY_GROUP)?;
        Some(tokio::spawn(security::run(
            subscription,
            engine,
            alert_sink.clone(),
        )))
    };
    let live = LiveFeed::default();
    let writer = tokio::spawn(writer::run(
        subscription,
        Arc::clone(&store),
        Some(live.clone()),
    ));
    // Budget alerts take the same alert path.
    let (pricing, budgets) = cost_settings(args, &store).await?;
    let cost_worker = tokio::spawn(cost::run(
        bus.subscribe(COST_GROUP)?,
        Arc::clone(&store),
        Arc::clone(&pricing.0),
        pricing.1,
        alert_sink.clone(),
    ));
    let collector_config = CollectorConfig {
        max_body_bytes: args.max_body_bytes,
        max_decompressed_bytes: args.max_decompressed_bytes,
        project: DEFAULT_PROJECT.to_string(),
    };
    let router = collector::router_with_keys(
        Arc::clone(&bus),
        collector_config.clone(),
        Arc::clone(&keys),
    );
    let grpc = collector::grpc_service(Arc::clone(&bus), collector_config, Some(Arc::clone(&keys)));
    let retention = (args.retention_days > 0).then(|| {
        tokio::spawn(retention_sweeps(
            Arc::clone(sqlite.sqlite()),
            args.retention_days,
        ))
    });

    {
        let mut out = std::io::stdout().lock();
        if key_projects.is_empty() {
            writeln!(
                out,
                "agentstack serve: no API keys configured: accepting spans into project \
                 `{DEFAULT_PROJECT}` (loopback only)"
            )?;
        } else {
            let mut projects: Vec<&str> = key_projects
                .iter()
                .filter(|k| k.is_active())
                .map(|k| k.project.as_str())
                .collect();
            projects.sort_unstable();
            projects.dedup();
            writeln!(
                out,
                "agentstack serve: API keys required ({} active, projects: {}); a request \
                 without a valid key is refused with 401",
                key_projects.iter().filter(|k| k.is_active()).count(),
                projects.join(", ")
            )?;
        }
        writeln!(
            out,
            "agentstack serve: admin routes of API keys {}",
            if args.admin_token.as_deref().is_some_and(|t| !t.is_empty()) {
                "open with the admin token"
            } else {
                "off (set --admin-token or AGENTSTACK_ADMIN_TOKEN)"
            }
        )?;
        writeln!(
            out,
            "agentstack serve: OTLP/HTTP collector listening on http://{local}{TRACES_PATH}"
        )?;
        match grpc_local {
            Some(addr) => writeln!(
                out,
                "agentstack serve: OTLP/gRPC collector listening on http://{addr}"
            )?,
            None => writeln!(out, "agentstack serve: OTLP/gRPC off (--no-otlp-grpc)")?,
        }
        writeln!(
            out,
            "agentstack serve: API listening on http://{api_local}{API_PREFIX}"
        )?;
        let index = args.dashboard_dir.join("index.html");
        if index.is_file() {
            writeln!(
                out,
                "agentstack serve: dashboard on http://{api_local}/ (from {})",
                args.dashboard_dir.display()
            )?;
        } else {
            writeln!(
                out,
                "agentstack serve: dashboard not built ({} is missing): `cd \
                 agentstack-server/dashboard && npm ci && npm run build`, or --dashboard-dir",
                index.display()
            )?;
        }
        match &security {
            Some(_) => writeln!(
                out,
                "agentstack serve: security: scanning every span (alerts on GET {}/alerts); {} \
                 webhook(s)",
                API_PREFIX,
                args.webhooks.len()
            )?,
            None => writeln!(out, "agentstack serve: security: off (--no-security)")?,
        }
        match args.retention_days {
            0 => writeln!(
                out,
                "agentstack serve: retention off: traces are kept forever"
            )?,
            days => writeln!(
                out,
                "agentstack serve: retention: traces that ended over {days} days ago are deleted"
            )?,
        }
        let source = pricing.0.table().source();
        writeln!(
            out,
            "agentstack serve: cost: {} priced models from {}{}; {} budgets",
            pricing.0.table().len(),
            args.prices_file.as_ref().map_or_else(
                || "the bundled table".to_string(),
                |p| p.display().to_string()
            ),
            source
                .version
                .as_ref()
                .map_or_else(String::new, |v| format!(" (LiteLLM {v})")),
            budgets.len(),
        )?;
        writeln!(
            out,
            "agentstack serve: span store {} (read it with `agentstack traces --db {}`)",
            args.db.display(),
            args.db.display()
        )?;
        out.flush()?;
    }

    // One shutdown for both listeners.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        // An error means the sender is gone (it sent, or its task ended): stop either way.
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let collector = axum::serve(listener, router)
        .with_graceful_shutdown(until_stopped(stopped.clone()))
        .into_future();
    let api_router = ApiRouter::new(api_store)
        .keys(keys, args.admin_token.clone())
        .live(live.clone())
        .alerts(alert_feed.clone())
        .dashboard(args.dashboard_dir.clone())
        .costs(Arc::clone(&pricing.0), budgets)
        .build();
    let api = axum::serve(api_listener, api_router)
        .with_graceful_shutdown(until_stopped(stopped.clone()))
        .into_future();
    let grpc_served = async {
        match grpc_listener {
            None => Ok(()),
            Some(listener) => {
                tonic::transport::Server::builder()
                    .add_service(grpc)
                    .serve_with_incoming_shutdown(
                        tokio_stream::wrappers::TcpListenerStream::new(listener),
                        until_stopped(stopped.clone()),
                    )
                    .await
            }
        }
    };
    // Live tails end at once on shutdown; the API's graceful shutdown waits for nothing else.
    let closing = {
        let live = live.clone();
        let stopped = stopped.clone();
        async move {
            until_stopped(stopped).await;
            live.close();
            alert_feed.close();
        }
    };
    let (served, api_served, grpc_served, ()) = tokio::join!(collector, api, grpc_served, closing);
    // Whatever ended the server, nothing accepted may be lost: close and drain.
    bus.close();
    if let Some(retention) = retention {
        retention.abort();
    }
    let stats = writer.await.context("the writer worker failed")?;
    let costs = cost_worker.await.context("the cost worker failed")?;
    let scanned = match security {
        Some(security) => Some(security.await.context("the security worker failed")?),
        None => None,
    };
    // Every worker is done: the last sink goes, the dispatcher drains, then the webhooks.
    drop(alert_sink);
    let alert_stats = dispatcher.await.context("the alert dispatcher failed")?;
    if let Some(hooks) = webhooks.and_then(|hooks| Arc::try_unwrap(hooks).ok()) {
        hooks.finish();
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "agentstack serve: stopped; the writer stored {} new spans from {} requests ({} \
         repeats, {} failed)",
        stats.written, stats.batches, stats.duplicates, stats.failed
    )?;
    if let Some(scanned) = scanned {
        writeln!(
            out,
            "agentstack serve: security: scanned {} spans, raised {} alerts ({} new)",
            scanned.scanned, scanned.raised, alert_stats.stored
        )?;
    }
    writeln!(
        out,
        "agentstack serve: cost: priced {} new spans ({} repeats, {} failed), raised {} budget \
         alerts",
        costs.priced, costs.duplicates, costs.failed, costs.budget_alerts
    )?;
    out.flush()?;
    served.context("the OTLP/HTTP collector failed")?;
    api_served.context("the API failed")?;
    grpc_served.context("the OTLP/gRPC collector failed")?;
    Ok(())
}

/// The cost worker's prices (the table, each project's overrides from the config file and,
/// winning over them, from the store) and budgets (their spend in the current period read
/// back from the store).
async fn cost_settings(
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
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    cost::restore_budgets(&mut tracker, &budgets, store.as_ref(), now)
        .await
        .context("cannot read the budgets' spend")?;
    let stored = store
        .all_price_overrides()
        .await
        .context("cannot read the stored price overrides")?;
    for problem in pricing.load_stored(stored) {
        eprintln!("agentstack serve: cost: {problem}");
    }
    Ok(((pricing, tracker), budgets))
}

/// Deletes the traces past `days` now and every [`RETENTION_INTERVAL`], until aborted.
async fn retention_sweeps(store: Arc<SqliteSpanStore>, days: u32) {
    let mut every = tokio::time::interval(RETENTION_INTERVAL);
    loop {
        every.tick().await;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
            });
        let cutoff = now.saturating_sub(i64::from(days) * 86_400 * 1_000_000_000);
        let store = Arc::clone(&store);
        match tokio::task::spawn_blocking(move || store.delete_older_than(cutoff)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(deleted)) => println!(
                "agentstack serve: retention: deleted {deleted} spans of traces that ended over \
                 {days} days ago"
            ),
            Ok(Err(error)) => eprintln!("agentstack serve: retention: {error}"),
            Err(error) => eprintln!("agentstack serve: retention: the sweep failed: {error}"),
        }
    }
}

/// Completes on Ctrl-C, or SIGTERM on Unix.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    eprintln!("agentstack serve: shutting down: no new requests; storing what was accepted");
}
