//! The one error this crate returns: a custom pattern given to [`crate::PiiScannerBuilder::custom`] that
//! does not compile.
//!
//! Written by hand rather than with thiserror: it is a single struct, and the crate keeps to one
//! dependency (regex).

use std::fmt;

/// A custom pattern passed to [`crate::PiiScannerBuilder::custom`] is not a valid regex.
///
/// The message names the pattern and quotes the regex compiler's explanation, for example
/// ``custom PII pattern `order_id` does not compile: regex parse error: … unclosed group``.
#[derive(Debug, Clone)]
pub struct PiiPatternError {
    name: String,
    source: regex::Error,
}

impl PiiPatternError {
    pub(crate) fn new(name: String, source: regex::Error) -> Self {
        Self { name, source }
    }

    /// The name the pattern was registered under (its [`crate::PiiKind::Custom`] name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Why the regex crate refused the pattern.
    pub fn regex_error(&self) -> &regex::Error {
        &self.source
    }
}

impl fmt::Display for PiiPatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "custom PII pattern `{}` does not compile (fix the regex syntax, see https://docs.rs/regex/#syntax): {}",
            self.name, self.source
        )
    }
}

impl std::error::Error for PiiPatternError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}
