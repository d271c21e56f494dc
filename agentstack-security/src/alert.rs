//! Scoring and alerts: [`Severity`] from thresholds, the [`Alert`] record, and the
//! [`AlertDeduplicator`] that lets one alert per (project, trace, detector) through per window.
//!
//! Time is always passed in (`now`, Unix nanoseconds): nothing here reads the wall clock.

use std::collections::{HashMap, VecDeque};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::{DedupConfig, SeverityThresholds};
use crate::finding::{Detector, Evidence};

/// How bad an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    /// From `thresholds.alert` (30) up.
    Low,
    /// From `thresholds.medium` (50) up.
    Medium,
    /// From `thresholds.high` (70) up.
    High,
    /// From `thresholds.critical` (90) up.
    Critical,
}

impl Severity {
    /// `LOW`, `MEDIUM`, `HIGH` or `CRITICAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SeverityThresholds {
    /// The severity of an alert score, or `None` below the alert threshold.
    pub fn severity(&self, score: u8) -> Option<Severity> {
        if score < self.alert {
            None
        } else if score >= self.critical {
            Some(Severity::Critical)
        } else if score >= self.high {
            Some(Severity::High)
        } else if score >= self.medium {
            Some(Severity::Medium)
        } else {
            Some(Severity::Low)
        }
    }
}

/// A threat worth telling someone about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The project of the span.
    pub project: String,
    /// The trace.
    pub trace_id: String,
    /// The span that raised the alert.
    pub span_id: String,
    /// The detector.
    pub detector: Detector,
    /// A short human title.
    pub title: String,
    /// The evidence, strongest first; PII in it is redacted.
    pub evidence: Vec<Evidence>,
    /// The alert score, 0–100: the detector's score times its weight.
    pub score: u8,
    /// The severity of `score`.
    pub severity: Severity,
    /// When the alert was raised (the `now` given to the engine), Unix nanoseconds.
    pub time_unix_nanos: i64,
}

type DedupKey = (String, String, Detector);

/// Lets one alert per (project, trace, detector) through per window; remembers at most
/// `max_keys` keys (the oldest are forgotten first).
#[derive(Debug)]
pub struct AlertDeduplicator {
    config: DedupConfig,
    /// Key → when its last alert went through.
    last: HashMap<DedupKey, i64>,
    /// Keys in the order their alert went through.
    order: VecDeque<(i64, DedupKey)>,
    suppressed: u64,
}

impl AlertDeduplicator {
    /// A de-duplicator with the given window and size.
    pub fn new(config: DedupConfig) -> Self {
        AlertDeduplicator {
            config,
            last: HashMap::new(),
            order: VecDeque::new(),
            suppressed: 0,
        }
    }

    /// Whether an alert for this key at `now` goes through; if so, the window starts again.
    pub fn admit(&mut self, project: &str, trace_id: &str, detector: Detector, now: i64) -> bool {
        self.expire(now);
        let key = (project.to_string(), trace_id.to_string(), detector);
        if let Some(&at) = self.last.get(&key)
            && now < at.saturating_add(self.config.window_nanos)
        {
            self.suppressed += 1;
            return false;
        }
        self.last.insert(key.clone(), now);
        self.order.push_back((now, key));
        while self.last.len() > self.config.max_keys.max(1) {
            let Some((at, old)) = self.order.pop_front() else {
                break;
            };
            if self.last.get(&old) == Some(&at) {
                self.last.remove(&old);
            }
        }
        true
    }

    /// How many alerts were held back so far.
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }

    /// The number of keys remembered.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }

    fn expire(&mut self, now: i64) {
        while let Some((at, _)) = self.order.front() {
            if now < at.saturating_add(self.config.window_nanos) {
                break;
            }
            let (at, key) = self.order.pop_front().expect("front exists");
            if self.last.get(&key) == Some(&at) {
                self.last.remove(&key);
            }
        }
    }
}
