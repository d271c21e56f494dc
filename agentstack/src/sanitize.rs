//! Scrubbing PII and secrets out of a finished span before it leaves the process.
//!
//! Runs on the export thread, over every string attribute (captured input and output among
//! them), event attribute and status message. Each match becomes `[REDACTED:<type>]`, and the
//! span gets `agentstack.redacted` = `{"<type>": count, …}` so the server can tell PII passed.

use std::borrow::Cow;
use std::collections::BTreeMap;

use agentstack_pii::PiiScanner;
use opentelemetry::trace::Status;
use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SpanData;

use crate::config::{Config, ConfigError};
use crate::genai::attr;

pub(crate) struct SpanSanitizer {
    scanner: PiiScanner,
}

impl SpanSanitizer {
    /// The sanitizer the configuration asks for; `None` when sanitizing is off.
    pub(crate) fn from_config(config: &Config) -> Result<Option<SpanSanitizer>, ConfigError> {
        if !config.sanitize {
            return Ok(None);
        }
        let mut builder = PiiScanner::builder();
        for (name, pattern) in &config.redact_patterns {
            builder = builder.custom(name.clone(), pattern.clone());
        }
        let scanner = builder
            .build()
            .map_err(|error| ConfigError::InvalidRedactPattern {
                name: error.name().to_string(),
                reason: error.to_string(),
            })?;
        Ok(Some(SpanSanitizer { scanner }))
    }

    pub(crate) fn sanitize(&self, span: &mut SpanData) {
        let mut counts = BTreeMap::new();
        for kv in &mut span.attributes {
            self.scrub_value(&mut kv.value, &mut counts);
        }
        for event in span.events.events.iter_mut() {
            for kv in &mut event.attributes {
                self.scrub_value(&mut kv.value, &mut counts);
            }
        }
        if let Status::Error { description } = &mut span.status
            && let Some(clean) = self.scrub(description, &mut counts)
        {
            *description = Cow::Owned(clean);
        }
        if !counts.is_empty() {
            let json = serde_json::to_string(&counts).unwrap_or_default();
            span.attributes.push(KeyValue::new(attr::REDACTED, json));
        }
    }

    fn scrub_value(&self, value: &mut Value, counts: &mut BTreeMap<String, usize>) {
        match value {
            Value::String(text) => {
                if let Some(clean) = self.scrub(text.as_str(), counts) {
                    *text = StringValue::from(clean);
                }
            }
            Value::Array(Array::String(items)) => {
                for text in items {
                    if let Some(clean) = self.scrub(text.as_str(), counts) {
                        *text = StringValue::from(clean);
                    }
                }
            }
            _ => {}
        }
    }

    /// The redacted text, or `None` when there was nothing to redact.
    fn scrub(&self, text: &str, counts: &mut BTreeMap<String, usize>) -> Option<String> {
        let redaction = self.scanner.redact(text);
        match redaction.text {
            Cow::Borrowed(_) => None,
            Cow::Owned(clean) => {
                for (kind, count) in redaction.counts {
                    *counts.entry(kind.as_str().to_string()).or_default() += count;
                }
                Some(clean)
            }
        }
    }
}
