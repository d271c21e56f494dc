//! Signature rules as data: the built-in set (`rules/builtin.toml`, compiled in) and user rule
//! files from a directory, compiled into one [`RuleSet`] behind a single Aho-Corasick prefilter.
//!
//! A malformed rule is reported as a [`RuleError`] naming its file and line; the other rules load.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::{Regex, RegexBuilder};
use serde::Deserialize;

use crate::error::RuleError;

/// The built-in rules, as shipped in `rules/builtin.toml`.
pub const BUILTIN_RULES: &str = include_str!("../rules/builtin.toml");

/// The name under which built-in rules report their source.
pub const BUILTIN_RULES_NAME: &str = "builtin.toml";

/// Where a rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleScope {
    /// Inputs of agents, models and chains: direct prompt injection.
    Input,
    /// Data the agent reads: tool outputs, retrieved documents (indirect injection).
    Data,
}

/// One compiled signature rule.
#[derive(Debug, Clone)]
pub struct SignatureRule {
    /// A unique id, e.g. `override.ignore_previous`.
    pub id: String,
    /// The family of attack, e.g. `instruction_override`; distinct categories add to a score.
    pub category: String,
    /// The score of a match, 0–100.
    pub score: u8,
    /// What the rule catches.
    pub description: String,
    /// Literals (ASCII case-insensitive) of which at least one must occur for the pattern to run;
    /// empty means the pattern runs on every text.
    pub keywords: Vec<String>,
    /// The confirming pattern.
    pub regex: Regex,
    /// Whether the rule applies to inputs.
    pub applies_to_input: bool,
    /// Whether the rule applies to data (tool outputs, retrieved documents).
    pub applies_to_data: bool,
    /// A match is ignored when one of these words ends within the 24 bytes before it
    /// (ASCII case-insensitive), e.g. `never` before `reveal your system prompt`.
    pub not_after: Vec<String>,
    /// Where the rule was defined.
    pub source: RuleSource,
}

/// The file and line a rule was defined at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSource {
    /// The rule file (`builtin.toml` for built-in rules).
    pub file: PathBuf,
    /// 1-based line of the rule's `[[rule]]` header.
    pub line: usize,
}

impl fmt::Display for RuleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A rule that matched a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleHit {
    /// Index of the rule in its [`RuleSet`].
    pub rule: usize,
    /// Byte range of the match in the scanned text.
    pub start: usize,
    /// See `start`.
    pub end: usize,
}

/// A compiled set of signature rules with one Aho-Corasick prefilter over all their keywords.
///
/// Cheap to clone (shared). Scanning a text is one prefilter pass; only the rules whose keywords
/// occur run their regex.
#[derive(Debug, Clone)]
pub struct RuleSet {
    inner: Arc<RuleSetInner>,
}

#[derive(Debug)]
struct RuleSetInner {
    rules: Vec<SignatureRule>,
    /// Keyword automaton; pattern i belongs to rule `keyword_rule[i]`.
    prefilter: Option<AhoCorasick>,
    keyword_rule: Vec<usize>,
    /// Rules without keywords: run on every text.
    always: Vec<usize>,
    /// The YARA rules of the rules directory (feature `yara`).
    #[cfg(feature = "yara")]
    yara: Option<crate::yara::YaraRules>,
}

static BUILTIN_SET: LazyLock<RuleSet> = LazyLock::new(|| {
    let mut builder = RuleSetBuilder::new();
    let errors = builder.add_toml(Path::new(BUILTIN_RULES_NAME), BUILTIN_RULES);
    assert!(
        errors.is_empty(),
        "the built-in rules must compile (a test checks this): {errors:?}"
    );
    builder.build()
});

impl RuleSet {
    /// The built-in rules, compiled once per process.
    pub fn builtin() -> RuleSet {
        BUILTIN_SET.clone()
    }

    /// An empty set (no signature detection).
    pub fn empty() -> RuleSet {
        RuleSetBuilder::new().build()
    }

    /// The rules, in load order.
    pub fn rules(&self) -> &[SignatureRule] {
        &self.inner.rules
    }

    /// The number of YARA rules that compiled (always 0 without the `yara` feature).
    pub fn yara_rules_len(&self) -> usize {
        #[cfg(feature = "yara")]
        if let Some(yara) = &self.inner.yara {
            return yara.len();
        }
        0
    }

    /// The YARA rules, when any file was loaded.
    #[cfg(feature = "yara")]
    pub(crate) fn yara(&self) -> Option<&crate::yara::YaraRules> {
        self.inner.yara.as_ref()
    }

    /// Whether any rule could match `text`: a single prefilter pass.
    pub fn may_match(&self, text: &str) -> bool {
        !self.inner.always.is_empty()
            || self
                .inner
                .prefilter
                .as_ref()
                .is_some_and(|ac| ac.is_match(text))
    }

    /// Appends to `hits` the first unguarded match of every rule of `scope` in `text`.
    pub fn scan(&self, text: &str, scope: RuleScope, hits: &mut Vec<RuleHit>) {
        let inner = &*self.inner;
        let mut candidates: Vec<usize> = inner.always.clone();
        if let Some(ac) = &inner.prefilter {
            for m in ac.find_overlapping_iter(text) {
                candidates.push(inner.keyword_rule[m.pattern().as_usize()]);
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        self.scan_candidates(text, scope, &candidates, hits);
    }

    /// Like [`scan`](Self::scan) for a caller that already knows which rules can match (their
    /// keywords occur in `text`, found by its own prefilter pass): only those rules run.
    pub fn scan_candidates(
        &self,
        text: &str,
        scope: RuleScope,
        candidates: &[usize],
        hits: &mut Vec<RuleHit>,
    ) {
        for &index in candidates {
            let Some(rule) = self.inner.rules.get(index) else {
                continue;
            };
            let in_scope = match scope {
                RuleScope::Input => rule.applies_to_input,
                RuleScope::Data => rule.applies_to_data,
            };
            if !in_scope {
                continue;
            }
            if let Some(m) = rule
                .regex
                .find_iter(text)
                .find(|m| !guarded(text, m.start(), &rule.not_after))
            {
                hits.push(RuleHit {
                    rule: index,
                    start: m.start(),
                    end: m.end(),
                });
            }
        }
    }
}

/// Whether one of `words` ends within the 24 bytes before `start`.
fn guarded(text: &str, start: usize, words: &[String]) -> bool {
    if words.is_empty() {
        return false;
    }
    let from = start.saturating_sub(24);
    let before = &text.as_bytes()[from..start];
    words.iter().any(|w| {
        let w = w.as_bytes();
        before
            .windows(w.len())
            .any(|window| window.eq_ignore_ascii_case(w))
    })
}

/// Collects rules from TOML texts and directories, then compiles them into a [`RuleSet`].
#[derive(Debug, Default)]
pub struct RuleSetBuilder {
    rules: Vec<SignatureRule>,
    ids: HashMap<String, RuleSource>,
    /// Made at the first YARA file.
    #[cfg(feature = "yara")]
    yara: Option<crate::yara::YaraBuilder>,
}

/// A rule file: `[[rule]]` tables.
#[derive(Deserialize)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<toml::Spanned<toml::Table>>,
}

/// One `[[rule]]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    #[serde(default = "default_category")]
    category: String,
    score: u8,
    pattern: String,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    description: String,
    #[serde(default = "default_applies_to")]
    applies_to: Vec<String>,
    #[serde(default)]
    not_after: Vec<String>,
    #[serde(default = "default_case_insensitive")]
    case_insensitive: bool,
}

fn default_category() -> String {
    "custom".to_string()
}

fn default_applies_to() -> Vec<String> {
    vec!["input".to_string(), "data".to_string()]
}

fn default_case_insensitive() -> bool {
    true
}

/// 1-based line of byte `offset` in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

impl RuleSetBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder holding the built-in rules.
    pub fn with_builtin() -> Self {
        let mut builder = Self::new();
        let errors = builder.add_toml(Path::new(BUILTIN_RULES_NAME), BUILTIN_RULES);
        debug_assert!(errors.is_empty(), "{errors:?}");
        builder
    }

    /// Adds the rules of one TOML text; `file` names it in errors. Returns one error per malformed
    /// rule (or one for the whole file when it is not valid TOML); every valid rule is added.
    pub fn add_toml(&mut self, file: &Path, text: &str) -> Vec<RuleError> {
        let parsed: RuleFile = match toml::from_str(text) {
            Ok(parsed) => parsed,
            Err(e) => {
                return vec![RuleError::Syntax {
                    file: file.to_path_buf(),
                    line: e.span().map_or(1, |s| line_of(text, s.start)),
                    message: e.message().trim().to_string(),
                }];
            }
        };
        let mut errors = Vec::new();
        for table in parsed.rule {
            let line = line_of(text, table.span().start);
            let source = RuleSource {
                file: file.to_path_buf(),
                line,
            };
            match self.compile(table.into_inner(), source) {
                Ok(rule) => {
                    self.ids.insert(rule.id.clone(), rule.source.clone());
                    self.rules.push(rule);
                }
                Err(e) => errors.push(e),
            }
        }
        errors
    }

    /// Adds the YARA rules of one file's text (feature `yara`); `file` names it in errors and
    /// gives the rules their namespace. Returns one error per problem; the valid rules are added.
    #[cfg(feature = "yara")]
    pub fn add_yara(&mut self, file: &Path, text: &str) -> Vec<RuleError> {
        self.yara
            .get_or_insert_with(Default::default)
            .add_file(file, text)
    }

    /// Adds every `*.toml` file of `dir` and every YARA file (`*.yar`, `*.yara`), in name
    /// order. Returns the errors of all files; a file that cannot be read or a malformed rule
    /// does not stop the others. Without the `yara` feature each YARA file is one
    /// [`RuleError::YaraUnavailable`].
    pub fn add_dir(&mut self, dir: &Path) -> Vec<RuleError> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(source) => {
                return vec![RuleError::Io {
                    path: dir.to_path_buf(),
                    source,
                }];
            }
        };
        let is_yara = |p: &Path| p.extension().is_some_and(|x| x == "yar" || x == "yara");
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| (p.extension().is_some_and(|x| x == "toml") || is_yara(p)) && p.is_file())
            .collect();
        files.sort();
        let mut errors = Vec::new();
        for file in files {
            let text = match std::fs::read_to_string(&file) {
                Ok(text) => text,
                Err(source) => {
                    errors.push(RuleError::Io { path: file, source });
                    continue;
                }
            };
            if !is_yara(&file) {
                errors.extend(self.add_toml(&file, &text));
                continue;
            }
            #[cfg(feature = "yara")]
            errors.extend(self.add_yara(&file, &text));
            #[cfg(not(feature = "yara"))]
            errors.push(RuleError::YaraUnavailable { file });
        }
        errors
    }

    fn compile(&self, table: toml::Table, source: RuleSource) -> Result<SignatureRule, RuleError> {
        let id_hint = table.get("id").and_then(|v| v.as_str()).map(str::to_string);
        let invalid = |message: String| RuleError::Invalid {
            file: source.file.clone(),
            line: source.line,
            id: id_hint.clone(),
            message,
        };
        let raw: RawRule = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| invalid(e.message().trim().to_string()))?;
        if raw.id.trim().is_empty() {
            return Err(invalid("`id` is empty".to_string()));
        }
        if raw.score > 100 {
            return Err(invalid(format!("`score` is {}, must be 0–100", raw.score)));
        }
        if let Some(first) = self.ids.get(&raw.id) {
            return Err(RuleError::Duplicate {
                file: source.file.clone(),
                line: source.line,
                id: raw.id,
                first: first.to_string(),
            });
        }
        let mut applies_to_input = false;
        let mut applies_to_data = false;
        for scope in &raw.applies_to {
            match scope.as_str() {
                "input" => applies_to_input = true,
                "data" => applies_to_data = true,
                other => {
                    return Err(invalid(format!(
                        "`applies_to` has {other:?}; use \"input\" and/or \"data\""
                    )));
                }
            }
        }
        if raw.keywords.iter().any(|k| k.is_empty()) {
            return Err(invalid("`keywords` has an empty keyword".to_string()));
        }
        let regex = RegexBuilder::new(&raw.pattern)
            .case_insensitive(raw.case_insensitive)
            .size_limit(4 << 20)
            .build()
            .map_err(|e| RuleError::Pattern {
                file: source.file.clone(),
                line: source.line,
                id: raw.id.clone(),
                source: e,
            })?;
        Ok(SignatureRule {
            id: raw.id,
            category: raw.category,
            score: raw.score,
            description: raw.description,
            keywords: raw.keywords,
            regex,
            applies_to_input,
            applies_to_data,
            not_after: raw.not_after,
            source,
        })
    }

    /// The number of rules collected so far.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether no rule was collected.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Compiles the keyword prefilter and returns the set.
    pub fn build(self) -> RuleSet {
        let mut keywords = Vec::new();
        let mut keyword_rule = Vec::new();
        let mut always = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            if rule.keywords.is_empty() {
                always.push(index);
            }
            for k in &rule.keywords {
                keywords.push(k.as_str());
                keyword_rule.push(index);
            }
        }
        let prefilter = if keywords.is_empty() {
            None
        } else {
            Some(
                // A DFA: with a few hundred case-insensitive keywords the literal prefilters of
                // aho-corasick give up and the default NFA costs ~8 ns/byte; the DFA ~1 ns/byte.
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&keywords)
                    .expect("keyword literals always build an automaton"),
            )
        };
        RuleSet {
            inner: Arc::new(RuleSetInner {
                rules: self.rules,
                prefilter,
                keyword_rule,
                always,
                #[cfg(feature = "yara")]
                yara: self.yara.and_then(crate::yara::YaraBuilder::build),
            }),
        }
    }
}
