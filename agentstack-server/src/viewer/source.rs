//! Where the viewer reads traces: the SQLite trace file (local mode, or the file of
//! `agentstack serve`) or the REST API of a running `agentstack serve` (`--server URL`). Both
//! answer in the store's types, so every command renders the same way whatever the source.

use std::path::{Path, PathBuf};

use agentstack_exporter_sqlite::{SpanRecord, SqliteSpanStore, TraceFilter, TraceSummary};
use anyhow::Result;

/// What the viewer's commands read.
pub trait TraceSource {
    /// The most recent traces that pass `filter`, newest first.
    fn recent_traces(&self, filter: &TraceFilter) -> Result<Vec<TraceSummary>>;

    /// Whether the source holds any trace at all (to tell "empty" from "nothing matches").
    fn has_traces(&self) -> Result<bool>;

    /// Every span of the trace whose id is `trace_id` or starts with it, ordered by start time
    /// then span id; empty when there is no such trace (a source may say so as an error).
    fn trace(&self, trace_id: &str) -> Result<Vec<SpanRecord>>;

    /// For `tail`: the traces that changed recently (since `since_unix_nanos`), oldest first.
    fn traces_updated_since(&self, since_unix_nanos: i64) -> Result<Vec<TraceSummary>>;

    /// The source in words, for messages: the file's path, or the server's URL.
    fn describe(&self) -> String;
}

/// The trace file, read directly.
pub struct FileSource {
    store: SqliteSpanStore,
    path: PathBuf,
}

impl FileSource {
    pub fn open(path: &Path) -> Result<FileSource> {
        Ok(FileSource {
            store: SqliteSpanStore::open(path)?,
            path: path.to_path_buf(),
        })
    }
}

impl TraceSource for FileSource {
    fn recent_traces(&self, filter: &TraceFilter) -> Result<Vec<TraceSummary>> {
        Ok(self.store.recent_traces(filter)?)
    }

    fn has_traces(&self) -> Result<bool> {
        Ok(self.store.span_count()? > 0)
    }

    fn trace(&self, trace_id: &str) -> Result<Vec<SpanRecord>> {
        Ok(self.store.trace(trace_id)?)
    }

    fn traces_updated_since(&self, since_unix_nanos: i64) -> Result<Vec<TraceSummary>> {
        Ok(self.store.traces_updated_since(since_unix_nanos)?)
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}
