//! The distributed mode: the [`pipeline`](crate::pipeline)'s stages on Redis Streams and
//! ClickHouse, one role per process, every role able to run as several replicas —
//! `agentstack collector`, `agentstack worker writer|security|cost`, `agentstack api` — or all
//! of them in one `agentstack serve` given both URLs. `agentstack migrate` applies the
//! ClickHouse schema; every role also does at start-up (safe when several start at once),
//! so that they may start in any order.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use agentstack_store_clickhouse::ClickHouseStore;
use anyhow::{Context, bail};

use crate::bus::{RedisBus, RedisBusConfig};
use crate::pipeline::{self, Backend, Retention, Stages};
use crate::serve::ServeArgs;
use crate::store::Store;
use crate::workers::writer::Batching;

/// The worker roles: `agentstack worker writer|security|cost`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WorkerKind {
    /// Spans from the stream into ClickHouse.
    Writer,
    /// Spans through the security engine; alerts into ClickHouse and `alerts.live`.
    Security,
    /// Spans priced; costs into ClickHouse; budgets watched.
    Cost,
}

impl WorkerKind {
    /// The stage of this worker.
    pub fn stages(self) -> Stages {
        let mut stages = Stages::NONE;
        match self {
            WorkerKind::Writer => stages.writer = true,
            WorkerKind::Security => stages.security = true,
            WorkerKind::Cost => stages.cost = true,
        }
        stages
    }

    /// The role's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            WorkerKind::Writer => "worker writer",
            WorkerKind::Security => "worker security",
            WorkerKind::Cost => "worker cost",
        }
    }
}

/// The collector role's stages.
pub fn collector_stages() -> Stages {
    Stages {
        collector: true,
        ..Stages::NONE
    }
}

/// The API role's stages.
pub fn api_stages() -> Stages {
    Stages {
        api: true,
        ..Stages::NONE
    }
}

/// Where ClickHouse is and who to be there: part of every role's options, and of
/// `agentstack keys`.
#[derive(Debug, Clone, clap::Args)]
pub struct ClickHouseArgs {
    /// Distributed mode: the ClickHouse that stores spans, over HTTP (`http://HOST:8123`)
    #[arg(
        id = "clickhouse_url",
        long = "clickhouse-url",
        value_name = "URL",
        env = "AGENTSTACK_CLICKHOUSE_URL"
    )]
    pub url: Option<String>,

    /// Distributed mode: the ClickHouse database (created by `agentstack migrate`)
    #[arg(
        id = "clickhouse_database",
        long = "clickhouse-database",
        value_name = "NAME",
        env = "AGENTSTACK_CLICKHOUSE_DATABASE",
        default_value = "agentstack"
    )]
    pub database: String,

    /// Distributed mode: the ClickHouse user (the `default` user otherwise)
    #[arg(
        id = "clickhouse_user",
        long = "clickhouse-user",
        value_name = "USER",
        env = "AGENTSTACK_CLICKHOUSE_USER"
    )]
    pub user: Option<String>,

    /// Distributed mode: the ClickHouse user's password
    #[arg(
        id = "clickhouse_password",
        long = "clickhouse-password",
        value_name = "PASSWORD",
        env = "AGENTSTACK_CLICKHOUSE_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
}

impl ClickHouseArgs {
    /// The store at `url`; migrated when `migrate`, else checked to be migrated.
    pub async fn connect(&self, url: &str, migrate: bool) -> anyhow::Result<ClickHouseStore> {
        let mut store = ClickHouseStore::connect_unmigrated(url, &self.database)?;
        if let Some(user) = &self.user {
            store = store.with_credentials(user, self.password.as_deref().unwrap_or(""));
        }
        if migrate {
            store.migrate().await?;
        } else {
            store.check_schema().await?;
        }
        Ok(store)
    }
}

/// The Redis and ClickHouse URLs of `args`, or what to set.
fn urls(args: &ServeArgs) -> anyhow::Result<(&str, &str)> {
    match (args.redis_url.as_deref(), args.clickhouse.url.as_deref()) {
        (Some(redis), Some(clickhouse)) => Ok((redis, clickhouse)),
        (None, _) => bail!(
            "the distributed mode needs Redis: set AGENTSTACK_REDIS_URL (or --redis-url), e.g. \
             redis://127.0.0.1:6379/"
        ),
        (_, None) => bail!(
            "the distributed mode needs ClickHouse: set AGENTSTACK_CLICKHOUSE_URL (or \
             --clickhouse-url), e.g. http://127.0.0.1:8123"
        ),
    }
}

/// The ClickHouse store of `args`; migrated when `migrate`, else checked to be migrated.
pub async fn clickhouse(args: &ServeArgs, migrate: bool) -> anyhow::Result<ClickHouseStore> {
    let (_, url) = urls(args)?;
    args.clickhouse.connect(url, migrate).await
}

/// `agentstack migrate`: applies the ClickHouse schema; prints the version reached.
pub async fn migrate(args: &ServeArgs) -> anyhow::Result<()> {
    let store = clickhouse(args, true).await?;
    let version = store.check_schema().await?;
    println!(
        "agentstack migrate: database {} at {} is at schema version {version}",
        store.database(),
        store.url()
    );
    Ok(())
}

/// Runs `stages` on Redis and ClickHouse until `shutdown` completes.
pub async fn run_distributed(
    mut stages: Stages,
    args: &ServeArgs,
    name: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (redis_url, _) = urls(args)?;
    if args.no_security {
        stages.security = false;
    }
    // Every role migrates (it is safe when several do at once), so that they may start in any
    // order: the collector and the API read the API keys there too.
    let store = clickhouse(args, true)
        .await
        .context("cannot use ClickHouse")?;
    let mut config = RedisBusConfig::new(redis_url);
    config.max_len = args.stream_max_len;
    config.claim_idle = Duration::from_millis(args.claim_idle_ms);
    config.max_deliveries = args.max_deliveries;
    let bus = RedisBus::connect(config, &stages.groups()).await?;
    let retention = match (stages.writer, args.clickhouse_retention_days) {
        (true, days) if days > 0 => Retention::ClickHouse {
            store: Box::new(store.clone()),
            hot_days: args.hot_days,
            days,
        },
        _ => Retention::Off,
    };
    let mut listeners = Vec::new();
    if stages.collector {
        listeners.push(args.otlp_http);
        if !args.no_otlp_grpc {
            listeners.push(args.otlp_grpc);
        }
    }
    if stages.api {
        listeners.push(args.api);
    }
    let store: Arc<dyn Store> = Arc::new(store);
    let backend = Backend {
        bus: Arc::new(bus.clone()),
        store: Arc::clone(&store),
        api_store: Arc::clone(&store),
        key_store: store,
        retention,
        redis: Some(bus),
        loopback_only: listeners.iter().all(|addr| addr.ip().is_loopback()),
        batching: Batching::distributed(
            args.write_batch_rows,
            Duration::from_millis(args.write_batch_ms),
        ),
    };
    pipeline::run(stages, backend, args, name, shutdown).await
}
