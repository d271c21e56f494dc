//! Token estimation for spans that carry their text but no usage (a stream whose final usage
//! chunk was dropped, an instrumentation that records no counts).
//!
//! - OpenAI-family models count with OpenAI's own tokenizers through tiktoken-rs, chosen by
//!   tiktoken-rs's model table: `o200k_base` for gpt-4o, gpt-4.1, gpt-5, o1/o3/o4 and later,
//!   `cl100k_base` for gpt-4, gpt-3.5 and the `text-embedding-3`/`ada-002` embeddings.
//! - Every other model is estimated at one token per 4 characters (Unicode scalar values),
//!   rounded up: the rule of thumb Anthropic, Google and OpenAI publish for English text. It is
//!   an approximation, and the cost is marked as estimated.
//!
//! What is counted: a captured input or output that is JSON (messages, LangChain payloads) is
//! counted as its string values joined by newlines (arrays in order, objects in document order),
//! object keys and punctuation left out; text
//! that is not JSON is counted as it is. Per-message framing tokens are not added.

use std::borrow::Cow;

use tiktoken_rs::CoreBPE;
use tiktoken_rs::tokenizer::{Tokenizer, get_tokenizer};

/// How tokens are estimated for a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEstimator {
    /// OpenAI's `o200k_base` (tiktoken).
    O200kBase,
    /// OpenAI's `cl100k_base` (tiktoken).
    Cl100kBase,
    /// One token per 4 characters, rounded up.
    CharsDividedBy4,
}

impl TokenEstimator {
    /// The estimator for a model name (the span's, or the price table's): tiktoken for the
    /// OpenAI models tiktoken-rs knows, the 4-characters rule otherwise. A route prefix
    /// (`openai/`, `azure/`) is ignored.
    pub fn for_model(model: &str) -> TokenEstimator {
        let name = model.rsplit('/').next().unwrap_or(model).trim();
        let name = name.to_ascii_lowercase();
        match get_tokenizer(&name) {
            Some(Tokenizer::O200kBase | Tokenizer::O200kHarmony) => TokenEstimator::O200kBase,
            Some(Tokenizer::Cl100kBase) => TokenEstimator::Cl100kBase,
            // Older OpenAI encodings (davinci, gpt-2) price nothing we list: the rule of thumb.
            _ => TokenEstimator::CharsDividedBy4,
        }
    }

    /// Tokens in `text`.
    pub fn count(self, text: &str) -> u64 {
        match self {
            TokenEstimator::O200kBase => count_with(tiktoken_rs::o200k_base_singleton(), text),
            TokenEstimator::Cl100kBase => count_with(tiktoken_rs::cl100k_base_singleton(), text),
            TokenEstimator::CharsDividedBy4 => (text.chars().count() as u64).div_ceil(4),
        }
    }

    /// Tokens in a captured input or output (JSON or plain text), as the module describes.
    pub fn count_captured(self, captured: &str) -> u64 {
        self.count(&captured_text(captured))
    }
}

fn count_with(bpe: &CoreBPE, text: &str) -> u64 {
    // Ordinary encoding: special-token text such as "<|endoftext|>" in a prompt is text.
    bpe.encode_ordinary(text).len() as u64
}

/// The text of a captured input or output: the string values of JSON joined by newlines, or
/// the text itself when it is not JSON (or is a JSON string, which is unquoted).
pub fn captured_text(captured: &str) -> Cow<'_, str> {
    let trimmed = captured.trim_start();
    if !trimmed.starts_with(['{', '[', '"']) {
        return Cow::Borrowed(captured);
    }
    match serde_json::from_str::<serde_json::Value>(captured) {
        Ok(serde_json::Value::String(text)) => Cow::Owned(text),
        Ok(value) => {
            let mut parts = Vec::new();
            collect_strings(&value, &mut parts);
            Cow::Owned(parts.join("\n"))
        }
        Err(_) => Cow::Borrowed(captured),
    }
}

fn collect_strings<'v>(value: &'v serde_json::Value, parts: &mut Vec<&'v str>) {
    match value {
        serde_json::Value::String(text) => parts.push(text),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, parts)),
        serde_json::Value::Object(map) => map.values().for_each(|v| collect_strings(v, parts)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_contributes_its_strings() {
        let captured =
            r#"[{"role":"user","content":"Plan a trip"},{"role":"assistant","content":"Day 1"}]"#;
        // Object values and arrays in document order.
        assert_eq!(
            captured_text(captured),
            "user\nPlan a trip\nassistant\nDay 1"
        );
        assert_eq!(captured_text("\"just text\""), "just text");
        assert_eq!(captured_text("plain words"), "plain words");
        assert_eq!(captured_text("{not json"), "{not json");
    }

    #[test]
    fn four_characters_a_token_rounded_up() {
        assert_eq!(TokenEstimator::CharsDividedBy4.count(""), 0);
        assert_eq!(TokenEstimator::CharsDividedBy4.count("abc"), 1);
        assert_eq!(TokenEstimator::CharsDividedBy4.count("abcd"), 1);
        assert_eq!(TokenEstimator::CharsDividedBy4.count("abcde"), 2);
        // Characters, not bytes: 4 two-byte letters are one token.
        assert_eq!(TokenEstimator::CharsDividedBy4.count("éééé"), 1);
    }
}
