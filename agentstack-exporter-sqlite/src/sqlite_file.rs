//! Opening an AgentStack SQLite file, shared by the span store and the spool: the connection
//! settings that let several processes use one file at once (WAL, a busy timeout) and the
//! `PRAGMA user_version` migration runner.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use std::{fs, io};

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

/// How long a statement waits for another connection's lock before failing with "busy".
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The page size of a file this build creates (SQLite's default is 4,096). A span row with its
/// attributes is 2–3 KB, so 4 KiB pages held one row each and every insert split pages in five
/// b-trees; with 8 KiB pages sustained ingest into `agentstack serve` went from about 16,000 to
/// about 19,500 spans/s (`cargo bench -p agentstack-server --bench ingest`). A file keeps the
/// page size it was created with.
pub(crate) const PAGE_SIZE_BYTES: u32 = 8_192;

/// What a kind of AgentStack file looks like on disk.
pub(crate) struct Schema {
    /// Written to `PRAGMA application_id`, so that a span store is never opened as a spool or
    /// the other way round.
    pub(crate) application_id: i32,
    /// Migration steps, applied in order; after step `i` (0-based) `user_version` is `i + 1`.
    /// Steps are only ever appended: a released step never changes.
    pub(crate) migrations: &'static [&'static str],
}

impl Schema {
    /// The schema version this build writes: the number of migration steps.
    pub(crate) fn latest_version(&self) -> i64 {
        self.migrations.len() as i64
    }
}

/// Why a file could not be opened; each module turns it into its own error type.
#[derive(Debug)]
pub(crate) enum SetupError {
    CreateDir { dir: PathBuf, source: io::Error },
    NotADatabase,
    WrongFile { application_id: i32 },
    NewerSchema { found: i64, supported: i64 },
    Busy(rusqlite::Error),
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for SetupError {
    fn from(error: rusqlite::Error) -> SetupError {
        match error.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => SetupError::NotADatabase,
            _ if is_busy(&error) => SetupError::Busy(error),
            _ => SetupError::Sqlite(error),
        }
    }
}

/// Whether SQLite gave up waiting for another connection's lock.
pub(crate) fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Opens (creating it and its parent directories if needed) the file at `path` in WAL mode and
/// brings its schema up to date.
pub(crate) fn open_file(path: &Path, schema: &Schema) -> Result<Connection, SetupError> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|source| SetupError::CreateDir {
            dir: dir.to_path_buf(),
            source,
        })?;
    }
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Only takes effect while the file is still empty (before the WAL switch below writes it).
    conn.pragma_update(None, "page_size", PAGE_SIZE_BYTES)?;
    retry_while_busy(|| {
        // WAL lets readers and one writer work at once; the mode is stored in the file. Where
        // WAL is impossible (some network file systems) SQLite keeps its rollback journal, which
        // is slower under contention but still correct, so the answer is not checked.
        let _mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        // In WAL mode NORMAL never corrupts the file; a power cut may lose the last commits.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        migrate(&mut conn, schema)
    })?;
    Ok(conn)
}

/// Runs `setup` again while it fails with "busy", for up to [`BUSY_TIMEOUT`].
///
/// While a fresh file is still in rollback-journal mode, a connection that switches it to WAL
/// needs an exclusive lock, and SQLite answers "busy" at once, without waiting, when another
/// connection opening the same file holds a shared lock (waiting could deadlock). Such a failure
/// leaves nothing behind (an open transaction rolls back when dropped), so trying again shortly
/// after is safe. A fixed short pause is enough here; no backoff crate is needed for it.
fn retry_while_busy(mut setup: impl FnMut() -> Result<(), SetupError>) -> Result<(), SetupError> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match setup() {
            Err(SetupError::Busy(_)) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            outcome => return outcome,
        }
    }
}

/// Opens a private in-memory database with the schema applied (tests, and callers that want
/// the store's queries without a file).
pub(crate) fn open_in_memory(schema: &Schema) -> Result<Connection, SetupError> {
    let mut conn = Connection::open_in_memory()?;
    migrate(&mut conn, schema)?;
    Ok(conn)
}

/// Applies the migration steps the file has not seen yet, all in one transaction.
///
/// The version is read again inside a `BEGIN IMMEDIATE` transaction, so two processes opening a
/// fresh file at once run each step exactly once: the second waits for the first and then finds
/// nothing left to do.
fn migrate(conn: &mut Connection, schema: &Schema) -> Result<(), SetupError> {
    let version = check_header(conn, schema)?;
    if version == schema.latest_version() {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version = check_header(&tx, schema)?;
    let done = usize::try_from(version).unwrap_or(usize::MAX);
    for (step, sql) in schema.migrations.iter().enumerate().skip(done) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", step as i64 + 1)?;
    }
    tx.pragma_update(None, "application_id", schema.application_id)?;
    tx.commit()?;
    Ok(())
}

/// Reads `user_version` and `application_id`; refuses files that are not ours or are newer.
fn check_header(conn: &Connection, schema: &Schema) -> Result<i64, SetupError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let application_id: i32 = conn.pragma_query_value(None, "application_id", |row| row.get(0))?;
    // A fresh file has neither an id nor a version; our first migration sets both, so a version
    // without our id means another program's database.
    let fresh = application_id == 0 && version == 0;
    if !(fresh || application_id == schema.application_id) || version < 0 {
        return Err(SetupError::WrongFile { application_id });
    }
    if version > schema.latest_version() {
        return Err(SetupError::NewerSchema {
            found: version,
            supported: schema.latest_version(),
        });
    }
    Ok(version)
}

/// The current time as nanoseconds since the Unix epoch (0 if the clock is before 1970).
pub(crate) fn now_unix_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
        })
}
