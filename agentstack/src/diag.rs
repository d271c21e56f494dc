//! The SDK's own messages to stderr, prefixed `agentstack:`, filtered by `AGENTSTACK_LOG`.
//!
//! Written directly to stderr rather than through `tracing` or `log`: a message about the export
//! pipeline must never become a span that goes through the same pipeline.

use std::fmt::Arguments;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Off,
    Error,
    Warn,
    Info,
    Debug,
}

fn max_level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        match std::env::var("AGENTSTACK_LOG")
            .unwrap_or_default()
            .to_ascii_lowercase()
            .as_str()
        {
            "off" | "none" => Level::Off,
            "error" => Level::Error,
            "info" => Level::Info,
            "debug" | "trace" => Level::Debug,
            _ => Level::Warn,
        }
    })
}

fn emit(level: Level, label: &str, message: Arguments<'_>) {
    if level <= max_level() {
        eprintln!("agentstack: {label}{message}");
    }
}

pub(crate) fn error(message: Arguments<'_>) {
    emit(Level::Error, "error: ", message);
}

pub(crate) fn warn(message: Arguments<'_>) {
    emit(Level::Warn, "warning: ", message);
}

pub(crate) fn info(message: Arguments<'_>) {
    emit(Level::Info, "", message);
}

pub(crate) fn debug(message: Arguments<'_>) {
    emit(Level::Debug, "debug: ", message);
}
