//! The spool: where the SDK keeps the exact OTLP request bodies it could not deliver, oldest
//! first and capped in bytes, until the collector answers again. One file may be shared by
//! several processes: a batch being sent is leased, so no two senders ever hold it at once.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::sqlite_file::{self, BUSY_TIMEOUT, Schema, SetupError, now_unix_nanos};

/// The cap the SDK uses unless configured otherwise: 256 MiB of request bodies.
pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// `PRAGMA application_id` of a spool ("ASSP").
const APPLICATION_ID: i32 = 0x4153_5350;

/// The spool's migration steps, in order. Append only: a released step never changes.
const MIGRATIONS: &[&str] = &[
    // 1: the batches, oldest = smallest id, and running totals kept by triggers so that the cap
    // check never reads the bodies.
    "CREATE TABLE batches (
        -- AUTOINCREMENT: ids only grow, so id order is spool order and an id is never reused
        id                     INTEGER PRIMARY KEY AUTOINCREMENT,
        span_count             INTEGER NOT NULL,
        body_bytes             INTEGER NOT NULL,
        spooled_at_unix_nanos  INTEGER NOT NULL,
        attempts               INTEGER NOT NULL DEFAULT 0,
        -- the handle that holds the batch while it is sent, and until when
        lease_owner            TEXT,
        lease_until_unix_nanos INTEGER,
        -- last, so that reading the other columns never touches the body's pages
        body                   BLOB    NOT NULL
    ) STRICT;
    CREATE TABLE spool_totals (
        only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
        batches  INTEGER NOT NULL,
        spans    INTEGER NOT NULL,
        bytes    INTEGER NOT NULL
    ) STRICT;
    INSERT INTO spool_totals (only_row, batches, spans, bytes) VALUES (1, 0, 0, 0);
    CREATE TRIGGER batches_count_insert AFTER INSERT ON batches BEGIN
        UPDATE spool_totals
        SET batches = batches + 1, spans = spans + NEW.span_count, bytes = bytes + NEW.body_bytes
        WHERE only_row = 1;
    END;
    CREATE TRIGGER batches_count_delete AFTER DELETE ON batches BEGIN
        UPDATE spool_totals
        SET batches = batches - 1, spans = spans - OLD.span_count, bytes = bytes - OLD.body_bytes
        WHERE only_row = 1;
    END;",
];

const SCHEMA: Schema = Schema {
    application_id: APPLICATION_ID,
    migrations: MIGRATIONS,
};

/// Appends a batch (?1 span count, ?2 body, ?3 time) and returns its id.
const INSERT_BATCH: &str =
    "INSERT INTO batches (span_count, body_bytes, spooled_at_unix_nanos, body)
    VALUES (?1, length(?2), ?3, ?2)
    RETURNING id";

const SELECT_TOTALS: &str = "SELECT batches, spans, bytes FROM spool_totals WHERE only_row = 1";

/// Deletes the oldest batch other than ?1 and returns its span count.
const EVICT_OLDEST_OTHER: &str = "DELETE FROM batches
    WHERE id = (SELECT MIN(id) FROM batches WHERE id <> ?1)
    RETURNING span_count";

/// Leases the oldest batch that no live lease holds (?3 = now) to ?1 until ?2, and returns it.
/// An expired lease (its holder died or gave up mid-send) counts as no lease.
const CLAIM_OLDEST: &str = "UPDATE batches
    SET lease_owner = ?1, lease_until_unix_nanos = ?2, attempts = attempts + 1
    WHERE id = (
        SELECT id FROM batches
        WHERE lease_until_unix_nanos IS NULL OR lease_until_unix_nanos <= ?3
        ORDER BY id
        LIMIT 1
    )
    RETURNING id, body, span_count, spooled_at_unix_nanos, attempts";

/// Delivered: the batch leaves the spool, whoever holds it.
const DELETE_BATCH: &str = "DELETE FROM batches WHERE id = ?1";

/// Not delivered: clears the lease of batch ?1 if handle ?2 still holds it.
const RELEASE_BATCH: &str = "UPDATE batches
    SET lease_owner = NULL, lease_until_unix_nanos = NULL
    WHERE id = ?1 AND lease_owner = ?2";

/// Why the spool could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    /// The directory that should hold the spool file could not be created.
    #[error(
        "cannot create the directory {} for the spool file: {source}; create it, or choose a \
         writable location for the spool",
        dir.display()
    )]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// The file exists but is not a SQLite database (or is damaged beyond reading).
    #[error(
        "{file} is not a SQLite database, or it is damaged; move it aside (the batches in it are \
         lost) and a new spool will be created in its place"
    )]
    NotADatabase {
        /// The file.
        file: String,
    },
    /// The file is a SQLite database of another kind (the span store, another program's).
    #[error(
        "{file} is a SQLite database but not an AgentStack spool (application_id \
         {application_id:#x}); give the spool its own file, not the trace file or another \
         program's database"
    )]
    WrongFile {
        /// The file.
        file: String,
        /// The `PRAGMA application_id` found in it.
        application_id: i32,
    },
    /// The file was written by a newer AgentStack whose spool schema this build does not know.
    #[error(
        "{file} was written by a newer AgentStack (spool schema version {found}; this build knows \
         versions up to {supported}); upgrade agentstack, or give this process another spool file"
    )]
    NewerSchema {
        /// The file.
        file: String,
        /// Its `PRAGMA user_version`.
        found: i64,
        /// The newest version this build can read and write.
        supported: i64,
    },
    /// Another connection held a lock on the file for longer than the busy timeout.
    #[error(
        "{file} stayed locked by another connection for more than {} s while {action}; try \
         again, and look for a process that keeps a long transaction open on it",
        BUSY_TIMEOUT.as_secs()
    )]
    Busy {
        /// The file.
        file: String,
        /// What the spool was doing.
        action: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// Any other SQLite failure.
    #[error(
        "SQLite failed while {action} in {file}: {source}; if the file is damaged, move it aside \
         and a new spool will be created"
    )]
    Sqlite {
        /// The file.
        file: String,
        /// What the spool was doing.
        action: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
}

impl SpoolError {
    fn setup(file: String, error: SetupError) -> SpoolError {
        match error {
            SetupError::CreateDir { dir, source } => SpoolError::CreateDir { dir, source },
            SetupError::NotADatabase => SpoolError::NotADatabase { file },
            SetupError::WrongFile { application_id } => SpoolError::WrongFile {
                file,
                application_id,
            },
            SetupError::NewerSchema { found, supported } => SpoolError::NewerSchema {
                file,
                found,
                supported,
            },
            SetupError::Busy(source) => SpoolError::Busy {
                file,
                action: "opening the spool",
                source,
            },
            SetupError::Sqlite(source) => SpoolError::Sqlite {
                file,
                action: "opening the spool",
                source,
            },
        }
    }
}

/// A batch taken from the spool by [`SqliteSpool::claim_oldest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpooledBatch {
    /// Its place in the spool: smaller is older. Pass it to [`SqliteSpool::ack`] or
    /// [`SqliteSpool::release`].
    pub id: i64,
    /// The exact OTLP request body, as pushed.
    pub body: Vec<u8>,
    /// How many spans the body holds, as pushed.
    pub span_count: u64,
    /// When it was pushed (nanoseconds since the Unix epoch).
    pub spooled_at_unix_nanos: i64,
    /// How many times it has been claimed, this claim included.
    pub attempts: u32,
}

/// What [`SqliteSpool::push`] dropped to stay under the cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvictedBatches {
    /// How many batches.
    pub batches: u64,
    /// How many spans they held.
    pub spans: u64,
}

/// What the spool holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolStats {
    /// Batches waiting (leased ones included).
    pub batches: u64,
    /// Spans in them.
    pub spans: u64,
    /// Bytes of their bodies (the file itself is somewhat larger).
    pub bytes: u64,
}

/// Tells handles apart in lease owners, also within one process.
static NEXT_HANDLE: AtomicU64 = AtomicU64::new(0);

/// The spool on one SQLite file. `Send + Sync`; several handles, in one process or many, may
/// share the file.
///
/// Leases: [`claim_oldest`](SqliteSpool::claim_oldest) marks the batch as held by this handle
/// until now + lease, in a `BEGIN IMMEDIATE` transaction, so two handles never hold the same
/// batch at once. [`ack`](SqliteSpool::ack) deletes it; [`release`](SqliteSpool::release) clears
/// the lease (only if this handle still holds it) and the batch keeps its place. A lease that
/// runs out (its holder died mid-send) makes the batch claimable again: choose a lease longer
/// than a send can take, or a slow sender and a second one may both deliver it (the collector
/// drops the duplicate spans). Lease times are wall-clock times, shared by all processes.
pub struct SqliteSpool {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// The file's name in error messages.
    label: String,
    max_bytes: u64,
    /// This handle's name in `lease_owner`: process id, handle number, opening time.
    owner: String,
}

impl std::fmt::Debug for SqliteSpool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteSpool")
            .field("file", &self.label)
            .field("max_bytes", &self.max_bytes)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl SqliteSpool {
    /// Opens the spool at `path` (creating it and its parent directories if needed) with a cap
    /// of `max_bytes` bytes of bodies ([`DEFAULT_MAX_BYTES`] is the SDK's default).
    pub fn open(path: impl AsRef<Path>, max_bytes: u64) -> Result<SqliteSpool, SpoolError> {
        let path = path.as_ref();
        let label = path.display().to_string();
        let conn = sqlite_file::open_file(path, &SCHEMA)
            .map_err(|error| SpoolError::setup(label.clone(), error))?;
        conn.set_prepared_statement_cache_capacity(16);
        let owner = format!(
            "{}-{}-{}",
            std::process::id(),
            NEXT_HANDLE.fetch_add(1, Ordering::Relaxed),
            now_unix_nanos()
        );
        Ok(SqliteSpool {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            label,
            max_bytes,
            owner,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cap on the bytes of bodies.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Stores a batch at the end of the spool, then, while the bodies add up to more than the
    /// cap, deletes the oldest batches, never the one just pushed. A body larger than the whole
    /// cap is not stored at all and is reported as the one evicted batch. Returns what was
    /// evicted.
    pub fn push(&self, body: &[u8], span_count: u64) -> Result<EvictedBatches, SpoolError> {
        if body.len() as u64 > self.max_bytes {
            return Ok(EvictedBatches {
                batches: 1,
                spans: span_count,
            });
        }
        let span_count = i64::try_from(span_count).unwrap_or(i64::MAX);
        let max_bytes = i64::try_from(self.max_bytes).unwrap_or(i64::MAX);
        self.with_conn("storing a batch", |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut evicted = EvictedBatches::default();
            {
                let id: i64 = tx.prepare_cached(INSERT_BATCH)?.query_row(
                    rusqlite::params![span_count, body, now_unix_nanos()],
                    |row| row.get(0),
                )?;
                let mut totals = tx.prepare_cached(SELECT_TOTALS)?;
                let mut evict = tx.prepare_cached(EVICT_OLDEST_OTHER)?;
                while totals.query_row([], |row| row.get::<_, i64>(2))? > max_bytes {
                    let Some(spans) = evict
                        .query_row([id], |row| row.get::<_, i64>(0))
                        .optional()?
                    else {
                        break; // only the new batch is left, and it fits
                    };
                    evicted.batches += 1;
                    evicted.spans += u64::try_from(spans).unwrap_or(0);
                }
            }
            tx.commit()?;
            Ok(evicted)
        })
    }

    /// Takes the oldest batch that no live lease holds, leases it to this handle until now +
    /// `lease` and counts the attempt; `None` if every batch is held or the spool is empty.
    pub fn claim_oldest(&self, lease: Duration) -> Result<Option<SpooledBatch>, SpoolError> {
        let lease = i64::try_from(lease.as_nanos()).unwrap_or(i64::MAX);
        self.with_conn("claiming a batch", |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = now_unix_nanos();
            let batch = tx
                .prepare_cached(CLAIM_OLDEST)?
                .query_row(
                    rusqlite::params![self.owner, now.saturating_add(lease), now],
                    |row| {
                        Ok(SpooledBatch {
                            id: row.get(0)?,
                            body: row.get(1)?,
                            span_count: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                            spooled_at_unix_nanos: row.get(3)?,
                            attempts: u32::try_from(row.get::<_, i64>(4)?).unwrap_or(u32::MAX),
                        })
                    },
                )
                .optional()?;
            tx.commit()?;
            Ok(batch)
        })
    }

    /// The batch was delivered: deletes it (whoever holds it; a no-op if it is already gone).
    pub fn ack(&self, id: i64) -> Result<(), SpoolError> {
        self.with_conn("deleting a delivered batch", |conn| {
            conn.prepare_cached(DELETE_BATCH)?.execute([id])?;
            Ok(())
        })
    }

    /// The batch was not delivered: clears this handle's lease so that it can be claimed again,
    /// at its old place. A no-op if the lease ran out and another handle claimed the batch since.
    pub fn release(&self, id: i64) -> Result<(), SpoolError> {
        self.with_conn("releasing a batch", |conn| {
            conn.prepare_cached(RELEASE_BATCH)?
                .execute(rusqlite::params![id, self.owner])?;
            Ok(())
        })
    }

    /// What the spool holds, read from totals kept up to date on every insert and delete.
    pub fn stats(&self) -> Result<SpoolStats, SpoolError> {
        self.with_conn("reading the spool's totals", |conn| {
            conn.prepare_cached(SELECT_TOTALS)?.query_row([], |row| {
                let count = |i| row.get::<_, i64>(i).map(|n| u64::try_from(n).unwrap_or(0));
                Ok(SpoolStats {
                    batches: count(0)?,
                    spans: count(1)?,
                    bytes: count(2)?,
                })
            })
        })
    }

    /// Runs `work` on the connection and names the file and the action in its error.
    fn with_conn<T>(
        &self,
        action: &'static str,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, SpoolError> {
        // A panic while the lock was held leaves no transaction open (a dropped Transaction
        // rolls back), so the connection is still good.
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        work(&mut conn).map_err(|source| {
            let file = self.label.clone();
            if sqlite_file::is_busy(&source) {
                SpoolError::Busy {
                    file,
                    action,
                    source,
                }
            } else {
                SpoolError::Sqlite {
                    file,
                    action,
                    source,
                }
            }
        })
    }
}
