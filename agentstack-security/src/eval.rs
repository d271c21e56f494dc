//! Precision, recall and F1 of the content detectors over a labelled set (JSONL or CSV), per
//! detector and per split; the library side of `agentstack security eval FILE`.
//!
//! A row is `text`, `label` (`benign`, a detector name, or several joined with `|`), optional
//! `kind` (where the text sits: `input`, `output`, `tool_output`, `retriever_output`) and `split`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::SecurityConfig;
use crate::engine::SpanScanner;
use crate::error::EvalError;
use crate::finding::{Detector, clip};
use crate::span::ScanSpan;

/// The detectors an eval scores: those that judge a single text.
pub const EVAL_DETECTORS: [Detector; 4] = [
    Detector::PromptInjection,
    Detector::IndirectInjection,
    Detector::PiiLeak,
    Detector::PiiExposure,
];

/// Where a row's text sits in a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextKind {
    /// The input of a model call.
    Input,
    /// The output of a model call.
    Output,
    /// The output of a tool call.
    ToolOutput,
    /// The output of a retriever.
    RetrieverOutput,
}

impl TextKind {
    fn parse(s: &str) -> Option<TextKind> {
        match s.trim() {
            "input" => Some(TextKind::Input),
            "output" => Some(TextKind::Output),
            "tool_output" => Some(TextKind::ToolOutput),
            "retriever_output" => Some(TextKind::RetrieverOutput),
            _ => None,
        }
    }
}

/// One labelled text.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledRow {
    /// 1-based line (JSONL) or record line (CSV).
    pub line: usize,
    /// The text.
    pub text: String,
    /// The detectors that should fire (empty = benign).
    pub positives: Vec<Detector>,
    /// Where the text sits.
    pub kind: TextKind,
    /// The split (`dev`, `test`, …); `all` when not given.
    pub split: String,
}

/// Counts of one detector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Confusion {
    /// Fired on a positive row.
    pub true_positives: u32,
    /// Fired on a row not labelled with it.
    pub false_positives: u32,
    /// Silent on a positive row.
    pub false_negatives: u32,
    /// Silent on a row not labelled with it.
    pub true_negatives: u32,
}

impl Confusion {
    /// TP / (TP + FP); 1 when it never fired.
    pub fn precision(&self) -> f64 {
        let fired = self.true_positives + self.false_positives;
        if fired == 0 {
            1.0
        } else {
            self.true_positives as f64 / fired as f64
        }
    }

    /// TP / (TP + FN); 1 when there are no positives.
    pub fn recall(&self) -> f64 {
        let positives = self.true_positives + self.false_negatives;
        if positives == 0 {
            1.0
        } else {
            self.true_positives as f64 / positives as f64
        }
    }

    /// The harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

/// A row the detectors got wrong.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Miss {
    /// The row's line.
    pub line: usize,
    /// The detector.
    pub detector: Detector,
    /// `true` for a false positive, `false` for a false negative.
    pub false_positive: bool,
    /// The row's split.
    pub split: String,
    /// The start of the text.
    pub excerpt: String,
}

/// The result of an eval: counts per split (and `all`) and detector, and the misses.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EvalReport {
    /// Rows per split, `all` included.
    pub rows: BTreeMap<String, usize>,
    /// split → detector → counts; `all` holds every row.
    pub confusion: BTreeMap<String, BTreeMap<Detector, Confusion>>,
    /// The rows scored wrong, in file order.
    pub misses: Vec<Miss>,
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<6} {:<20} {:>5} {:>5} {:>5} {:>5} {:>9} {:>7} {:>6}",
            "split", "detector", "TP", "FP", "FN", "TN", "precision", "recall", "F1"
        )?;
        for (split, by_detector) in &self.confusion {
            for (detector, c) in by_detector {
                writeln!(
                    f,
                    "{:<6} {:<20} {:>5} {:>5} {:>5} {:>5} {:>9.3} {:>7.3} {:>6.3}",
                    split,
                    detector.as_str(),
                    c.true_positives,
                    c.false_positives,
                    c.false_negatives,
                    c.true_negatives,
                    c.precision(),
                    c.recall(),
                    c.f1()
                )?;
            }
        }
        Ok(())
    }
}

/// Runs the built-in detectors (default config) over the labelled file at `path` (`.jsonl` or
/// `.csv`).
pub fn eval(path: &Path) -> Result<EvalReport, EvalError> {
    let (scanner, _rule_errors) = SpanScanner::from_config(SecurityConfig::default());
    eval_with(path, &scanner)
}

/// Runs `scanner` over the labelled file at `path`.
pub fn eval_with(path: &Path, scanner: &SpanScanner) -> Result<EvalReport, EvalError> {
    let rows = read_rows(path)?;
    Ok(eval_rows(&rows, scanner))
}

/// Reads a labelled JSONL or CSV file.
pub fn read_rows(path: &Path) -> Result<Vec<LabelledRow>, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl") | Some("ndjson") => parse_jsonl(path, &text),
        Some("csv") => parse_csv(path, &text),
        _ => Err(EvalError::Format {
            path: path.to_path_buf(),
        }),
    }
}

#[derive(Deserialize)]
struct RawRow {
    text: String,
    label: serde_json::Value,
    #[serde(default)]
    detector: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    split: Option<String>,
}

fn parse_jsonl(path: &Path, text: &str) -> Result<Vec<LabelledRow>, EvalError> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() || line.trim_start().starts_with("//") {
            continue;
        }
        let raw: RawRow = serde_json::from_str(line).map_err(|e| EvalError::Record {
            path: path.to_path_buf(),
            line: line_no,
            message: format!("not a JSON object with `text` and `label`: {e}"),
        })?;
        let label = match &raw.label {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            other => other.to_string(),
        };
        rows.push(to_row(
            path,
            line_no,
            raw.text,
            &label,
            raw.detector.as_deref(),
            raw.kind.as_deref(),
            raw.split,
        )?);
    }
    Ok(rows)
}

fn parse_csv(path: &Path, text: &str) -> Result<Vec<LabelledRow>, EvalError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| EvalError::Record {
            path: path.to_path_buf(),
            line: 1,
            message: format!("cannot read the header: {e}"),
        })?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let (Some(text_col), Some(label_col)) = (column("text"), column("label")) else {
        return Err(EvalError::Record {
            path: path.to_path_buf(),
            line: 1,
            message: "the header must name `text` and `label` columns".to_string(),
        });
    };
    let (detector_col, kind_col, split_col) = (column("detector"), column("kind"), column("split"));
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| EvalError::Record {
            path: path.to_path_buf(),
            line: e.position().map_or(0, |p| p.line() as usize),
            message: e.to_string(),
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let get = |c: Option<usize>| {
            c.and_then(|c| record.get(c))
                .filter(|s| !s.trim().is_empty())
        };
        let text = get(Some(text_col)).unwrap_or("").to_string();
        let label = get(Some(label_col)).unwrap_or("");
        rows.push(to_row(
            path,
            line,
            text,
            label,
            get(detector_col),
            get(kind_col),
            get(split_col).map(str::to_string),
        )?);
    }
    Ok(rows)
}

fn to_row(
    path: &Path,
    line: usize,
    text: String,
    label: &str,
    detector: Option<&str>,
    kind: Option<&str>,
    split: Option<String>,
) -> Result<LabelledRow, EvalError> {
    let err = |message: String| EvalError::Record {
        path: path.to_path_buf(),
        line,
        message,
    };
    let label = label.trim();
    let positives: Vec<Detector> = match label.to_ascii_lowercase().as_str() {
        "benign" | "0" | "false" | "no" => Vec::new(),
        "1" | "true" | "yes" | "attack" => {
            let name = detector.ok_or_else(|| {
                err(format!(
                    "label {label:?} needs a `detector` column naming the detector"
                ))
            })?;
            vec![
                Detector::from_name(name.trim())
                    .ok_or_else(|| err(format!("unknown detector {name:?}")))?,
            ]
        }
        _ => label
            .split('|')
            .map(|name| {
                Detector::from_name(name.trim()).ok_or_else(|| {
                    err(format!(
                        "unknown label {name:?}; use benign or a detector name ({})",
                        EVAL_DETECTORS.map(|d| d.as_str()).join(", ")
                    ))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let kind = match kind {
        Some(k) => TextKind::parse(k).ok_or_else(|| {
            err(format!(
                "unknown kind {k:?}; use input, output, tool_output or retriever_output"
            ))
        })?,
        None => match positives.first() {
            Some(Detector::IndirectInjection) => TextKind::ToolOutput,
            Some(Detector::PiiLeak) => TextKind::Output,
            _ => TextKind::Input,
        },
    };
    Ok(LabelledRow {
        line,
        text,
        positives,
        kind,
        split: split.unwrap_or_else(|| "all".to_string()),
    })
}

/// The detectors that fire (weighted score at or above the alert threshold) on `row`.
pub fn predict(row: &LabelledRow, scanner: &SpanScanner) -> Vec<Detector> {
    let mut span = ScanSpan::new("eval", "eval", "eval");
    match row.kind {
        TextKind::Input => {
            span.kind = Some("llm");
            span.input = Some(&row.text);
        }
        TextKind::Output => {
            span.kind = Some("llm");
            span.output = Some(&row.text);
        }
        TextKind::ToolOutput => {
            span.kind = Some("tool");
            span.output = Some(&row.text);
        }
        TextKind::RetrieverOutput => {
            span.kind = Some("retriever");
            span.output = Some(&row.text);
        }
    }
    let config = scanner.config();
    scanner
        .scan(&span)
        .into_iter()
        .filter(|f| {
            let score = (f.score as f32 * config.weight(f.detector))
                .round()
                .clamp(0.0, 100.0) as u8;
            config.thresholds.severity(score).is_some()
        })
        .map(|f| f.detector)
        .collect()
}

/// Scores `rows` with `scanner`.
pub fn eval_rows(rows: &[LabelledRow], scanner: &SpanScanner) -> EvalReport {
    let mut report = EvalReport::default();
    for row in rows {
        let fired = predict(row, scanner);
        let splits: Vec<&str> = if row.split == "all" {
            vec!["all"]
        } else {
            vec![row.split.as_str(), "all"]
        };
        for split in &splits {
            *report.rows.entry(split.to_string()).or_default() += 1;
        }
        for detector in EVAL_DETECTORS {
            let actual = row.positives.contains(&detector);
            let predicted = fired.contains(&detector);
            for split in &splits {
                let c = report
                    .confusion
                    .entry(split.to_string())
                    .or_default()
                    .entry(detector)
                    .or_default();
                match (actual, predicted) {
                    (true, true) => c.true_positives += 1,
                    (false, true) => c.false_positives += 1,
                    (true, false) => c.false_negatives += 1,
                    (false, false) => c.true_negatives += 1,
                }
            }
            if actual != predicted {
                report.misses.push(Miss {
                    line: row.line,
                    detector,
                    false_positive: predicted,
                    split: row.split.clone(),
                    excerpt: clip(&row.text, 100),
                });
            }
        }
    }
    report
}
