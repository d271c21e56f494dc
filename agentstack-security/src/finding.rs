//! What a detector reports before scoring: [`Detector`], [`Finding`] and its [`Evidence`].
//!
//! A finding carries the detector's 0–100 score and the evidence behind it; the scorer turns
//! findings into alerts (see [`crate::score`]).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The detectors of the engine. Each gives a score from 0 to 100 per span (or per trace, for the
/// runaway detectors) and is weighted, thresholded and de-duplicated on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detector {
    /// Instructions that try to take over the model, in the input of an agent, model or chain span.
    PromptInjection,
    /// The same, hidden in data the agent reads: tool outputs, retrieved documents, tool messages.
    IndirectInjection,
    /// Personal data or secrets in a span's output.
    PiiLeak,
    /// Personal data or secrets in a span's input.
    PiiExposure,
    /// The SDK already redacted personal data from the span (reported at low severity).
    PiiRedacted,
    /// The same tool called with the same arguments again and again in one trace.
    ToolLoop,
    /// Agents handing over to each other in a repeating cycle in one trace.
    AgentCycle,
    /// Tokens per span or per trace far above the model's, agent's or project's usual.
    TokenExplosion,
    /// Errors and timeouts piling up in one trace.
    ErrorChain,
    /// A user's YARA rule matched a span's input or output (cargo feature `yara`).
    Yara,
}

impl Detector {
    /// Every detector, in a fixed order.
    pub const ALL: [Detector; 10] = [
        Detector::PromptInjection,
        Detector::IndirectInjection,
        Detector::PiiLeak,
        Detector::PiiExposure,
        Detector::PiiRedacted,
        Detector::ToolLoop,
        Detector::AgentCycle,
        Detector::TokenExplosion,
        Detector::ErrorChain,
        Detector::Yara,
    ];

    /// The stable snake_case name used in configs, alerts and eval files.
    pub fn as_str(self) -> &'static str {
        match self {
            Detector::PromptInjection => "prompt_injection",
            Detector::IndirectInjection => "indirect_injection",
            Detector::PiiLeak => "pii_leak",
            Detector::PiiExposure => "pii_exposure",
            Detector::PiiRedacted => "pii_redacted",
            Detector::ToolLoop => "tool_loop",
            Detector::AgentCycle => "agent_cycle",
            Detector::TokenExplosion => "token_explosion",
            Detector::ErrorChain => "error_chain",
            Detector::Yara => "yara",
        }
    }

    /// The detector with this name, if any.
    pub fn from_name(name: &str) -> Option<Detector> {
        Detector::ALL.into_iter().find(|d| d.as_str() == name)
    }

    /// A short human title for an alert of this detector.
    pub fn title(self) -> &'static str {
        match self {
            Detector::PromptInjection => "Prompt injection in input",
            Detector::IndirectInjection => "Indirect prompt injection in tool or retrieved data",
            Detector::PiiLeak => "Personal data or secret leaked in output",
            Detector::PiiExposure => "Personal data or secret exposed in input",
            Detector::PiiRedacted => "Personal data redacted by the SDK",
            Detector::ToolLoop => "Agent loop: same tool call repeated",
            Detector::AgentCycle => "Agent loop: agents cycling",
            Detector::TokenExplosion => "Token explosion",
            Detector::ErrorChain => "Chain of errors or timeouts",
            Detector::Yara => "YARA rule matched",
        }
    }
}

impl fmt::Display for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which part of a span the evidence was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// The span input.
    Input,
    /// The span output.
    Output,
    /// The span attributes (retrieved documents, `agentstack.redacted`, …).
    Attributes,
    /// The trace as a whole (runaway detectors).
    Trace,
}

/// One reason behind a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// What fired: `rule:<id>` for a signature rule, or a heuristic's name (`base64`, `bidi`,
    /// `homoglyph`, `entropy`, `pii:<kind>`, `repeat`, …).
    pub signal: String,
    /// The matched text (at most 160 characters, PII replaced by `[REDACTED:<kind>]`) or a
    /// description of what was measured.
    pub detail: String,
    /// Where it was found.
    pub location: Location,
    /// This signal's own score, 0–100, before weighting.
    pub score: u8,
}

/// What one detector found in one span (or trace): its 0–100 score and the evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The detector.
    pub detector: Detector,
    /// The detector's score, 0–100: the weighted sum of its signals, capped at 100.
    pub score: u8,
    /// The signals behind the score, strongest first.
    pub evidence: Vec<Evidence>,
}

/// At most `max` characters of `text`, with `…` when cut; control characters shown as spaces so
/// evidence stays on one line.
pub(crate) fn clip(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max * 4));
    for (n, c) in text.chars().enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}
