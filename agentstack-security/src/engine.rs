//! [`SpanScanner`] (the stateless content detectors, shareable across threads) and
//! [`SecurityEngine`] (scanner + runaway tracker + scoring + de-duplication: spans in, alerts out).
//!
//! The security worker owns one `SecurityEngine` and calls [`SecurityEngine::scan`] per span.

use std::sync::Arc;

use agentstack_pii::PiiScanner;

use crate::alert::{Alert, AlertDeduplicator};
use crate::config::SecurityConfig;
use crate::error::RuleError;
use crate::finding::{Detector, Evidence, Finding, Location};
use crate::injection::{InjectionEvidence, InjectionScanner};
use crate::pii;
use crate::prefilter::{Prefilter, Profile};
use crate::rules::{RuleSet, RuleSetBuilder};
use crate::span::{ScanSpan, SpanKind};
use crate::text::Channel;

/// The content detectors (prompt and indirect injection, PII): stateless, `Send + Sync`, cheap to
/// clone. Use it directly to scan texts without trace state (as [`crate::eval`] does).
#[derive(Debug, Clone)]
pub struct SpanScanner {
    injection: InjectionScanner,
    pii: PiiScanner,
    /// Whether `pii` is the built-in scanner, so texts the prefilter finds no PII shape in may
    /// skip it.
    pii_gate: bool,
    prefilter: Prefilter,
    config: Arc<SecurityConfig>,
}

/// Attribute keys whose values are retrieved documents or tool results (OpenInference,
/// OpenLLMetry and GenAI conventions).
const DATA_ATTRIBUTE_MARKERS: [&str; 4] = [
    "retrieval.documents",
    "document.content",
    "tool.call.result",
    "tool_result",
];

impl SpanScanner {
    /// A scanner with the given rules and PII scanner (e.g. one with custom patterns); every
    /// text runs through `pii`.
    pub fn new(config: SecurityConfig, rules: RuleSet, pii: PiiScanner) -> Self {
        Self::build(config, rules, pii, false)
    }

    /// A scanner with the given rules and the built-in PII detectors; texts without anything
    /// shaped like PII (no `@`, no long digit run, no key prefix) skip the PII regexes.
    pub fn with_builtin_pii(config: SecurityConfig, rules: RuleSet) -> Self {
        Self::build(config, rules, PiiScanner::builtin(), true)
    }

    fn build(config: SecurityConfig, rules: RuleSet, pii: PiiScanner, pii_gate: bool) -> Self {
        SpanScanner {
            prefilter: Prefilter::new(&rules),
            injection: InjectionScanner {
                rules,
                config: config.injection.clone(),
            },
            pii,
            pii_gate,
            config: Arc::new(config),
        }
    }

    fn find_pii(
        &self,
        text: &str,
        profile: &Profile,
        location: Location,
        leak: bool,
    ) -> Option<(u8, Vec<Evidence>)> {
        if self.pii_gate && !profile.pii {
            return None;
        }
        pii::scan(&self.pii, &self.config.pii, text, location, leak)
    }

    /// Loads the rules the config names (built-in and `rules_dir`) and returns the scanner with
    /// every rule that loaded, plus one error per rule that did not.
    pub fn from_config(config: SecurityConfig) -> (Self, Vec<RuleError>) {
        let (rules, errors) = load_rules(&config);
        (SpanScanner::with_builtin_pii(config, rules), errors)
    }

    /// The rules in use.
    pub fn rules(&self) -> &RuleSet {
        &self.injection.rules
    }

    /// The configuration in use.
    pub fn config(&self) -> &SecurityConfig {
        &self.config
    }

    /// The content findings of one span (detectors with a score above 0), strongest first.
    pub fn scan(&self, span: &ScanSpan<'_>) -> Vec<Finding> {
        let kind = span.span_kind();
        let mut inj = InjectionEvidence::default();
        let input_channel = match kind {
            SpanKind::Agent
            | SpanKind::Llm
            | SpanKind::Chain
            | SpanKind::Guardrail
            | SpanKind::Unknown => Channel::Input,
            // Tool arguments are written by the model, embeddings and retrieval queries by the code.
            SpanKind::Tool | SpanKind::Retriever | SpanKind::Embedding => Channel::Trusted,
        };
        let min_len = self.config.injection.min_encoded_len;
        let output_is_data = matches!(kind, SpanKind::Tool | SpanKind::Retriever);
        let input_profile = span.input.map(|t| {
            self.prefilter
                .profile_for(t, min_len, input_channel != Channel::Trusted)
        });
        let output_profile = span
            .output
            .map(|t| self.prefilter.profile_for(t, min_len, output_is_data));
        if let (Some(input), Some(profile)) = (span.input, &input_profile) {
            self.injection
                .scan(input, profile, input_channel, Location::Input, &mut inj);
        }
        if let (Some(output), Some(profile), SpanKind::Tool | SpanKind::Retriever) =
            (span.output, &output_profile, kind)
        {
            self.injection
                .scan(output, profile, Channel::Data, Location::Output, &mut inj);
        }
        self.scan_data_attributes(span.attributes, &mut inj);

        let mut findings = Vec::new();
        #[cfg(feature = "yara")]
        self.scan_yara(span, &mut findings);
        self.push_injection(Detector::PromptInjection, inj.direct, &mut findings);
        self.push_injection(Detector::IndirectInjection, inj.indirect, &mut findings);

        let pii_config = &self.config.pii;
        if let (Some(output), Some(profile)) = (span.output, &output_profile)
            && let Some((score, evidence)) = self.find_pii(output, profile, Location::Output, true)
        {
            findings.push(Finding {
                detector: Detector::PiiLeak,
                score,
                evidence,
            });
        }
        if let (Some(input), Some(profile)) = (span.input, &input_profile)
            && let Some((score, evidence)) = self.find_pii(input, profile, Location::Input, false)
        {
            findings.push(Finding {
                detector: Detector::PiiExposure,
                score,
                evidence,
            });
        }
        let redacted = span
            .redacted
            .map(str::to_string)
            .or_else(|| redacted_attribute(span.attributes));
        if let Some(counts) = redacted
            && let Some((score, evidence)) = pii::redacted(pii_config, &counts)
        {
            findings.push(Finding {
                detector: Detector::PiiRedacted,
                score,
                evidence,
            });
        }
        findings.sort_by_key(|x| std::cmp::Reverse(x.score));
        findings
    }

    /// The user's YARA rules over the span's input and output: one `yara` finding scored by
    /// the strongest matching rule.
    #[cfg(feature = "yara")]
    fn scan_yara(&self, span: &ScanSpan<'_>, findings: &mut Vec<Finding>) {
        let Some(yara) = self.injection.rules.yara() else {
            return;
        };
        let mut evidence = Vec::new();
        for (text, location) in [
            (span.input, Location::Input),
            (span.output, Location::Output),
        ] {
            if let Some(text) = text.filter(|t| !t.is_empty()) {
                yara.scan(text, location, &mut evidence);
            }
        }
        if evidence.is_empty() {
            return;
        }
        evidence.sort_by_key(|x| std::cmp::Reverse(x.score));
        findings.push(Finding {
            detector: Detector::Yara,
            score: evidence[0].score,
            evidence,
        });
    }

    fn push_injection(
        &self,
        detector: Detector,
        mut evidence: Vec<Evidence>,
        findings: &mut Vec<Finding>,
    ) {
        if evidence.is_empty() {
            return;
        }
        let score = self.injection.score(&evidence);
        if score == 0 {
            return;
        }
        evidence.sort_by_key(|x| std::cmp::Reverse(x.score));
        findings.push(Finding {
            detector,
            score,
            evidence,
        });
    }

    /// Retrieved documents and tool results kept in attributes are data: scanned for indirect
    /// injection. The attributes are parsed only when a rule keyword occurs in them.
    fn scan_data_attributes(&self, attributes: &str, inj: &mut InjectionEvidence) {
        if attributes.len() < 3
            || !DATA_ATTRIBUTE_MARKERS
                .iter()
                .any(|m| attributes.contains(m))
        {
            return;
        }
        let Ok(serde_json::Value::Object(map)) =
            serde_json::from_str::<serde_json::Value>(attributes)
        else {
            return;
        };
        for (key, value) in &map {
            if !DATA_ATTRIBUTE_MARKERS.iter().any(|m| key.contains(m)) {
                continue;
            }
            let owned;
            let text = match value.as_str() {
                Some(s) => s,
                None => {
                    owned = value.to_string();
                    &owned
                }
            };
            let profile = self
                .prefilter
                .profile(text, self.config.injection.min_encoded_len);
            self.injection
                .scan(text, &profile, Channel::Data, Location::Attributes, inj);
        }
    }
}

/// `agentstack.redacted` read from the attributes JSON text, when present.
fn redacted_attribute(attributes: &str) -> Option<String> {
    if !attributes.contains("agentstack.redacted") {
        return None;
    }
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(attributes).ok()?;
    match map.get("agentstack.redacted")? {
        serde_json::Value::String(s) => Some(s.clone()),
        v @ serde_json::Value::Object(_) => Some(v.to_string()),
        _ => None,
    }
}

/// Loads the built-in rules (unless turned off) and the `rules_dir` files.
pub fn load_rules(config: &SecurityConfig) -> (RuleSet, Vec<RuleError>) {
    let mut builder = if config.builtin_rules {
        RuleSetBuilder::with_builtin()
    } else {
        RuleSetBuilder::new()
    };
    let mut errors = Vec::new();
    if let Some(dir) = &config.rules_dir {
        errors = builder.add_dir(dir);
    }
    (builder.build(), errors)
}

/// Spans in, alerts out: the content detectors, the runaway tracker, weighting, severity and
/// de-duplication. One per security worker (it keeps per-trace state; not `Sync`).
#[derive(Debug)]
pub struct SecurityEngine {
    scanner: SpanScanner,
    runaway: crate::runaway::RunawayTracker,
    dedup: AlertDeduplicator,
}

impl SecurityEngine {
    /// An engine with the rules the config names; returns it with one error per rule that did not
    /// load (the engine runs with all the others: log the errors at start-up).
    pub fn new(config: SecurityConfig) -> (Self, Vec<RuleError>) {
        let (scanner, errors) = SpanScanner::from_config(config);
        (SecurityEngine::with_scanner(scanner), errors)
    }

    /// An engine around an existing scanner (e.g. one built with custom rules or PII patterns).
    pub fn with_scanner(scanner: SpanScanner) -> Self {
        let config = scanner.config();
        SecurityEngine {
            runaway: crate::runaway::RunawayTracker::new(config.runaway.clone()),
            dedup: AlertDeduplicator::new(config.dedup),
            scanner,
        }
    }

    /// The content scanner.
    pub fn scanner(&self) -> &SpanScanner {
        &self.scanner
    }

    /// The runaway tracker (for its size, or to call `evict_idle` on a timer).
    pub fn runaway(&mut self) -> &mut crate::runaway::RunawayTracker {
        &mut self.runaway
    }

    /// The de-duplicator (for its counters).
    pub fn dedup(&self) -> &AlertDeduplicator {
        &self.dedup
    }

    /// Every detector's finding for `span` at `now` (Unix nanoseconds), before weighting and
    /// de-duplication. Updates the trace state.
    pub fn findings(&mut self, span: &ScanSpan<'_>, now: i64) -> Vec<Finding> {
        let mut findings = self.scanner.scan(span);
        findings.extend(self.runaway.observe(span, now));
        findings
    }

    /// The alert score of a finding: its score times the detector's weight, capped at 100.
    pub fn alert_score(&self, finding: &Finding) -> u8 {
        let weight = self.scanner.config().weight(finding.detector);
        (finding.score as f32 * weight).round().clamp(0.0, 100.0) as u8
    }

    /// Scans one span at `now` (Unix nanoseconds, from the caller's clock) and returns the alerts
    /// it raises: findings whose weighted score reaches the alert threshold, at most one per
    /// (project, trace, detector) per de-duplication window. Strongest first.
    pub fn scan(&mut self, span: &ScanSpan<'_>, now: i64) -> Vec<Alert> {
        let findings = self.findings(span, now);
        let thresholds = self.scanner.config().thresholds;
        let mut alerts = Vec::new();
        for finding in findings {
            let score = self.alert_score(&finding);
            let Some(severity) = thresholds.severity(score) else {
                continue;
            };
            if !self
                .dedup
                .admit(span.project, span.trace_id, finding.detector, now)
            {
                continue;
            }
            alerts.push(Alert {
                project: span.project.to_string(),
                trace_id: span.trace_id.to_string(),
                span_id: span.span_id.to_string(),
                detector: finding.detector,
                title: finding.detector.title().to_string(),
                evidence: finding.evidence,
                score,
                severity,
                time_unix_nanos: now,
            });
        }
        alerts.sort_by_key(|x| std::cmp::Reverse(x.score));
        alerts
    }
}
