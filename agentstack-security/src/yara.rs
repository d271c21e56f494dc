//! YARA rules (cargo feature `yara`): the `*.yar` / `*.yara` files of the rules directory,
//! compiled with yara-x into one rule set; a match is evidence of the `yara` detector.
//!
//! Each file gets its own namespace (its file name), so two files may use the same rule names.
//! A file with errors is reported per error with its file and line; its valid rules and every
//! other file's rules are still used. yara-x is built without its file-format modules (`pe`,
//! `elf`, …): span text is not a binary, and an `import` of one is reported as an error.

use std::cell::RefCell;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use yara_x::{Compiler, MetaValue, Rules, Scanner, SourceCode};

use crate::error::RuleError;
use crate::finding::{Evidence, Location, clip};
use crate::rules::line_of;

/// The score of a match when the rule has no `score` metadata (MEDIUM by default).
pub const DEFAULT_YARA_SCORE: u8 = 60;

/// Collects YARA files; see [`YaraBuilder::add_file`].
pub(crate) struct YaraBuilder {
    compiler: Compiler<'static>,
}

impl fmt::Debug for YaraBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("YaraBuilder").finish_non_exhaustive()
    }
}

impl Default for YaraBuilder {
    fn default() -> Self {
        YaraBuilder {
            compiler: Compiler::new(),
        }
    }
}

impl YaraBuilder {
    /// Adds the rules of one YARA file; returns one error per problem yara-x reports in it.
    pub fn add_file(&mut self, file: &Path, text: &str) -> Vec<RuleError> {
        let namespace = file
            .file_name()
            .map_or_else(|| "yara".into(), |n| n.to_string_lossy());
        self.compiler.new_namespace(&namespace);
        let before = self.compiler.errors().len();
        let origin = file.display().to_string();
        // The error is also in `errors()`, with any others of the file.
        let _ = self
            .compiler
            .add_source(SourceCode::from(text).with_origin(origin));
        self.compiler.errors()[before..]
            .iter()
            .map(|e| {
                let label = e.labels().next();
                let line = label
                    .as_ref()
                    .map_or(1, |l| line_of(text, l.span().start()));
                let detail = label
                    .as_ref()
                    .map(|l| l.text().to_string())
                    .filter(|t| !t.is_empty());
                RuleError::Yara {
                    file: file.to_path_buf(),
                    line,
                    message: match detail {
                        Some(detail) => format!("{} ({}): {detail}", e.title(), e.code()),
                        None => format!("{} ({})", e.title(), e.code()),
                    },
                }
            })
            .collect()
    }

    /// The compiled rules (`None` is for `Option::and_then`: a builder always has a file).
    pub fn build(self) -> Option<YaraRules> {
        Some(YaraRules::new(self.compiler.build()))
    }
}

/// Compiled YARA rules. Cheap to share: scanning borrows a scanner of the calling thread.
pub(crate) struct YaraRules {
    rules: Arc<Rules>,
}

impl fmt::Debug for YaraRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("YaraRules")
            .field("rules", &self.len())
            .finish_non_exhaustive()
    }
}

/// A yara-x scanner's type with the lifetime of the rules it borrows, for `self_cell`.
type BorrowingScanner<'rules> = Scanner<'rules>;

self_cell::self_cell!(
    /// A yara-x scanner with the rules it borrows. Making a scanner instantiates the rules'
    /// WebAssembly module, far too slow per span, and a scanner cannot move to another thread,
    /// so each thread keeps its own, one per rule set it scans with.
    struct ThreadScanner {
        owner: Arc<Rules>,
        #[not_covariant]
        dependent: BorrowingScanner,
    }
);

/// Rule sets one thread keeps a scanner for (several engines may share a thread, e.g. tests).
const SCANNERS_PER_THREAD: usize = 4;

thread_local! {
    /// This thread's scanners, most recently made last.
    static SCANNERS: RefCell<Vec<ThreadScanner>> = const { RefCell::new(Vec::new()) };
}

impl YaraRules {
    fn new(rules: Rules) -> Self {
        YaraRules {
            rules: Arc::new(rules),
        }
    }

    /// The number of rules that compiled.
    pub fn len(&self) -> usize {
        self.rules.iter().len()
    }

    /// Runs `f` with this thread's scanner for these rules.
    fn with_scanner<R>(&self, f: impl FnOnce(&mut Scanner<'_>) -> R) -> R {
        SCANNERS.with(|cell| {
            let mut scanners = cell.borrow_mut();
            let index = match scanners
                .iter()
                .position(|s| Arc::ptr_eq(s.borrow_owner(), &self.rules))
            {
                Some(index) => index,
                None => {
                    if scanners.len() == SCANNERS_PER_THREAD {
                        scanners.remove(0);
                    }
                    scanners.push(ThreadScanner::new(Arc::clone(&self.rules), |rules| {
                        Scanner::new(rules)
                    }));
                    scanners.len() - 1
                }
            };
            scanners[index].with_dependent_mut(|_, scanner| f(scanner))
        })
    }

    /// Appends one evidence per rule that matches `text`, with the first matched bytes.
    pub fn scan(&self, text: &str, location: Location, out: &mut Vec<Evidence>) {
        self.with_scanner(|scanner| {
            // Without a timeout set, scanning a byte slice has no error to report.
            let Ok(results) = scanner.scan(text.as_bytes()) else {
                return;
            };
            for rule in results.matching_rules() {
                if !applies(&rule, location) {
                    continue;
                }
                let matched = rule
                    .patterns()
                    .flat_map(|p| p.matches())
                    .next()
                    .map(|m| String::from_utf8_lossy(m.data()).into_owned());
                out.push(Evidence {
                    signal: format!("yara:{}", rule.identifier()),
                    detail: match matched {
                        Some(m) => clip(&m, 160),
                        None => format!("rule {} of {}", rule.identifier(), rule.namespace()),
                    },
                    location,
                    score: score(&rule),
                });
            }
        });
    }
}

/// The rule's `score` metadata (0–100), else [`DEFAULT_YARA_SCORE`].
fn score(rule: &yara_x::Rule<'_, '_>) -> u8 {
    rule.metadata()
        .find_map(|(key, value)| match (key, value) {
            ("score", MetaValue::Integer(n)) => Some(n.clamp(0, 100) as u8),
            _ => None,
        })
        .unwrap_or(DEFAULT_YARA_SCORE)
}

/// Whether the rule's `applies_to` metadata (`"input"`, `"output"` or `"attributes"`; absent:
/// everywhere) allows `location`.
fn applies(rule: &yara_x::Rule<'_, '_>, location: Location) -> bool {
    rule.metadata()
        .find_map(|(key, value)| match (key, value) {
            ("applies_to", MetaValue::String(s)) => Some(s),
            _ => None,
        })
        .is_none_or(|scope| {
            let name = match location {
                Location::Input => "input",
                Location::Output => "output",
                Location::Attributes => "attributes",
                Location::Trace => "trace",
            };
            scope.split(',').any(|s| s.trim() == name)
        })
}
