//! Finds and redacts personal data and secrets in text: emails, phone numbers, US SSNs, payment cards,
//! IBANs, API keys and tokens, private keys, plus any custom patterns.
//!
//! The SDK runs [`PiiScanner::redact`] on captured span inputs, outputs and string attributes before
//! they leave the process; the server's security scanner uses [`PiiScanner::find_all`] to report leaks.

mod checks;
mod detectors;
mod error;
mod scanner;

pub use checks::{iban_valid, luhn_valid, ssn_valid};
pub use error::PiiPatternError;
pub use scanner::{PiiScanner, PiiScannerBuilder};

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// What kind of sensitive data a match is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PiiKind {
    /// An email address.
    Email,
    /// A phone number in international (`+44 20 7946 0958`) or North-American (`(555) 123-4567`) form.
    Phone,
    /// A US Social Security Number, `123-45-6789`.
    Ssn,
    /// A payment card number that passes the Luhn checksum.
    PaymentCard,
    /// An International Bank Account Number that passes the mod-97 checksum.
    Iban,
    /// A credential: API key, access token, JWT, `Bearer` token or private key block.
    Secret,
    /// A match of a pattern added with [`PiiScannerBuilder::custom`], by the name it was given.
    Custom(String),
}

impl PiiKind {
    /// The kind's stable name, as used in `[REDACTED:<name>]` and in reports: `"email"`, `"phone"`,
    /// `"ssn"`, `"payment_card"`, `"iban"`, `"secret"`, or a custom pattern's name.
    pub fn as_str(&self) -> &str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::Ssn => "ssn",
            PiiKind::PaymentCard => "payment_card",
            PiiKind::Iban => "iban",
            PiiKind::Secret => "secret",
            PiiKind::Custom(name) => name,
        }
    }
}

impl fmt::Display for PiiKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One piece of sensitive data found in a text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PiiMatch {
    /// What was found.
    pub kind: PiiKind,
    /// Byte offset of the first byte of the match in the scanned text (always a char boundary).
    pub start: usize,
    /// Byte offset one past the last byte of the match (always a char boundary).
    pub end: usize,
}

impl PiiMatch {
    /// The match's byte range, for slicing the scanned text: `&text[m.range()]`.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start..self.end
    }
}

/// The result of [`PiiScanner::redact`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redaction<'a> {
    /// The text with every match replaced by `[REDACTED:<kind>]`; borrowed from the input when nothing
    /// matched, so the common case allocates nothing.
    pub text: Cow<'a, str>,
    /// How many matches of each kind were replaced. Empty when nothing matched.
    pub counts: BTreeMap<PiiKind, usize>,
}

impl Redaction<'_> {
    /// Whether anything was redacted.
    pub fn is_redacted(&self) -> bool {
        !self.counts.is_empty()
    }

    /// The total number of matches replaced, over all kinds.
    pub fn total(&self) -> usize {
        self.counts.values().sum()
    }
}
