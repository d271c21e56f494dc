//! [`PiiScanner`], the compiled set of detectors, and its builder.
//!
//! A scan first runs one `RegexSet` over the text to learn which detectors can match at all; text with
//! no candidate (the usual case) costs that single pass and [`PiiScanner::redact`] returns it borrowed.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use regex::{Regex, RegexSet, RegexSetBuilder};

use crate::detectors::{BUILTIN, Detector, Retry};
use crate::{PiiKind, PiiMatch, PiiPatternError, Redaction};

/// Finds and redacts personal data and secrets in text.
///
/// Build it once and share it: it is `Send + Sync`, and cloning it only bumps a reference count.
/// [`PiiScanner::builtin`] enables every built-in detector (emails, phone numbers, US SSNs, payment
/// cards, IBANs and secrets); [`PiiScanner::builder`] can turn some off and add custom patterns.
///
/// Every detector is tuned against ordinary agent traffic, so token counts, timestamps, UUIDs, trace
/// ids, version numbers, ISO dates and prices are left alone: numbers must pass their checksum (Luhn,
/// mod-97) or range rules, and must stand alone as a token.
///
/// # Example
///
/// ```
/// use agentstack_pii::{PiiKind, PiiScanner};
///
/// let scanner = PiiScanner::builtin();
/// let input = "Mail alice@example.com, card 4111 1111 1111 1111, trace 4bf92f3577b34da6a3ce929d0e0e4736";
///
/// let redaction = scanner.redact(input);
/// assert_eq!(
///     redaction.text,
///     "Mail [REDACTED:email], card [REDACTED:payment_card], trace 4bf92f3577b34da6a3ce929d0e0e4736"
/// );
/// assert_eq!(redaction.counts[&PiiKind::Email], 1);
///
/// // Text without sensitive data comes back borrowed, without a copy.
/// let clean = scanner.redact("used 1532 tokens in 2.4 s");
/// assert!(matches!(clean.text, std::borrow::Cow::Borrowed(_)));
///
/// // Matches carry their kind and byte range, for reporting.
/// let found = scanner.find_all(input);
/// assert_eq!(found[0].kind, PiiKind::Email);
/// assert_eq!(&input[found[0].range()], "alice@example.com");
///
/// // Custom patterns are reported under their own name.
/// let scanner = PiiScanner::builder()
///     .custom("employee_id", r"\bEMP-[0-9]{6}\b")
///     .build()?;
/// assert_eq!(scanner.redact("ask EMP-004211").text, "ask [REDACTED:employee_id]");
/// # Ok::<(), agentstack_pii::PiiPatternError>(())
/// ```
#[derive(Clone)]
pub struct PiiScanner {
    inner: Arc<Inner>,
}

struct Inner {
    detectors: Vec<Detector>,
    /// One pattern per detector, same order. `None` only if the combined set exceeds the regex size
    /// limit (possible with very large custom patterns); every detector then runs on every text.
    prefilter: Option<RegexSet>,
}

static BUILTIN_SCANNER: LazyLock<PiiScanner> =
    LazyLock::new(|| PiiScanner::from_detectors(BUILTIN.clone()));

impl PiiScanner {
    /// A scanner with every built-in detector. Compiled once per process; later calls are a cheap clone.
    pub fn builtin() -> Self {
        BUILTIN_SCANNER.clone()
    }

    /// Starts a scanner with the built-in detectors on and no custom patterns.
    pub fn builder() -> PiiScannerBuilder {
        PiiScannerBuilder::new()
    }

    fn from_detectors(detectors: Vec<Detector>) -> Self {
        let prefilter = RegexSetBuilder::new(detectors.iter().map(|d| d.regex.as_str()))
            .size_limit(64 << 20)
            .build()
            .ok();
        PiiScanner {
            inner: Arc::new(Inner {
                detectors,
                prefilter,
            }),
        }
    }

    /// The kinds this scanner can report, without duplicates, in [`PiiKind`] order.
    pub fn kinds(&self) -> Vec<PiiKind> {
        let mut kinds: Vec<PiiKind> = self
            .inner
            .detectors
            .iter()
            .map(|d| d.kind.clone())
            .collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    /// Every piece of sensitive data in `text`, sorted by start, never overlapping.
    ///
    /// When candidates of different detectors overlap, the match takes the kind of the longest one
    /// (the earliest on a tie) and covers all of them, so redacting it leaves no fragment behind.
    pub fn find_all(&self, text: &str) -> Vec<PiiMatch> {
        let mut candidates: Vec<(usize, usize, usize)> = Vec::new();
        let mut spans = Vec::new();
        let mut scan = |index: usize, detector: &Detector| {
            spans.clear();
            detector.scan(text, &mut spans);
            candidates.extend(spans.iter().map(|&(s, e)| (s, e, index)));
        };
        match &self.inner.prefilter {
            Some(set) => {
                let hits = set.matches(text);
                if !hits.matched_any() {
                    return Vec::new();
                }
                for index in hits.iter() {
                    scan(index, &self.inner.detectors[index]);
                }
            }
            None => {
                for (index, detector) in self.inner.detectors.iter().enumerate() {
                    scan(index, detector);
                }
            }
        }
        self.merge(candidates)
    }

    /// Sorts candidates `(start, end, detector)` and merges each cluster of overlapping ones into a
    /// single match with the kind of its longest member.
    fn merge(&self, mut candidates: Vec<(usize, usize, usize)>) -> Vec<PiiMatch> {
        candidates.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        let mut matches: Vec<PiiMatch> = Vec::with_capacity(candidates.len());
        // Length of the member that gave the last match its kind.
        let mut best_len = 0;
        for (start, end, index) in candidates {
            let kind = &self.inner.detectors[index].kind;
            match matches.last_mut() {
                Some(last) if start < last.end => {
                    // Sorted by start, so this candidate starts later (or at the same place but is not
                    // longer): it wins the kind only when strictly longer.
                    if end - start > best_len {
                        best_len = end - start;
                        last.kind = kind.clone();
                    }
                    last.end = last.end.max(end);
                }
                _ => {
                    best_len = end - start;
                    matches.push(PiiMatch {
                        kind: kind.clone(),
                        start,
                        end,
                    });
                }
            }
        }
        matches
    }

    /// `text` with every match of [`find_all`](Self::find_all) replaced by `[REDACTED:<kind>]`, and the
    /// number of matches per kind. Returns the input borrowed when nothing matched.
    pub fn redact<'a>(&self, text: &'a str) -> Redaction<'a> {
        let matches = self.find_all(text);
        if matches.is_empty() {
            return Redaction {
                text: Cow::Borrowed(text),
                counts: BTreeMap::new(),
            };
        }
        let mut out = String::with_capacity(text.len() + 16 * matches.len());
        let mut counts = BTreeMap::new();
        let mut copied = 0;
        for m in matches {
            out.push_str(&text[copied..m.start]);
            out.push_str("[REDACTED:");
            out.push_str(m.kind.as_str());
            out.push(']');
            copied = m.end;
            *counts.entry(m.kind).or_insert(0) += 1;
        }
        out.push_str(&text[copied..]);
        Redaction {
            text: Cow::Owned(out),
            counts,
        }
    }
}

impl Default for PiiScanner {
    /// Same as [`PiiScanner::builtin`].
    fn default() -> Self {
        Self::builtin()
    }
}

impl std::fmt::Debug for PiiScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiiScanner")
            .field("kinds", &self.kinds())
            .field("detectors", &self.inner.detectors.len())
            .finish()
    }
}

/// Configures a [`PiiScanner`]: which built-in detectors to use and which custom patterns to add.
///
/// Nothing is compiled until [`build`](Self::build), which is where a bad custom pattern is reported.
#[derive(Debug, Clone)]
pub struct PiiScannerBuilder {
    builtin: bool,
    disabled: Vec<PiiKind>,
    custom: Vec<(String, String)>,
}

impl PiiScannerBuilder {
    fn new() -> Self {
        PiiScannerBuilder {
            builtin: true,
            disabled: Vec::new(),
            custom: Vec::new(),
        }
    }

    /// Whether to include the built-in detectors (default `true`). With `false`, only custom patterns
    /// are used.
    pub fn builtin(mut self, enabled: bool) -> Self {
        self.builtin = enabled;
        self
    }

    /// Turns off every detector of `kind`, built-in or custom (for a custom kind, every pattern added
    /// under that name). For example `.disable(PiiKind::Phone)` for traffic full of support numbers.
    pub fn disable(mut self, kind: PiiKind) -> Self {
        self.disabled.push(kind);
        self
    }

    /// Adds a pattern in [regex syntax](https://docs.rs/regex/#syntax) whose matches are reported as
    /// `PiiKind::Custom(name)` and redacted as `[REDACTED:<name>]`. Several patterns may share a name.
    ///
    /// The whole match is redacted; use `\b` or explicit context in the pattern to avoid matching
    /// inside longer words. Empty matches are ignored.
    pub fn custom(mut self, name: impl Into<String>, pattern: impl Into<String>) -> Self {
        self.custom.push((name.into(), pattern.into()));
        self
    }

    /// Compiles the scanner.
    ///
    /// # Errors
    ///
    /// [`PiiPatternError`] naming the first custom pattern that does not compile, with the regex
    /// crate's explanation.
    pub fn build(self) -> Result<PiiScanner, PiiPatternError> {
        let mut detectors: Vec<Detector> = Vec::new();
        if self.builtin {
            detectors.extend(
                BUILTIN
                    .iter()
                    .filter(|d| !self.disabled.contains(&d.kind))
                    .cloned(),
            );
        }
        for (name, pattern) in self.custom {
            let disabled = self
                .disabled
                .iter()
                .any(|kind| matches!(kind, PiiKind::Custom(n) if *n == name));
            if disabled {
                continue;
            }
            let regex = Regex::new(&pattern)
                .map_err(|source| PiiPatternError::new(name.clone(), source))?;
            detectors.push(Detector {
                kind: PiiKind::Custom(name),
                regex,
                confirm: None,
                retry: Retry::NextChar,
            });
        }
        Ok(PiiScanner::from_detectors(detectors))
    }
}
