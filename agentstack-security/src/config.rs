//! [`SecurityConfig`]: weights, thresholds, windows and limits of the engine, with defaults.
//!
//! Every field has a default (`#[serde(default)]`), so a config file names only what it changes,
//! e.g. `[thresholds] alert = 40` or `[detector_weights] pii_redacted = 0.0`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::finding::Detector;

/// The whole engine configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// Whether the built-in signature rules (`rules/builtin.toml`, compiled in) are used.
    pub builtin_rules: bool,
    /// A directory of user rule files (`*.toml`), loaded after the built-in ones.
    pub rules_dir: Option<PathBuf>,
    /// Multiplier applied to each detector's score to give the alert score (default 1.0 for all;
    /// 0 turns a detector off).
    pub detector_weights: BTreeMap<Detector, f32>,
    /// Weights of the signals inside the injection detectors.
    pub injection: InjectionConfig,
    /// Scores of the PII detectors.
    pub pii: PiiConfig,
    /// Limits of the runaway-agent detectors.
    pub runaway: RunawayConfig,
    /// Where scores turn into alerts and severities.
    pub thresholds: SeverityThresholds,
    /// De-duplication: one alert per (project, trace, detector) per window.
    pub dedup: DedupConfig,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            builtin_rules: true,
            rules_dir: None,
            detector_weights: Detector::ALL.into_iter().map(|d| (d, 1.0)).collect(),
            injection: InjectionConfig::default(),
            pii: PiiConfig::default(),
            runaway: RunawayConfig::default(),
            thresholds: SeverityThresholds::default(),
            dedup: DedupConfig::default(),
        }
    }
}

impl SecurityConfig {
    /// The weight of `detector` (1.0 when the map does not name it).
    pub fn weight(&self, detector: Detector) -> f32 {
        self.detector_weights.get(&detector).copied().unwrap_or(1.0)
    }
}

/// Signal weights of the prompt and indirect injection detectors: the detector's score is
/// `min(100, Σ weight × signal score)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InjectionConfig {
    /// Signature rules (built-in and user regex rules).
    pub signature_weight: f32,
    /// Each further distinct rule category adds this many points to the strongest rule's score.
    pub extra_category_bonus: u8,
    /// Instructions found after decoding base64, hex, URL-encoding or Unicode tag characters.
    pub encoded_weight: f32,
    /// Invisible and bidirectional-control characters.
    pub invisible_weight: f32,
    /// Words that mix scripts (Latin with Cyrillic or Greek look-alikes).
    pub homoglyph_weight: f32,
    /// Abnormal length or byte entropy of a text.
    pub anomaly_weight: f32,
    /// A text longer than this many bytes is abnormal.
    pub max_normal_len: usize,
    /// A text of at least 512 bytes with a byte entropy above this (bits per byte) is abnormal.
    pub max_normal_entropy: f32,
    /// Encoded runs shorter than this are not decoded.
    pub min_encoded_len: usize,
}

impl Default for InjectionConfig {
    fn default() -> Self {
        InjectionConfig {
            signature_weight: 1.0,
            extra_category_bonus: 8,
            encoded_weight: 1.0,
            invisible_weight: 1.0,
            homoglyph_weight: 1.0,
            anomaly_weight: 1.0,
            max_normal_len: 32 * 1024,
            max_normal_entropy: 5.8,
            min_encoded_len: 24,
        }
    }
}

/// Scores of the PII detectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PiiConfig {
    /// Score of a leak (found in an output) per kind (`email`, `phone`, `ssn`, `payment_card`,
    /// `iban`, `secret`, or a custom kind); a kind not named scores `default_leak_score`.
    pub leak_scores: BTreeMap<String, u8>,
    /// Score of a leak of a kind not in `leak_scores`.
    pub default_leak_score: u8,
    /// An exposure (found in an input) scores this fraction of the leak score.
    pub exposure_factor: f32,
    /// Each further distinct kind adds this many points.
    pub extra_kind_bonus: u8,
    /// This many matches or more in one text add `bulk_bonus` points.
    pub bulk_count: usize,
    /// See `bulk_count`.
    pub bulk_bonus: u8,
    /// Score of a span the SDK already redacted (LOW with the default thresholds).
    pub redacted_score: u8,
}

impl Default for PiiConfig {
    fn default() -> Self {
        let leak_scores = [
            ("email", 45),
            ("phone", 45),
            ("ssn", 80),
            ("payment_card", 80),
            ("iban", 70),
            ("secret", 90),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        PiiConfig {
            leak_scores,
            default_leak_score: 50,
            exposure_factor: 0.7,
            extra_kind_bonus: 5,
            bulk_count: 10,
            bulk_bonus: 10,
            redacted_score: 30,
        }
    }
}

/// Limits of the runaway-agent detectors and of their per-trace memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunawayConfig {
    /// The same tool with the same arguments this many times in a trace is a loop.
    pub tool_repeat_threshold: u32,
    /// A cycle of agents (A→B→A→B…, period 2 to `max_cycle_period`) seen this many times is a loop.
    pub agent_cycle_repeats: usize,
    /// The longest agent cycle looked for.
    pub max_cycle_period: usize,
    /// A span (or trace) with this many times the usual tokens is an explosion.
    pub token_factor: f64,
    /// The usual is only trusted after this many samples.
    pub min_baseline_samples: u64,
    /// A span with at least this many tokens is an explosion whatever the usual (0 = off).
    pub max_span_tokens: i64,
    /// A trace with at least this many tokens is an explosion whatever the usual (0 = off).
    pub max_trace_tokens: i64,
    /// This many errors or timeouts in one trace make a chain.
    pub error_chain_length: u32,
    /// A span lasting at least this long counts as a timeout (nanoseconds).
    pub timeout_nanos: i64,
    /// At most this many traces are followed at once; the least recently seen is evicted first.
    pub max_traces: usize,
    /// A trace not seen for this long is forgotten (nanoseconds).
    pub trace_idle_nanos: i64,
    /// At most this many distinct tool calls and agent steps are remembered per trace.
    pub max_entries_per_trace: usize,
    /// At most this many (project, model) and (project, agent) baselines are kept.
    pub max_baselines: usize,
}

impl Default for RunawayConfig {
    fn default() -> Self {
        RunawayConfig {
            tool_repeat_threshold: 5,
            agent_cycle_repeats: 3,
            max_cycle_period: 4,
            token_factor: 10.0,
            min_baseline_samples: 20,
            max_span_tokens: 1_000_000,
            max_trace_tokens: 5_000_000,
            error_chain_length: 3,
            timeout_nanos: 300 * 1_000_000_000,
            max_traces: 20_000,
            trace_idle_nanos: 30 * 60 * 1_000_000_000,
            max_entries_per_trace: 512,
            max_baselines: 10_000,
        }
    }
}

/// Where scores turn into alerts and severities: a score at or above `alert` raises an alert,
/// LOW below `medium`, MEDIUM below `high`, HIGH below `critical`, CRITICAL from `critical` up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeverityThresholds {
    /// The lowest alert score (LOW starts here).
    pub alert: u8,
    /// The lowest MEDIUM score.
    pub medium: u8,
    /// The lowest HIGH score.
    pub high: u8,
    /// The lowest CRITICAL score.
    pub critical: u8,
}

impl Default for SeverityThresholds {
    fn default() -> Self {
        SeverityThresholds {
            alert: 30,
            medium: 50,
            high: 70,
            critical: 90,
        }
    }
}

/// Alert de-duplication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DedupConfig {
    /// One alert per (project, trace, detector) within this window (nanoseconds).
    pub window_nanos: i64,
    /// At most this many keys are remembered; the oldest are forgotten first.
    pub max_keys: usize,
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig {
            window_nanos: 10 * 60 * 1_000_000_000,
            max_keys: 100_000,
        }
    }
}
