//! The rows as ClickHouse sends and receives them (RowBinary, field order = column order), and
//! their conversion from and to the shared span model of `agentstack-exporter-sqlite`.

use agentstack_exporter_sqlite::{SpanRecord, SpanStatus, StorableSpan, TraceSummary};

use crate::trace_id::is_lower_hex;

/// The columns of `spans` (and `spans_archive`) in [`SpanRow`]'s field order.
pub(crate) const SPAN_COLUMNS: &str = "project, trace_id, span_id, parent_span_id, name, kind, \
    service_name, start_unix_nanos, end_unix_nanos, start_time, status, status_message, provider, \
    model, input_tokens, output_tokens, cache_read_input_tokens, cache_creation_input_tokens, \
    reasoning_output_tokens, session_id, user_id, input, output, attributes, events, links, \
    resource, write_rank";

/// One row of `spans`.
#[derive(Debug, Clone, clickhouse::Row, serde::Serialize, serde::Deserialize)]
pub(crate) struct SpanRow {
    pub project: String,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub kind: Option<String>,
    pub service_name: Option<String>,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
    /// `DateTime('UTC')`: whole seconds of the start, the partition key.
    pub start_time: u32,
    pub status: u8,
    pub status_message: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cache_read_input_tokens: Option<i64>,
    pub cache_creation_input_tokens: Option<i64>,
    pub reasoning_output_tokens: Option<i64>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    pub input: Option<String>,
    pub output: Option<String>,
    pub attributes: String,
    pub events: String,
    pub links: String,
    pub resource: String,
    /// The ReplacingMergeTree version: `u64::MAX` minus the write time in nanoseconds, so the
    /// earliest write of a span has the highest rank and is the one kept.
    pub write_rank: u64,
}

/// Nanoseconds in a second.
const NANOS_PER_SECOND: u64 = 1_000_000_000;

impl SpanRow {
    /// The row of `span`, written at `write_unix_nanos`; refuses what the schema cannot hold or
    /// the reads rely on (the same id checks as the SQLite store, and times before 1970 or past
    /// 2106, which `DateTime` cannot hold).
    pub(crate) fn from_span(
        storable: &impl StorableSpan,
        write_unix_nanos: u64,
    ) -> Result<SpanRow, &'static str> {
        let span = storable.record();
        if !is_lower_hex(&span.trace_id, 32) {
            return Err("trace_id must be 32 lowercase hex characters");
        }
        if !is_lower_hex(&span.span_id, 16) {
            return Err("span_id must be 16 lowercase hex characters");
        }
        if let Some(parent) = &span.parent_span_id
            && !is_lower_hex(parent, 16)
        {
            return Err(
                "parent_span_id must be 16 lowercase hex characters (None for a root span)",
            );
        }
        let start = u64::try_from(span.start_unix_nanos)
            .map_err(|_| "start_unix_nanos must not be before 1970 (negative)")?;
        let end = u64::try_from(span.end_unix_nanos)
            .map_err(|_| "end_unix_nanos must not be before 1970 (negative)")?;
        let start_time = u32::try_from(start / NANOS_PER_SECOND)
            .map_err(|_| "start_unix_nanos must be before 2106 (ClickHouse DateTime)")?;
        Ok(SpanRow {
            project: storable.project().to_string(),
            trace_id: span.trace_id.clone(),
            span_id: span.span_id.clone(),
            parent_span_id: span.parent_span_id.clone(),
            name: span.name.clone(),
            kind: span.kind.clone(),
            service_name: span.service_name.clone(),
            start_unix_nanos: start,
            end_unix_nanos: end,
            start_time,
            status: span.status.otlp_code() as u8,
            status_message: span.status_message.clone(),
            provider: span.provider.clone(),
            model: span.model.clone(),
            input_tokens: span.input_tokens,
            output_tokens: span.output_tokens,
            cache_read_input_tokens: span.cache_read_input_tokens,
            cache_creation_input_tokens: span.cache_creation_input_tokens,
            reasoning_output_tokens: span.reasoning_output_tokens,
            session_id: span.session_id.clone(),
            user_id: span.user_id.clone(),
            input: span.input.clone(),
            output: span.output.clone(),
            attributes: span.attributes.clone(),
            events: span.events.clone(),
            links: storable.links().into_owned(),
            resource: storable.resource().to_string(),
            write_rank: u64::MAX - write_unix_nanos,
        })
    }

    /// The span of this row; `Err` names a status code OTLP does not define.
    pub(crate) fn into_record(self) -> Result<SpanRecord, String> {
        let status = SpanStatus::from_otlp_code(i64::from(self.status)).ok_or_else(|| {
            format!(
                "span status {} is not an OTLP status code (0, 1 or 2)",
                self.status
            )
        })?;
        Ok(SpanRecord {
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            name: self.name,
            kind: self.kind,
            service_name: self.service_name,
            // Written from non-negative i64, so they fit.
            start_unix_nanos: self.start_unix_nanos as i64,
            end_unix_nanos: self.end_unix_nanos as i64,
            status,
            status_message: self.status_message,
            provider: self.provider,
            model: self.model,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cache_read_input_tokens: self.cache_read_input_tokens,
            cache_creation_input_tokens: self.cache_creation_input_tokens,
            reasoning_output_tokens: self.reasoning_output_tokens,
            session_id: self.session_id,
            user_id: self.user_id,
            input: self.input,
            output: self.output,
            attributes: self.attributes,
            events: self.events,
            project: self.project,
            links: self.links,
            resource: self.resource,
        })
    }
}

/// One trace summary as the trace list query computes it (columns of `TRACE_SUMMARY_COLUMNS`).
#[derive(Debug, Clone, clickhouse::Row, serde::Deserialize)]
pub(crate) struct SummaryRow {
    pub trace_id: String,
    pub root_name: String,
    /// Whether the root span has no service (then any span's is taken).
    pub root_service_missing: u8,
    pub root_service: String,
    pub any_service: Option<String>,
    pub root_session_missing: u8,
    pub root_session: String,
    pub any_session: Option<String>,
    pub trace_start: i64,
    pub trace_end: i64,
    pub span_count: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub error_count: i64,
}

impl SummaryRow {
    /// The summary, with the root's service and session preferred, else any span's (the
    /// smallest, as SQLite's `MIN` picks it).
    pub(crate) fn into_summary(self) -> TraceSummary {
        TraceSummary {
            trace_id: self.trace_id,
            root_name: self.root_name,
            service_name: if self.root_service_missing == 0 {
                Some(self.root_service)
            } else {
                self.any_service
            },
            session_id: if self.root_session_missing == 0 {
                Some(self.root_session)
            } else {
                self.any_session
            },
            start_unix_nanos: self.trace_start,
            end_unix_nanos: self.trace_end,
            span_count: self.span_count,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            error_count: self.error_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clickhouse::Row;

    #[test]
    fn span_columns_are_in_field_order() {
        let listed: Vec<&str> = SPAN_COLUMNS.split(',').map(str::trim).collect();
        assert_eq!(listed, SpanRow::COLUMN_NAMES);
    }
}
