//! Why the ClickHouse store could not do what was asked, with what to do next: an unreachable
//! server, a failed statement, a schema newer than this build, or a malformed span or trace id.

/// Why [`ClickHouseStore`](crate::ClickHouseStore) could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClickHouseStoreError {
    /// No HTTP answer from the server at all.
    #[error(
        "ClickHouse at {url} is unreachable while {action}: {source}; is clickhouse-server \
         running and listening for HTTP there (default port 8123)? Check AGENTSTACK_CLICKHOUSE_URL"
    )]
    Unreachable {
        /// The server's URL.
        url: String,
        /// What the store was doing.
        action: &'static str,
        /// The client's error.
        #[source]
        source: clickhouse::error::Error,
    },
    /// The server answered with an error, or with rows the store could not read.
    #[error(
        "ClickHouse at {url} (database {database:?}) failed while {action}: {source}; if a table \
         is missing, run `agentstack migrate` (or start a writer, which migrates)"
    )]
    Query {
        /// The server's URL.
        url: String,
        /// The database.
        database: String,
        /// What the store was doing.
        action: &'static str,
        /// The client's error.
        #[source]
        source: clickhouse::error::Error,
    },
    /// The database was migrated by a newer AgentStack whose schema this build does not know.
    #[error(
        "database {database:?} was migrated by a newer AgentStack (schema version {found}; this \
         build knows versions up to {supported}); upgrade agentstack, or use another database"
    )]
    NewerSchema {
        /// The database.
        database: String,
        /// The highest version in its `schema_migrations`.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
    },
    /// The database name is not a plain identifier.
    #[error(
        "{database:?} is not a usable database name: use letters, digits and underscores, not \
         starting with a digit (e.g. agentstack)"
    )]
    InvalidDatabaseName {
        /// The name given.
        database: String,
    },
    /// The database lacks migration steps this build needs (a role that does not migrate).
    #[error(
        "database {database:?} has schema version {found}, this build needs {supported}; run \
         `agentstack migrate` (or start a writer, which migrates)"
    )]
    NotMigrated {
        /// The database.
        database: String,
        /// The highest version in its `schema_migrations` (0: none).
        found: u32,
        /// The version this build needs.
        supported: u32,
    },
    /// A stored row holds what no write of this store puts there.
    #[error(
        "a row of {table} cannot be read: {reason}; it was not written by this store, so find \
         what else writes to that table"
    )]
    CorruptRow {
        /// The table.
        table: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A span of the batch given to `insert_spans` is malformed; nothing of that batch was written.
    #[error(
        "span {index} of the batch (trace_id {trace_id:?}, span_id {span_id:?}) was refused: \
         {reason}; nothing of this batch was written, so fix or drop that span and write it again"
    )]
    InvalidSpan {
        /// Its position in the batch.
        index: usize,
        /// Its trace id, as given.
        trace_id: String,
        /// Its span id, as given.
        span_id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The trace id given is neither a trace id nor a prefix of one.
    #[error(
        "{given:?} is not a trace id: {reason}; give the 32 hex characters of a trace id, or at \
         least its first {min_prefix}",
        min_prefix = agentstack_exporter_sqlite::store::MIN_TRACE_ID_PREFIX
    )]
    InvalidTraceId {
        /// What was given.
        given: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The prefix given starts more than one trace id.
    #[error(
        "the trace id prefix {prefix:?} matches several traces ({}); give more of its characters",
        matches.join(", ")
    )]
    AmbiguousTraceId {
        /// The prefix given.
        prefix: String,
        /// Some of the trace ids it matches (at most 5).
        matches: Vec<String>,
    },
}
