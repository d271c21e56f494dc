//! AgentStack's own attributes, as the Rust SDK writes them (`agentstack/src/genai.rs`): only
//! where no OpenTelemetry convention exists. They win over every other producer's.

use super::value::{Attributes, Moved, moved};
use super::{KINDS, Kind};

/// `agent`, `tool`, `llm`, `chain`, `retriever`, `embedding`, `guardrail`.
pub(crate) const SPAN_KIND: &str = "agentstack.span.kind";
/// Captured arguments, JSON text.
pub(crate) const INPUT: &str = "agentstack.input";
/// Captured return value, JSON text.
pub(crate) const OUTPUT: &str = "agentstack.output";

/// `agentstack.span.kind`, when it is one of the store's kinds; any other value is left to the
/// other conventions (and stays in the attributes).
pub(crate) fn kind(attributes: &Attributes) -> Option<Kind> {
    let value = attributes.get(SPAN_KIND)?.as_str()?;
    KINDS.iter().copied().find(|kind| *kind == value)
}

/// `agentstack.input`.
pub(crate) fn input(attributes: &Attributes) -> Option<Moved> {
    moved(attributes, INPUT)
}

/// `agentstack.output`.
pub(crate) fn output(attributes: &Attributes) -> Option<Moved> {
    moved(attributes, OUTPUT)
}
