//! Configuration of the SDK: where spans go, how they are batched, what is scrubbed.
//!
//! Precedence, highest first: values set on the [`ConfigBuilder`] in code, then `AGENTSTACK_*`
//! environment variables, then the standard `OTEL_*` variables, then the defaults.

use std::env;
use std::path::PathBuf;
use std::time::Duration;

/// Spans the ring buffer holds before it drops: enough for a burst of 100,000 spans while the
/// endpoint is stalled.
pub const DEFAULT_BUFFER_CAPACITY: usize = 131_072;
const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:4318";
const TRACES_PATH: &str = "/v1/traces";
/// The local trace file of [`ExportMode::Local`], relative to the working directory.
pub const DEFAULT_LOCAL_PATH: &str = agentstack_exporter_sqlite::store::DEFAULT_LOCAL_PATH;
/// Where batches that could not be delivered wait, relative to the working directory.
pub const DEFAULT_SPOOL_PATH: &str = "./.agentstack/spool.db";
/// Size cap of the spool; past it the oldest batches go.
pub const DEFAULT_SPOOL_MAX_BYTES: u64 = agentstack_exporter_sqlite::spool::DEFAULT_MAX_BYTES;

/// Where spans go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportMode {
    /// Straight into a local SQLite file (stage 1: no server). The default when no endpoint is
    /// configured, or with `AGENTSTACK_MODE=local`.
    Local {
        /// The trace file, read by `agentstack traces` / `agentstack show`.
        path: PathBuf,
    },
    /// OTLP/HTTP to a collector, with retries and a spool for when it is down.
    Otlp,
}

/// Everything the pipeline needs, resolved. Build one with [`Config::from_env`] or
/// [`crate::builder`].
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Local file or OTLP endpoint.
    pub mode: ExportMode,
    /// `service.name` of the resource; `None` leaves it to `OTEL_SERVICE_NAME` or the SDK default.
    pub service_name: Option<String>,
    /// Full URL that OTLP/HTTP requests are POSTed to (ends in `/v1/traces`).
    pub traces_endpoint: String,
    /// Extra request headers (from `OTEL_EXPORTER_OTLP_HEADERS` and the builder).
    pub headers: Vec<(String, String)>,
    /// Sent as `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// Resource attributes set in code; `OTEL_RESOURCE_ATTRIBUTES` is read as well.
    pub resource_attributes: Vec<(String, String)>,
    /// Finished spans the ring buffer holds; past it spans are dropped and counted.
    pub buffer_capacity: usize,
    /// Export as soon as this many spans are waiting.
    pub flush_every_spans: usize,
    /// Export at least this often when spans are waiting.
    pub flush_interval: Duration,
    /// Most spans in one OTLP request.
    pub max_export_batch: usize,
    /// Timeout of one OTLP request.
    pub export_timeout: Duration,
    /// How long shutdown waits for the last export.
    pub shutdown_timeout: Duration,
    /// Compress requests with gzip.
    pub gzip: bool,
    /// Scrub PII and secrets from captured values and string attributes before export.
    pub sanitize: bool,
    /// Extra redaction patterns: (name, regex). Matches become `[REDACTED:<name>]`.
    pub redact_patterns: Vec<(String, String)>,
    /// Capture function arguments and return values (each `#[observe]` can still opt out).
    pub capture: bool,
    /// Longest captured input or output, in bytes; longer values are truncated.
    pub max_capture_bytes: usize,
    /// Retries of a failed export before its batch is spooled (backoff with jitter between them).
    pub max_retries: usize,
    /// Longest wait between two retries (also caps a collector's Retry-After).
    pub max_retry_delay: Duration,
    /// Keep batches that could not be delivered in the spool file and replay them later.
    pub spool: bool,
    /// The spool file (SQLite, shared safely by several processes).
    pub spool_path: PathBuf,
    /// Size cap of the spool in bytes; past it the oldest batches are evicted and counted.
    pub spool_max_bytes: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: ExportMode::Local {
                path: PathBuf::from(DEFAULT_LOCAL_PATH),
            },
            service_name: None,
            traces_endpoint: format!("{DEFAULT_ENDPOINT}{TRACES_PATH}"),
            headers: Vec::new(),
            api_key: None,
            resource_attributes: Vec::new(),
            buffer_capacity: DEFAULT_BUFFER_CAPACITY,
            flush_every_spans: 64,
            flush_interval: Duration::from_secs(5),
            max_export_batch: 512,
            export_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(5),
            gzip: true,
            sanitize: true,
            redact_patterns: Vec::new(),
            capture: true,
            max_capture_bytes: 32 * 1024,
            max_retries: 3,
            max_retry_delay: Duration::from_secs(5),
            spool: true,
            spool_path: PathBuf::from(DEFAULT_SPOOL_PATH),
            spool_max_bytes: DEFAULT_SPOOL_MAX_BYTES,
        }
    }
}

/// A configuration value that cannot be used, with the variable or setting that holds it.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    /// An environment variable holds something that does not parse.
    #[error("environment variable {name}={value:?} is not valid: {reason}")]
    InvalidEnv {
        /// The variable.
        name: &'static str,
        /// What it holds.
        value: String,
        /// What was expected.
        reason: String,
    },
    /// A setting is out of range.
    #[error("setting {name} is not valid: {reason}")]
    InvalidSetting {
        /// The setting.
        name: &'static str,
        /// What is wrong and what to set instead.
        reason: String,
    },
    /// A custom redaction pattern is not a valid regex.
    #[error("redaction pattern {name:?} is not a valid regex: {reason}")]
    InvalidRedactPattern {
        /// The pattern's name.
        name: String,
        /// The regex error.
        reason: String,
    },
}

impl Config {
    /// Reads the configuration from the environment:
    ///
    /// | variable | meaning |
    /// |---|---|
    /// | `AGENTSTACK_ENDPOINT` | base URL of the collector (`/v1/traces` is appended unless present) |
    /// | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | full traces URL, used as is |
    /// | `OTEL_EXPORTER_OTLP_ENDPOINT` | base URL (`/v1/traces` appended) |
    /// | `AGENTSTACK_API_KEY` | project API key, sent as `Authorization: Bearer …` |
    /// | `OTEL_EXPORTER_OTLP_HEADERS` | `key=value,key2=value2` (values URL-decoded) |
    /// | `AGENTSTACK_SERVICE_NAME`, `OTEL_SERVICE_NAME` | `service.name` |
    /// | `OTEL_RESOURCE_ATTRIBUTES` | `key=value,…` resource attributes |
    /// | `AGENTSTACK_FLUSH_SPANS`, `AGENTSTACK_FLUSH_INTERVAL_MS` | batching |
    /// | `AGENTSTACK_BUFFER_CAPACITY` | ring buffer size |
    /// | `AGENTSTACK_SANITIZE` | `false` turns PII scrubbing off |
    /// | `AGENTSTACK_CAPTURE` | `false` turns argument/return capture off |
    /// | `AGENTSTACK_MODE` | `local` (SQLite file) or `otlp`; default: `otlp` when an endpoint is set, else `local` |
    /// | `AGENTSTACK_LOCAL_PATH` | the local trace file (default `.agentstack/traces.db`) |
    /// | `AGENTSTACK_MAX_RETRIES` | retries before a batch is spooled (default 3) |
    /// | `AGENTSTACK_SPOOL`, `AGENTSTACK_SPOOL_PATH`, `AGENTSTACK_SPOOL_MAX_BYTES` | the spool (on, `.agentstack/spool.db`, 256 MiB) |
    /// | `AGENTSTACK_LOG` | `off`, `error`, `warn` (default), `info`, `debug`: the SDK's own stderr messages |
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    /// [`Config::from_env`] with a custom variable lookup (used by tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let mut config = Config::default();

        let mut endpoint_set = true;
        if let Some(url) = get("AGENTSTACK_ENDPOINT") {
            config.traces_endpoint = traces_url_from_base(&url);
        } else if let Some(url) = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            config.traces_endpoint = url.trim().to_string();
        } else if let Some(url) = get("OTEL_EXPORTER_OTLP_ENDPOINT") {
            config.traces_endpoint = traces_url_from_base(&url);
        } else {
            endpoint_set = false;
        }
        let local_path = get("AGENTSTACK_LOCAL_PATH")
            .map_or_else(|| PathBuf::from(DEFAULT_LOCAL_PATH), PathBuf::from);
        config.mode = match get("AGENTSTACK_MODE")
            .map(|m| m.trim().to_ascii_lowercase())
            .as_deref()
        {
            Some("local") => ExportMode::Local { path: local_path },
            Some("otlp") => ExportMode::Otlp,
            Some(other) => {
                return Err(ConfigError::InvalidEnv {
                    name: "AGENTSTACK_MODE",
                    value: other.to_string(),
                    reason: "expected local or otlp".into(),
                });
            }
            None if endpoint_set => ExportMode::Otlp,
            None => ExportMode::Local { path: local_path },
        };
        config.api_key = get("AGENTSTACK_API_KEY").map(|key| key.trim().to_string());
        if let Some(headers) = get("OTEL_EXPORTER_OTLP_HEADERS") {
            config.headers =
                parse_key_values(&headers).map_err(|reason| ConfigError::InvalidEnv {
                    name: "OTEL_EXPORTER_OTLP_HEADERS",
                    value: headers.clone(),
                    reason,
                })?;
        }
        config.service_name = get("AGENTSTACK_SERVICE_NAME").or_else(|| get("OTEL_SERVICE_NAME"));
        if let Some(value) = get("AGENTSTACK_FLUSH_SPANS") {
            config.flush_every_spans = parse_number("AGENTSTACK_FLUSH_SPANS", &value)?;
        }
        if let Some(value) = get("AGENTSTACK_FLUSH_INTERVAL_MS") {
            config.flush_interval =
                Duration::from_millis(parse_number("AGENTSTACK_FLUSH_INTERVAL_MS", &value)? as u64);
        }
        if let Some(value) = get("AGENTSTACK_BUFFER_CAPACITY") {
            config.buffer_capacity = parse_number("AGENTSTACK_BUFFER_CAPACITY", &value)?;
        }
        if let Some(value) = get("AGENTSTACK_SANITIZE") {
            config.sanitize = parse_bool("AGENTSTACK_SANITIZE", &value)?;
        }
        if let Some(value) = get("AGENTSTACK_CAPTURE") {
            config.capture = parse_bool("AGENTSTACK_CAPTURE", &value)?;
        }
        if let Some(value) = get("AGENTSTACK_MAX_RETRIES") {
            config.max_retries = parse_number("AGENTSTACK_MAX_RETRIES", &value)?;
        }
        if let Some(value) = get("AGENTSTACK_SPOOL") {
            config.spool = parse_bool("AGENTSTACK_SPOOL", &value)?;
        }
        if let Some(value) = get("AGENTSTACK_SPOOL_PATH") {
            config.spool_path = PathBuf::from(value);
        }
        if let Some(value) = get("AGENTSTACK_SPOOL_MAX_BYTES") {
            config.spool_max_bytes = parse_number("AGENTSTACK_SPOOL_MAX_BYTES", &value)? as u64;
        }
        Ok(config)
    }

    /// Checks the values that could make the pipeline misbehave.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.buffer_capacity == 0 {
            return Err(ConfigError::InvalidSetting {
                name: "buffer_capacity",
                reason: "must be at least 1; the default is 131072".into(),
            });
        }
        if self.flush_every_spans == 0 || self.max_export_batch == 0 {
            return Err(ConfigError::InvalidSetting {
                name: "flush_every_spans / max_export_batch",
                reason: "must be at least 1; the defaults are 64 and 512".into(),
            });
        }
        if !(self.traces_endpoint.starts_with("http://")
            || self.traces_endpoint.starts_with("https://"))
        {
            return Err(ConfigError::InvalidSetting {
                name: "endpoint",
                reason: format!(
                    "{:?} is not an http:// or https:// URL, e.g. http://127.0.0.1:4318",
                    self.traces_endpoint
                ),
            });
        }
        Ok(())
    }
}

/// Sets configuration in code; anything not set comes from the environment ([`Config::from_env`]).
#[derive(Debug, Default)]
#[must_use]
pub struct ConfigBuilder {
    mode: Option<ExportMode>,
    endpoint: Option<String>,
    api_key: Option<String>,
    service_name: Option<String>,
    headers: Vec<(String, String)>,
    resource_attributes: Vec<(String, String)>,
    buffer_capacity: Option<usize>,
    flush_every_spans: Option<usize>,
    flush_interval: Option<Duration>,
    max_export_batch: Option<usize>,
    export_timeout: Option<Duration>,
    shutdown_timeout: Option<Duration>,
    gzip: Option<bool>,
    sanitize: Option<bool>,
    capture: Option<bool>,
    max_capture_bytes: Option<usize>,
    redact_patterns: Vec<(String, String)>,
    max_retries: Option<usize>,
    max_retry_delay: Option<Duration>,
    spool: Option<bool>,
    spool_path: Option<PathBuf>,
    spool_max_bytes: Option<u64>,
}

impl ConfigBuilder {
    /// Writes spans into the local SQLite file `path` instead of exporting them.
    pub fn local(mut self, path: impl Into<PathBuf>) -> Self {
        self.mode = Some(ExportMode::Local { path: path.into() });
        self
    }
    /// Retries of a failed export before the batch is spooled (default 3).
    pub fn max_retries(mut self, retries: usize) -> Self {
        self.max_retries = Some(retries);
        self
    }
    /// Longest wait between retries, and cap on Retry-After (default 5 s).
    pub fn max_retry_delay(mut self, delay: Duration) -> Self {
        self.max_retry_delay = Some(delay);
        self
    }
    /// Keep undelivered batches in the spool (default on).
    pub fn spool(mut self, on: bool) -> Self {
        self.spool = Some(on);
        self
    }
    /// The spool file (default `.agentstack/spool.db`).
    pub fn spool_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.spool_path = Some(path.into());
        self
    }
    /// Size cap of the spool (default 256 MiB).
    pub fn spool_max_bytes(mut self, bytes: u64) -> Self {
        self.spool_max_bytes = Some(bytes);
        self
    }
    /// Base URL of the collector, e.g. `http://127.0.0.1:4318` (`/v1/traces` is appended);
    /// exports over OTLP.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }
    /// Project API key, sent as `Authorization: Bearer <key>`.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }
    /// `service.name` of every span.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }
    /// An extra header on every export request.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    /// A resource attribute on every span, e.g. `deployment.environment.name`.
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.resource_attributes.push((key.into(), value.into()));
        self
    }
    /// Spans the ring buffer holds (default [`DEFAULT_BUFFER_CAPACITY`]).
    pub fn buffer_capacity(mut self, spans: usize) -> Self {
        self.buffer_capacity = Some(spans);
        self
    }
    /// Export as soon as this many spans wait (default 64).
    pub fn flush_every_spans(mut self, spans: usize) -> Self {
        self.flush_every_spans = Some(spans);
        self
    }
    /// Export at least this often (default 5 s).
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = Some(interval);
        self
    }
    /// Most spans in one request (default 512).
    pub fn max_export_batch(mut self, spans: usize) -> Self {
        self.max_export_batch = Some(spans);
        self
    }
    /// Timeout of one export request (default 10 s).
    pub fn export_timeout(mut self, timeout: Duration) -> Self {
        self.export_timeout = Some(timeout);
        self
    }
    /// How long shutdown waits for the last export (default 5 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = Some(timeout);
        self
    }
    /// gzip request bodies (default on).
    pub fn gzip(mut self, on: bool) -> Self {
        self.gzip = Some(on);
        self
    }
    /// Scrub PII and secrets before export (default on).
    pub fn sanitize(mut self, on: bool) -> Self {
        self.sanitize = Some(on);
        self
    }
    /// Capture arguments and return values of observed functions (default on).
    pub fn capture(mut self, on: bool) -> Self {
        self.capture = Some(on);
        self
    }
    /// Longest captured value in bytes (default 32 KiB).
    pub fn max_capture_bytes(mut self, bytes: usize) -> Self {
        self.max_capture_bytes = Some(bytes);
        self
    }
    /// An extra redaction pattern: text matching `regex` becomes `[REDACTED:<name>]`.
    pub fn redact_pattern(mut self, name: impl Into<String>, regex: impl Into<String>) -> Self {
        self.redact_patterns.push((name.into(), regex.into()));
        self
    }

    /// Resolves the configuration: builder values over the environment over defaults.
    pub fn build(self) -> Result<Config, ConfigError> {
        let mut config = Config::from_env()?;
        if let Some(url) = self.endpoint {
            config.traces_endpoint = traces_url_from_base(&url);
            config.mode = ExportMode::Otlp;
        }
        if let Some(mode) = self.mode {
            config.mode = mode;
        }
        if let Some(key) = self.api_key {
            config.api_key = Some(key);
        }
        if let Some(name) = self.service_name {
            config.service_name = Some(name);
        }
        config.headers.extend(self.headers);
        config.resource_attributes.extend(self.resource_attributes);
        config.redact_patterns.extend(self.redact_patterns);
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(value) = self.$field { config.$field = value; } )* };
        }
        set!(
            buffer_capacity,
            flush_every_spans,
            flush_interval,
            max_export_batch,
            export_timeout,
            shutdown_timeout,
            gzip,
            sanitize,
            capture,
            max_capture_bytes,
            max_retries,
            max_retry_delay,
            spool,
            spool_path,
            spool_max_bytes
        );
        config.validate()?;
        Ok(config)
    }

    /// Resolves the configuration and starts the pipeline. See [`crate::init`].
    pub fn init(self) -> Result<crate::AgentStackGuard, ConfigError> {
        crate::init_with(self.build()?)
    }
}

/// `http://host:4318` → `http://host:4318/v1/traces`; a URL already ending in `/v1/traces` is kept.
fn traces_url_from_base(base: &str) -> String {
    let base = base.trim().trim_end_matches('/');
    if base.ends_with(TRACES_PATH) {
        base.to_string()
    } else {
        format!("{base}{TRACES_PATH}")
    }
}

/// Parses `k=v,k2=v2` as the OTLP exporter spec says (values are URL-encoded).
pub(crate) fn parse_key_values(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                format!("{pair:?} has no '=': expected key=value pairs separated by commas")
            })?;
            Ok((percent_decode(key.trim()), percent_decode(value.trim())))
        })
        .collect()
}

/// Decodes `%XX` escapes; malformed escapes are kept as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_number(name: &'static str, value: &str) -> Result<usize, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::InvalidEnv {
        name,
        value: value.to_string(),
        reason: "expected a whole number".into(),
    })
}

fn parse_bool(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Ok(true),
        "0" | "false" | "off" | "no" => Ok(false),
        _ => Err(ConfigError::InvalidEnv {
            name,
            value: value.to_string(),
            reason: "expected true or false".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn agentstack_endpoint_wins_over_otel_and_gets_the_traces_path() {
        let config = from(&[
            ("AGENTSTACK_ENDPOINT", "http://collector:4318/"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://other:4318"),
        ])
        .unwrap();
        assert_eq!(config.traces_endpoint, "http://collector:4318/v1/traces");
    }

    #[test]
    fn no_endpoint_means_local_mode_and_an_endpoint_means_otlp() {
        assert_eq!(
            from(&[]).unwrap().mode,
            ExportMode::Local {
                path: DEFAULT_LOCAL_PATH.into()
            }
        );
        assert_eq!(
            from(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:1")])
                .unwrap()
                .mode,
            ExportMode::Otlp
        );
        let forced = from(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:1"),
            ("AGENTSTACK_MODE", "local"),
            ("AGENTSTACK_LOCAL_PATH", "/tmp/t.db"),
        ]);
        assert_eq!(
            forced.unwrap().mode,
            ExportMode::Local {
                path: "/tmp/t.db".into()
            }
        );
        assert!(matches!(
            from(&[("AGENTSTACK_MODE", "cloud")]),
            Err(ConfigError::InvalidEnv {
                name: "AGENTSTACK_MODE",
                ..
            })
        ));
    }

    #[test]
    fn otel_traces_endpoint_is_used_as_is() {
        let config = from(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://h:1/custom")]).unwrap();
        assert_eq!(config.traces_endpoint, "http://h:1/custom");
        let config = from(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:2")]).unwrap();
        assert_eq!(config.traces_endpoint, "http://h:2/v1/traces");
    }

    #[test]
    fn otlp_headers_are_split_and_url_decoded() {
        let config = from(&[(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-team=a%20b, authorization=Bearer%20k1",
        )])
        .unwrap();
        assert_eq!(
            config.headers,
            vec![
                ("x-team".to_string(), "a b".to_string()),
                ("authorization".to_string(), "Bearer k1".to_string())
            ]
        );
        let error = from(&[("OTEL_EXPORTER_OTLP_HEADERS", "novalue")]).unwrap_err();
        assert!(
            error.to_string().contains("OTEL_EXPORTER_OTLP_HEADERS"),
            "{error}"
        );
    }

    #[test]
    fn service_name_prefers_agentstack_variable() {
        let config = from(&[
            ("OTEL_SERVICE_NAME", "otel"),
            ("AGENTSTACK_SERVICE_NAME", "ours"),
        ])
        .unwrap();
        assert_eq!(config.service_name.as_deref(), Some("ours"));
        let config = from(&[("OTEL_SERVICE_NAME", "otel")]).unwrap();
        assert_eq!(config.service_name.as_deref(), Some("otel"));
    }

    #[test]
    fn bad_numbers_and_bools_name_the_variable() {
        let error = from(&[("AGENTSTACK_FLUSH_SPANS", "many")]).unwrap_err();
        assert!(matches!(
            error,
            ConfigError::InvalidEnv {
                name: "AGENTSTACK_FLUSH_SPANS",
                ..
            }
        ));
        let error = from(&[("AGENTSTACK_SANITIZE", "maybe")]).unwrap_err();
        assert!(matches!(
            error,
            ConfigError::InvalidEnv {
                name: "AGENTSTACK_SANITIZE",
                ..
            }
        ));
        assert!(!from(&[("AGENTSTACK_SANITIZE", "off")]).unwrap().sanitize);
    }

    #[test]
    fn validate_refuses_zero_capacity_and_non_http_endpoints() {
        let config = Config {
            buffer_capacity: 0,
            ..Config::default()
        };
        assert!(config.validate().is_err());
        let config = Config {
            traces_endpoint: "localhost:4318".into(),
            ..Config::default()
        };
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("http://")
        );
        assert!(Config::default().validate().is_ok());
    }
}
