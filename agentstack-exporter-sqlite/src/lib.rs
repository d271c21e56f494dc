//! AgentStack's SQLite files, one job each:
//!
//! - [`store`]: the span store, the queryable trace file of the embedded stages. The SDK writes
//!   it in local mode, the terminal viewer reads it, the server's SQLite store uses its schema.
//! - [`spool`]: the SDK's spool of OTLP request bodies it could not deliver, replayed oldest
//!   first once the collector answers again.
//!
//! Both are WAL-mode files with a busy timeout, so several processes can use one file at once,
//! and both carry a schema version (`PRAGMA user_version`) migrated on open.

pub mod spool;
mod sqlite_file;
pub mod store;

pub use spool::{EvictedBatches, SpoolError, SpoolStats, SpooledBatch, SqliteSpool};
pub use store::{
    ApiKeyRecord, DEFAULT_PROJECT, SpanRecord, SpanStatus, SqliteSpanStore, StorableSpan,
    StoreError, TraceFilter, TraceSummary, WalCheckpoint,
};
