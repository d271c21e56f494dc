//! Token usage in one accounting: OpenTelemetry GenAI's, where input tokens include the cached
//! ones (read and written) and output tokens include the reasoning ones. Each provider's own
//! usage shape converts into it here, once, so that pricing never has to know who counted.
//!
//! | provider shape | input (OTel) | cache read | cache write | output (OTel) | reasoning |
//! |---|---|---|---|---|---|
//! | OpenAI `usage` | `prompt_tokens` (includes cached) | `prompt_tokens_details.cached_tokens` | 0 | `completion_tokens` (includes reasoning) | `completion_tokens_details.reasoning_tokens` |
//! | Anthropic `usage` | `input_tokens + cache_read_input_tokens + cache_creation_input_tokens` | `cache_read_input_tokens` | `cache_creation_input_tokens` | `output_tokens` (thinking included) | not reported apart: 0 |
//! | Gemini `usageMetadata` | `prompt_token_count + tool_use_prompt_token_count` (includes cached) | `cached_content_token_count` | 0 | `candidates_token_count + thoughts_token_count` | `thoughts_token_count` |

use serde::{Deserialize, Serialize};

/// Token counts of one model call in OpenTelemetry GenAI's accounting (in JSON a count left out
/// reads as 0: the stored form of a cost, [`crate::stored`], leaves out the zeros).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenUsage {
    /// All input tokens: uncached, read from the cache and written to it
    /// (`gen_ai.usage.input_tokens`).
    pub input: u64,
    /// All output tokens, reasoning ones included (`gen_ai.usage.output_tokens`).
    pub output: u64,
    /// Of `input`, those read from the cache (`gen_ai.usage.cache_read.input_tokens`).
    pub cache_read: u64,
    /// Of `input`, those written to the cache (`gen_ai.usage.cache_creation.input_tokens`).
    pub cache_write: u64,
    /// Of `output`, those spent on reasoning (`gen_ai.usage.reasoning.output_tokens`).
    pub reasoning: u64,
}

impl TokenUsage {
    /// From the five OTel GenAI counts as a span carries them (the store's `SpanRecord`
    /// columns): `None` when the span has neither input nor output tokens; a missing or
    /// negative part counts as 0.
    pub fn from_otel(
        input_tokens: Option<i64>,
        output_tokens: Option<i64>,
        cache_read_input_tokens: Option<i64>,
        cache_creation_input_tokens: Option<i64>,
        reasoning_output_tokens: Option<i64>,
    ) -> Option<TokenUsage> {
        if input_tokens.is_none() && output_tokens.is_none() {
            return None;
        }
        let count = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        Some(TokenUsage {
            input: count(input_tokens),
            output: count(output_tokens),
            cache_read: count(cache_read_input_tokens),
            cache_write: count(cache_creation_input_tokens),
            reasoning: count(reasoning_output_tokens),
        })
    }

    /// Uses the producer's total token count (`gen_ai.usage.total_tokens`,
    /// `llm.token_count.total`) to tell whose accounting `input` is in: when
    /// `input + output` is not the total but `input + cache_read + cache_write + output` is, the
    /// producer counted input without the cache (Anthropic's accounting, as Strands Agents
    /// sends it), and the cache tokens are added to `input`. Returns whether it changed
    /// anything. This catches what [`TokenUsage::uncached_input`] cannot: Anthropic-accounted
    /// input that is still larger than the cache.
    pub fn reconcile_with_total(&mut self, total_tokens: u64) -> bool {
        let cached = self.cache_read + self.cache_write;
        if cached > 0
            && self.input + self.output != total_tokens
            && self.input + cached + self.output == total_tokens
        {
            self.input += cached;
            return true;
        }
        false
    }

    /// Input tokens neither read from nor written to the cache, and whether the counts were
    /// inconsistent (more cached than input: the producer counted input without the cache,
    /// Anthropic-style, so all of `input` is taken as uncached).
    pub fn uncached_input(&self) -> (u64, bool) {
        let cached = self.cache_read.saturating_add(self.cache_write);
        match self.input.checked_sub(cached) {
            Some(uncached) => (uncached, false),
            None => (self.input, true),
        }
    }

    /// Output tokens that are not reasoning, and whether the counts were inconsistent (more
    /// reasoning than output: the producer counted output without reasoning, Gemini-style, so
    /// all of `output` is taken as non-reasoning).
    pub fn non_reasoning_output(&self) -> (u64, bool) {
        match self.output.checked_sub(self.reasoning) {
            Some(visible) => (visible, false),
            None => (self.output, true),
        }
    }

    /// The prompt size that selects a long-context tier: all input tokens, cached ones
    /// included (for inconsistent counts, uncached plus cached).
    pub fn prompt_tokens(&self) -> u64 {
        let (uncached, inconsistent) = self.uncached_input();
        if inconsistent {
            uncached + self.cache_read + self.cache_write
        } else {
            self.input
        }
    }
}

/// OpenAI's `usage` object (Chat Completions; the Responses API's `input_tokens` /
/// `output_tokens` names are accepted too): prompt tokens include the cached ones, completion
/// tokens include the reasoning ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAiUsage {
    /// `prompt_tokens`.
    #[serde(default, alias = "input_tokens")]
    pub prompt_tokens: u64,
    /// `completion_tokens`.
    #[serde(default, alias = "output_tokens")]
    pub completion_tokens: u64,
    /// `prompt_tokens_details`.
    #[serde(default, alias = "input_tokens_details")]
    pub prompt_tokens_details: OpenAiPromptDetails,
    /// `completion_tokens_details`.
    #[serde(default, alias = "output_tokens_details")]
    pub completion_tokens_details: OpenAiCompletionDetails,
}

/// OpenAI's `prompt_tokens_details`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAiPromptDetails {
    /// `cached_tokens`: of the prompt tokens, those read from the cache.
    #[serde(default)]
    pub cached_tokens: u64,
}

/// OpenAI's `completion_tokens_details`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAiCompletionDetails {
    /// `reasoning_tokens`: of the completion tokens, those spent on reasoning.
    #[serde(default)]
    pub reasoning_tokens: u64,
}

impl From<OpenAiUsage> for TokenUsage {
    fn from(usage: OpenAiUsage) -> TokenUsage {
        TokenUsage {
            input: usage.prompt_tokens,
            output: usage.completion_tokens,
            cache_read: usage.prompt_tokens_details.cached_tokens,
            cache_write: 0,
            reasoning: usage.completion_tokens_details.reasoning_tokens,
        }
    }
}

/// Anthropic's `usage` object: `input_tokens` EXCLUDES the tokens read from and written to the
/// cache, which come beside it; `output_tokens` includes extended thinking.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnthropicUsage {
    /// `input_tokens`: uncached input only.
    #[serde(default)]
    pub input_tokens: u64,
    /// `output_tokens`.
    #[serde(default)]
    pub output_tokens: u64,
    /// `cache_read_input_tokens`.
    #[serde(default)]
    pub cache_read_input_tokens: u64,
    /// `cache_creation_input_tokens`.
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
}

impl From<AnthropicUsage> for TokenUsage {
    fn from(usage: AnthropicUsage) -> TokenUsage {
        TokenUsage {
            input: usage.input_tokens
                + usage.cache_read_input_tokens
                + usage.cache_creation_input_tokens,
            output: usage.output_tokens,
            cache_read: usage.cache_read_input_tokens,
            cache_write: usage.cache_creation_input_tokens,
            reasoning: 0,
        }
    }
}

/// Gemini's `usageMetadata` (snake_case as the Python SDK, camelCase as the REST API):
/// `prompt_token_count` includes `cached_content_token_count`; `thoughts_token_count` is NOT in
/// `candidates_token_count`; tool-use prompt tokens are input beside the prompt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeminiUsage {
    /// `prompt_token_count`.
    #[serde(default, alias = "promptTokenCount")]
    pub prompt_token_count: u64,
    /// `candidates_token_count`.
    #[serde(default, alias = "candidatesTokenCount")]
    pub candidates_token_count: u64,
    /// `cached_content_token_count`.
    #[serde(default, alias = "cachedContentTokenCount")]
    pub cached_content_token_count: u64,
    /// `thoughts_token_count`.
    #[serde(default, alias = "thoughtsTokenCount")]
    pub thoughts_token_count: u64,
    /// `tool_use_prompt_token_count`.
    #[serde(default, alias = "toolUsePromptTokenCount")]
    pub tool_use_prompt_token_count: u64,
}

impl From<GeminiUsage> for TokenUsage {
    fn from(usage: GeminiUsage) -> TokenUsage {
        TokenUsage {
            input: usage.prompt_token_count + usage.tool_use_prompt_token_count,
            output: usage.candidates_token_count + usage.thoughts_token_count,
            cache_read: usage.cached_content_token_count,
            cache_write: 0,
            reasoning: usage.thoughts_token_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_shapes_from_their_json() {
        let openai: OpenAiUsage = serde_json::from_str(
            r#"{"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
                "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 192}}"#,
        )
        .unwrap();
        assert_eq!(
            TokenUsage::from(openai),
            TokenUsage {
                input: 2006,
                output: 300,
                cache_read: 1920,
                cache_write: 0,
                reasoning: 192
            }
        );
        let anthropic: AnthropicUsage = serde_json::from_str(
            r#"{"input_tokens": 50, "cache_creation_input_tokens": 1000,
                "cache_read_input_tokens": 4000, "output_tokens": 200}"#,
        )
        .unwrap();
        assert_eq!(
            TokenUsage::from(anthropic),
            TokenUsage {
                input: 5050,
                output: 200,
                cache_read: 4000,
                cache_write: 1000,
                reasoning: 0
            }
        );
        let gemini: GeminiUsage = serde_json::from_str(
            r#"{"promptTokenCount": 1000, "candidatesTokenCount": 100,
                "cachedContentTokenCount": 600, "thoughtsTokenCount": 400, "totalTokenCount": 1500}"#,
        )
        .unwrap();
        assert_eq!(
            TokenUsage::from(gemini),
            TokenUsage {
                input: 1000,
                output: 500,
                cache_read: 600,
                cache_write: 0,
                reasoning: 400
            }
        );
    }

    #[test]
    fn otel_counts_from_a_span() {
        assert_eq!(TokenUsage::from_otel(None, None, Some(5), None, None), None);
        assert_eq!(
            TokenUsage::from_otel(Some(10), None, None, None, Some(-1)),
            Some(TokenUsage {
                input: 10,
                ..TokenUsage::default()
            })
        );
    }

    #[test]
    fn the_total_tells_whose_accounting_input_is_in() {
        // Anthropic-accounted: 5000 uncached + 1000 read + 0 written + 200 output = 6200.
        let mut anthropic = TokenUsage {
            input: 5000,
            output: 200,
            cache_read: 1000,
            ..TokenUsage::default()
        };
        assert!(anthropic.reconcile_with_total(6200));
        assert_eq!(anthropic.input, 6000);
        assert_eq!(anthropic.uncached_input(), (5000, false));
        // OTel-accounted already: 8 input (3 read, 1 written) + 2 output = 10.
        let mut otel = TokenUsage {
            input: 8,
            output: 2,
            cache_read: 3,
            cache_write: 1,
            reasoning: 0,
        };
        assert!(!otel.reconcile_with_total(10));
        assert_eq!(otel.input, 8);
        // A total that fits neither changes nothing.
        assert!(!otel.reconcile_with_total(99));
    }

    #[test]
    fn inconsistent_counts_are_flagged_not_negative() {
        // Strands-style: input 4299 excludes 35574 read + 17787 written.
        let usage = TokenUsage {
            input: 4299,
            output: 631,
            cache_read: 35574,
            cache_write: 17787,
            reasoning: 0,
        };
        assert_eq!(usage.uncached_input(), (4299, true));
        assert_eq!(usage.prompt_tokens(), 4299 + 35574 + 17787);
        let gemini_raw = TokenUsage {
            output: 100,
            reasoning: 400,
            ..TokenUsage::default()
        };
        assert_eq!(gemini_raw.non_reasoning_output(), (100, true));
    }
}
