//! OTLP/HTTP export: POSTs one protobuf `ExportTraceServiceRequest` (gzip by default) and reads
//! the collector's answer, including `partial_success`.
//!
//! A plain blocking client (ureq) on the export thread: the SDK needs no async runtime, and
//! owning the request bytes lets later stages retry or spool exactly what was sent.

use std::io::Write as _;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message as _;

use crate::config::Config;

/// Why an export did not reach the collector or was refused by it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExportError {
    /// Nothing answered (refused, unreachable, timed out).
    #[error("{url} did not answer ({reason}); is the collector running? Spans keep being recorded")]
    Unreachable { url: String, reason: String },
    /// The collector answered with an error status.
    #[error("{url} answered {status}: {message}")]
    Refused {
        url: String,
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
}

impl ExportError {
    /// Whether sending the same request later may succeed: nothing answered, or the collector
    /// said 429, 502, 503 or 504 (the retryable answers of the OTLP/HTTP spec). Anything else
    /// (400, 401, 403, 413, …) is permanent.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            ExportError::Unreachable { .. } => true,
            ExportError::Refused { status, .. } => matches!(status, 429 | 502 | 503 | 504),
        }
    }

    /// How long the collector asked to wait (its Retry-After header, in seconds).
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            ExportError::Refused { retry_after, .. } => *retry_after,
            ExportError::Unreachable { .. } => None,
        }
    }
}

/// What a successful export answered.
#[derive(Debug, Default)]
pub(crate) struct ExportOutcome {
    /// Spans the collector rejected in a `partial_success`.
    pub(crate) rejected_spans: u64,
    /// Its explanation.
    pub(crate) message: String,
}

pub(crate) struct OtlpHttpExporter {
    agent: ureq::Agent,
    url: String,
    headers: Vec<(String, String)>,
    gzip: bool,
}

impl OtlpHttpExporter {
    pub(crate) fn new(config: &Config) -> OtlpHttpExporter {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.export_timeout))
            .timeout_connect(Some(config.export_timeout.min(Duration::from_secs(5))))
            .http_status_as_error(false)
            .user_agent(concat!("agentstack-rust/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let mut headers = config.headers.clone();
        if let Some(key) = &config.api_key {
            headers.push(("authorization".into(), format!("Bearer {key}")));
        }
        OtlpHttpExporter {
            agent,
            url: config.traces_endpoint.clone(),
            headers,
            gzip: config.gzip,
        }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Sends one encoded request.
    pub(crate) fn send(&self, protobuf: &[u8]) -> Result<ExportOutcome, ExportError> {
        let mut request = self
            .agent
            .post(&self.url)
            .header("content-type", "application/x-protobuf");
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let compressed;
        let body: &[u8] = if self.gzip {
            compressed = gzip(protobuf);
            request = request.header("content-encoding", "gzip");
            &compressed
        } else {
            protobuf
        };
        let mut response = request
            .send(body)
            .map_err(|error| ExportError::Unreachable {
                url: self.url.clone(),
                reason: error.to_string(),
            })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let answer = response
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_vec()
            .unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(ExportError::Refused {
                url: self.url.clone(),
                status,
                message: describe_body(&answer),
                retry_after,
            });
        }
        let partial = ExportTraceServiceResponse::decode(answer.as_slice())
            .ok()
            .and_then(|response| response.partial_success)
            .map(|partial| ExportOutcome {
                rejected_spans: u64::try_from(partial.rejected_spans).unwrap_or(0),
                message: partial.error_message,
            });
        Ok(partial.unwrap_or_default())
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3 + 64),
        Compression::fast(),
    );
    // Writing into a Vec never fails.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// The collector's error text: a JSON or text body as it is, else a note on its size.
fn describe_body(body: &[u8]) -> String {
    match std::str::from_utf8(body) {
        Ok(text) if !text.trim().is_empty() => text.trim().chars().take(500).collect(),
        Ok(_) => "(empty body)".into(),
        Err(_) => format!("({} bytes of binary body)", body.len()),
    }
}
