//! The built-in detectors: one regex per kind of data that proposes candidates, and one confirm function
//! that accepts, trims or rejects each candidate (token boundaries, checksums, issuer and range rules).
//!
//! The regexes are deliberately loose and cheap; precision comes from the confirm step, which is where
//! every false-positive rule lives and is commented.

use std::sync::LazyLock;

use regex::Regex;

use crate::PiiKind;
use crate::checks::{card_issuer_plausible, iban_valid, luhn_valid, ssn_valid};

/// Accepts a candidate `text[start..end]`, possibly narrowed to a sub-range, or rejects it (`None`).
pub(crate) type Confirm = fn(text: &str, start: usize, end: usize) -> Option<(usize, usize)>;

/// One detector: a regex that proposes candidates and an optional confirm step.
#[derive(Clone)]
pub(crate) struct Detector {
    pub(crate) kind: PiiKind,
    pub(crate) regex: Regex,
    pub(crate) confirm: Option<Confirm>,
    /// Where to search next after a rejected candidate.
    pub(crate) retry: Retry,
}

/// Where the search resumes after the confirm step rejected a candidate.
#[derive(Clone, Copy)]
pub(crate) enum Retry {
    /// One character after the candidate's start: a valid match may begin inside a rejected candidate
    /// (`1234 4111 1111 1111 1111` holds a card starting at its second group). Candidates of these
    /// detectors are short or start with a fixed prefix, so this stays linear.
    NextChar,
    /// After the candidate: for detectors with an unbounded tail (email local parts, `sk-…`, JWTs), where
    /// retrying inside a long rejected candidate (`ask-ask-ask-…`) would be quadratic in its length.
    /// The cost is missing a valid match nested inside a rejected one, which ordinary text never has.
    AfterCandidate,
}

impl Detector {
    /// Pushes every confirmed, non-empty match of this detector in `text` onto `out`, in order.
    ///
    /// After a confirmed match the search resumes at its end; after a rejected candidate, where the
    /// detector's [`Retry`] says.
    pub(crate) fn scan(&self, text: &str, out: &mut Vec<(usize, usize)>) {
        let mut pos = 0;
        while pos <= text.len() {
            let Some(m) = self.regex.find_at(text, pos) else {
                break;
            };
            let confirmed = match self.confirm {
                None => Some((m.start(), m.end())),
                Some(confirm) => confirm(text, m.start(), m.end()),
            };
            match confirmed {
                Some((s, e)) if s < e => {
                    out.push((s, e));
                    pos = e;
                }
                _ => {
                    pos = match self.retry {
                        Retry::NextChar => next_char(text, m.start()),
                        Retry::AfterCandidate => m.end().max(next_char(text, m.start())),
                    }
                }
            }
        }
    }
}

/// The byte offset of the character after the one at `i` (or `i + 1` past the end).
fn next_char(text: &str, i: usize) -> usize {
    text[i..].chars().next().map_or(i + 1, |c| i + c.len_utf8())
}

/// The detectors behind [`crate::PiiScanner::builtin`], compiled once per process.
pub(crate) static BUILTIN: LazyLock<Vec<Detector>> = LazyLock::new(|| {
    BUILTIN_SPECS
        .iter()
        .map(|&(ref kind, pattern, confirm, retry)| Detector {
            kind: kind.clone(),
            regex: Regex::new(pattern).unwrap_or_else(|e| {
                // The patterns are constants covered by the crate's tests; this cannot fail at runtime.
                panic!("built-in {} pattern does not compile: {e}", kind.as_str())
            }),
            confirm,
            retry,
        })
        .collect()
});

/// Kind, candidate regex, confirm step and retry rule of one built-in detector.
type Spec = (PiiKind, &'static str, Option<Confirm>, Retry);

/// Every built-in detector. Order matters only as the last tie-break between two matches of the same
/// range.
const BUILTIN_SPECS: &[Spec] = &[
    // PEM private key blocks, multi-line; a block cut off before its END line (a truncated capture) is
    // still redacted up to the end of its base64 body.
    (
        PiiKind::Secret,
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?:(?s:.*?)-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|[A-Za-z0-9+/=\s\\:,.\-]*)",
        None,
        Retry::NextChar,
    ),
    // JWT: base64url header that starts with `{"` (eyJ), payload, signature (may be empty for alg=none).
    (
        PiiKind::Secret,
        r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
        Some(confirm_token),
        Retry::AfterCandidate,
    ),
    // `Bearer <token>` (RFC 6750 b64token); only the token is redacted.
    (
        PiiKind::Secret,
        r"(?i-u:bearer)[ \t]+[A-Za-z0-9\-._~+/]+=*",
        Some(confirm_bearer),
        Retry::NextChar,
    ),
    // AWS access key ids (long-term AKIA, temporary ASIA).
    (
        PiiKind::Secret,
        r"(?:AKIA|ASIA)[A-Z0-9]{16}",
        Some(confirm_token),
        Retry::AfterCandidate,
    ),
    // OpenAI (`sk-`, `sk-proj-`, `sk-svcacct-`) and Anthropic (`sk-ant-api03-`) keys.
    (
        PiiKind::Secret,
        r"sk-[A-Za-z0-9_\-]{20,}",
        Some(confirm_random_token),
        Retry::AfterCandidate,
    ),
    // GitHub classic tokens and fine-grained personal access tokens.
    (
        PiiKind::Secret,
        r"gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}",
        Some(confirm_token),
        Retry::AfterCandidate,
    ),
    // Google API keys.
    (
        PiiKind::Secret,
        r"AIza[A-Za-z0-9_\-]{35}",
        Some(confirm_token),
        Retry::AfterCandidate,
    ),
    // Slack bot, user, app-level, refresh and legacy tokens.
    (
        PiiKind::Secret,
        r"xox[abprs]-[A-Za-z0-9\-]{10,}",
        Some(confirm_random_token),
        Retry::AfterCandidate,
    ),
    // Stripe secret and restricted keys (live and test mode; both grant API access).
    (
        PiiKind::Secret,
        r"[sr]k_(?:live|test)_[A-Za-z0-9]{16,}",
        Some(confirm_token),
        Retry::AfterCandidate,
    ),
    // Email addresses; the local part may hold Latin-1 and Latin Extended letters (josé@…).
    (
        PiiKind::Email,
        r"[A-Za-z0-9._%+\-\u{C0}-\u{24F}]+@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}",
        Some(confirm_email),
        Retry::AfterCandidate,
    ),
    // IBAN, electronic form or paper form (groups of four separated by single spaces).
    (
        PiiKind::Iban,
        r"[A-Z]{2}[0-9]{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)",
        Some(confirm_iban),
        Retry::NextChar,
    ),
    // Payment cards: contiguous, 4-4-4-4(-x) with spaces or dashes, Amex 4-6-5 and Diners 4-6-4.
    (
        PiiKind::PaymentCard,
        r"[0-9]{13,19}|[0-9]{4}(?:-[0-9]{4}){2,3}(?:-[0-9]{1,4})?|[0-9]{4}(?: [0-9]{4}){2,3}(?: [0-9]{1,4})?|[0-9]{4}[ \-][0-9]{6}[ \-][0-9]{4,5}",
        Some(confirm_card),
        Retry::NextChar,
    ),
    // US SSN, dashes required.
    (
        PiiKind::Ssn,
        r"[0-9]{3}-[0-9]{2}-[0-9]{4}",
        Some(confirm_ssn),
        Retry::NextChar,
    ),
    // North-American numbers: (555) 123-4567, 555-123-4567, 555.123.4567, 1-800-555-0199.
    (
        PiiKind::Phone,
        r"\([2-9][0-9]{2}\) ?[0-9]{3}[\-. ][0-9]{4}|(?:1-)?[2-9][0-9]{2}-[0-9]{3}-[0-9]{4}|(?:1\.)?[2-9][0-9]{2}\.[0-9]{3}\.[0-9]{4}",
        Some(confirm_nanp_phone),
        Retry::NextChar,
    ),
    // International numbers: + country code, then groups of digits with optional separators.
    (
        PiiKind::Phone,
        r"\+[1-9][0-9]{0,2}(?:[ .\-]?(?:\([0-9]{1,4}\)|[0-9]{1,6})){1,6}",
        Some(confirm_intl_phone),
        Retry::NextChar,
    ),
];

// ---------------------------------------------------------------------------------------------------
// Token boundaries
// ---------------------------------------------------------------------------------------------------

/// Characters that glue digit groups into one longer token (`2024-01-15`, `1.2.3`): a candidate that
/// touches one of these, with more of the token on the other side, is only part of something larger.
const NUMBER_JOINERS: &[u8] = b"-.";

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether `text[..start]` ends a token, so a match may begin at `start`.
///
/// Only ASCII letters, digits and `_` continue a token: CJK or accented text written right against a
/// number (`電話555-123-4567`) still leaves the number detectable. A JSON escape such as `\n` before the
/// match counts as a boundary, since captured inputs are often serialized JSON.
fn left_clear(text: &str, start: usize, joiners: &[u8]) -> bool {
    let bytes = text.as_bytes();
    let Some(&prev) = start.checked_sub(1).and_then(|i| bytes.get(i)) else {
        return true;
    };
    let before_prev = start.checked_sub(2).and_then(|i| bytes.get(i)).copied();
    if is_word_byte(prev) {
        return matches!(prev, b'n' | b't' | b'r') && before_prev == Some(b'\\');
    }
    if joiners.contains(&prev) {
        return !before_prev.is_some_and(is_word_byte);
    }
    true
}

/// Whether `text[end..]` starts after a token boundary, so a match may end at `end`.
fn right_clear(text: &str, end: usize, joiners: &[u8]) -> bool {
    let bytes = text.as_bytes();
    let Some(&next) = bytes.get(end) else {
        return true;
    };
    if is_word_byte(next) {
        return false;
    }
    if joiners.contains(&next) {
        return !bytes.get(end + 1).copied().is_some_and(is_word_byte);
    }
    true
}

/// Tries `text[start..end]`, then ever shorter prefixes cut at the last separator, and returns the
/// longest one that ends on a boundary and passes `valid`. Used where a loose regex may have swallowed a
/// following number group (`4111 1111 1111 1111 2024`).
fn longest_valid_prefix(
    text: &str,
    start: usize,
    end: usize,
    separators: &[u8],
    valid: impl Fn(&str) -> bool,
) -> Option<(usize, usize)> {
    let mut end = end;
    loop {
        let candidate = &text[start..end];
        if right_clear(text, end, NUMBER_JOINERS) && valid(candidate) {
            return Some((start, end));
        }
        let cut = candidate.bytes().rposition(|b| separators.contains(&b))?;
        if cut == 0 {
            return None;
        }
        end = start + cut;
    }
}

// ---------------------------------------------------------------------------------------------------
// Confirm steps
// ---------------------------------------------------------------------------------------------------

/// A fixed-prefix token (AWS, GitHub, Google, Stripe, JWT) must stand alone: no letter, digit or `_`
/// right before or after it, so it is not the middle of some longer identifier.
fn confirm_token(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    (left_clear(text, start, b"") && right_clear(text, end, b"")).then_some((start, end))
}

/// Whether a token looks machine-generated rather than like a word: it has a digit, or an upper-case
/// letter after its first character (`aB3…`). Kebab-case prose (`sk-learn-tutorial-for-beginners`) and
/// words (`Bearer authentication`) have neither.
fn looks_random(token: &str) -> bool {
    token.bytes().any(|b| b.is_ascii_digit())
        || token.bytes().skip(1).any(|b| b.is_ascii_uppercase())
}

/// `sk-…` and `xox?-…` keys: a boundary on both sides and a body that looks random.
fn confirm_random_token(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let body = text[start..end]
        .split_once('-')
        .map_or("", |(_, body)| body);
    let has_digit = body.bytes().any(|b| b.is_ascii_digit());
    let has_letter = body.bytes().any(|b| b.is_ascii_alphabetic());
    if has_digit && has_letter {
        confirm_token(text, start, end)
    } else {
        None
    }
}

/// `Bearer <token>`: keeps the word `Bearer`, redacts the token when it is at least 16 characters and
/// looks random (so prose such as "send a Bearer token" or "Bearer authentication" is left alone).
fn confirm_bearer(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    if !left_clear(text, start, b"") {
        return None;
    }
    let matched = &text[start..end];
    let token_start =
        start + "bearer".len() + matched["bearer".len()..].find(|c| c != ' ' && c != '\t')?;
    // A sentence-ending period is not part of the token.
    let token_end = start + matched.trim_end_matches('.').len();
    let token = text.get(token_start..token_end)?;
    (token.len() >= 16 && looks_random(token)).then_some((token_start, token_end))
}

/// Whether `c` may appear in the local part of an email address as the candidate regex allows it.
fn is_email_local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._%+-".contains(c) || ('\u{C0}'..='\u{24F}').contains(&c)
}

/// Email: the candidate must start at the beginning of its local part, must not be glued to a following
/// letter or digit, and its top-level domain must not be an image extension (`icon@2x.png`).
fn confirm_email(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    // In `…\nalice@example.com` the regex starts at the `n` of the escape; the address starts after it.
    let bytes = text.as_bytes();
    let start =
        if start >= 1 && bytes[start - 1] == b'\\' && matches!(bytes[start], b'n' | b't' | b'r') {
            start + 1
        } else {
            start
        };
    let before = text[..start].chars().next_back();
    // `\n` (a JSON escape) right before the address is a boundary, not part of the local part.
    let after_escape =
        matches!(before, Some('n' | 't' | 'r')) && start >= 2 && bytes[start - 2] == b'\\';
    if before.is_some_and(is_email_local_char) && !after_escape {
        return None;
    }
    if !right_clear(text, end, b"") {
        return None;
    }
    let candidate = &text[start..end];
    // A local part cannot start with a dot ("see ...alice@example.com").
    let start = start + (candidate.len() - candidate.trim_start_matches('.').len());
    let candidate = &text[start..end];
    let (local, domain) = candidate.split_once('@')?;
    if local.is_empty() || local.ends_with('.') {
        return None;
    }
    let tld = domain.rsplit('.').next()?.to_ascii_lowercase();
    const NOT_TLDS: &[&str] = &[
        "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff",
    ];
    if NOT_TLDS.contains(&tld.as_str()) {
        return None;
    }
    Some((start, end))
}

/// IBAN: boundaries, then the ISO 13616 checksum and the registry length for its country; a paper-form
/// candidate that swallowed a following group of four is retried without it.
fn confirm_iban(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    if !left_clear(text, start, b"") {
        return None;
    }
    longest_valid_prefix(text, start, end, b" ", |candidate| {
        !candidate.ends_with(' ') && iban_valid(candidate)
    })
}

/// Payment card: token boundaries, one kind of separator throughout, 13–19 digits, an issuer prefix that
/// fits the length, and the Luhn checksum. Token counts, timestamps (which start with 1) and ids fail
/// at least one of these.
fn confirm_card(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    if !left_clear(text, start, NUMBER_JOINERS) {
        return None;
    }
    longest_valid_prefix(text, start, end, b" -", |candidate| {
        let has_space = candidate.contains(' ');
        let has_dash = candidate.contains('-');
        if has_space && has_dash {
            return false;
        }
        let digits: String = candidate.chars().filter(char::is_ascii_digit).collect();
        (13..=19).contains(&digits.len()) && card_issuer_plausible(&digits) && luhn_valid(&digits)
    })
}

/// SSN: token boundaries and the SSA's never-issued ranges (area 000, 666, 900–999; group 00; serial
/// 0000).
fn confirm_ssn(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    if !left_clear(text, start, NUMBER_JOINERS) || !right_clear(text, end, NUMBER_JOINERS) {
        return None;
    }
    let mut parts = text[start..end].split('-');
    let area = parts.next()?.parse().ok()?;
    let group = parts.next()?.parse().ok()?;
    let serial = parts.next()?.parse().ok()?;
    ssn_valid(area, group, serial).then_some((start, end))
}

/// North-American number: the regex already requires a separator pattern and an area code starting
/// 2–9; here the number must also be a whole token (not part of `10.555.123.4567` or a UUID).
fn confirm_nanp_phone(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    (left_clear(text, start, NUMBER_JOINERS) && right_clear(text, end, NUMBER_JOINERS))
        .then_some((start, end))
}

/// International number: not glued to a preceding digit or letter (so not the `+05` of a timestamp's
/// offset, which also has too few digits), 8–15 digits in all (E.164), and at least 10 digits when
/// written without any separator, so a short `+12345678` delta is not taken for a phone.
fn confirm_intl_phone(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    if !left_clear(text, start, b"") {
        return None;
    }
    longest_valid_prefix(text, start, end, b" .-(", |candidate| {
        if candidate.ends_with(['(', ' ', '.', '-']) {
            return false;
        }
        let digits = candidate.bytes().filter(u8::is_ascii_digit).count();
        let has_separator = candidate[1..].bytes().any(|b| !b.is_ascii_digit());
        (8..=15).contains(&digits) && (has_separator || digits >= 10)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_pattern_compiles() {
        assert_eq!(BUILTIN.len(), BUILTIN_SPECS.len());
    }

    #[test]
    fn boundaries() {
        assert!(left_clear("x 123", 2, NUMBER_JOINERS));
        assert!(!left_clear("x1123", 2, NUMBER_JOINERS));
        assert!(!left_clear("1-123", 2, NUMBER_JOINERS));
        assert!(left_clear(" -123", 2, NUMBER_JOINERS));
        assert!(left_clear("\\n123", 2, NUMBER_JOINERS));
        assert!(left_clear("電123", "電".len(), NUMBER_JOINERS));
        assert!(right_clear("123. ", 3, NUMBER_JOINERS));
        assert!(!right_clear("123.4", 3, NUMBER_JOINERS));
        assert!(right_clear("123", 3, NUMBER_JOINERS));
    }
}
