//! Typed errors: [`RuleError`] for rule files (always with file and line), [`EvalError`] for
//! labelled eval sets.

use std::path::PathBuf;

/// A rule file or one rule in it that could not be loaded. The other rules still load.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// The file or directory could not be read.
    #[error("{}: cannot read rules: {source}; check the path and its permissions", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML; none of its rules were loaded.
    #[error("{}:{line}: not valid TOML ({message}); fix the syntax, the file's rules were skipped", file.display())]
    Syntax {
        /// The rule file.
        file: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// A rule has a missing, unknown or out-of-range field.
    #[error("{}:{line}: rule {}: {message}; this rule was skipped", file.display(), id.as_deref().unwrap_or("(no id)"))]
    Invalid {
        /// The rule file.
        file: PathBuf,
        /// 1-based line of the rule's `[[rule]]` header.
        line: usize,
        /// The rule's id, when it has one.
        id: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A rule's `pattern` is not a valid regular expression (Rust `regex` syntax).
    #[error("{}:{line}: rule {id}: pattern does not compile: {source}; this rule was skipped", file.display())]
    Pattern {
        /// The rule file.
        file: PathBuf,
        /// 1-based line of the rule's `[[rule]]` header.
        line: usize,
        /// The rule's id.
        id: String,
        /// The regex error.
        source: regex::Error,
    },
    /// yara-x reported an error in a YARA file (syntax, unknown identifier or module, …); the
    /// file's other valid rules and all other files are still used.
    #[error("{}:{line}: YARA: {message}; fix the rule, it was skipped", file.display())]
    Yara {
        /// The `.yar` file.
        file: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// yara-x's message.
        message: String,
    },
    /// A YARA file was found but this build has no YARA support.
    #[error("{}: YARA rules need agentstack-security's `yara` cargo feature; the file was skipped", file.display())]
    YaraUnavailable {
        /// The `.yar` file.
        file: PathBuf,
    },
    /// Two rules have the same id; the later one was skipped.
    #[error("{}:{line}: rule id {id} is already defined at {first}; rename one of them", file.display())]
    Duplicate {
        /// The rule file of the second definition.
        file: PathBuf,
        /// Its line.
        line: usize,
        /// The id.
        id: String,
        /// `file:line` of the first definition.
        first: String,
    },
}

impl RuleError {
    /// The file (or directory) the error is about.
    pub fn file(&self) -> &std::path::Path {
        match self {
            RuleError::Io { path, .. } => path,
            RuleError::YaraUnavailable { file } => file,
            RuleError::Syntax { file, .. }
            | RuleError::Yara { file, .. }
            | RuleError::Invalid { file, .. }
            | RuleError::Pattern { file, .. }
            | RuleError::Duplicate { file, .. } => file,
        }
    }

    /// The 1-based line, when the error is inside a file.
    pub fn line(&self) -> Option<usize> {
        match self {
            RuleError::Io { .. } | RuleError::YaraUnavailable { .. } => None,
            RuleError::Syntax { line, .. }
            | RuleError::Yara { line, .. }
            | RuleError::Invalid { line, .. }
            | RuleError::Pattern { line, .. }
            | RuleError::Duplicate { line, .. } => Some(*line),
        }
    }
}

/// A labelled eval set that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The file could not be read.
    #[error("{}: cannot read the eval set: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line or record is malformed.
    #[error("{}:{line}: {message}", path.display())]
    Record {
        /// The file.
        path: PathBuf,
        /// 1-based line (JSONL) or record number (CSV, counting the header as line 1).
        line: usize,
        /// What is wrong and what is expected.
        message: String,
    },
    /// The file extension is neither `.jsonl` nor `.csv`.
    #[error("{}: unknown eval format; use a .jsonl or .csv file with `text` and `label` fields", path.display())]
    Format {
        /// The file.
        path: PathBuf,
    },
}
