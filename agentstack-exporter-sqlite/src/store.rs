//! The span store: the queryable SQLite trace file of the embedded stages. The SDK writes it in
//! local mode (`./.agentstack/traces.db`), the terminal viewer reads it, and the server's SQLite
//! store keeps its spans in the same schema; trace summaries are computed from the spans by query.

/// Retention's one choice of traces, shared by every table it deletes from: `$columns` of the
/// spans (alias `old`) of the traces whose spans all ended before ?1.
macro_rules! traces_ended_before {
    ($columns:literal) => {
        concat!(
            "SELECT ",
            $columns,
            " FROM spans AS old
            WHERE old.end_unix_nanos < ?1
              AND NOT EXISTS (
                  SELECT 1 FROM spans AS live
                  WHERE live.trace_id = old.trace_id AND live.end_unix_nanos >= ?1
              )"
        )
    };
}

mod alerts;
mod costs;
mod sessions;

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

pub use alerts::{AlertPage, AlertQuery, AlertRecord, AlertSeverity, TraceAlerts};
pub use costs::{
    CostGroup, CostGroupBy, CostQuery, CostReport, CostTotals, SpanCostRecord, TraceCost,
};
pub use sessions::{SessionCursor, SessionPage, SessionQuery, SessionSummary};

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior};

use crate::sqlite_file::{self, BUSY_TIMEOUT, Schema, SetupError};

mod links;

pub use links::{Conversation, MAX_CONVERSATION_TRACES};

/// Where the SDK writes its trace file in local mode, relative to the working directory.
pub const DEFAULT_LOCAL_PATH: &str = "./.agentstack/traces.db";
/// How many traces [`SqliteSpanStore::recent_traces`] returns when [`TraceFilter::limit`] is 0.
pub const DEFAULT_TRACE_LIMIT: usize = 50;
/// The most traces [`SqliteSpanStore::recent_traces`] returns, whatever the limit asked.
pub const MAX_TRACE_LIMIT: usize = 1000;
/// The shortest trace id prefix [`SqliteSpanStore::trace`] accepts.
pub const MIN_TRACE_ID_PREFIX: usize = 8;

/// `PRAGMA application_id` of a span store ("ASTS").
const APPLICATION_ID: i32 = 0x4153_5453;

/// The project of spans written without one: local mode, and every span written before
/// projects existed (migration step 2 puts them here).
pub const DEFAULT_PROJECT: &str = "default";

/// The span store's migration steps, in order. Append only: a released step never changes.
///
/// Identity (since step 2): `PRIMARY KEY (trace_id, span_id, project)` — a span is
/// (project, trace_id, span_id); the key starts with the trace id so that reading a trace, in
/// one project or in all, is one index range. Spans are written with `INSERT OR IGNORE`, so the
/// first write of a span wins and a repeat is a no-op.
const MIGRATIONS: &[&str] = &[
    // 1: the spans table and the indexes of "recent traces", "one trace" and retention.
    "CREATE TABLE spans (
        trace_id                    TEXT    NOT NULL,
        span_id                     TEXT    NOT NULL,
        parent_span_id              TEXT,
        name                        TEXT    NOT NULL,
        kind                        TEXT,
        service_name                TEXT,
        start_unix_nanos            INTEGER NOT NULL,
        end_unix_nanos              INTEGER NOT NULL,
        status                      INTEGER NOT NULL CHECK (status IN (0, 1, 2)),
        status_message              TEXT,
        provider                    TEXT,
        model                       TEXT,
        input_tokens                INTEGER,
        output_tokens               INTEGER,
        cache_read_input_tokens     INTEGER,
        cache_creation_input_tokens INTEGER,
        reasoning_output_tokens     INTEGER,
        session_id                  TEXT,
        user_id                     TEXT,
        input                       TEXT,
        output                      TEXT,
        attributes                  TEXT    NOT NULL,
        events                      TEXT    NOT NULL,
        PRIMARY KEY (trace_id, span_id)
    ) STRICT;
    -- newest spans first, covering (start, trace_id): the scan behind recent_traces
    CREATE INDEX spans_by_start ON spans (start_unix_nanos, trace_id);
    -- spans by end time: traces_updated_since (tail) and delete_older_than (retention)
    CREATE INDEX spans_by_end ON spans (end_unix_nanos, trace_id);
    -- the traces of one session, newest first
    CREATE INDEX spans_by_session ON spans (session_id, start_unix_nanos, trace_id)
        WHERE session_id IS NOT NULL;",
    // 2: projects (part of the span's identity), links and the resource. SQLite cannot change a
    // primary key, so the table is rebuilt: create, copy (into project 'default'), drop, rename,
    // and the indexes are made again (with the project, so project-filtered scans stay covering).
    "CREATE TABLE spans_v2 (
        trace_id                    TEXT    NOT NULL,
        span_id                     TEXT    NOT NULL,
        parent_span_id              TEXT,
        name                        TEXT    NOT NULL,
        kind                        TEXT,
        service_name                TEXT,
        start_unix_nanos            INTEGER NOT NULL,
        end_unix_nanos              INTEGER NOT NULL,
        status                      INTEGER NOT NULL CHECK (status IN (0, 1, 2)),
        status_message              TEXT,
        provider                    TEXT,
        model                       TEXT,
        input_tokens                INTEGER,
        output_tokens               INTEGER,
        cache_read_input_tokens     INTEGER,
        cache_creation_input_tokens INTEGER,
        reasoning_output_tokens     INTEGER,
        session_id                  TEXT,
        user_id                     TEXT,
        input                       TEXT,
        output                      TEXT,
        attributes                  TEXT    NOT NULL,
        events                      TEXT    NOT NULL,
        project                     TEXT    NOT NULL DEFAULT 'default',
        links                       TEXT    NOT NULL DEFAULT '[]',
        resource                    TEXT    NOT NULL DEFAULT '{}',
        PRIMARY KEY (trace_id, span_id, project)
    ) STRICT;
    INSERT INTO spans_v2 (
        trace_id, span_id, parent_span_id, name, kind, service_name,
        start_unix_nanos, end_unix_nanos, status, status_message, provider, model,
        input_tokens, output_tokens, cache_read_input_tokens, cache_creation_input_tokens,
        reasoning_output_tokens, session_id, user_id, input, output, attributes, events
    ) SELECT
        trace_id, span_id, parent_span_id, name, kind, service_name,
        start_unix_nanos, end_unix_nanos, status, status_message, provider, model,
        input_tokens, output_tokens, cache_read_input_tokens, cache_creation_input_tokens,
        reasoning_output_tokens, session_id, user_id, input, output, attributes, events
    FROM spans;
    DROP TABLE spans;
    ALTER TABLE spans_v2 RENAME TO spans;
    CREATE INDEX spans_by_start ON spans (start_unix_nanos, trace_id, project);
    CREATE INDEX spans_by_end ON spans (end_unix_nanos, trace_id);
    CREATE INDEX spans_by_session ON spans (session_id, start_unix_nanos, trace_id, project)
        WHERE session_id IS NOT NULL;",
    // 3: API keys of the server, one row per key. Only the SHA-256 of a key is kept (lower hex),
    // with its public prefix (`ask_` and 8 characters) to find and show it; the projects of the
    // server are the distinct projects of its keys.
    "CREATE TABLE api_keys (
        prefix             TEXT    NOT NULL PRIMARY KEY,
        sha256             TEXT    NOT NULL,
        project            TEXT    NOT NULL,
        created_unix_nanos INTEGER NOT NULL,
        revoked_unix_nanos INTEGER
    ) STRICT;",
    // 4: span links, indexed both ways (`links.rs`), so that the traces tied together only by
    // links (AutoGen's runtime) read as one conversation.
    links::MIGRATION_4,
    // 5: security and budget alerts (`alerts.rs`).
    alerts::MIGRATION_5,
    // 6: span costs, their hourly aggregates and per-project price overrides (`costs.rs`).
    costs::MIGRATION_6,
    // 7: `span_costs` rebuilt as a rowid table (`costs.rs`).
    costs::MIGRATION_7,
    // 8: `session_traces` replaces the per-span `spans_by_session` (`sessions.rs`).
    sessions::MIGRATION_8,
    // 9: the status check as a range. SQLite evaluates `IN (0, 1, 2)` by building a temporary
    // b-tree of the list for every row written (~3 µs a span, ~10% of the ingest CPU), and
    // `BETWEEN` is the same constraint on an integer column. Only the constraint's text
    // changes, not how a row is stored, which is the case SQLite's documentation allows
    // through `writable_schema` (ALTER TABLE, "making other kinds of table schema changes"):
    // no copy of the table. RESET reloads the schema on this connection; the table made and
    // dropped after it bumps the schema cookie, so other connections reload it too.
    "PRAGMA writable_schema = ON;
    UPDATE sqlite_schema
       SET sql = replace(sql, 'CHECK (status IN (0, 1, 2))', 'CHECK (status BETWEEN 0 AND 2)')
     WHERE type = 'table' AND name = 'spans';
    PRAGMA writable_schema = RESET;
    CREATE TABLE schema_cookie_bump (x);
    DROP TABLE schema_cookie_bump;",
];

const SCHEMA: Schema = Schema {
    application_id: APPLICATION_ID,
    migrations: MIGRATIONS,
};

/// Writes one span; a span already stored under the same (project, trace_id, span_id) is left
/// as it is.
const INSERT_SPAN: &str = "INSERT OR IGNORE INTO spans (
        trace_id, span_id, parent_span_id, name, kind, service_name,
        start_unix_nanos, end_unix_nanos, status, status_message, provider, model,
        input_tokens, output_tokens, cache_read_input_tokens, cache_creation_input_tokens,
        reasoning_output_tokens, session_id, user_id, input, output, attributes, events,
        project, links, resource
    ) VALUES (
        ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
        ?20, ?21, ?22, ?23, ?24, ?25, ?26
    )";

/// All spans of one trace (of project ?2, or of every project when ?2 is NULL), in the column
/// order [`span_from_row`] reads.
const SELECT_TRACE_SPANS: &str = "SELECT
        trace_id, span_id, parent_span_id, name, kind, service_name,
        start_unix_nanos, end_unix_nanos, status, status_message, provider, model,
        input_tokens, output_tokens, cache_read_input_tokens, cache_creation_input_tokens,
        reasoning_output_tokens, session_id, user_id, input, output, attributes, events,
        project, links, resource
    FROM spans
    WHERE trace_id = ?1 AND (?2 IS NULL OR project = ?2)
    ORDER BY start_unix_nanos, span_id, project";

/// Distinct trace ids in the range `[?1, ?2)`: the traces whose id starts with a hex prefix
/// (?2 is the prefix followed by 'g', just above every hex digit), of project ?3 (NULL: all).
const SELECT_TRACE_IDS_WITH_PREFIX: &str = "SELECT DISTINCT trace_id FROM spans
    WHERE trace_id >= ?1 AND trace_id < ?2 AND (?3 IS NULL OR project = ?3)
    ORDER BY trace_id
    LIMIT 6";

/// Span starts, newest first, at or before ?1, of project ?2 (NULL: all): the candidates of
/// recent_traces.
const SCAN_SPAN_STARTS: &str = "SELECT trace_id, start_unix_nanos FROM spans
    WHERE start_unix_nanos <= ?1 AND (?2 IS NULL OR project = ?2)
    ORDER BY start_unix_nanos DESC";

/// Span starts, oldest first, at or after ?1, of project ?2 (NULL: all).
const SCAN_SPAN_STARTS_ASC: &str = "SELECT trace_id, start_unix_nanos FROM spans
    WHERE start_unix_nanos >= ?1 AND (?2 IS NULL OR project = ?2)
    ORDER BY start_unix_nanos ASC";

/// Trace starts of one session (?3, from `session_traces`: see `sessions.rs`), oldest first, at
/// or after ?1, of project ?2 (NULL: all).
const SCAN_SESSION_SPAN_STARTS_ASC: &str = "SELECT trace_id, start_unix_nanos FROM session_traces
    WHERE session_id = ?3 AND start_unix_nanos >= ?1 AND (?2 IS NULL OR project = ?2)
    ORDER BY start_unix_nanos ASC";

/// Trace starts of one session (?3, from `session_traces`), newest first, at or before ?1, of
/// project ?2 (NULL: all).
const SCAN_SESSION_SPAN_STARTS: &str = "SELECT trace_id, start_unix_nanos FROM session_traces
    WHERE session_id = ?3 AND start_unix_nanos <= ?1 AND (?2 IS NULL OR project = ?2)
    ORDER BY start_unix_nanos DESC";

/// Trace summaries, computed from the spans of the traces `$ids` selects, in the column order
/// [`summary_from_row`] reads. The root is the earliest span without a parent, else the earliest
/// span (while the root has not arrived); its service and session are preferred, else any.
macro_rules! summary_sql {
    ($ids:literal, $project:literal, $order:literal) => {
        concat!(
            "WITH ids(trace_id) AS (",
            $ids,
            "),
            agg AS (
                SELECT trace_id,
                       MIN(start_unix_nanos)           AS start_unix_nanos,
                       MAX(end_unix_nanos)             AS end_unix_nanos,
                       COUNT(*)                        AS span_count,
                       COALESCE(SUM(input_tokens), 0)  AS input_tokens,
                       COALESCE(SUM(output_tokens), 0) AS output_tokens,
                       SUM(status = 2)                 AS error_count,
                       MIN(service_name)               AS any_service_name,
                       MIN(session_id)                 AS any_session_id
                FROM spans
                WHERE trace_id IN (SELECT trace_id FROM ids) AND ",
            $project,
            "
                GROUP BY trace_id
            )
            SELECT agg.trace_id, root.name,
                   COALESCE(root.service_name, agg.any_service_name),
                   COALESCE(root.session_id, agg.any_session_id),
                   agg.start_unix_nanos, agg.end_unix_nanos, agg.span_count,
                   agg.input_tokens, agg.output_tokens, agg.error_count
            FROM agg
            JOIN spans AS root ON root.rowid = (
                SELECT candidate.rowid FROM spans AS candidate
                WHERE candidate.trace_id = agg.trace_id AND ",
            $project,
            "
                ORDER BY candidate.parent_span_id IS NOT NULL,
                         candidate.start_unix_nanos, candidate.span_id
                LIMIT 1
            )
            ",
            $order
        )
    };
}

/// The summary of the trace ?1 over the spans of project ?2 (NULL: all projects); no row if it
/// has no such span.
const SUMMARY_OF_TRACE: &str = summary_sql!("SELECT ?1", "(?2 IS NULL OR project = ?2)", "");

/// Summaries of the traces with a span that ended at or after ?1, oldest trace first.
const SUMMARIES_UPDATED_SINCE: &str = summary_sql!(
    "SELECT trace_id FROM spans WHERE end_unix_nanos >= ?1",
    "1",
    "ORDER BY agg.start_unix_nanos, agg.trace_id"
);

/// Whether the trace ?1 (of project ?2, NULL: all) has a span of each condition given: service
/// ?3, kind ?4, model ?5, user ?6, and input or output containing ?7 (case-insensitively for
/// ASCII; `instr`, so `%` and `_` are plain characters). NULL means no condition.
const TRACE_HAS_SPANS: &str = "SELECT
      (?3 IS NULL OR EXISTS (SELECT 1 FROM spans
          WHERE trace_id = ?1 AND (?2 IS NULL OR project = ?2) AND service_name = ?3))
  AND (?4 IS NULL OR EXISTS (SELECT 1 FROM spans
          WHERE trace_id = ?1 AND (?2 IS NULL OR project = ?2) AND kind = ?4))
  AND (?5 IS NULL OR EXISTS (SELECT 1 FROM spans
          WHERE trace_id = ?1 AND (?2 IS NULL OR project = ?2) AND model = ?5))
  AND (?6 IS NULL OR EXISTS (SELECT 1 FROM spans
          WHERE trace_id = ?1 AND (?2 IS NULL OR project = ?2) AND user_id = ?6))
  AND (?7 IS NULL OR EXISTS (SELECT 1 FROM spans
          WHERE trace_id = ?1 AND (?2 IS NULL OR project = ?2)
            AND (instr(lower(input), lower(?7)) > 0 OR instr(lower(output), lower(?7)) > 0)))";

/// Whether the trace ?1 has an alert in project ?2 (NULL: in any project).
const TRACE_HAS_ALERTS: &str = "SELECT EXISTS (SELECT 1 FROM security_alerts
    WHERE trace_id = ?1 AND (?2 IS NULL OR project = ?2))";

/// Whether the trace ?1 (of project ?2, NULL: all) has a span of the session ?3.
const TRACE_HAS_SESSION: &str = "SELECT EXISTS (SELECT 1 FROM spans
    WHERE trace_id = ?1 AND (?2 IS NULL OR project = ?2) AND session_id = ?3)";

/// Spans of project ?1 (NULL: all) starting in `[?2, ?3)`: count, errors, tokens in and out.
const STATS_SPAN_TOTALS: &str = "SELECT COUNT(*), COALESCE(SUM(status = 2), 0),
        COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0)
    FROM spans
    WHERE (?1 IS NULL OR project = ?1) AND start_unix_nanos >= ?2 AND start_unix_nanos < ?3";

/// Traces with a span of project ?1 (NULL: all) starting in `[?2, ?3)`: count, and how many of
/// them have an error span there.
const STATS_TRACE_TOTALS: &str = "SELECT COUNT(*), COALESCE(SUM(errors > 0), 0) FROM (
        SELECT trace_id, SUM(status = 2) AS errors FROM spans
        WHERE (?1 IS NULL OR project = ?1) AND start_unix_nanos >= ?2 AND start_unix_nanos < ?3
        GROUP BY trace_id, project
    )";

/// Durations of the root spans of project ?1 (NULL: all) starting in `[?2, ?3)`, shortest first.
const STATS_ROOT_DURATIONS: &str = "SELECT MAX(end_unix_nanos - start_unix_nanos, 0) FROM spans
    WHERE (?1 IS NULL OR project = ?1) AND start_unix_nanos >= ?2 AND start_unix_nanos < ?3
      AND parent_span_id IS NULL
    ORDER BY 1";

/// Spans, tokens in and tokens out per bucket of ?4 nanoseconds (by span start), of project ?1
/// (NULL: all) starting in `[?2, ?3)`; only buckets with spans, oldest first.
const STATS_TOKEN_BUCKETS: &str = "SELECT (start_unix_nanos / ?4) * ?4 AS bucket, COUNT(*),
        COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0)
    FROM spans
    WHERE (?1 IS NULL OR project = ?1) AND start_unix_nanos >= ?2 AND start_unix_nanos < ?3
    GROUP BY bucket
    ORDER BY bucket";

const COUNT_SPANS: &str = "SELECT COUNT(*) FROM spans";

/// Retention: deletes every span of the traces whose spans all ended before ?1.
const DELETE_TRACES_ENDED_BEFORE: &str = concat!(
    "DELETE FROM spans WHERE trace_id IN (",
    traces_ended_before!("old.trace_id"),
    ")"
);

/// Why the span store could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The directory that should hold the trace file could not be created.
    #[error(
        "cannot create the directory {} for the trace file: {source}; create it, or choose a \
         writable location for the trace file",
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
        "{file} is not a SQLite database, or it is damaged; move it aside and a new trace file \
         will be created in its place"
    )]
    NotADatabase {
        /// The file.
        file: String,
    },
    /// The file is a SQLite database of another kind (the spool, another program's database).
    #[error(
        "{file} is a SQLite database but not an AgentStack span store (application_id \
         {application_id:#x}); give the path of the trace file (by default {DEFAULT_LOCAL_PATH}), \
         not the spool or another program's database"
    )]
    WrongFile {
        /// The file.
        file: String,
        /// The `PRAGMA application_id` found in it.
        application_id: i32,
    },
    /// The file was written by a newer AgentStack whose schema this build does not know.
    #[error(
        "{file} was written by a newer AgentStack (span store schema version {found}; this build \
         knows versions up to {supported}); upgrade agentstack, or use another file"
    )]
    NewerSchema {
        /// The file.
        file: String,
        /// Its `PRAGMA user_version`.
        found: i64,
        /// The newest version this build can read and write.
        supported: i64,
    },
    /// A span of the batch given to [`SqliteSpanStore::insert_spans`] is malformed; nothing of
    /// that batch was written.
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
    /// The trace id given to [`SqliteSpanStore::trace`] is neither a trace id nor a prefix of one.
    #[error(
        "{given:?} is not a trace id: {reason}; give the 32 hex characters of a trace id, or at \
         least its first {MIN_TRACE_ID_PREFIX}"
    )]
    InvalidTraceId {
        /// What was given.
        given: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The prefix given to [`SqliteSpanStore::trace`] starts more than one trace id.
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
    /// Another connection held a lock on the file for longer than the busy timeout.
    #[error(
        "{file} stayed locked by another connection for more than {} s while {action}; try \
         again, and look for a process that keeps a long transaction open on it",
        BUSY_TIMEOUT.as_secs()
    )]
    Busy {
        /// The file.
        file: String,
        /// What the store was doing.
        action: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// Any other SQLite failure.
    #[error(
        "SQLite failed while {action} in {file}: {source}; if the file is damaged, move it aside \
         and a new one will be created"
    )]
    Sqlite {
        /// The file.
        file: String,
        /// What the store was doing.
        action: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
}

impl StoreError {
    fn setup(file: String, error: SetupError) -> StoreError {
        match error {
            SetupError::CreateDir { dir, source } => StoreError::CreateDir { dir, source },
            SetupError::NotADatabase => StoreError::NotADatabase { file },
            SetupError::WrongFile { application_id } => StoreError::WrongFile {
                file,
                application_id,
            },
            SetupError::NewerSchema { found, supported } => StoreError::NewerSchema {
                file,
                found,
                supported,
            },
            SetupError::Busy(source) => StoreError::Busy {
                file,
                action: "opening the span store",
                source,
            },
            SetupError::Sqlite(source) => StoreError::Sqlite {
                file,
                action: "opening the span store",
                source,
            },
        }
    }
}

/// The outcome of a span, stored as the OTLP status code (0 unset, 1 ok, 2 error).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SpanStatus {
    /// No status was set (OTLP `STATUS_CODE_UNSET`, 0).
    #[default]
    Unset,
    /// Explicitly successful (OTLP `STATUS_CODE_OK`, 1).
    Ok,
    /// Failed (OTLP `STATUS_CODE_ERROR`, 2).
    Error,
}

impl SpanStatus {
    /// The OTLP status code: 0 unset, 1 ok, 2 error.
    pub fn otlp_code(self) -> i64 {
        match self {
            SpanStatus::Unset => 0,
            SpanStatus::Ok => 1,
            SpanStatus::Error => 2,
        }
    }

    /// The status of an OTLP status code, `None` for a code OTLP does not define.
    pub fn from_otlp_code(code: i64) -> Option<SpanStatus> {
        match code {
            0 => Some(SpanStatus::Unset),
            1 => Some(SpanStatus::Ok),
            2 => Some(SpanStatus::Error),
            _ => None,
        }
    }
}

/// One span: one row of the `spans` table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpanRecord {
    /// The trace: 32 lowercase hex characters. With `span_id`, the span's identity.
    pub trace_id: String,
    /// The span: 16 lowercase hex characters, unique within its trace.
    pub span_id: String,
    /// The parent span (16 lowercase hex), `None` for the root of a trace.
    pub parent_span_id: Option<String>,
    /// The span name.
    pub name: String,
    /// `agentstack.span.kind`: agent, tool, llm, chain, retriever, embedding or guardrail;
    /// `None` if unknown.
    pub kind: Option<String>,
    /// The `service.name` of the process that made the span.
    pub service_name: Option<String>,
    /// Start time, nanoseconds since the Unix epoch.
    pub start_unix_nanos: i64,
    /// End time, nanoseconds since the Unix epoch.
    pub end_unix_nanos: i64,
    /// The span status.
    pub status: SpanStatus,
    /// The status description (usually set with [`SpanStatus::Error`]).
    pub status_message: Option<String>,
    /// `gen_ai.provider.name`.
    pub provider: Option<String>,
    /// `gen_ai.response.model`, else `gen_ai.request.model`.
    pub model: Option<String>,
    /// `gen_ai.usage.input_tokens` (including cached input tokens).
    pub input_tokens: Option<i64>,
    /// `gen_ai.usage.output_tokens` (including reasoning tokens).
    pub output_tokens: Option<i64>,
    /// `gen_ai.usage.cache_read.input_tokens`.
    pub cache_read_input_tokens: Option<i64>,
    /// `gen_ai.usage.cache_creation.input_tokens`.
    pub cache_creation_input_tokens: Option<i64>,
    /// `gen_ai.usage.reasoning.output_tokens`.
    pub reasoning_output_tokens: Option<i64>,
    /// `gen_ai.conversation.id`.
    pub session_id: Option<String>,
    /// The end user the span worked for.
    pub user_id: Option<String>,
    /// The captured input, JSON text (stored as given, not parsed).
    pub input: Option<String>,
    /// The captured output, JSON text (stored as given, not parsed).
    pub output: Option<String>,
    /// All span attributes, kept whole: JSON object text (stored as given, not parsed).
    pub attributes: String,
    /// The span events: JSON array text of
    /// `{"name": .., "time_unix_nanos": .., "attributes": {..}}` (stored as given, not parsed).
    pub events: String,
    /// The project the span belongs to ([`DEFAULT_PROJECT`] in local mode); with `trace_id` and
    /// `span_id`, the span's identity.
    #[serde(default = "default_project")]
    pub project: String,
    /// Links to other spans: JSON array text of `{"trace_id", "span_id", "attributes"}`
    /// (stored as given, not parsed).
    #[serde(default = "empty_array")]
    pub links: String,
    /// The attributes of the resource that made the span (`service.name`, `telemetry.sdk.*`,
    /// …): JSON object text (stored as given, not parsed).
    #[serde(default = "empty_object")]
    pub resource: String,
}

/// A span a store can write: a [`SpanRecord`] and the project, links and resource that go with
/// it. A record carries all three itself; the server's normalized span keeps them beside its
/// record, and implements this trait so that its spans are written where they are, without a
/// copy of each span's text into a new record.
pub trait StorableSpan {
    /// The record. Its own `project`, `links` and `resource` are read only through the methods
    /// below, which an implementation may answer from elsewhere.
    fn record(&self) -> &SpanRecord;

    /// The project the span belongs to.
    fn project(&self) -> &str {
        &self.record().project
    }

    /// Its links: JSON array text, as [`SpanRecord::links`].
    fn links(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.record().links)
    }

    /// The attributes of the resource that made it: JSON object text, as
    /// [`SpanRecord::resource`].
    fn resource(&self) -> &str {
        &self.record().resource
    }
}

impl StorableSpan for SpanRecord {
    fn record(&self) -> &SpanRecord {
        self
    }
}

impl<S: StorableSpan + ?Sized> StorableSpan for &S {
    fn record(&self) -> &SpanRecord {
        (**self).record()
    }

    fn project(&self) -> &str {
        (**self).project()
    }

    fn links(&self) -> Cow<'_, str> {
        (**self).links()
    }

    fn resource(&self) -> &str {
        (**self).resource()
    }
}

fn default_project() -> String {
    DEFAULT_PROJECT.to_string()
}

fn empty_array() -> String {
    "[]".to_string()
}

fn empty_object() -> String {
    "{}".to_string()
}

impl SpanRecord {
    /// A span with the given identity, name and times, and nothing else: project
    /// [`DEFAULT_PROJECT`], status unset, no attributes (`{}`), no events (`[]`), no links
    /// (`[]`), no resource attributes (`{}`).
    pub fn new(
        trace_id: impl Into<String>,
        span_id: impl Into<String>,
        name: impl Into<String>,
        start_unix_nanos: i64,
        end_unix_nanos: i64,
    ) -> SpanRecord {
        SpanRecord {
            trace_id: trace_id.into(),
            span_id: span_id.into(),
            parent_span_id: None,
            name: name.into(),
            kind: None,
            service_name: None,
            start_unix_nanos,
            end_unix_nanos,
            status: SpanStatus::Unset,
            status_message: None,
            provider: None,
            model: None,
            input_tokens: None,
            output_tokens: None,
            cache_read_input_tokens: None,
            cache_creation_input_tokens: None,
            reasoning_output_tokens: None,
            session_id: None,
            user_id: None,
            input: None,
            output: None,
            attributes: empty_object(),
            events: empty_array(),
            project: default_project(),
            links: empty_array(),
            resource: empty_object(),
        }
    }

    /// How long the span took, in nanoseconds (0 if its end is before its start).
    pub fn duration_nanos(&self) -> i64 {
        self.end_unix_nanos
            .saturating_sub(self.start_unix_nanos)
            .max(0)
    }

    /// Input plus output tokens (missing counts are 0). Cached and reasoning tokens are already
    /// part of these two, as the GenAI conventions define them.
    pub fn total_tokens(&self) -> i64 {
        self.input_tokens
            .unwrap_or(0)
            .saturating_add(self.output_tokens.unwrap_or(0))
    }

    /// Checks what the store relies on: ids are lowercase hex of the right length.
    fn check(&self) -> Result<(), &'static str> {
        if !is_lower_hex(&self.trace_id, 32) {
            return Err("trace_id must be 32 lowercase hex characters");
        }
        if !is_lower_hex(&self.span_id, 16) {
            return Err("span_id must be 16 lowercase hex characters");
        }
        match &self.parent_span_id {
            Some(parent) if !is_lower_hex(parent, 16) => {
                Err("parent_span_id must be 16 lowercase hex characters (None for a root span)")
            }
            _ => Ok(()),
        }
    }
}

fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Which traces [`SqliteSpanStore::recent_traces`] returns. Every condition is on the whole
/// trace; the default matches every trace.
#[derive(Debug, Clone, Default)]
pub struct TraceFilter {
    /// Only traces that started at or after this time (nanoseconds since the Unix epoch).
    pub since_unix_nanos: Option<i64>,
    /// Only traces that started before this time (exclusive).
    pub until_unix_nanos: Option<i64>,
    /// Only traces whose root span name contains this text, case-insensitively (the root is the
    /// span without a parent, or the earliest span while the root has not arrived).
    pub name_contains: Option<String>,
    /// `Error`: only traces with at least one error span; `Ok`: only traces with none;
    /// `Unset`: no condition.
    pub status: Option<SpanStatus>,
    /// Only traces with a span of this session (`gen_ai.conversation.id`).
    pub session_id: Option<String>,
    /// Only the spans of this project (the server's tenants); `None`: every project, summed
    /// together (local mode and the terminal viewer).
    pub project: Option<String>,
    /// At most this many traces; 0 means [`DEFAULT_TRACE_LIMIT`], and more than
    /// [`MAX_TRACE_LIMIT`] means [`MAX_TRACE_LIMIT`].
    pub limit: usize,
}

impl TraceFilter {
    /// The number of traces this filter asks for, after the default and the cap.
    pub fn effective_limit(&self) -> usize {
        match self.limit {
            0 => DEFAULT_TRACE_LIMIT,
            limit => limit.min(MAX_TRACE_LIMIT),
        }
    }

    /// Whether a trace passes every condition (the session is checked by the query).
    fn matches(&self, trace: &TraceSummary, name_lower: Option<&str>) -> bool {
        let since_ok = self
            .since_unix_nanos
            .is_none_or(|since| trace.start_unix_nanos >= since);
        let until_ok = self
            .until_unix_nanos
            .is_none_or(|until| trace.start_unix_nanos < until);
        let name_ok =
            name_lower.is_none_or(|needle| trace.root_name.to_lowercase().contains(needle));
        let status_ok = match self.status {
            Some(SpanStatus::Error) => trace.has_error(),
            Some(SpanStatus::Ok) => !trace.has_error(),
            Some(SpanStatus::Unset) | None => true,
        };
        since_ok && until_ok && name_ok && status_ok
    }
}

/// One trace at a glance, computed from its spans.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TraceSummary {
    /// The trace id.
    pub trace_id: String,
    /// The name of the root span, or of the earliest span if the root has not arrived.
    pub root_name: String,
    /// The root span's service, else any span's.
    pub service_name: Option<String>,
    /// The root span's session, else any span's.
    pub session_id: Option<String>,
    /// The earliest span start.
    pub start_unix_nanos: i64,
    /// The latest span end.
    pub end_unix_nanos: i64,
    /// How many spans the trace has so far.
    pub span_count: i64,
    /// Input tokens of all its spans.
    pub input_tokens: i64,
    /// Output tokens of all its spans.
    pub output_tokens: i64,
    /// How many of its spans have [`SpanStatus::Error`].
    pub error_count: i64,
}

impl TraceSummary {
    /// From the earliest start to the latest end, in nanoseconds (never negative).
    pub fn duration_nanos(&self) -> i64 {
        self.end_unix_nanos
            .saturating_sub(self.start_unix_nanos)
            .max(0)
    }

    /// Whether any span of the trace failed.
    pub fn has_error(&self) -> bool {
        self.error_count > 0
    }

    /// Input plus output tokens of the whole trace.
    pub fn total_tokens(&self) -> i64 {
        self.input_tokens.saturating_add(self.output_tokens)
    }
}

/// The conditions of [`SqliteSpanStore::trace_page`]: a [`TraceFilter`], conditions on the
/// spans of a trace, and where the page starts. Every text condition is compared as given, never
/// interpreted (no wildcards); the default matches every trace.
#[derive(Debug, Clone, Default)]
pub struct TraceQuery {
    /// The conditions on the whole trace, its project and the page size.
    pub filter: TraceFilter,
    /// Only traces with a span of this `service.name`.
    pub service_name: Option<String>,
    /// Only traces with a span of this kind (`agent`, `tool`, `llm`, …).
    pub kind: Option<String>,
    /// Only traces with a span of exactly this model (as stored: the response model, else the
    /// requested one).
    pub model: Option<String>,
    /// Only traces with a span of this end user.
    pub user_id: Option<String>,
    /// Only traces that took at least this long, first start to last end.
    pub min_duration_nanos: Option<i64>,
    /// Only traces with a span whose captured input or output contains this text
    /// (case-insensitively for ASCII letters).
    pub text: Option<String>,
    /// `Some(true)`: only traces with a security or budget alert; `Some(false)`: only traces
    /// without.
    pub has_alerts: Option<bool>,
    /// Only traces after this one in the list's order: the previous page's
    /// [`TracePage::next`].
    pub before: Option<TraceCursor>,
    /// Oldest first (by trace start, then trace id) instead of newest first.
    pub oldest_first: bool,
    /// Only traces whose priced spans cost at least this much in all, femtodollars
    /// (`span_costs`, written by the server's cost worker).
    pub min_cost_femtos: Option<i128>,
}

impl TraceQuery {
    /// Whether a condition needs a look at the trace's spans.
    fn has_span_conditions(&self) -> bool {
        self.service_name.is_some()
            || self.kind.is_some()
            || self.model.is_some()
            || self.user_id.is_some()
            || self.text.is_some()
    }

    /// The conditions a summary can answer: duration and cursor.
    fn matches(&self, trace: &TraceSummary) -> bool {
        let long_enough = self
            .min_duration_nanos
            .is_none_or(|min| trace.duration_nanos() >= min);
        let after_cursor = self.before.as_ref().is_none_or(|before| {
            let this = (trace.start_unix_nanos, trace.trace_id.as_str());
            let cursor = (before.start_unix_nanos, before.trace_id.as_str());
            if self.oldest_first {
                this > cursor
            } else {
                this < cursor
            }
        });
        long_enough && after_cursor
    }
}

/// A place in the newest-first order of traces: keyset pagination on (start, trace id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceCursor {
    /// The start of the last trace of a page.
    pub start_unix_nanos: i64,
    /// Its trace id.
    pub trace_id: String,
}

/// One page of [`SqliteSpanStore::trace_page`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracePage {
    /// The traces, newest first.
    pub traces: Vec<TraceSummary>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<TraceCursor>,
}

/// Which spans [`SqliteSpanStore::stats`] counts: those of `project` that start in
/// `[since, until)`.
#[derive(Debug, Clone)]
pub struct StatsWindow {
    /// Only this project's spans; `None`: every project.
    pub project: Option<String>,
    /// Only spans that started at or after this time; `None`: no lower bound.
    pub since_unix_nanos: Option<i64>,
    /// Only spans that started before this time; `None`: no upper bound.
    pub until_unix_nanos: Option<i64>,
    /// The width of a bucket of [`SpanStats::buckets`], in nanoseconds.
    pub bucket_nanos: i64,
}

/// What [`SqliteSpanStore::stats`] found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SpanStats {
    /// Spans in the window.
    pub span_count: i64,
    /// Traces with a span in the window.
    pub trace_count: i64,
    /// Spans with [`SpanStatus::Error`].
    pub error_span_count: i64,
    /// Traces with an error span in the window.
    pub error_trace_count: i64,
    /// Input tokens of the spans.
    pub input_tokens: i64,
    /// Output tokens of the spans.
    pub output_tokens: i64,
    /// Latency of the root spans; `None` without one.
    pub root_latency: Option<RootLatency>,
    /// Spans and tokens per bucket, oldest first; buckets without spans are left out.
    pub buckets: Vec<TokenBucket>,
}

/// Percentiles (nearest rank) of the durations of root spans, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RootLatency {
    /// The median.
    pub p50_nanos: i64,
    /// The 95th percentile.
    pub p95_nanos: i64,
    /// The 99th percentile.
    pub p99_nanos: i64,
}

impl RootLatency {
    /// The percentiles of `sorted` (ascending); `None` if it is empty.
    fn of_sorted(sorted: &[i64]) -> Option<RootLatency> {
        let rank = |percent: usize| {
            // Nearest rank: the smallest value with at least `percent`% of values at or below it.
            let index = (percent * sorted.len()).div_ceil(100).max(1) - 1;
            sorted.get(index).copied()
        };
        Some(RootLatency {
            p50_nanos: rank(50)?,
            p95_nanos: rank(95)?,
            p99_nanos: rank(99)?,
        })
    }
}

/// The spans of one bucket of [`SpanStats::buckets`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TokenBucket {
    /// The bucket's start (a multiple of its width since the epoch).
    pub start_unix_nanos: i64,
    /// Spans that started in it.
    pub span_count: i64,
    /// Their input tokens.
    pub input_tokens: i64,
    /// Their output tokens.
    pub output_tokens: i64,
}

/// What a [`SqliteSpanStore::checkpoint`] found and did, in WAL frames (pages); -1 when the
/// file is not in WAL mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalCheckpoint {
    /// Frames in the write-ahead log.
    pub wal_frames: i64,
    /// Frames of it now copied into the database file.
    pub copied_frames: i64,
}

/// The span store on one SQLite file (or in memory). `Send + Sync`: one connection behind a
/// mutex; open one store per process and share it, or open several (also from other processes):
/// WAL and a 5 s busy timeout let one writer and many readers work at once.
pub struct SqliteSpanStore {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
    /// The file's name in error messages.
    label: String,
}

impl std::fmt::Debug for SqliteSpanStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteSpanStore")
            .field("file", &self.label)
            .finish_non_exhaustive()
    }
}

/// What a query by trace id (or prefix) found: its answer, or the trace ids a prefix matched.
enum Lookup<T> {
    Found(T),
    Ambiguous(Vec<String>),
}

impl<T> Lookup<T> {
    /// The answer, or [`StoreError::AmbiguousTraceId`] for `prefix`.
    fn or_ambiguous(self, prefix: String) -> Result<T, StoreError> {
        match self {
            Lookup::Found(found) => Ok(found),
            Lookup::Ambiguous(matches) => Err(StoreError::AmbiguousTraceId { prefix, matches }),
        }
    }
}

/// A trace id or prefix as given, checked and lowercased: 0-9 and a-f (any case), at least
/// [`MIN_TRACE_ID_PREFIX`] and at most 32 characters.
fn parse_trace_id(given: &str) -> Result<String, StoreError> {
    let id = given.trim().to_ascii_lowercase();
    let invalid = |reason| StoreError::InvalidTraceId {
        given: given.to_string(),
        reason,
    };
    if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid("it has characters other than 0-9 and a-f"));
    }
    if id.len() > 32 {
        return Err(invalid("it is longer than 32 characters"));
    }
    if id.len() < MIN_TRACE_ID_PREFIX {
        return Err(invalid("it is too short to pick one trace"));
    }
    Ok(id)
}

/// The full trace id of `id` (from [`parse_trace_id`]) among the trace ids of `project`
/// (`None`: all): a full id is itself (stored or not), a prefix the one stored id it starts;
/// `Found(None)` when it starts none.
fn resolve_trace_id(
    tx: &rusqlite::Transaction<'_>,
    project: Option<&str>,
    id: &str,
) -> rusqlite::Result<Lookup<Option<String>>> {
    if id.len() == 32 {
        return Ok(Lookup::Found(Some(id.to_string())));
    }
    let mut stmt = tx.prepare_cached(SELECT_TRACE_IDS_WITH_PREFIX)?;
    let above = format!("{id}g");
    let mut matches = stmt
        .query_map(rusqlite::params![id, &above, project], |row| {
            row.get::<_, String>(0)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(match matches.len() {
        0 | 1 => Lookup::Found(matches.pop()),
        _ => Lookup::Ambiguous(matches.into_iter().take(5).collect()),
    })
}

impl SqliteSpanStore {
    /// Opens the span store at `path`, creating the file and its parent directories if needed,
    /// and migrates it to the current schema.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteSpanStore, StoreError> {
        let path = path.as_ref();
        let label = path.display().to_string();
        let conn = sqlite_file::open_file(path, &SCHEMA)
            .map_err(|error| StoreError::setup(label.clone(), error))?;
        Ok(SqliteSpanStore::from_connection(
            conn,
            Some(path.to_path_buf()),
            label,
        ))
    }

    /// A span store in memory, gone when dropped.
    pub fn open_in_memory() -> Result<SqliteSpanStore, StoreError> {
        let label = ":memory:".to_string();
        let conn = sqlite_file::open_in_memory(&SCHEMA)
            .map_err(|error| StoreError::setup(label.clone(), error))?;
        Ok(SqliteSpanStore::from_connection(conn, None, label))
    }

    fn from_connection(conn: Connection, path: Option<PathBuf>, label: String) -> SqliteSpanStore {
        // Room for every statement of this module, so none is ever re-prepared.
        conn.set_prepared_statement_cache_capacity(64);
        SqliteSpanStore {
            conn: Mutex::new(conn),
            path,
            label,
        }
    }

    /// The file, `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The schema version this build writes (`PRAGMA user_version` of an up-to-date file).
    pub fn schema_version() -> i64 {
        SCHEMA.latest_version()
    }

    /// Sets how many pages the write-ahead log may hold before a commit on this connection
    /// copies it into the database file itself (SQLite's default is 1,000; 0: never). A
    /// process that checkpoints from another connection ([`checkpoint`](Self::checkpoint))
    /// raises it, so that the copy and its fsyncs stay off the writer's path.
    pub fn set_wal_autocheckpoint(&self, pages: u32) -> Result<(), StoreError> {
        self.with_conn("setting the WAL checkpoint size", |conn| {
            conn.query_row(&format!("PRAGMA wal_autocheckpoint = {pages}"), [], |_| {
                Ok(())
            })
        })
    }

    /// Lets this connection keep up to `kib` KiB of pages in memory (SQLite's default is 2,000
    /// KiB; pages are allocated as they are read). A writer whose transactions change more than
    /// its cache holds spills them to the log before the commit, and a reader of a large file
    /// reads the same index pages from the file again and again.
    pub fn set_cache_size_kib(&self, kib: u32) -> Result<(), StoreError> {
        self.with_conn("setting the page cache size", |conn| {
            // Negative: a size in KiB, not a number of pages.
            conn.pragma_update(None, "cache_size", -i64::from(kib))
        })
    }

    /// Copies what the write-ahead log holds into the database file, without waiting for the
    /// other connections (SQLite's PASSIVE checkpoint: frames a reader still needs stay for
    /// later); the next write then starts the log from its beginning again once all of it was
    /// copied. In memory, or not in WAL mode, there is nothing to copy.
    pub fn checkpoint(&self) -> Result<WalCheckpoint, StoreError> {
        self.with_conn("checkpointing the WAL", |conn| {
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                Ok(WalCheckpoint {
                    wal_frames: row.get(1)?,
                    copied_frames: row.get(2)?,
                })
            })
        })
    }

    /// Writes `spans` in one transaction and returns how many were new. A span already stored
    /// (same project, trace_id and span_id, from this batch or an earlier one) is skipped: the
    /// first write wins. A malformed id refuses the whole batch with [`StoreError::InvalidSpan`].
    pub fn insert_spans<S: StorableSpan>(&self, spans: &[S]) -> Result<usize, StoreError> {
        for (index, span) in spans.iter().map(StorableSpan::record).enumerate() {
            span.check().map_err(|reason| StoreError::InvalidSpan {
                index,
                trace_id: span.trace_id.clone(),
                span_id: span.span_id.clone(),
                reason,
            })?;
        }
        if spans.is_empty() {
            return Ok(0);
        }
        self.with_conn("writing spans", |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut new = 0;
            let mut sessions = sessions::SessionTraces::default();
            {
                let mut insert = tx.prepare_cached(INSERT_SPAN)?;
                for storable in spans {
                    let (span, project, links) =
                        (storable.record(), storable.project(), storable.links());
                    // Bound by position, in the column order of INSERT_SPAN (named
                    // parameters cost a name lookup per value per row).
                    let inserted = insert.execute(rusqlite::params![
                        span.trace_id,
                        span.span_id,
                        span.parent_span_id,
                        span.name,
                        span.kind,
                        span.service_name,
                        span.start_unix_nanos,
                        span.end_unix_nanos,
                        span.status.otlp_code(),
                        span.status_message,
                        span.provider,
                        span.model,
                        span.input_tokens,
                        span.output_tokens,
                        span.cache_read_input_tokens,
                        span.cache_creation_input_tokens,
                        span.reasoning_output_tokens,
                        span.session_id,
                        span.user_id,
                        span.input,
                        span.output,
                        span.attributes,
                        span.events,
                        project,
                        links,
                        storable.resource(),
                    ])?;
                    if inserted == 1 {
                        links::insert_links(&tx, project, span, &links)?;
                        sessions.add(project, span);
                    }
                    new += inserted;
                }
            }
            sessions.write(&tx)?;
            tx.commit()?;
            Ok(new)
        })
    }

    /// The most recent traces that pass `filter`, newest first (by trace start, then trace id
    /// descending).
    ///
    /// Spans are scanned newest start first through an index; each trace met for the first time
    /// is summarized (one index lookup) and kept if it passes the filter. The scan stops as soon
    /// as no trace not yet met can be newer than the last one kept: a trace not met yet started
    /// no later than the span being scanned. So only the newest traces are aggregated, however
    /// large the file, and the order is right even when a root span arrives after its children.
    pub fn recent_traces(&self, filter: &TraceFilter) -> Result<Vec<TraceSummary>, StoreError> {
        let query = TraceQuery {
            filter: filter.clone(),
            ..TraceQuery::default()
        };
        self.scan_traces(&query, filter.effective_limit())
    }

    /// One page of the traces that pass `query`, newest first as in
    /// [`recent_traces`](Self::recent_traces): at most `query.filter`'s effective limit, after
    /// `query.before` when given, and the cursor of the next page when there are more.
    pub fn trace_page(&self, query: &TraceQuery) -> Result<TracePage, StoreError> {
        let limit = query.filter.effective_limit();
        let mut traces = self.scan_traces(query, limit + 1)?;
        let next = if traces.len() > limit {
            traces.truncate(limit);
            traces.last().map(|last| TraceCursor {
                start_unix_nanos: last.start_unix_nanos,
                trace_id: last.trace_id.clone(),
            })
        } else {
            None
        };
        Ok(TracePage { traces, next })
    }

    /// The scan behind [`recent_traces`](Self::recent_traces) and
    /// [`trace_page`](Self::trace_page): at most `limit` traces.
    fn scan_traces(
        &self,
        query: &TraceQuery,
        limit: usize,
    ) -> Result<Vec<TraceSummary>, StoreError> {
        let filter = &query.filter;
        // Traces start before `until` (exclusive), so their earliest span starts at most until-1.
        let mut latest_start = match filter.until_unix_nanos {
            None => i64::MAX,
            Some(until) => match until.checked_sub(1) {
                Some(latest) => latest,
                None => return Ok(Vec::new()),
            },
        };
        // Traces after the cursor started no later than it (newest first).
        if let Some(before) = &query.before
            && !query.oldest_first
        {
            latest_start = latest_start.min(before.start_unix_nanos);
        }
        // Oldest first: traces start at or after `since` and the cursor.
        let earliest_start = filter.since_unix_nanos.unwrap_or(i64::MIN).max(
            match (&query.before, query.oldest_first) {
                (Some(after), true) => after.start_unix_nanos,
                _ => i64::MIN,
            },
        );
        let name_lower = filter.name_contains.as_deref().map(str::to_lowercase);
        let project = filter.project.as_deref();
        let span_conditions = query.has_span_conditions();
        self.with_conn("listing recent traces", |conn| {
            // One read transaction: every query sees the same snapshot.
            let tx = conn.transaction()?;
            let oldest_first = query.oldest_first;
            let mut scan = match (&filter.session_id, oldest_first) {
                (Some(_), false) => tx.prepare_cached(SCAN_SESSION_SPAN_STARTS)?,
                (None, false) => tx.prepare_cached(SCAN_SPAN_STARTS)?,
                (Some(_), true) => tx.prepare_cached(SCAN_SESSION_SPAN_STARTS_ASC)?,
                (None, true) => tx.prepare_cached(SCAN_SPAN_STARTS_ASC)?,
            };
            let bound = if oldest_first {
                earliest_start
            } else {
                latest_start
            };
            let mut rows = match &filter.session_id {
                Some(session) => scan.query(rusqlite::params![bound, project, session])?,
                None => scan.query(rusqlite::params![bound, project])?,
            };
            let mut summarize = tx.prepare_cached(SUMMARY_OF_TRACE)?;
            let mut has_spans = tx.prepare_cached(TRACE_HAS_SPANS)?;
            let mut has_alerts = tx.prepare_cached(TRACE_HAS_ALERTS)?;
            let mut seen = HashSet::new();
            // Kept sorted newest first, at most `limit` long.
            let mut kept: Vec<TraceSummary> = Vec::with_capacity(limit.min(64));
            while let Some(row) = rows.next()? {
                let trace_id: String = row.get(0)?;
                let span_start: i64 = row.get(1)?;
                if oldest_first {
                    // Spans come oldest first, so a trace is met first at its earliest span:
                    // once the page is full, a later span can only start a later trace.
                    if filter
                        .until_unix_nanos
                        .is_some_and(|until| span_start >= until)
                    {
                        break;
                    }
                    if kept.len() == limit
                        && kept
                            .last()
                            .is_some_and(|last| span_start > last.start_unix_nanos)
                    {
                        break;
                    }
                } else {
                    if filter
                        .since_unix_nanos
                        .is_some_and(|since| span_start < since)
                    {
                        break;
                    }
                    if kept.len() == limit
                        && kept
                            .last()
                            .is_some_and(|last| span_start < last.start_unix_nanos)
                    {
                        break;
                    }
                }
                if seen.contains(&trace_id) {
                    continue;
                }
                let summary = summarize
                    .query_row(rusqlite::params![&trace_id, project], summary_from_row)
                    .optional()?;
                seen.insert(trace_id);
                let Some(summary) = summary else { continue };
                if !filter.matches(&summary, name_lower.as_deref()) || !query.matches(&summary) {
                    continue;
                }
                if span_conditions {
                    let passes: bool = has_spans.query_row(
                        rusqlite::params![
                            &summary.trace_id,
                            project,
                            query.service_name,
                            query.kind,
                            query.model,
                            query.user_id,
                            query.text,
                        ],
                        |row| row.get(0),
                    )?;
                    if !passes {
                        continue;
                    }
                }
                if let Some(min) = query.min_cost_femtos
                    && !costs::trace_costs_at_least(&tx, project, &summary.trace_id, min)?
                {
                    continue;
                }
                if let Some(wanted) = query.has_alerts {
                    let has: bool = has_alerts
                        .query_row(rusqlite::params![&summary.trace_id, project], |row| {
                            row.get(0)
                        })?;
                    if has != wanted {
                        continue;
                    }
                }
                fn key(t: &TraceSummary) -> (i64, &str) {
                    (t.start_unix_nanos, &t.trace_id)
                }
                let at = if oldest_first {
                    kept.partition_point(|t| key(t) < key(&summary))
                } else {
                    kept.partition_point(|t| key(t) > key(&summary))
                };
                if at < limit {
                    kept.insert(at, summary);
                    kept.truncate(limit);
                }
            }
            Ok(kept)
        })
    }

    /// For the live tail: the summaries of `trace_ids` that pass every condition of `query`
    /// (its cursor and limit aside), in the order given; ids with no span in the project are
    /// left out.
    pub fn traces_matching(
        &self,
        query: &TraceQuery,
        trace_ids: &[String],
    ) -> Result<Vec<TraceSummary>, StoreError> {
        let filter = &query.filter;
        let name_lower = filter.name_contains.as_deref().map(str::to_lowercase);
        let project = filter.project.as_deref();
        self.with_conn("summarizing live traces", |conn| {
            let tx = conn.transaction()?;
            let mut summarize = tx.prepare_cached(SUMMARY_OF_TRACE)?;
            let mut has_spans = tx.prepare_cached(TRACE_HAS_SPANS)?;
            let mut in_session = tx.prepare_cached(TRACE_HAS_SESSION)?;
            let mut has_alerts = tx.prepare_cached(TRACE_HAS_ALERTS)?;
            let mut matching = Vec::new();
            for trace_id in trace_ids {
                let Some(summary) = summarize
                    .query_row(rusqlite::params![trace_id, project], summary_from_row)
                    .optional()?
                else {
                    continue;
                };
                let summary_ok = filter.matches(&summary, name_lower.as_deref())
                    && query
                        .min_duration_nanos
                        .is_none_or(|min| summary.duration_nanos() >= min);
                if !summary_ok {
                    continue;
                }
                if let Some(session) = &filter.session_id {
                    let has: bool = in_session
                        .query_row(rusqlite::params![trace_id, project, session], |row| {
                            row.get(0)
                        })?;
                    if !has {
                        continue;
                    }
                }
                if query.has_span_conditions() {
                    let passes: bool = has_spans.query_row(
                        rusqlite::params![
                            trace_id,
                            project,
                            query.service_name,
                            query.kind,
                            query.model,
                            query.user_id,
                            query.text,
                        ],
                        |row| row.get(0),
                    )?;
                    if !passes {
                        continue;
                    }
                }
                if let Some(min) = query.min_cost_femtos
                    && !costs::trace_costs_at_least(&tx, project, trace_id, min)?
                {
                    continue;
                }
                if let Some(wanted) = query.has_alerts {
                    let has: bool = has_alerts
                        .query_row(rusqlite::params![trace_id, project], |row| row.get(0))?;
                    if has != wanted {
                        continue;
                    }
                }
                matching.push(summary);
            }
            Ok(matching)
        })
    }

    /// Counts, error rate, root latency percentiles and token use over time of the spans of
    /// `window` (see [`StatsWindow`]).
    pub fn stats(&self, window: &StatsWindow) -> Result<SpanStats, StoreError> {
        let project = window.project.as_deref();
        let since = window.since_unix_nanos.unwrap_or(i64::MIN);
        let until = window.until_unix_nanos.unwrap_or(i64::MAX);
        let bucket = window.bucket_nanos.max(1);
        self.with_conn("computing statistics", |conn| {
            let tx = conn.transaction()?;
            let (span_count, error_span_count, input_tokens, output_tokens) = tx
                .prepare_cached(STATS_SPAN_TOTALS)?
                .query_row(rusqlite::params![project, since, until], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })?;
            let (trace_count, error_trace_count) = tx
                .prepare_cached(STATS_TRACE_TOTALS)?
                .query_row(rusqlite::params![project, since, until], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?;
            let durations = tx
                .prepare_cached(STATS_ROOT_DURATIONS)?
                .query_map(rusqlite::params![project, since, until], |row| {
                    row.get::<_, i64>(0)
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let buckets = tx
                .prepare_cached(STATS_TOKEN_BUCKETS)?
                .query_map(rusqlite::params![project, since, until, bucket], |row| {
                    Ok(TokenBucket {
                        start_unix_nanos: row.get(0)?,
                        span_count: row.get(1)?,
                        input_tokens: row.get(2)?,
                        output_tokens: row.get(3)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(SpanStats {
                span_count,
                trace_count,
                error_span_count,
                error_trace_count,
                input_tokens,
                output_tokens,
                root_latency: RootLatency::of_sorted(&durations),
                buckets,
            })
        })
    }

    /// All spans of one trace, of every project, ordered by start time then span id; empty if
    /// no span of it is stored. `trace_id` is the full id or a prefix of at least
    /// [`MIN_TRACE_ID_PREFIX`] hex characters (any case) that starts exactly one stored trace id.
    pub fn trace(&self, trace_id: &str) -> Result<Vec<SpanRecord>, StoreError> {
        self.trace_in_project(None, trace_id)
    }

    /// Like [`trace`](Self::trace), but only the spans of `project` (`None`: every project); a
    /// prefix is resolved among that project's trace ids.
    pub fn trace_in_project(
        &self,
        project: Option<&str>,
        trace_id: &str,
    ) -> Result<Vec<SpanRecord>, StoreError> {
        let id = parse_trace_id(trace_id)?;
        self.with_conn("reading a trace", |conn| {
            let tx = conn.transaction()?;
            let full_id = match resolve_trace_id(&tx, project, &id)? {
                Lookup::Found(Some(full_id)) => full_id,
                Lookup::Found(None) => return Ok(Lookup::Found(Vec::new())),
                Lookup::Ambiguous(matches) => return Ok(Lookup::Ambiguous(matches)),
            };
            let mut stmt = tx.prepare_cached(SELECT_TRACE_SPANS)?;
            let spans = stmt
                .query_map(rusqlite::params![&full_id, project], span_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Lookup::Found(spans))
        })?
        .or_ambiguous(id)
    }

    /// For `tail`: the traces with a span that ended at or after `since_unix_nanos`, oldest trace
    /// first (by trace start, then trace id), each summarized over all its spans.
    pub fn traces_updated_since(
        &self,
        since_unix_nanos: i64,
    ) -> Result<Vec<TraceSummary>, StoreError> {
        self.with_conn("listing updated traces", |conn| {
            let mut stmt = conn.prepare_cached(SUMMARIES_UPDATED_SINCE)?;
            stmt.query_map([since_unix_nanos], summary_from_row)?
                .collect()
        })
    }

    /// How many spans the store holds.
    pub fn span_count(&self) -> Result<i64, StoreError> {
        self.with_conn("counting spans", |conn| {
            conn.prepare_cached(COUNT_SPANS)?
                .query_row([], |row| row.get(0))
        })
    }

    /// Retention: deletes the whole traces whose spans all ended before `unix_nanos` (a trace
    /// with one span ending later is kept whole), with their links and cost rows (whose
    /// figures leave `cost_metrics` too). Returns how many spans were deleted. The file
    /// does not shrink: SQLite reuses the freed pages for new spans.
    pub fn delete_older_than(&self, unix_nanos: i64) -> Result<usize, StoreError> {
        self.with_conn("deleting old traces", |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.prepare_cached(links::DELETE_LINKS_OF_TRACES_ENDED_BEFORE)?
                .execute([unix_nanos])?;
            costs::delete_costs_of_traces_ended_before(&tx, unix_nanos)?;
            tx.prepare_cached(sessions::DELETE_SESSION_TRACES_ENDED_BEFORE)?
                .execute([unix_nanos])?;
            let deleted = tx
                .prepare_cached(DELETE_TRACES_ENDED_BEFORE)?
                .execute([unix_nanos])?;
            tx.commit()?;
            Ok(deleted)
        })
    }

    /// Runs `work` on the connection and names the file and the action in its error.
    fn with_conn<T>(
        &self,
        action: &'static str,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        // A panic while the lock was held leaves no transaction open (a dropped Transaction
        // rolls back), so the connection is still good.
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        work(&mut conn).map_err(|source| {
            let file = self.label.clone();
            if sqlite_file::is_busy(&source) {
                StoreError::Busy {
                    file,
                    action,
                    source,
                }
            } else {
                StoreError::Sqlite {
                    file,
                    action,
                    source,
                }
            }
        })
    }
}

/// An API key as the store keeps it: never the key itself, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// The public start of the key (`ask_1a2b3c4d`), unique, shown in listings.
    pub prefix: String,
    /// The SHA-256 of the whole key, lower hex.
    pub sha256: String,
    /// The project the key reads and writes.
    pub project: String,
    /// When it was created, in Unix nanoseconds.
    pub created_unix_nanos: i64,
    /// When it was revoked, if it was.
    pub revoked_unix_nanos: Option<i64>,
}

impl ApiKeyRecord {
    /// Whether the key still works.
    pub fn is_active(&self) -> bool {
        self.revoked_unix_nanos.is_none()
    }
}

const API_KEY_COLUMNS: &str = "prefix, sha256, project, created_unix_nanos, revoked_unix_nanos";

fn api_key_from_row(row: &Row<'_>) -> rusqlite::Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        prefix: row.get(0)?,
        sha256: row.get(1)?,
        project: row.get(2)?,
        created_unix_nanos: row.get(3)?,
        revoked_unix_nanos: row.get(4)?,
    })
}

/// The API keys of the store (the server's), from migration step 3.
impl SqliteSpanStore {
    /// Stores a new key; `false` (and nothing written) when a key with its prefix exists.
    pub fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<bool, StoreError> {
        self.with_conn("storing an API key", |conn| {
            let inserted = conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO api_keys (prefix, sha256, project, created_unix_nanos,
                     revoked_unix_nanos) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(rusqlite::params![
                    key.prefix,
                    key.sha256,
                    key.project,
                    key.created_unix_nanos,
                    key.revoked_unix_nanos
                ])?;
            Ok(inserted == 1)
        })
    }

    /// The key with `prefix`, revoked or not.
    pub fn api_key(&self, prefix: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.with_conn("reading an API key", |conn| {
            conn.prepare_cached(&format!(
                "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE prefix = ?1"
            ))?
            .query_row([prefix], api_key_from_row)
            .optional()
        })
    }

    /// Every key, oldest first.
    pub fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.with_conn("listing API keys", |conn| {
            conn.prepare_cached(&format!(
                "SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_unix_nanos, prefix"
            ))?
            .query_map([], api_key_from_row)?
            .collect()
        })
    }

    /// Whether any key was ever stored (revoked ones count).
    pub fn has_api_keys(&self) -> Result<bool, StoreError> {
        self.with_conn("looking for API keys", |conn| {
            conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM api_keys)")?
                .query_row([], |row| row.get(0))
        })
    }

    /// Revokes the key with `prefix` at `unix_nanos` (a key revoked earlier keeps its first
    /// revocation time); the key as it now is, `None` if there is no such key.
    pub fn revoke_api_key(
        &self,
        prefix: &str,
        unix_nanos: i64,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.with_conn("revoking an API key", |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.prepare_cached(
                "UPDATE api_keys SET revoked_unix_nanos = ?2
                 WHERE prefix = ?1 AND revoked_unix_nanos IS NULL",
            )?
            .execute(rusqlite::params![prefix, unix_nanos])?;
            let key = tx
                .prepare_cached(&format!(
                    "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE prefix = ?1"
                ))?
                .query_row([prefix], api_key_from_row)
                .optional()?;
            tx.commit()?;
            Ok(key)
        })
    }
}

/// Reads a row of [`SELECT_TRACE_SPANS`].
fn span_from_row(row: &Row<'_>) -> rusqlite::Result<SpanRecord> {
    let code: i64 = row.get(8)?;
    let status = SpanStatus::from_otlp_code(code).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            8,
            rusqlite::types::Type::Integer,
            format!("span status {code} is not an OTLP status code (0, 1 or 2)").into(),
        )
    })?;
    Ok(SpanRecord {
        trace_id: row.get(0)?,
        span_id: row.get(1)?,
        parent_span_id: row.get(2)?,
        name: row.get(3)?,
        kind: row.get(4)?,
        service_name: row.get(5)?,
        start_unix_nanos: row.get(6)?,
        end_unix_nanos: row.get(7)?,
        status,
        status_message: row.get(9)?,
        provider: row.get(10)?,
        model: row.get(11)?,
        input_tokens: row.get(12)?,
        output_tokens: row.get(13)?,
        cache_read_input_tokens: row.get(14)?,
        cache_creation_input_tokens: row.get(15)?,
        reasoning_output_tokens: row.get(16)?,
        session_id: row.get(17)?,
        user_id: row.get(18)?,
        input: row.get(19)?,
        output: row.get(20)?,
        attributes: row.get(21)?,
        events: row.get(22)?,
        project: row.get(23)?,
        links: row.get(24)?,
        resource: row.get(25)?,
    })
}

/// Reads a row of the `summary_sql!` queries.
fn summary_from_row(row: &Row<'_>) -> rusqlite::Result<TraceSummary> {
    Ok(TraceSummary {
        trace_id: row.get(0)?,
        root_name: row.get(1)?,
        service_name: row.get(2)?,
        session_id: row.get(3)?,
        start_unix_nanos: row.get(4)?,
        end_unix_nanos: row.get(5)?,
        span_count: row.get(6)?,
        input_tokens: row.get(7)?,
        output_tokens: row.get(8)?,
        error_count: row.get(9)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The query plan of `sql`, one detail line per step.
    fn plan(store: &SqliteSpanStore, sql: &str, params: &[&dyn rusqlite::ToSql]) -> String {
        let conn = store.conn.lock().unwrap();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(params, |row| row.get::<_, String>(3))
            .unwrap();
        rows.map(|row| row.unwrap()).collect::<Vec<_>>().join("\n")
    }

    /// The opcodes SQLite runs for `sql` (EXPLAIN), one per line.
    fn opcodes(store: &SqliteSpanStore, sql: &str) -> String {
        let conn = store.conn.lock().unwrap();
        let mut stmt = conn.prepare(&format!("EXPLAIN {sql}")).unwrap();
        let nulls = vec![rusqlite::types::Null; stmt.parameter_count()];
        let rows = stmt
            .query_map(rusqlite::params_from_iter(nulls), |row| {
                row.get::<_, String>(1)
            })
            .unwrap();
        rows.map(|row| row.unwrap()).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn step_9_checks_the_status_of_a_step_8_file_without_a_temporary_btree_per_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("traces.db");
        let mut written = rec(1, 1, None, "agent run", 100, 1100);
        written.status = SpanStatus::Error;
        {
            let step_8 = Schema {
                application_id: APPLICATION_ID,
                migrations: &MIGRATIONS[..8],
            };
            let conn = sqlite_file::open_file(&path, &step_8).unwrap();
            let store = SqliteSpanStore::from_connection(conn, Some(path.clone()), "v8".into());
            store.insert_spans(&[written.clone()]).unwrap();
            assert!(
                opcodes(&store, INSERT_SPAN).contains("OpenEphemeral"),
                "step 8 builds the IN list's b-tree for every row"
            );
        }
        let store = SqliteSpanStore::open(&path).unwrap();
        let table: String = store
            .with_conn("test", |conn| {
                conn.query_row(
                    "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'spans'",
                    [],
                    |row| row.get(0),
                )
            })
            .unwrap();
        assert!(table.contains("CHECK (status BETWEEN 0 AND 2)"), "{table}");
        assert!(!table.contains("IN (0, 1, 2)"), "{table}");
        // The connection that migrated runs the new check at once.
        let insert = opcodes(&store, INSERT_SPAN);
        assert!(!insert.contains("OpenEphemeral"), "{insert}");
        // Still enforced, and the file is sound, with its span.
        let refused = store
            .with_conn("test", |conn| {
                conn.execute("UPDATE spans SET status = 3", [])
            })
            .unwrap_err();
        assert!(refused.to_string().contains("CHECK"), "{refused}");
        let integrity: String = store
            .with_conn("test", |conn| {
                conn.query_row("PRAGMA integrity_check", [], |row| row.get(0))
            })
            .unwrap();
        assert_eq!(integrity, "ok");
        let trace = store.trace(&written.trace_id).unwrap();
        assert_eq!(trace.len(), 1);
        assert_eq!(trace[0].status, SpanStatus::Error);
        // A connection opened afterwards reads the new check too.
        let again = SqliteSpanStore::open(&path).unwrap();
        assert!(!opcodes(&again, INSERT_SPAN).contains("OpenEphemeral"));
    }

    #[test]
    fn hot_queries_use_their_indexes() {
        let store = SqliteSpanStore::open_in_memory().unwrap();
        let scan = plan(&store, SCAN_SPAN_STARTS, &[&0i64, &None::<String>]);
        assert!(scan.contains("COVERING INDEX spans_by_start"), "{scan}");
        let scan = plan(&store, SCAN_SPAN_STARTS, &[&0i64, &"p"]);
        assert!(scan.contains("COVERING INDEX spans_by_start"), "{scan}");
        let session = plan(&store, SCAN_SESSION_SPAN_STARTS, &[&0i64, &"p", &"s"]);
        assert!(
            session.contains("session_traces USING PRIMARY KEY"),
            "{session}"
        );
        assert!(!session.contains("TEMP B-TREE"), "{session}");
        let summary = plan(&store, SUMMARY_OF_TRACE, &[&"t", &"p"]);
        assert!(summary.contains("sqlite_autoindex_spans_1"), "{summary}");
        assert!(!summary.contains("SCAN spans"), "{summary}");
        let updated = plan(&store, SUMMARIES_UPDATED_SINCE, &[&0i64]);
        assert!(updated.contains("spans_by_end"), "{updated}");
        assert!(!updated.contains("SCAN spans\n"), "{updated}");
        let prefix = plan(&store, SELECT_TRACE_IDS_WITH_PREFIX, &[&"a", &"b", &"p"]);
        assert!(
            prefix.contains("sqlite_autoindex_spans_1 (trace_id>? AND trace_id<?)"),
            "{prefix}"
        );
        let spans = plan(
            &store,
            TRACE_HAS_SPANS,
            &[&"t", &"p", &"s", &"k", &"m", &"u", &"x"],
        );
        assert!(!spans.contains("SCAN spans"), "{spans}");
        let delete = plan(&store, DELETE_TRACES_ENDED_BEFORE, &[&0i64]);
        assert!(delete.contains("spans_by_end"), "{delete}");
    }

    fn rec(
        trace: u64,
        span: u64,
        parent: Option<u64>,
        name: &str,
        start: i64,
        end: i64,
    ) -> SpanRecord {
        let mut record = SpanRecord::new(
            format!("{trace:032x}"),
            format!("{span:016x}"),
            name,
            start,
            end,
        );
        record.parent_span_id = parent.map(|p| format!("{p:016x}"));
        record
    }

    /// 1: agent (svc-a, user u1) with an llm child (gpt-4o, input "Hello World"), 100..1100;
    /// 2: tool-only trace (svc-b, user u2, output "50% off_now"), 200..250;
    /// 3: chain (svc-a) in project "other", 300..400.
    fn query_store() -> SqliteSpanStore {
        let store = SqliteSpanStore::open_in_memory().unwrap();
        let mut a = rec(1, 1, None, "agent run", 100, 1100);
        a.kind = Some("agent".into());
        a.service_name = Some("svc-a".into());
        a.user_id = Some("u1".into());
        let mut llm = rec(1, 2, Some(1), "chat", 150, 900);
        llm.kind = Some("llm".into());
        llm.model = Some("gpt-4o".into());
        llm.input = Some(r#"{"prompt":"Hello World"}"#.into());
        llm.input_tokens = Some(10);
        llm.output_tokens = Some(5);
        let mut tool = rec(2, 1, None, "search", 200, 250);
        tool.kind = Some("tool".into());
        tool.service_name = Some("svc-b".into());
        tool.user_id = Some("u2".into());
        tool.output = Some(r#""50% off_now""#.into());
        tool.status = SpanStatus::Error;
        let mut other = rec(3, 1, None, "chain", 300, 400);
        other.kind = Some("chain".into());
        other.service_name = Some("svc-a".into());
        other.project = "other".into();
        store.insert_spans(&[a, llm, tool, other]).unwrap();
        store
    }

    fn page(store: &SqliteSpanStore, query: TraceQuery) -> Vec<u64> {
        store
            .trace_page(&query)
            .unwrap()
            .traces
            .iter()
            .map(|t| u64::from_str_radix(&t.trace_id, 16).unwrap())
            .collect()
    }

    fn in_default(query: TraceQuery) -> TraceQuery {
        TraceQuery {
            filter: TraceFilter {
                project: Some(DEFAULT_PROJECT.into()),
                ..query.filter
            },
            ..query
        }
    }

    #[test]
    fn trace_queries_filter_on_any_span() {
        let store = query_store();
        let q = |query: TraceQuery| page(&store, in_default(query));
        assert_eq!(q(TraceQuery::default()), [2, 1]);
        let service = |s: &str| TraceQuery {
            service_name: Some(s.into()),
            ..TraceQuery::default()
        };
        assert_eq!(q(service("svc-a")), [1], "trace 3 is in another project");
        assert_eq!(q(service("svc-b")), [2]);
        assert_eq!(
            q(service("svc")),
            Vec::<u64>::new(),
            "exact, not a substring"
        );
        let kind = |k: &str| TraceQuery {
            kind: Some(k.into()),
            ..TraceQuery::default()
        };
        assert_eq!(q(kind("llm")), [1], "a child's kind counts");
        assert_eq!(q(kind("tool")), [2]);
        assert_eq!(q(kind("chain")), Vec::<u64>::new());
        let model = |m: &str| TraceQuery {
            model: Some(m.into()),
            ..TraceQuery::default()
        };
        assert_eq!(q(model("gpt-4o")), [1]);
        assert_eq!(q(model("gpt-4")), Vec::<u64>::new());
        let user = |u: &str| TraceQuery {
            user_id: Some(u.into()),
            ..TraceQuery::default()
        };
        assert_eq!(q(user("u2")), [2]);
        assert_eq!(q(user("u3")), Vec::<u64>::new());
        let min = TraceQuery {
            min_duration_nanos: Some(51),
            ..TraceQuery::default()
        };
        assert_eq!(q(min), [1]);
        let min = TraceQuery {
            min_duration_nanos: Some(50),
            ..TraceQuery::default()
        };
        assert_eq!(q(min), [2, 1]);
        // Two span conditions met by different spans of one trace.
        let both = TraceQuery {
            kind: Some("agent".into()),
            model: Some("gpt-4o".into()),
            ..TraceQuery::default()
        };
        assert_eq!(q(both), [1]);
        // Every project when the filter has none.
        assert_eq!(page(&store, service("svc-a")), [3, 1]);
    }

    #[test]
    fn text_search_is_literal_and_case_insensitive() {
        let store = query_store();
        let text = |t: &str| {
            page(
                &store,
                in_default(TraceQuery {
                    text: Some(t.into()),
                    ..TraceQuery::default()
                }),
            )
        };
        assert_eq!(text("hello world"), [1], "input, any case");
        assert_eq!(text("OFF_NOW"), [2], "output");
        assert_eq!(text("%"), [2], "% is a character, not a wildcard");
        assert_eq!(text("_"), [2], "_ too");
        assert_eq!(text("50%"), [2]);
        assert_eq!(text("h%o"), Vec::<u64>::new());
        assert_eq!(text("' OR 1=1 --"), Vec::<u64>::new());
        assert_eq!(text("\"; DROP TABLE spans; --"), Vec::<u64>::new());
        assert_eq!(store.span_count().unwrap(), 4);
    }

    #[test]
    fn pages_follow_the_cursor_newest_first() {
        let store = SqliteSpanStore::open_in_memory().unwrap();
        // Seven traces, two of them starting at the same time.
        let spans: Vec<SpanRecord> = (1..=7)
            .map(|n| {
                rec(
                    n,
                    1,
                    None,
                    "t",
                    if n == 4 { 30 } else { n as i64 * 10 },
                    1000,
                )
            })
            .collect();
        store.insert_spans(&spans).unwrap();
        let mut query = TraceQuery {
            filter: TraceFilter {
                limit: 3,
                ..TraceFilter::default()
            },
            ..TraceQuery::default()
        };
        let mut all = Vec::new();
        let mut pages = 0;
        loop {
            let page = store.trace_page(&query).unwrap();
            pages += 1;
            all.extend(
                page.traces
                    .iter()
                    .map(|t| u64::from_str_radix(&t.trace_id, 16).unwrap()),
            );
            match page.next {
                Some(next) => query.before = Some(next),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(all, [7, 6, 5, 4, 3, 2, 1]);
        // A page that ends exactly at the last trace says there is no next one.
        query.before = None;
        query.filter.limit = 7;
        assert_eq!(store.trace_page(&query).unwrap().next, None);
    }

    #[test]
    fn stats_count_spans_traces_latency_and_tokens() {
        let store = query_store();
        let window = StatsWindow {
            project: Some(DEFAULT_PROJECT.into()),
            since_unix_nanos: None,
            until_unix_nanos: None,
            bucket_nanos: 100,
        };
        let stats = store.stats(&window).unwrap();
        assert_eq!((stats.span_count, stats.trace_count), (3, 2));
        assert_eq!((stats.error_span_count, stats.error_trace_count), (1, 1));
        assert_eq!((stats.input_tokens, stats.output_tokens), (10, 5));
        let latency = stats.root_latency.unwrap();
        assert_eq!(
            (latency.p50_nanos, latency.p95_nanos, latency.p99_nanos),
            (50, 1000, 1000)
        );
        let buckets: Vec<(i64, i64, i64)> = stats
            .buckets
            .iter()
            .map(|b| (b.start_unix_nanos, b.span_count, b.input_tokens))
            .collect();
        assert_eq!(buckets, [(100, 2, 10), (200, 1, 0)]);
        let later = store
            .stats(&StatsWindow {
                since_unix_nanos: Some(200),
                ..window.clone()
            })
            .unwrap();
        assert_eq!(
            (later.span_count, later.trace_count, later.input_tokens),
            (1, 1, 0)
        );
        let empty = store
            .stats(&StatsWindow {
                until_unix_nanos: Some(100),
                ..window
            })
            .unwrap();
        assert_eq!((empty.span_count, empty.root_latency), (0, None));
        assert_eq!(
            RootLatency::of_sorted(&(1..=100).collect::<Vec<_>>()).map(|l| (
                l.p50_nanos,
                l.p95_nanos,
                l.p99_nanos
            )),
            Some((50, 95, 99))
        );
    }

    #[test]
    fn malformed_ids_are_refused_before_anything_is_written() {
        let store = SqliteSpanStore::open_in_memory().unwrap();
        let good = SpanRecord::new("0".repeat(32), "1".repeat(16), "ok", 1, 2);
        let mut upper = SpanRecord::new("A".repeat(32), "1".repeat(16), "bad", 1, 2);
        let error = store
            .insert_spans(&[good.clone(), upper.clone()])
            .unwrap_err();
        assert!(
            matches!(error, StoreError::InvalidSpan { index: 1, .. }),
            "{error}"
        );
        upper.trace_id = "a".repeat(32);
        upper.parent_span_id = Some(String::new());
        assert!(store.insert_spans(&[upper]).is_err());
        assert_eq!(store.span_count().unwrap(), 0);
        assert_eq!(store.insert_spans(&[good]).unwrap(), 1);
    }

    #[test]
    fn api_keys_are_stored_listed_and_revoked_once() {
        let store = SqliteSpanStore::open_in_memory().unwrap();
        assert!(!store.has_api_keys().unwrap());
        let key = ApiKeyRecord {
            prefix: "ask_01234567".into(),
            sha256: "ab".repeat(32),
            project: "alpha".into(),
            created_unix_nanos: 10,
            revoked_unix_nanos: None,
        };
        assert!(store.insert_api_key(&key).unwrap());
        assert!(!store.insert_api_key(&key).unwrap(), "a prefix is unique");
        assert!(store.has_api_keys().unwrap());
        assert_eq!(store.api_key("ask_01234567").unwrap(), Some(key.clone()));
        assert_eq!(store.api_keys().unwrap(), vec![key.clone()]);
        let revoked = store.revoke_api_key("ask_01234567", 20).unwrap().unwrap();
        assert_eq!(revoked.revoked_unix_nanos, Some(20));
        assert!(!revoked.is_active());
        let again = store.revoke_api_key("ask_01234567", 30).unwrap().unwrap();
        assert_eq!(
            again.revoked_unix_nanos,
            Some(20),
            "the first revocation stays"
        );
        assert_eq!(store.revoke_api_key("ask_nothere", 30).unwrap(), None);
        assert!(store.has_api_keys().unwrap(), "revoked keys still count");
    }
}
