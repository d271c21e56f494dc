//! Webhooks: each new alert at or above a hook's minimum severity is POSTed to Slack (incoming
//! webhook), PagerDuty (Events API v2) or any URL as JSON signed with HMAC-SHA256. Deliveries
//! run on their own thread with a bounded queue, so a slow or dead receiver never holds up the
//! scanner or the store: a full queue drops (and counts); a 5xx, 429 or connection error is
//! retried with exponential backoff (backon), a 4xx is not.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use agentstack_exporter_sqlite::store::{AlertRecord, AlertSeverity};
use backon::{BlockingRetryable, ExponentialBuilder};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

/// The header of a JSON hook's signature: `sha256=` and the lowercase hex HMAC-SHA256, keyed
/// with the hook's secret, of `TIMESTAMP.BODY`.
pub const SIGNATURE_HEADER: &str = "x-agentstack-signature";
/// The header of the Unix time (seconds) that is signed with the body.
pub const TIMESTAMP_HEADER: &str = "x-agentstack-timestamp";
/// Deliveries waiting at most; more are dropped.
pub const WEBHOOK_QUEUE_CAPACITY: usize = 1024;

/// Where a hook sends and in what shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookKind {
    /// A Slack incoming webhook: `{"text": …}`.
    Slack,
    /// PagerDuty Events API v2 (`https://events.pagerduty.com/v2/enqueue`): needs `routing_key`.
    PagerDuty,
    /// The alert as JSON, signed with `secret` when one is given.
    Json,
}

/// One hook, from the config file's `[[alerts.webhooks]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `slack`, `pagerduty` or `json`.
    pub kind: WebhookKind,
    /// Where to POST.
    pub url: String,
    /// The HMAC key of a `json` hook.
    #[serde(default)]
    pub secret: Option<String>,
    /// The integration key of a `pagerduty` hook.
    #[serde(default)]
    pub routing_key: Option<String>,
    /// Only alerts at least this severe (`low`, `medium`, `high`, `critical`); default `high`.
    #[serde(default)]
    pub min_severity: Option<String>,
    /// How many times a delivery is tried in all (default 5).
    #[serde(default)]
    pub attempts: Option<usize>,
    /// The first wait between tries, in milliseconds (default 500; doubling).
    #[serde(default)]
    pub first_retry_ms: Option<u64>,
}

/// Why a hook's configuration is refused at start-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookConfigError {
    /// `min_severity` is not a severity.
    #[error(
        "webhook {url}: min_severity = {given:?} is not a severity; give low, medium, high or critical"
    )]
    Severity {
        /// The hook.
        url: String,
        /// What was given.
        given: String,
    },
    /// A PagerDuty hook without its integration key.
    #[error(
        "webhook {url}: a pagerduty hook needs routing_key (the integration key of the service)"
    )]
    RoutingKey {
        /// The hook.
        url: String,
    },
}

/// A checked hook.
#[derive(Debug, Clone)]
struct Hook {
    config: WebhookConfig,
    min_severity: AlertSeverity,
}

/// What the webhook thread did.
#[derive(Debug, Default)]
pub struct WebhookCounters {
    /// Deliveries that got a 2xx.
    pub delivered: AtomicU64,
    /// Deliveries given up (4xx, or every try failed).
    pub failed: AtomicU64,
    /// Deliveries dropped because the queue was full.
    pub dropped: AtomicU64,
}

/// The webhook sender: a thread and its queue. Dropping it lets the thread finish what is
/// queued and end.
#[derive(Debug)]
pub struct Webhooks {
    queue: Option<crossbeam_channel::Sender<Arc<Vec<AlertRecord>>>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Its counters.
    pub counters: Arc<WebhookCounters>,
}

impl Webhooks {
    /// Starts the sender of `configs`; `None` when there are none.
    pub fn start(configs: &[WebhookConfig]) -> Result<Option<Webhooks>, WebhookConfigError> {
        let hooks = configs.iter().map(check).collect::<Result<Vec<_>, _>>()?;
        if hooks.is_empty() {
            return Ok(None);
        }
        let (tx, rx) = crossbeam_channel::bounded::<Arc<Vec<AlertRecord>>>(WEBHOOK_QUEUE_CAPACITY);
        let counters = Arc::new(WebhookCounters::default());
        let thread_counters = Arc::clone(&counters);
        let thread = std::thread::Builder::new()
            .name("agentstack-webhooks".into())
            .spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(10)))
                    .build()
                    .into();
                for alerts in rx {
                    for alert in alerts.iter() {
                        for hook in hooks.iter().filter(|h| alert.severity >= h.min_severity) {
                            let counter = match deliver(&agent, hook, alert) {
                                Ok(()) => &thread_counters.delivered,
                                Err(error) => {
                                    tracing::warn!(
                                        url = %hook.config.url,
                                        alert = %alert.id,
                                        %error,
                                        "webhook delivery failed"
                                    );
                                    &thread_counters.failed
                                }
                            };
                            counter.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
            .expect("the webhook thread starts");
        Ok(Some(Webhooks {
            queue: Some(tx),
            thread: Some(thread),
            counters,
        }))
    }

    /// Queues `alerts` for delivery; never waits.
    pub fn send(&self, alerts: &Arc<Vec<AlertRecord>>) {
        if let Some(queue) = &self.queue
            && queue.try_send(Arc::clone(alerts)).is_err()
        {
            self.counters
                .dropped
                .fetch_add(alerts.len() as u64, Ordering::Relaxed);
        }
    }

    /// Delivers what is queued, then stops.
    pub fn finish(mut self) {
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn check(config: &WebhookConfig) -> Result<Hook, WebhookConfigError> {
    let min_severity = match &config.min_severity {
        None => AlertSeverity::High,
        Some(given) => {
            AlertSeverity::from_name(given).ok_or_else(|| WebhookConfigError::Severity {
                url: config.url.clone(),
                given: given.clone(),
            })?
        }
    };
    if config.kind == WebhookKind::PagerDuty && config.routing_key.is_none() {
        return Err(WebhookConfigError::RoutingKey {
            url: config.url.clone(),
        });
    }
    Ok(Hook {
        config: config.clone(),
        min_severity,
    })
}

/// A failed delivery: whether trying again may help.
#[derive(Debug, thiserror::Error)]
enum DeliveryError {
    #[error("answered {0}; retrying")]
    Retryable(u16),
    #[error("answered {0}; not retrying (fix the hook's URL or key)")]
    Refused(u16),
    #[error("{0}")]
    Transport(String),
}

/// POSTs one alert to one hook, retrying what may pass later.
fn deliver(agent: &ureq::Agent, hook: &Hook, alert: &AlertRecord) -> Result<(), DeliveryError> {
    let body = payload(hook, alert).to_string();
    let attempts = hook.config.attempts.unwrap_or(5).max(1);
    let first = Duration::from_millis(hook.config.first_retry_ms.unwrap_or(500));
    let post = || {
        let mut request = agent
            .post(&hook.config.url)
            .header("content-type", "application/json");
        if hook.config.kind == WebhookKind::Json
            && let Some(secret) = &hook.config.secret
        {
            let timestamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
                .to_string();
            request = request
                .header(TIMESTAMP_HEADER, &timestamp)
                .header(SIGNATURE_HEADER, signature(secret, &timestamp, &body));
        }
        match request.send(body.as_bytes()) {
            Ok(response) => {
                let status = response.status().as_u16();
                match status {
                    200..=299 => Ok(()),
                    429 | 500..=599 => Err(DeliveryError::Retryable(status)),
                    _ => Err(DeliveryError::Refused(status)),
                }
            }
            Err(error) => Err(DeliveryError::Transport(error.to_string())),
        }
    };
    post.retry(
        ExponentialBuilder::default()
            .with_min_delay(first)
            .with_max_times(attempts - 1),
    )
    .when(|error| !matches!(error, DeliveryError::Refused(_)))
    .call()
}

/// `sha256=HEX` of HMAC-SHA256(`secret`, `TIMESTAMP.BODY`): what a receiver recomputes.
pub fn signature(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256={hex}")
}

/// The body a hook receives.
fn payload(hook: &Hook, alert: &AlertRecord) -> Value {
    let trace = alert.trace_id.as_deref().unwrap_or("-");
    let summary = format!(
        "[{}] {} (detector {}, score {}, project {}, trace {trace})",
        alert.severity.name().to_uppercase(),
        alert.title,
        alert.detector,
        alert.score,
        alert.project
    );
    match hook.config.kind {
        WebhookKind::Slack => json!({ "text": summary }),
        WebhookKind::PagerDuty => json!({
            "routing_key": hook.config.routing_key,
            "event_action": "trigger",
            "dedup_key": format!("{}:{}", alert.project, alert.dedup_key),
            "payload": {
                "summary": summary,
                "source": "agentstack",
                "severity": match alert.severity {
                    AlertSeverity::Low => "info",
                    AlertSeverity::Medium => "warning",
                    AlertSeverity::High => "error",
                    AlertSeverity::Critical => "critical",
                },
                "component": alert.detector,
                "custom_details": alert_json(alert),
            },
        }),
        WebhookKind::Json => json!({ "type": "alert", "alert": alert_json(alert) }),
    }
}

/// An alert as the API and the JSON hook show it.
pub fn alert_json(alert: &AlertRecord) -> Value {
    json!({
        "id": alert.id,
        "project": alert.project,
        "trace_id": alert.trace_id,
        "span_id": alert.span_id,
        "detector": alert.detector,
        "title": alert.title,
        "evidence": serde_json::from_str::<Value>(&alert.evidence).unwrap_or(Value::Array(vec![])),
        "score": alert.score,
        "severity": alert.severity.name(),
        "time_unix_nanos": alert.time_unix_nanos,
        "time": crate::api::params::format_time(alert.time_unix_nanos),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_and_body() {
        // Computed independently with Python: hmac.new(b"Jefe",
        // b'1764583200.{"type":"alert"}', hashlib.sha256).hexdigest()
        assert_eq!(
            signature("Jefe", "1764583200", r#"{"type":"alert"}"#),
            "sha256=d6854477d30e87880b112fda840a3a12c9ecc65bb781593e0fb7d833003ae0ad"
        );
    }

    #[test]
    fn bad_hooks_are_refused_at_start_up() {
        let hook = |kind, severity: Option<&str>| WebhookConfig {
            kind,
            url: "http://127.0.0.1:1/hook".into(),
            secret: None,
            routing_key: None,
            min_severity: severity.map(str::to_string),
            attempts: None,
            first_retry_ms: None,
        };
        assert!(matches!(
            Webhooks::start(&[hook(WebhookKind::Json, Some("urgent"))]),
            Err(WebhookConfigError::Severity { .. })
        ));
        assert!(matches!(
            Webhooks::start(&[hook(WebhookKind::PagerDuty, None)]),
            Err(WebhookConfigError::RoutingKey { .. })
        ));
    }
}
