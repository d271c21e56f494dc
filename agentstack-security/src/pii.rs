//! The PII detectors: leaks in outputs, exposure in inputs, and spans the SDK already redacted.
//!
//! Matching is `agentstack_pii::PiiScanner` (checksums and range rules included); this module only
//! scores the matches and writes evidence in which the personal data itself is always redacted.

use std::collections::BTreeMap;

use agentstack_pii::{PiiKind, PiiMatch, PiiScanner};

use crate::config::PiiConfig;
use crate::finding::{Evidence, Location, clip};

/// Bytes of context shown on each side of a match in evidence.
const CONTEXT: usize = 32;

/// The evidence of the PII found in `text`, one item per kind, and the detector score
/// (`leak` = found in an output; otherwise an exposure, scored by `exposure_factor`).
pub(crate) fn scan(
    scanner: &PiiScanner,
    config: &PiiConfig,
    text: &str,
    location: Location,
    leak: bool,
) -> Option<(u8, Vec<Evidence>)> {
    let matches = scanner.find_all(text);
    if matches.is_empty() {
        return None;
    }
    let mut by_kind: BTreeMap<&PiiKind, Vec<&PiiMatch>> = BTreeMap::new();
    for m in &matches {
        by_kind.entry(&m.kind).or_default().push(m);
    }
    let factor = if leak { 1.0 } else { config.exposure_factor };
    let mut evidence = Vec::with_capacity(by_kind.len());
    for (kind, found) in &by_kind {
        let base = config
            .leak_scores
            .get(kind.as_str())
            .copied()
            .unwrap_or(config.default_leak_score);
        let score = (base as f32 * factor).round().clamp(0.0, 100.0) as u8;
        evidence.push(Evidence {
            signal: format!("pii:{}", kind.as_str()),
            detail: format!(
                "{} {} match(es), first: {}",
                found.len(),
                kind.as_str(),
                redacted_context(scanner, text, found[0])
            ),
            location,
            score,
        });
    }
    evidence.sort_by_key(|x| std::cmp::Reverse(x.score));
    let mut score = evidence[0].score as u32;
    score += (evidence.len() as u32 - 1) * config.extra_kind_bonus as u32;
    if matches.len() >= config.bulk_count {
        score += config.bulk_bonus as u32;
    }
    Some((score.min(100) as u8, evidence))
}

/// The text around `m` with every piece of PII in it (the match included) redacted.
fn redacted_context(scanner: &PiiScanner, text: &str, m: &PiiMatch) -> String {
    let mut from = m.start.saturating_sub(CONTEXT);
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    let mut to = (m.end + CONTEXT).min(text.len());
    while !text.is_char_boundary(to) {
        to += 1;
    }
    let mut snippet = String::with_capacity(to - from + 24);
    snippet.push_str(&text[from..m.start]);
    snippet.push_str("[REDACTED:");
    snippet.push_str(m.kind.as_str());
    snippet.push(']');
    snippet.push_str(&text[m.end..to]);
    // The context may hold other PII, or a cut-off piece of it at the edges: redact again and
    // drop partial tokens at both ends.
    let redacted = scanner.redact(&snippet).text.into_owned();
    let trimmed = trim_partial_words(&redacted, from > 0, to < text.len());
    clip(trimmed, 160)
}

fn trim_partial_words(s: &str, cut_start: bool, cut_end: bool) -> &str {
    let mut s = s;
    if cut_start && let Some(i) = s.find(char::is_whitespace) {
        s = &s[i + 1..];
    }
    if cut_end && let Some(i) = s.rfind(char::is_whitespace) {
        s = &s[..i];
    }
    s
}

/// The evidence for an `agentstack.redacted` value such as `{"email":2}`, and the score.
pub(crate) fn redacted(config: &PiiConfig, counts_json: &str) -> Option<(u8, Vec<Evidence>)> {
    let counts: BTreeMap<String, serde_json::Value> = serde_json::from_str(counts_json).ok()?;
    let evidence: Vec<Evidence> = counts
        .iter()
        .filter_map(|(kind, n)| {
            let n = n.as_u64().filter(|n| *n > 0)?;
            Some(Evidence {
                signal: format!("redacted:{kind}"),
                detail: format!("{n} {kind} value(s) redacted by the SDK before export"),
                location: Location::Attributes,
                score: config.redacted_score,
            })
        })
        .collect();
    if evidence.is_empty() {
        return None;
    }
    Some((config.redacted_score, evidence))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_never_holds_the_raw_value() {
        let scanner = PiiScanner::builtin();
        let text = "Customer record: alice.smith@example.com, SSN 123-45-6789, card 4111 1111 1111 1111, phone +44 20 7946 0958 ok";
        let (score, evidence) = scan(
            &scanner,
            &PiiConfig::default(),
            text,
            Location::Output,
            true,
        )
        .unwrap();
        assert!(score >= 90, "{score}");
        for e in &evidence {
            for raw in ["alice.smith", "123-45-6789", "4111 1111", "7946"] {
                assert!(!e.detail.contains(raw), "{raw} in {}", e.detail);
            }
        }
        assert!(evidence.iter().any(|e| e.signal == "pii:ssn"));
    }

    #[test]
    fn exposure_scores_less_than_leak() {
        let scanner = PiiScanner::builtin();
        let text = "my email is bob@example.org";
        let leak = scan(
            &scanner,
            &PiiConfig::default(),
            text,
            Location::Output,
            true,
        )
        .unwrap()
        .0;
        let exposure = scan(
            &scanner,
            &PiiConfig::default(),
            text,
            Location::Input,
            false,
        )
        .unwrap()
        .0;
        assert_eq!(leak, 45);
        assert_eq!(exposure, 32);
    }

    #[test]
    fn clean_text_and_invalid_numbers_find_nothing() {
        let scanner = PiiScanner::builtin();
        for text in [
            "used 1532 tokens in 2.4 s, trace 4bf92f3577b34da6a3ce929d0e0e4736",
            "order 4111 1111 1111 1112 is not a card (Luhn fails)",
            "SSN 000-12-3456 is an invalid range",
        ] {
            assert!(
                scan(
                    &scanner,
                    &PiiConfig::default(),
                    text,
                    Location::Output,
                    true
                )
                .is_none(),
                "{text}"
            );
        }
    }

    #[test]
    fn redacted_counts_are_reported_low() {
        let (score, evidence) =
            redacted(&PiiConfig::default(), r#"{"email":2,"phone":0}"#).unwrap();
        assert_eq!(score, 30);
        assert_eq!(evidence.len(), 1);
        assert_eq!(evidence[0].signal, "redacted:email");
        assert!(redacted(&PiiConfig::default(), "{}").is_none());
        assert!(redacted(&PiiConfig::default(), "not json").is_none());
    }
}
