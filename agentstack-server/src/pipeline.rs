//! The pipeline, any subset of its stages in this process: the collector (OTLP/HTTP and
//! OTLP/gRPC into the bus), the writer, security and cost workers (each its own consumer group
//! of the bus) and the API. `agentstack serve` runs every stage; the roles of the distributed
//! mode (`agentstack collector`, `agentstack worker writer|security|cost`, `agentstack api`)
//! run one each. The stages run the same code on either [`Backend`]: the in-process bus and
//! SQLite, or Redis Streams and ClickHouse.
//!
//! On shutdown every listener stops accepting, the bus is closed, and each worker finishes
//! what it received (the in-process bus: everything accepted; Redis: what was read, the rest
//! stays in the stream for the next worker).

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use agentstack_exporter_sqlite::{DEFAULT_PROJECT, SqliteSpanStore};
use agentstack_security::SecurityEngine;
use agentstack_store_clickhouse::ClickHouseStore;
use anyhow::{Context, bail};

use crate::alerts::webhooks::Webhooks;
use crate::alerts::{self, AlertFeed};
use crate::api::{API_PREFIX, ApiRouter};
use crate::auth::KeyRing;
use crate::bus::{RedisBus, SECURITY_GROUP, SpanBus, WRITER_GROUP};
use crate::collector::{self, CollectorConfig, TRACES_PATH};
use crate::health::Health;
use crate::live::LiveFeed;
use crate::metrics::Metrics;
use crate::serve::{RETENTION_INTERVAL, ServeArgs, cost_settings};
use crate::store::Store;
use crate::workers::cost::{self, COST_GROUP};
use crate::workers::writer::Batching;
use crate::workers::{security, writer};

/// Which stages this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stages {
    /// OTLP/HTTP and OTLP/gRPC into the bus.
    pub collector: bool,
    /// Spans from the bus into the store.
    pub writer: bool,
    /// Spans from the bus through the security engine, alerts into the store.
    pub security: bool,
    /// Spans from the bus priced, costs into the store, budgets watched.
    pub cost: bool,
    /// The REST API, its WebSockets and the dashboard.
    pub api: bool,
}

impl Stages {
    /// Every stage (`agentstack serve`).
    pub const ALL: Stages = Stages {
        collector: true,
        writer: true,
        security: true,
        cost: true,
        api: true,
    };
    /// No stage; set the ones wanted.
    pub const NONE: Stages = Stages {
        collector: false,
        writer: false,
        security: false,
        cost: false,
        api: false,
    };

    /// The consumer groups the bus needs for these stages.
    pub fn groups(self) -> Vec<&'static str> {
        let mut groups = Vec::new();
        if self.writer {
            groups.push(WRITER_GROUP);
        }
        if self.security {
            groups.push(SECURITY_GROUP);
        }
        if self.cost {
            groups.push(COST_GROUP);
        }
        groups
    }
}

/// How old data leaves the store; the writer stage runs it, now and every hour.
#[derive(Debug, Clone)]
pub enum Retention {
    /// Keep everything.
    Off,
    /// SQLite: delete the traces that ended more than `days` days ago, row by row.
    Sqlite {
        /// The store.
        store: Arc<SqliteSpanStore>,
        /// The retention window.
        days: u32,
    },
    /// ClickHouse: move the days past `hot_days` to `spans_archive`, drop the days past
    /// `days`, whole partitions at a time.
    ClickHouse {
        /// The store.
        store: Box<ClickHouseStore>,
        /// The hot window.
        hot_days: u32,
        /// The retention window.
        days: u32,
    },
}

/// What the stages run on.
#[derive(Debug)]
pub struct Backend<B: SpanBus> {
    /// The bus between the collector and the workers.
    pub bus: Arc<B>,
    /// The store the workers write (and the alert dispatcher).
    pub store: Arc<dyn Store>,
    /// The store the API reads (SQLite: a connection of its own, so reads never wait).
    pub api_store: Arc<dyn Store>,
    /// The store the API keys are checked in.
    pub key_store: Arc<dyn Store>,
    /// How old data goes.
    pub retention: Retention,
    /// The Redis bus, when the stages run distributed: alerts go to `alerts.live`, and an API
    /// without a writer beside it tails the streams.
    pub redis: Option<RedisBus>,
    /// Whether requests without a key are let in while no key exists (loopback only).
    pub loopback_only: bool,
    /// How the writer gathers batches into one store write.
    pub batching: Batching,
}

/// Runs `stages` on `backend` until `shutdown` completes, then drains and reports.
pub async fn run<B: SpanBus>(
    stages: Stages,
    backend: Backend<B>,
    args: &ServeArgs,
    name: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let Backend {
        bus,
        store,
        api_store,
        key_store,
        retention,
        redis,
        loopback_only,
        batching,
    } = backend;
    let security_on = stages.security && !args.no_security;
    let metrics = Metrics::new();
    let key_projects = {
        let ring = KeyRing::new(Arc::clone(&key_store), loopback_only);
        ring.list().await.context("listing the API keys")?
    };
    let active_keys = key_projects.iter().filter(|k| k.is_active()).count();
    refuse_open_listeners(stages, args, active_keys)?;
    let mut keys = KeyRing::new(key_store, loopback_only);
    if redis.is_some() {
        // Many requests, several processes: a key read is reused for a few seconds.
        keys = keys.cache_for(crate::auth::KEY_CACHE_TTL);
    }
    let keys = Arc::new(keys);

    // Listeners first: a taken port fails before anything starts.
    let collector_listener = if stages.collector {
        Some(bind(args.otlp_http, "OTLP/HTTP", "--otlp-http").await?)
    } else {
        None
    };
    let grpc_listener = if stages.collector && !args.no_otlp_grpc {
        Some(
            bind(
                args.otlp_grpc,
                "OTLP/gRPC",
                "--otlp-grpc, or --no-otlp-grpc",
            )
            .await?,
        )
    } else {
        None
    };
    let api_listener = if stages.api {
        Some(bind(args.api, "the API", "--api").await?)
    } else {
        None
    };
    // A process with neither the collector nor the API answers health checks on --health.
    let health_listener = match args.health {
        Some(addr) if !stages.collector && !stages.api => {
            Some(bind(addr, "health checks", "--health").await?)
        }
        _ => None,
    };

    let stage_stores = [
        (stages.writer || stages.security || stages.cost, &store),
        (stages.api, &api_store),
    ];
    let mut health = Health::new(Arc::clone(&metrics));
    for (used, store) in stage_stores {
        if used {
            health = health.store(Arc::clone(store));
        }
    }
    if stages.collector || stages.writer || stages.security || stages.cost || redis.is_some() {
        health = health.bus(Arc::clone(&bus));
    }
    if let Some(redis) = &redis {
        metrics.watch_redis(redis.clone(), stages.groups());
    }

    // The alert path: workers raise into the sink; the dispatcher stores, publishes (and on
    // Redis adds them to `alerts.live`) and hands the new alerts to the webhooks.
    let webhooks = Webhooks::start(&args.webhooks)?.map(Arc::new);
    let (alert_sink, alert_queue) = alerts::alert_channel(alerts::ALERT_QUEUE_CAPACITY);
    let alert_feed = AlertFeed::default();
    let live = LiveFeed::default();
    let raises_alerts = security_on || stages.cost;
    let dispatcher = raises_alerts.then(|| {
        let hooks = webhooks.clone();
        let redis = redis.clone();
        tokio::spawn(alerts::dispatcher::run(
            alert_queue,
            Arc::clone(&store),
            alert_feed.clone(),
            move |new| {
                if let Some(hooks) = &hooks {
                    hooks.send(new);
                }
                if let Some(redis) = &redis {
                    let (redis, new) = (redis.clone(), Arc::clone(new));
                    tokio::spawn(async move { redis.publish_alerts(&new).await });
                }
            },
        ))
    });
    let security = if security_on {
        let config = args.security.clone();
        let (engine, rule_errors) =
            tokio::task::spawn_blocking(move || SecurityEngine::new(config))
                .await
                .context("loading the security rules")?;
        for error in &rule_errors {
            tracing::warn!(%error, "a security rule was not loaded; the other rules are used");
        }
        Some(tokio::spawn(security::run(
            bus.subscribe(SECURITY_GROUP)?,
            engine,
            alert_sink.clone(),
        )))
    } else {
        None
    };
    let writer = if stages.writer {
        Some(tokio::spawn(writer::run(
            bus.subscribe(WRITER_GROUP)?,
            Arc::clone(&store),
            Some(live.clone()),
            Some(Arc::clone(&metrics)),
            batching,
        )))
    } else {
        None
    };
    // Costs: the API prices with the same table as the cost worker.
    let (pricing, budgets) = cost_settings(args, &store).await?;
    let cost_worker = if stages.cost {
        Some(tokio::spawn(cost::run(
            bus.subscribe(COST_GROUP)?,
            Arc::clone(&store),
            Arc::clone(&pricing.0),
            pricing.1,
            alert_sink.clone(),
        )))
    } else {
        None
    };
    drop(alert_sink);
    // An API without the writer beside it tails the Redis streams instead.
    let tails = match (&redis, stages.api && !stages.writer) {
        (Some(redis), true) => vec![
            tokio::spawn({
                let (redis, live) = (redis.clone(), live.clone());
                async move { redis.tail_spans(live).await }
            }),
            tokio::spawn({
                let (redis, feed) = (redis.clone(), alert_feed.clone());
                async move { redis.tail_alerts(feed).await }
            }),
        ],
        _ => Vec::new(),
    };
    let retention_text = retention_description(&retention);
    let retention = stages
        .writer
        .then(|| tokio::spawn(retention_sweeps(retention)));

    // Say what runs where.
    let collector_local = collector_listener
        .as_ref()
        .map(tokio::net::TcpListener::local_addr)
        .transpose()?;
    let grpc_local = grpc_listener
        .as_ref()
        .map(tokio::net::TcpListener::local_addr)
        .transpose()?;
    let api_local = api_listener
        .as_ref()
        .map(tokio::net::TcpListener::local_addr)
        .transpose()?;
    let health_local = health_listener
        .as_ref()
        .map(tokio::net::TcpListener::local_addr)
        .transpose()?;
    {
        let mut out = std::io::stdout().lock();
        if stages.collector || stages.api {
            if key_projects.is_empty() {
                writeln!(
                    out,
                    "agentstack {name}: no API keys configured: accepting spans into project \
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
                    "agentstack {name}: API keys required ({active_keys} active, projects: {}); \
                     a request without a valid key is refused with 401",
                    projects.join(", ")
                )?;
            }
        }
        writeln!(out, "agentstack {name}: bus: {}", bus.describe())?;
        if let Some(addr) = collector_local {
            writeln!(
                out,
                "agentstack {name}: OTLP/HTTP collector listening on http://{addr}{TRACES_PATH}"
            )?;
        }
        match grpc_local {
            Some(addr) => writeln!(
                out,
                "agentstack {name}: OTLP/gRPC collector listening on http://{addr}"
            )?,
            None if stages.collector => {
                writeln!(out, "agentstack {name}: OTLP/gRPC off (--no-otlp-grpc)")?;
            }
            None => {}
        }
        if let Some(addr) = api_local {
            writeln!(
                out,
                "agentstack {name}: admin routes of API keys {}",
                if args.admin_token.as_deref().is_some_and(|t| !t.is_empty()) {
                    "open with the admin token"
                } else {
                    "off (set --admin-token or AGENTSTACK_ADMIN_TOKEN)"
                }
            )?;
            writeln!(
                out,
                "agentstack {name}: API listening on http://{addr}{API_PREFIX}"
            )?;
            let index = args.dashboard_dir.join("index.html");
            if index.is_file() {
                writeln!(
                    out,
                    "agentstack {name}: dashboard on http://{addr}/ (from {})",
                    args.dashboard_dir.display()
                )?;
            } else {
                writeln!(
                    out,
                    "agentstack {name}: dashboard not built ({} is missing): `cd \
                     agentstack-server/dashboard && npm ci && npm run build`, or --dashboard-dir",
                    index.display()
                )?;
            }
        }
        if let Some(addr) = health_local {
            writeln!(
                out,
                "agentstack {name}: health on http://{addr}/healthz, /readyz and /metrics"
            )?;
        }
        if stages.security {
            match &security {
                Some(_) => writeln!(
                    out,
                    "agentstack {name}: security: scanning every span (alerts on GET \
                     {API_PREFIX}/alerts); {} webhook(s)",
                    args.webhooks.len()
                )?,
                None => writeln!(out, "agentstack {name}: security: off (--no-security)")?,
            }
        }
        if stages.writer {
            match &retention_text {
                Some(text) => writeln!(out, "agentstack {name}: retention: {text}")?,
                None => writeln!(
                    out,
                    "agentstack {name}: retention off: data is kept forever"
                )?,
            }
        }
        if stages.cost || stages.api {
            let source = pricing.0.table().source();
            writeln!(
                out,
                "agentstack {name}: cost: {} priced models from {}{}; {} budgets",
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
        }
        // The last line of the start-up.
        writeln!(out, "agentstack {name}: span store {}", store.describe())?;
        out.flush()?;
    }
    let address = |addr: Option<std::net::SocketAddr>| addr.map(|a| a.to_string());
    tracing::info!(
        role = name,
        version = env!("CARGO_PKG_VERSION"),
        otlp_http = address(collector_local),
        otlp_grpc = address(grpc_local),
        api = address(api_local),
        health = address(health_local),
        bus = %bus.describe(),
        store = %store.describe(),
        "started"
    );

    // One shutdown for every listener.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        // An error means the sender is gone (it sent, or its task ended): stop either way.
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let collector_config = CollectorConfig {
        max_body_bytes: args.max_body_bytes,
        max_decompressed_bytes: args.max_decompressed_bytes,
        project: DEFAULT_PROJECT.to_string(),
        metrics: Some(Arc::clone(&metrics)),
        decode_slots: collector::decode_slots(stages.writer || stages.security || stages.cost),
    };
    let collector_served = {
        let stopped = stopped.clone();
        let router = collector::router_with_keys(
            Arc::clone(&bus),
            collector_config.clone(),
            Arc::clone(&keys),
        )
        .merge(health.router());
        async move {
            match collector_listener {
                None => Ok(()),
                Some(listener) => {
                    axum::serve(listener, router)
                        .with_graceful_shutdown(until_stopped(stopped))
                        .await
                }
            }
        }
    };
    let grpc_served = {
        let stopped = stopped.clone();
        let grpc =
            collector::grpc_service(Arc::clone(&bus), collector_config, Some(Arc::clone(&keys)));
        async move {
            match grpc_listener {
                None => Ok(()),
                Some(listener) => {
                    tonic::transport::Server::builder()
                        .add_service(grpc)
                        .serve_with_incoming_shutdown(
                            tokio_stream::wrappers::TcpListenerStream::new(listener),
                            until_stopped(stopped),
                        )
                        .await
                }
            }
        }
    };
    let api_served = {
        let stopped = stopped.clone();
        let router = ApiRouter::new(api_store)
            .keys(Arc::clone(&keys), args.admin_token.clone())
            .live(live.clone())
            .alerts(alert_feed.clone())
            .dashboard(args.dashboard_dir.clone())
            .costs(Arc::clone(&pricing.0), budgets)
            .health(health.clone())
            .build();
        async move {
            match api_listener {
                None => Ok(()),
                Some(listener) => {
                    axum::serve(listener, router)
                        .with_graceful_shutdown(until_stopped(stopped))
                        .await
                }
            }
        }
    };
    let health_served = {
        let stopped = stopped.clone();
        let router = health.router();
        async move {
            match health_listener {
                None => Ok(()),
                Some(listener) => {
                    axum::serve(listener, router)
                        .with_graceful_shutdown(until_stopped(stopped))
                        .await
                }
            }
        }
    };
    // Live tails end at once on shutdown; the API's graceful shutdown waits for nothing else.
    let closing = {
        let (live, alert_feed) = (live.clone(), alert_feed.clone());
        let stopped = stopped.clone();
        async move {
            until_stopped(stopped).await;
            live.close();
            alert_feed.close();
        }
    };
    let (collector_served, grpc_served, api_served, health_served, ()) = tokio::join!(
        collector_served,
        grpc_served,
        api_served,
        health_served,
        closing
    );
    // Whatever ended the server, nothing accepted may be lost: close and drain.
    bus.close();
    if let Some(retention) = retention {
        retention.abort();
    }
    for tail in tails {
        tail.abort();
    }
    let mut out_lines = Vec::new();
    if let Some(writer) = writer {
        let stats = writer.await.context("the writer worker failed")?;
        tracing::info!(
            written = stats.written,
            batches = stats.batches,
            duplicates = stats.duplicates,
            failed = stats.failed,
            "writer stopped"
        );
        out_lines.push(format!(
            "the writer stored {} new spans from {} requests ({} repeats, {} failed)",
            stats.written, stats.batches, stats.duplicates, stats.failed
        ));
    }
    if let Some(cost_worker) = cost_worker {
        let costs = cost_worker.await.context("the cost worker failed")?;
        tracing::info!(
            priced = costs.priced,
            duplicates = costs.duplicates,
            failed = costs.failed,
            budget_alerts = costs.budget_alerts,
            "cost worker stopped"
        );
        out_lines.push(format!(
            "cost: priced {} new spans ({} repeats, {} failed), raised {} budget alerts",
            costs.priced, costs.duplicates, costs.failed, costs.budget_alerts
        ));
    }
    let scanned = match security {
        Some(security) => Some(security.await.context("the security worker failed")?),
        None => None,
    };
    // Every worker is done: the last sink is gone, the dispatcher drains, then the webhooks.
    if let Some(dispatcher) = dispatcher {
        let alert_stats = dispatcher.await.context("the alert dispatcher failed")?;
        if let Some(scanned) = scanned {
            tracing::info!(
                scanned = scanned.scanned,
                raised = scanned.raised,
                stored = alert_stats.stored,
                "security worker stopped"
            );
            out_lines.push(format!(
                "security: scanned {} spans, raised {} alerts ({} new)",
                scanned.scanned, scanned.raised, alert_stats.stored
            ));
        }
    }
    if let Some(hooks) = webhooks.and_then(|hooks| Arc::try_unwrap(hooks).ok()) {
        hooks.finish();
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "agentstack {name}: stopped")?;
    for line in out_lines {
        writeln!(out, "agentstack {name}: {line}")?;
    }
    out.flush()?;
    collector_served.context("the OTLP/HTTP collector failed")?;
    grpc_served.context("the OTLP/gRPC collector failed")?;
    api_served.context("the API failed")?;
    health_served.context("the health listener failed")?;
    Ok(())
}

/// Without an active API key, only this machine may send spans or read the API: refuses a
/// listener of `stages` on any other address.
pub fn refuse_open_listeners(
    stages: Stages,
    args: &ServeArgs,
    active_keys: usize,
) -> anyhow::Result<()> {
    if active_keys > 0 {
        return Ok(());
    }
    let mut listeners = Vec::new();
    if stages.collector {
        listeners.push(("--otlp-http", args.otlp_http, "spans may only come from"));
        if !args.no_otlp_grpc {
            listeners.push(("--otlp-grpc", args.otlp_grpc, "spans may only come from"));
        }
    }
    if stages.api {
        listeners.push(("--api", args.api, "the API may only answer"));
    }
    for (flag, addr, what) in listeners {
        if !addr.ip().is_loopback() {
            bail!(
                "no API keys configured, so {what} this machine, but {flag} {addr} is not a \
                 loopback address; create a key with `agentstack keys create --project NAME`, \
                 or listen on 127.0.0.1 (or [::1])"
            );
        }
    }
    Ok(())
}

/// Listens on `addr` for `what`, or says which flag moves it.
async fn bind(addr: SocketAddr, what: &str, flag: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!(
            "cannot listen on {addr} for {what}; is another agentstack running there? choose \
             another address with {flag}"
        )
    })
}

/// What `retention` does, for the start-up message; `None` when it is off.
fn retention_description(retention: &Retention) -> Option<String> {
    match retention {
        Retention::Off => None,
        Retention::Sqlite { days, .. } => Some(format!(
            "traces that ended over {days} days ago are deleted"
        )),
        Retention::ClickHouse { hot_days, days, .. } => Some(format!(
            "days older than {hot_days} move to spans_archive, days older than {days} are dropped"
        )),
    }
}

/// Applies `retention` now and every [`RETENTION_INTERVAL`], until aborted.
async fn retention_sweeps(retention: Retention) {
    let mut every = tokio::time::interval(RETENTION_INTERVAL);
    loop {
        every.tick().await;
        match &retention {
            Retention::Off => return,
            Retention::Sqlite { store, days } => {
                let now = crate::clock::now_unix_nanos();
                let cutoff = now.saturating_sub(i64::from(*days) * 86_400 * 1_000_000_000);
                let store = Arc::clone(store);
                match tokio::task::spawn_blocking(move || store.delete_older_than(cutoff)).await {
                    Ok(Ok(0)) => {}
                    Ok(Ok(deleted)) => tracing::info!(
                        deleted,
                        days,
                        "retention: deleted the spans of traces that ended over `days` days ago"
                    ),
                    Ok(Err(error)) => {
                        tracing::error!(%error, "retention: the sweep failed; next try in an hour");
                    }
                    Err(error) => {
                        tracing::error!(%error, "retention: the sweep failed; next try in an hour");
                    }
                }
            }
            Retention::ClickHouse {
                store,
                hot_days,
                days,
            } => {
                match store.archive_older_than(*hot_days).await {
                    Ok(moved) if !moved.is_empty() => tracing::info!(
                        days_moved = moved.len(),
                        hot_days,
                        "retention: moved the days past the hot window to spans_archive"
                    ),
                    Ok(_) => {}
                    Err(error) => tracing::error!(
                        %error,
                        "retention: archiving failed; next try in an hour"
                    ),
                }
                match store.drop_older_than(*days).await {
                    Ok(dropped) if !dropped.is_empty() => tracing::info!(
                        days_dropped = dropped.len(),
                        days,
                        "retention: dropped the days older than the retention window"
                    ),
                    Ok(_) => {}
                    Err(error) => tracing::error!(
                        %error,
                        "retention: dropping old days failed; next try in an hour"
                    ),
                }
            }
        }
    }
}
