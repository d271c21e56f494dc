//! The cost engine of AgentStack: what each LLM span cost, right to the cent, and how that was
//! worked out.
//!
//! - [`PriceTable`]: per-token prices (input, output, cache read, cache write, reasoning,
//!   long-context tiers) of the chat, embedding and reasoning models of the major providers,
//!   bundled as `data/prices.json` (derived from LiteLLM's MIT-licensed
//!   `model_prices_and_context_window.json`; [`PriceTable::from_litellm_json`] refreshes it).
//! - [`matching`]: how a span's model name finds its price (provider routes, dated snapshots,
//!   aliases, case), in a documented order of hash lookups; an unknown model gets no cost.
//! - [`TokenUsage`]: token counts in OpenTelemetry GenAI accounting, with conversions from the
//!   OpenAI, Anthropic and Gemini usage shapes.
//! - [`Pricing::cost`]: a span's [`CostBreakdown`] in exact femtodollar arithmetic
//!   ([`Usd`]), estimated from its text when it has no usage ([`estimate`]), beside the
//!   producer's own cost when it sent one.
//! - [`PriceOverrides`]: a project's custom models and negotiated prices over the table.
//! - [`CostAggregator`] and [`BudgetTracker`]: the cost worker's hourly aggregates and budgets
//!   that alert once per period.
//!
//! # From the server's span model
//!
//! A `SpanRecord` of the store becomes a [`CostInput`] field for field:
//!
//! ```
//! # struct SpanRecord { model: Option<String>, provider: Option<String>,
//! #   input_tokens: Option<i64>, output_tokens: Option<i64>, cache_read_input_tokens: Option<i64>,
//! #   cache_creation_input_tokens: Option<i64>, reasoning_output_tokens: Option<i64>,
//! #   input: Option<String>, output: Option<String>, attributes: String }
//! # let record = SpanRecord { model: Some("gpt-4o".into()), provider: Some("openai".into()),
//! #   input_tokens: Some(1000), output_tokens: Some(100), cache_read_input_tokens: None,
//! #   cache_creation_input_tokens: None, reasoning_output_tokens: None, input: None, output: None,
//! #   attributes: "{}".into() };
//! use agentstack_cost::{CostInput, Pricing, TokenUsage, producer_cost_from_attributes_json};
//!
//! let input = CostInput {
//!     model: record.model.as_deref(),
//!     provider: record.provider.as_deref(),
//!     usage: TokenUsage::from_otel(
//!         record.input_tokens,
//!         record.output_tokens,
//!         record.cache_read_input_tokens,
//!         record.cache_creation_input_tokens,
//!         record.reasoning_output_tokens,
//!     ),
//!     input_text: record.input.as_deref(),
//!     output_text: record.output.as_deref(),
//!     producer_cost: producer_cost_from_attributes_json(&record.attributes),
//! };
//! let cost = Pricing::bundled().cost(&input);
//! // gpt-4o: 1000 × $2.50/M + 100 × $10/M = $0.0025 + $0.001 = $0.0035
//! assert_eq!(cost.kept_cost().unwrap().to_string(), "0.0035");
//! ```
//!
//! A producer that sends Anthropic-accounted input as `gen_ai.usage.input_tokens` (input
//! without the cache) is caught by [`TokenUsage::reconcile_with_total`] given the span's
//! `gen_ai.usage.total_tokens`, and, when the cache outnumbers the input, flagged as
//! [`UsageAnomaly::InputExcludedCache`] by the pricing itself.

pub mod aggregate;
pub mod budget;
pub mod cost;
pub mod estimate;
pub mod matching;
pub mod money;
pub mod overrides;
pub mod prices;
pub mod stored;
pub mod usage;

pub use aggregate::{CostAggregator, CostMetricKey, CostMetrics, hour_start};
pub use budget::{
    Budget, BudgetCrossing, BudgetError, BudgetPeriod, BudgetSubject, BudgetTracker, Spend,
};
pub use cost::{
    CostBreakdown, CostInput, Currency, PRODUCER_COST_ATTRIBUTES, PRODUCER_COST_TOLERANCE,
    PricedModel, PricedTokens, Pricing, SpanCost, Unpriced, UnpricedReason, UsageAnomaly,
    producer_cost_from_attributes, producer_cost_from_attributes_json,
};
pub use estimate::TokenEstimator;
pub use matching::MatchRule;
pub use money::{MoneyError, TokenPrice, Usd};
pub use overrides::{ModelOverride, OverrideError, PriceOverrides};
pub use prices::{
    LitellmFileInfo, ModelMode, ModelPrice, PriceFileError, PriceSource, PriceTable, PriceTier,
    ResolvedModel,
};
pub use usage::{AnthropicUsage, GeminiUsage, OpenAiUsage, TokenUsage};
