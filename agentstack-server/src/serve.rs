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

use crate::api::{self, API_PREFIX};
use crate::auth::KeyRing;
use crate::bus::{InProcessBus, SpanBus, WRITER_GROUP};
use crate::collector::{self, CollectorConfig, TRACES_PATH};
use crate::workers::writer;

/// Where the server's span store is by default, relative to the working directory.
pub const DEFAULT_DB_PATH: &str = "./.agentstack/server.db";
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
}

/// Runs the server until `shutdown` completes, then drains the bus into the store.
pub async fn run(
    args: &ServeArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let loopback_only = args.otlp_http.ip().is_loopback() && args.api.ip().is_loopback();
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
        for (flag, addr, what) in [
            ("--otlp-http", args.otlp_http, "spans may only come from"),
            ("--api", args.api, "the API may only answer"),
        ] {
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
    let db = args.db.clone();
    let store = tokio::task::spawn_blocking(move || SqliteSpanStore::open(&db))
        .await
        .context("opening the span store")?
        .with_context(|| format!("cannot open the span store {}", args.db.display()))?;
    let store = Arc::new(store);
    // The API reads through a connection of its own: WAL lets it read while the writer writes.
    let db = args.db.clone();
    let api_store = tokio::task::spawn_blocking(move || SqliteSpanStore::open(&db))
        .await
        .context("opening the span store for the API")?
        .with_context(|| {
            format!(
                "cannot open the span store {} for the API",
                args.db.display()
            )
        })?;
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

    // The keys are checked through a connection of their own, so no request waits for a write.
    let db = args.db.clone();
    let key_store = tokio::task::spawn_blocking(move || SqliteSpanStore::open(&db))
        .await
        .context("opening the span store for the API keys")?
        .with_context(|| format!("cannot open {} for the API keys", args.db.display()))?;
    let keys = Arc::new(KeyRing::new(Arc::new(key_store), loopback_only));
    let key_projects = {
        let keys = Arc::clone(&keys);
        tokio::task::spawn_blocking(move || keys.list())
            .await
            .context("listing the API keys")??
    };
    let bus = Arc::new(InProcessBus::new(args.bus_capacity, &[WRITER_GROUP]));
    let subscription = bus.subscribe(WRITER_GROUP)?;
    let writer = tokio::spawn(writer::run(subscription, Arc::clone(&store)));
    let router = collector::router_with_keys(
        Arc::clone(&bus),
        CollectorConfig {
            max_body_bytes: args.max_body_bytes,
            max_decompressed_bytes: args.max_decompressed_bytes,
            project: DEFAULT_PROJECT.to_string(),
        },
        Arc::clone(&keys),
    );

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
        writeln!(
            out,
            "agentstack serve: API listening on http://{api_local}{API_PREFIX}"
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
    let api = axum::serve(
        api_listener,
        api::router_with_keys(Arc::new(api_store), keys, args.admin_token.clone()),
    )
    .with_graceful_shutdown(until_stopped(stopped))
    .into_future();
    let (served, api_served) = tokio::join!(collector, api);
    // Whatever ended the server, nothing accepted may be lost: close and drain.
    bus.close();
    let stats = writer.await.context("the writer worker failed")?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "agentstack serve: stopped; the writer stored {} new spans from {} requests ({} \
         repeats, {} failed)",
        stats.written, stats.batches, stats.duplicates, stats.failed
    )?;
    out.flush()?;
    served.context("the OTLP/HTTP collector failed")?;
    api_served.context("the API failed")?;
    Ok(())
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
