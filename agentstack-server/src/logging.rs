//! The server's logs: every role writes its events (`tracing`) to stderr, one line each, as
//! text for a person or as JSON for a log pipeline (`--log-format json`). `--log` (env
//! `AGENTSTACK_LOG`) filters them with `tracing-subscriber`'s `EnvFilter` syntax: a level
//! (`warn`), or per module (`info,agentstack_server::bus=debug`). The start-up banner (the
//! addresses a role listens on) stays on stdout, where scripts read it.
//!
//! Events carry their facts as fields (`stream`, `group`, `error`, `spans`, …), so a JSON line
//! can be filtered on them; the message says what happened and what follows from it.

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The filter used when neither `--log` nor `AGENTSTACK_LOG` is given.
pub const DEFAULT_FILTER: &str = "info";

/// How each log line is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `2026-12-01T15:04:05.123456Z  WARN agentstack_server::bus::redis: message field=value`.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message` and the event's
    /// fields at the top level.
    Json,
}

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// The filter is not `EnvFilter` syntax.
    #[error(
        "--log {filter:?} is not a log filter: {source}; give a level (error, warn, info, \
         debug, trace) or directives such as \"info,agentstack_server::bus=debug\""
    )]
    Filter {
        /// The filter given.
        filter: String,
        /// What the parser said.
        source: tracing_subscriber::filter::ParseError,
    },
    /// Another subscriber was installed first (only possible when the library is embedded).
    #[error("a tracing subscriber is already installed in this process")]
    AlreadyInstalled,
}

/// Installs the process's subscriber: events passing `filter` go to stderr in `format`.
pub fn init(format: LogFormat, filter: &str) -> Result<(), LoggingError> {
    let filter_layer =
        EnvFilter::builder()
            .parse(filter)
            .map_err(|source| LoggingError::Filter {
                filter: filter.to_string(),
                source,
            })?;
    let registry = tracing_subscriber::registry().with(filter_layer);
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let installed = match format {
        LogFormat::Text => registry.with(stderr).try_init(),
        LogFormat::Json => registry
            .with(
                stderr
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false),
            )
            .try_init(),
    };
    installed.map_err(|_| LoggingError::AlreadyInstalled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_that_does_not_parse_is_refused_with_its_text() {
        let error = init(LogFormat::Text, "info,agentstack_server=loudest").unwrap_err();
        assert!(matches!(error, LoggingError::Filter { .. }), "{error}");
        assert!(
            error
                .to_string()
                .contains("\"info,agentstack_server=loudest\""),
            "{error}"
        );
    }
}
