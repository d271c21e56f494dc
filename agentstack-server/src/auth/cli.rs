//! `agentstack keys create|list|revoke`: the API keys in a server's store, managed from the
//! shell — the SQLite file of `agentstack serve`, or given `--clickhouse-url` (env
//! `AGENTSTACK_CLICKHOUSE_URL`) the ClickHouse of the distributed mode. A running `serve` sees
//! the change at its next request; the distributed roles within their key cache's 5 s.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use agentstack_exporter_sqlite::{ApiKeyRecord, SqliteSpanStore};
use anyhow::Context;

use super::KeyRing;
use crate::roles::ClickHouseArgs;
use crate::serve::DEFAULT_DB_PATH;
use crate::store::{SqliteStore, Store};

/// `agentstack keys`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// What to do with the keys.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum KeysCommand {
    /// Create a key for a project; it is printed once and never shown again
    Create {
        /// The project the key writes to and reads from
        #[arg(long, value_name = "NAME")]
        project: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// List the keys: prefix, project, created, revoked (never the keys themselves)
    List {
        #[command(flatten)]
        db: DbArg,
    },
    /// Revoke a key by its prefix (`ask_1a2b3c4d`, as `list` shows it); it stops working at once
    Revoke {
        /// The key's prefix (or the whole key)
        prefix: String,
        #[command(flatten)]
        db: DbArg,
    },
}

/// The store of the server: its SQLite file, or its ClickHouse.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArg {
    /// The server's SQLite store (as `agentstack serve --db`)
    #[arg(long, value_name = "PATH", env = "AGENTSTACK_DB", default_value = DEFAULT_DB_PATH)]
    pub db: PathBuf,

    /// Given --clickhouse-url, the keys are the distributed mode's, in ClickHouse
    #[command(flatten)]
    pub clickhouse: ClickHouseArgs,
}

impl DbArg {
    /// The store these options name, and how to name it in messages.
    async fn open(&self) -> anyhow::Result<(Arc<dyn Store>, String)> {
        match &self.clickhouse.url {
            Some(url) => {
                // Migrated like every role does, so keys can be made before any role started.
                let store = self.clickhouse.connect(url, true).await?;
                let name = format!("ClickHouse {url} (database {})", store.database());
                Ok((Arc::new(store), name))
            }
            None => {
                let db = self.db.clone();
                let store = tokio::task::spawn_blocking(move || SqliteSpanStore::open(&db))
                    .await?
                    .with_context(|| {
                        format!("cannot open the server's store {}", self.db.display())
                    })?;
                Ok((
                    Arc::new(SqliteStore::new(store)),
                    self.db.display().to_string(),
                ))
            }
        }
    }
}

/// Runs `agentstack keys …`, writing to `out`.
pub fn run(args: &KeysArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let db = match &args.command {
        KeysCommand::Create { db, .. }
        | KeysCommand::List { db }
        | KeysCommand::Revoke { db, .. } => db,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the key store's runtime")?;
    let (store, store_name) = runtime.block_on(db.open())?;
    let ring = KeyRing::new(store, false);
    match &args.command {
        KeysCommand::Create { project, .. } => {
            let created = runtime.block_on(ring.create(project))?;
            writeln!(out, "{}", created.secret)?;
            writeln!(
                out,
                "created API key {} for project `{project}` in {}; copy it now: it is stored \
                 hashed and will not be shown again",
                created.record.prefix, store_name
            )?;
        }
        KeysCommand::List { .. } => {
            let keys = runtime.block_on(ring.list())?;
            if keys.is_empty() {
                writeln!(
                    out,
                    "no API keys in {store_name}; create one with `agentstack keys create \
                     --project NAME`"
                )?;
            } else {
                writeln!(
                    out,
                    "{:<14} {:<20} {:<26} REVOKED",
                    "PREFIX", "PROJECT", "CREATED"
                )?;
                for key in keys {
                    writeln!(
                        out,
                        "{:<14} {:<20} {:<26} {}",
                        key.prefix,
                        key.project,
                        time(key.created_unix_nanos),
                        key.revoked_unix_nanos.map_or_else(|| "-".to_string(), time)
                    )?;
                }
            }
        }
        KeysCommand::Revoke { prefix, .. } => {
            let key: ApiKeyRecord = runtime.block_on(ring.revoke(prefix))?;
            writeln!(
                out,
                "revoked API key {} of project `{}` (at {})",
                key.prefix,
                key.project,
                key.revoked_unix_nanos.map_or_else(String::new, time)
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

/// RFC 3339 in UTC, to the second.
pub fn time(unix_nanos: i64) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(unix_nanos))
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| unix_nanos.to_string())
}
