//! The prompt-injection and indirect-injection detectors: signature rules plus heuristics
//! (encoded instructions, invisible and bidirectional Unicode, homoglyphs, length and entropy).
//!
//! Hot path: one Aho-Corasick pass and one byte pass per text; JSON is parsed, regexes run and
//! Unicode is analysed only when that pass finds a candidate.

use crate::config::InjectionConfig;
use crate::finding::{Evidence, Location, clip};
use crate::prefilter::Profile;
use crate::rules::{RuleHit, RuleScope, RuleSet};
use crate::text::{self, Channel, Decoded};

/// Evidence gathered from one text, split by detector.
#[derive(Debug, Default)]
pub(crate) struct InjectionEvidence {
    /// Evidence of direct prompt injection (input channel).
    pub direct: Vec<Evidence>,
    /// Evidence of indirect injection (data channel).
    pub indirect: Vec<Evidence>,
}

/// Scans texts for injections with a rule set and the heuristics' configuration.
#[derive(Debug, Clone)]
pub(crate) struct InjectionScanner {
    pub rules: RuleSet,
    pub config: InjectionConfig,
}

impl InjectionScanner {
    /// Scans `raw` (a span field) whose own channel is `channel` (Input or Data), given the
    /// prefilter's `profile` of it, and adds the evidence to `out`.
    pub fn scan(
        &self,
        raw: &str,
        profile: &Profile,
        channel: Channel,
        location: Location,
        out: &mut InjectionEvidence,
    ) {
        if raw.is_empty() || channel == Channel::Trusted {
            return;
        }
        let own_out = match channel {
            Channel::Data => &mut out.indirect,
            _ => &mut out.direct,
        };
        self.anomalies(raw, profile, location, own_out);
        self.encoded(raw, profile, channel, location, own_out);
        let bytes = &profile.bytes;
        if profile.candidates.is_empty() && !bytes.unicode_escape && !bytes.non_ascii {
            return;
        }
        let segments = text::segments(raw);
        // The prefilter's candidates hold for the raw text; text taken out of JSON is new text.
        let candidates = match &segments.own {
            std::borrow::Cow::Borrowed(_) => Some(profile.candidates.as_slice()),
            std::borrow::Cow::Owned(_) => None,
        };
        self.signatures_and_unicode(&segments.own, candidates, channel, location, own_out);
        if !segments.data.is_empty() {
            self.signatures_and_unicode(
                &segments.data,
                None,
                Channel::Data,
                location,
                &mut out.indirect,
            );
        }
    }

    fn scope(channel: Channel) -> RuleScope {
        match channel {
            Channel::Data => RuleScope::Data,
            _ => RuleScope::Input,
        }
    }

    fn rule_evidence(
        &self,
        text: &str,
        hits: &[RuleHit],
        prefix: &str,
        bonus: u8,
        location: Location,
        out: &mut Vec<Evidence>,
    ) {
        for hit in hits {
            let rule = &self.rules.rules()[hit.rule];
            out.push(Evidence {
                signal: format!("{prefix}rule:{}", rule.id),
                detail: clip(&text[hit.start..hit.end], 160),
                location,
                score: rule.score.saturating_add(bonus).min(100),
            });
        }
    }

    fn signatures_and_unicode(
        &self,
        text: &str,
        candidates: Option<&[usize]>,
        channel: Channel,
        location: Location,
        out: &mut Vec<Evidence>,
    ) {
        let scope = Self::scope(channel);
        let mut hits = Vec::new();
        match candidates {
            Some(candidates) => self
                .rules
                .scan_candidates(text, scope, candidates, &mut hits),
            None => self.rules.scan(text, scope, &mut hits),
        }
        self.rule_evidence(text, &hits, "", 0, location, out);
        if text.is_ascii() {
            return;
        }
        let report = text::unicode_report(text);
        if report.bidi_overrides > 0 {
            out.push(Evidence {
                signal: "bidi_override".into(),
                detail: format!(
                    "{} bidirectional override character(s) (U+202D/U+202E)",
                    report.bidi_overrides
                ),
                location,
                score: 50,
            });
        } else if report.bidi_other > 0 {
            out.push(Evidence {
                signal: "bidi_control".into(),
                detail: format!(
                    "{} bidirectional embedding/isolate character(s)",
                    report.bidi_other
                ),
                location,
                score: 25,
            });
        }
        if report.zero_width >= 3 {
            out.push(Evidence {
                signal: "zero_width".into(),
                detail: format!(
                    "{} zero-width character(s) inside the text",
                    report.zero_width
                ),
                location,
                score: if report.zero_width >= 10 { 50 } else { 35 },
            });
        }
        if report.mixed_count > 0 {
            out.push(Evidence {
                signal: "homoglyph".into(),
                detail: format!(
                    "{} word(s) mixing Latin with look-alike letters: {}",
                    report.mixed_count,
                    clip(&report.mixed_words.join(", "), 120)
                ),
                location,
                score: match report.mixed_count {
                    1 => 30,
                    2 => 40,
                    _ => 55,
                },
            });
        }
        if !report.tags.is_empty() {
            let mut tag_hits = Vec::new();
            self.rules.scan(&report.tags, scope, &mut tag_hits);
            out.push(Evidence {
                signal: "unicode_tags".into(),
                detail: format!(
                    "invisible tag characters spell: {}",
                    clip(&report.tags, 140)
                ),
                location,
                score: 60,
            });
            self.rule_evidence(&report.tags, &tag_hits, "unicode_tags:", 10, location, out);
        }
        if let Some(normalized) = &report.normalized {
            let mut again = Vec::new();
            self.rules.scan(normalized, scope, &mut again);
            again.retain(|h| hits.iter().all(|first| first.rule != h.rule));
            self.rule_evidence(normalized, &again, "obfuscated:", 10, location, out);
        }
    }

    fn encoded(
        &self,
        raw: &str,
        profile: &Profile,
        channel: Channel,
        location: Location,
        out: &mut Vec<Evidence>,
    ) {
        if profile.bytes.runs.is_empty() && !profile.bytes.percent {
            return;
        }
        let mut decoded: Vec<Decoded> = Vec::new();
        text::decode_profiled(
            raw,
            &profile.bytes,
            self.config.min_encoded_len,
            &mut decoded,
        );
        let scope = Self::scope(channel);
        for d in decoded {
            let mut hits = Vec::new();
            self.rules.scan(&d.text, scope, &mut hits);
            let name = d.encoding.as_str();
            if hits.is_empty() {
                out.push(Evidence {
                    signal: format!("{name}_text"),
                    detail: format!(
                        "{name} run of {} bytes decodes to text: {}",
                        d.end - d.start,
                        clip(&d.text, 120)
                    ),
                    location,
                    score: 15,
                });
            } else {
                self.rule_evidence(&d.text, &hits, &format!("{name}:"), 10, location, out);
            }
        }
    }

    fn anomalies(&self, raw: &str, profile: &Profile, location: Location, out: &mut Vec<Evidence>) {
        if raw.len() > self.config.max_normal_len {
            out.push(Evidence {
                signal: "length".into(),
                detail: format!(
                    "{} bytes, above the usual {}",
                    raw.len(),
                    self.config.max_normal_len
                ),
                location,
                score: 15,
            });
        }
        {
            let entropy = profile.bytes.entropy;
            if entropy > self.config.max_normal_entropy {
                out.push(Evidence {
                    signal: "entropy".into(),
                    detail: format!(
                        "byte entropy {entropy:.2} bits/byte over {} bytes",
                        raw.len()
                    ),
                    location,
                    score: 15,
                });
            }
        }
    }

    /// The detector score of a list of evidence: per signal family the strongest score (rules add
    /// a bonus per further category), weighted and summed, capped at 100.
    pub fn score(&self, evidence: &[Evidence]) -> u8 {
        let c = &self.config;
        let mut signature: u8 = 0;
        let mut categories: Vec<&str> = Vec::new();
        let mut encoded: u8 = 0;
        let mut invisible: u8 = 0;
        let mut homoglyph: u8 = 0;
        let mut anomaly: u8 = 0;
        for e in evidence {
            let s = e.signal.as_str();
            if let Some(rest) = s.strip_prefix("rule:") {
                signature = signature.max(e.score);
                let category = self
                    .rules
                    .rules()
                    .iter()
                    .find(|r| r.id == rest)
                    .map_or(rest, |r| r.category.as_str());
                if !categories.contains(&category) {
                    categories.push(category);
                }
            } else if s.starts_with("obfuscated:")
                || s.contains(':')
                || s.ends_with("_text")
                || s == "unicode_tags"
            {
                encoded = encoded.max(e.score);
            } else if matches!(s, "bidi_override" | "bidi_control" | "zero_width") {
                invisible = invisible.max(e.score);
            } else if s == "homoglyph" {
                homoglyph = homoglyph.max(e.score);
            } else {
                anomaly = anomaly.max(e.score);
            }
        }
        let extra = categories.len().saturating_sub(1) as u32 * c.extra_category_bonus as u32;
        let signature = (signature as u32 + if signature > 0 { extra } else { 0 }).min(100) as f32;
        let total = c.signature_weight * signature
            + c.encoded_weight * encoded as f32
            + c.invisible_weight * invisible as f32
            + c.homoglyph_weight * homoglyph as f32
            + c.anomaly_weight * anomaly as f32;
        total.clamp(0.0, 100.0).round() as u8
    }
}
