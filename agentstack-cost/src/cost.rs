//! Cost per span: [`Pricing`] (a price table with a project's overrides over it) turns a
//! [`CostInput`] (model, provider, OTel-accounted usage, captured text, the producer's own cost)
//! into a [`SpanCost`] that says what each kind of token cost and how the figure was got.
//!
//! # The arithmetic (no token priced twice, none missed)
//!
//! With usage in OTel accounting (input includes cache read and write, output includes
//! reasoning):
//!
//! ```text
//! uncached input = input − cache_read − cache_write      at the input price
//! cache read                                             at the cache-read price (else input)
//! cache write                                            at the cache-write price (else input)
//! visible output = output − reasoning                    at the output price
//! reasoning                                              at the reasoning price (else output)
//! total = the sum of the five, exact in femtodollars
//! ```
//!
//! A long-context tier applies when the prompt (all input tokens) exceeds its threshold; then
//! every token of the call is priced at the tier's prices (a price the tier lacks is the base
//! one; reasoning follows the tier's output price unless the tier prices reasoning itself).
//!
//! Counts that cannot be OTel-accounted (more cached than input, more reasoning than output)
//! are read as the producer's own accounting, priced without a negative count, and flagged in
//! [`CostBreakdown::anomaly`].
//!
//! A span without usage but with captured text has its tokens estimated
//! ([`crate::estimate`]) and its cost marked `estimated`. A span whose producer sent its own
//! cost keeps that cost ([`SpanCost::kept_cost`]); ours is computed beside it, and `differs`
//! says whether they disagree by more than [`PRODUCER_COST_TOLERANCE`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::estimate::TokenEstimator;
use crate::matching::MatchRule;
use crate::money::{TokenPrice, Usd};
use crate::overrides::{OverrideError, PriceOverrides};
use crate::prices::{ModelPrice, PriceTable};
use crate::usage::TokenUsage;

/// How far a producer's cost may be from ours and still be "the same": one nanodollar, to absorb
/// the floating-point noise of costs sent as doubles.
pub const PRODUCER_COST_TOLERANCE: Usd = Usd::from_femtos(1_000_000);

/// Span attributes in which producers send their own cost, in USD, first found wins:
/// OpenInference's `llm.cost.total`, and `gen_ai.usage.cost` (Langfuse, OpenLIT and others).
pub const PRODUCER_COST_ATTRIBUTES: &[&str] = &["llm.cost.total", "gen_ai.usage.cost"];

/// What pricing needs to know about one span. Built from the server's span model (see the
/// crate docs for the mapping from `SpanRecord`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CostInput<'a> {
    /// The model (`gen_ai.response.model`, else `gen_ai.request.model`).
    pub model: Option<&'a str>,
    /// The provider (`gen_ai.provider.name`), a hint for matching.
    pub provider: Option<&'a str>,
    /// The usage in OTel accounting; `None` when the span has no token counts.
    pub usage: Option<TokenUsage>,
    /// The captured input (JSON or text), for estimation when `usage` is `None`.
    pub input_text: Option<&'a str>,
    /// The captured output, for estimation when `usage` is `None`.
    pub output_text: Option<&'a str>,
    /// The cost the producer put on the span, if any ([`producer_cost_from_attributes_json`]).
    pub producer_cost: Option<Usd>,
}

/// The only currency of the price table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Currency {
    /// US dollars.
    #[default]
    #[serde(rename = "USD")]
    Usd,
}

/// The tokens of each price class, as priced (a count left out reads as 0: the stored form,
/// [`crate::stored`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct PricedTokens {
    /// Input neither read from nor written to the cache.
    pub input: u64,
    /// Input read from the cache.
    pub cache_read: u64,
    /// Input written to the cache.
    pub cache_write: u64,
    /// Output that is not reasoning.
    pub output: u64,
    /// Reasoning output.
    pub reasoning: u64,
}

/// Counts that did not fit OTel accounting, and how they were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageAnomaly {
    /// More cache tokens than input tokens: input was taken as excluding the cache (Anthropic's
    /// own accounting), so the cache tokens were added, not subtracted.
    InputExcludedCache,
    /// More reasoning tokens than output tokens: output was taken as excluding reasoning
    /// (Gemini's own accounting).
    OutputExcludedReasoning,
    /// Both of the above.
    Both,
}

/// What one span cost, part by part, and how that was worked out. The fields marked
/// `#[serde(default)]` may be left out of its JSON at their default: the stored form
/// ([`SpanCost::stored_json`]) does; the API's full form has them all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostBreakdown {
    /// Uncached input.
    #[serde(default)]
    pub input: Usd,
    /// Input read from the cache.
    #[serde(default)]
    pub cache_read: Usd,
    /// Input written to the cache.
    #[serde(default)]
    pub cache_write: Usd,
    /// Output that is not reasoning.
    #[serde(default)]
    pub output: Usd,
    /// Reasoning output.
    #[serde(default)]
    pub reasoning: Usd,
    /// The sum of the five: our cost of the span.
    pub total: Usd,
    /// Always USD.
    #[serde(default)]
    pub currency: Currency,
    /// The tokens each part priced.
    #[serde(default)]
    pub tokens: PricedTokens,
    /// The usage priced (estimated when `estimated`).
    #[serde(default)]
    pub usage: TokenUsage,
    /// Whether the tokens were estimated from the span's text.
    #[serde(default)]
    pub estimated: bool,
    /// How they were estimated, when they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimator: Option<TokenEstimator>,
    /// The price-table model the span was priced as.
    pub model: Arc<str>,
    /// How that model was found.
    pub rule: MatchRule,
    /// Whether the price came from the project's overrides.
    #[serde(default)]
    pub from_override: bool,
    /// The long-context tier applied: its threshold in prompt tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier_above_input_tokens: Option<u64>,
    /// Counts that did not fit OTel accounting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<UsageAnomaly>,
    /// The cost the producer sent, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer_cost: Option<Usd>,
    /// Whether the producer's cost and ours differ by more than [`PRODUCER_COST_TOLERANCE`].
    #[serde(default)]
    pub differs: bool,
}

impl CostBreakdown {
    /// The cost the span keeps: the producer's when it sent one, else ours.
    pub fn kept_total(&self) -> Usd {
        self.producer_cost.unwrap_or(self.total)
    }
}

/// Why a span has no computed cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnpricedReason {
    /// The span names no model.
    NoModel,
    /// No matching rule finds the model in the table or the overrides.
    UnknownModel,
    /// Neither token counts nor text to estimate them from.
    NoUsage,
}

/// A span with no computed cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unpriced {
    /// Why.
    pub reason: UnpricedReason,
    /// Its token counts, if it had any (an unknown model's tokens still count as tokens).
    pub usage: Option<TokenUsage>,
    /// The cost the producer sent, which the span keeps.
    pub producer_cost: Option<Usd>,
}

/// The result of pricing one span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SpanCost {
    /// Priced from the table.
    Priced(CostBreakdown),
    /// Not priced.
    Unpriced(Unpriced),
}

impl SpanCost {
    /// The cost the span keeps: the producer's if it sent one, else ours; `None` when neither.
    pub fn kept_cost(&self) -> Option<Usd> {
        match self {
            SpanCost::Priced(breakdown) => Some(breakdown.kept_total()),
            SpanCost::Unpriced(unpriced) => unpriced.producer_cost,
        }
    }

    /// Our breakdown, when priced.
    pub fn breakdown(&self) -> Option<&CostBreakdown> {
        match self {
            SpanCost::Priced(breakdown) => Some(breakdown),
            SpanCost::Unpriced(_) => None,
        }
    }

    /// The token counts (estimated ones included).
    pub fn usage(&self) -> Option<&TokenUsage> {
        match self {
            SpanCost::Priced(breakdown) => Some(&breakdown.usage),
            SpanCost::Unpriced(unpriced) => unpriced.usage.as_ref(),
        }
    }

    /// Whether the kept cost rests on estimated tokens (never when the producer's cost is kept).
    pub fn estimated(&self) -> bool {
        matches!(self, SpanCost::Priced(b) if b.estimated && b.producer_cost.is_none())
    }
}

/// A model found for a span: in the overrides or the table.
#[derive(Debug, Clone)]
pub struct PricedModel<'p> {
    /// Its name in the table or the overrides.
    pub name: Arc<str>,
    /// Its prices.
    pub price: &'p ModelPrice,
    /// The rule that found it.
    pub rule: MatchRule,
    /// Whether it came from the overrides.
    pub from_override: bool,
}

/// A price table with, optionally, a project's overrides layered over it: the overrides are
/// searched first with every matching rule, then the table. Cheap to clone (shared tables).
#[derive(Debug, Clone)]
pub struct Pricing {
    table: Arc<PriceTable>,
    overrides: Option<Arc<PriceTable>>,
}

impl Pricing {
    /// Pricing from `table` alone.
    pub fn new(table: Arc<PriceTable>) -> Pricing {
        Pricing {
            table,
            overrides: None,
        }
    }

    /// Pricing from the bundled table alone.
    pub fn bundled() -> Pricing {
        Pricing::new(PriceTable::bundled())
    }

    /// Pricing from `table` with a project's `overrides` over it.
    pub fn with_overrides(
        table: Arc<PriceTable>,
        overrides: &PriceOverrides,
    ) -> Result<Pricing, OverrideError> {
        let layer = overrides.build(&table)?;
        Ok(Pricing {
            overrides: (!layer.is_empty()).then(|| Arc::new(layer)),
            table,
        })
    }

    /// The underlying table.
    pub fn table(&self) -> &PriceTable {
        &self.table
    }

    /// Finds the model a span names: overrides first, then the table.
    pub fn resolve(&self, model: &str, provider: Option<&str>) -> Option<PricedModel<'_>> {
        fn found<'p>(
            table: &'p PriceTable,
            model: &str,
            provider: Option<&str>,
            from_override: bool,
        ) -> Option<PricedModel<'p>> {
            table.resolve(model, provider).map(|resolved| PricedModel {
                name: resolved.name_shared.clone(),
                price: resolved.price,
                rule: resolved.rule,
                from_override,
            })
        }
        self.overrides
            .as_deref()
            .and_then(|overrides| found(overrides, model, provider, true))
            .or_else(|| found(&self.table, model, provider, false))
    }

    /// Prices one span.
    pub fn cost(&self, span: &CostInput<'_>) -> SpanCost {
        let unpriced = |reason, usage| {
            SpanCost::Unpriced(Unpriced {
                reason,
                usage,
                producer_cost: span.producer_cost,
            })
        };
        let Some(model) = span.model.filter(|m| !m.trim().is_empty()) else {
            return unpriced(UnpricedReason::NoModel, span.usage);
        };
        let Some(priced) = self.resolve(model, span.provider) else {
            return unpriced(UnpricedReason::UnknownModel, span.usage);
        };
        let (usage, estimator) = match span.usage {
            Some(usage) => (usage, None),
            None if span.input_text.is_some() || span.output_text.is_some() => {
                let estimator = TokenEstimator::for_model(&priced.name);
                let count = |text: Option<&str>| text.map_or(0, |t| estimator.count_captured(t));
                let usage = TokenUsage {
                    input: count(span.input_text),
                    output: count(span.output_text),
                    ..TokenUsage::default()
                };
                (usage, Some(estimator))
            }
            None => return unpriced(UnpricedReason::NoUsage, None),
        };
        let mut breakdown = price_usage(priced.price, &usage);
        breakdown.usage = usage;
        breakdown.estimated = estimator.is_some();
        breakdown.estimator = estimator;
        breakdown.model = priced.name;
        breakdown.rule = priced.rule;
        breakdown.from_override = priced.from_override;
        breakdown.producer_cost = span.producer_cost;
        breakdown.differs = span.producer_cost.is_some_and(|producer| {
            let gap = producer.femtos().abs_diff(breakdown.total.femtos());
            gap > PRODUCER_COST_TOLERANCE.femtos().unsigned_abs()
        });
        SpanCost::Priced(breakdown)
    }
}

/// The five parts of a call's cost at `price` (model and provenance fields left default).
fn price_usage(price: &ModelPrice, usage: &TokenUsage) -> CostBreakdown {
    let (uncached, input_excluded_cache) = usage.uncached_input();
    let (visible, output_excluded_reasoning) = usage.non_reasoning_output();
    let tier = price.tier_for(usage.prompt_tokens());
    let input_price = tier.and_then(|t| t.input).unwrap_or(price.input);
    let output_price = tier.and_then(|t| t.output).unwrap_or(price.output);
    let pick = |tiered: Option<TokenPrice>, base: Option<TokenPrice>| {
        tiered.or(base).unwrap_or(input_price)
    };
    let cache_read_price = pick(tier.and_then(|t| t.cache_read), price.cache_read);
    let cache_write_price = pick(tier.and_then(|t| t.cache_write), price.cache_write);
    let reasoning_price = match tier {
        Some(t) => t
            .reasoning
            .or(t.output.map(|_| output_price))
            .or(price.reasoning)
            .unwrap_or(output_price),
        None => price.reasoning.unwrap_or(output_price),
    };
    let tokens = PricedTokens {
        input: uncached,
        cache_read: usage.cache_read,
        cache_write: usage.cache_write,
        output: visible,
        reasoning: usage.reasoning,
    };
    let input = input_price.cost_of(tokens.input);
    let cache_read = cache_read_price.cost_of(tokens.cache_read);
    let cache_write = cache_write_price.cost_of(tokens.cache_write);
    let output = output_price.cost_of(tokens.output);
    let reasoning = reasoning_price.cost_of(tokens.reasoning);
    CostBreakdown {
        input,
        cache_read,
        cache_write,
        output,
        reasoning,
        total: input + cache_read + cache_write + output + reasoning,
        currency: Currency::Usd,
        tokens,
        usage: *usage,
        estimated: false,
        estimator: None,
        model: Arc::from(""),
        rule: MatchRule::Exact,
        from_override: false,
        tier_above_input_tokens: tier.map(|t| t.above_input_tokens),
        anomaly: match (input_excluded_cache, output_excluded_reasoning) {
            (false, false) => None,
            (true, false) => Some(UsageAnomaly::InputExcludedCache),
            (false, true) => Some(UsageAnomaly::OutputExcludedReasoning),
            (true, true) => Some(UsageAnomaly::Both),
        },
        producer_cost: None,
        differs: false,
    }
}

/// The producer's cost among a span's attributes (the store's `attributes` JSON object text):
/// the first of [`PRODUCER_COST_ATTRIBUTES`] that holds a finite, non-negative number (or
/// decimal text). Cheap when absent: the text is searched before it is parsed.
pub fn producer_cost_from_attributes_json(attributes: &str) -> Option<Usd> {
    if !PRODUCER_COST_ATTRIBUTES
        .iter()
        .any(|key| attributes.contains(key))
    {
        return None;
    }
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(attributes).ok()?;
    producer_cost_from_attributes(&map)
}

/// The producer's cost among parsed span attributes; see
/// [`producer_cost_from_attributes_json`].
pub fn producer_cost_from_attributes(
    attributes: &serde_json::Map<String, serde_json::Value>,
) -> Option<Usd> {
    PRODUCER_COST_ATTRIBUTES.iter().find_map(|key| {
        let cost = match attributes.get(*key)? {
            serde_json::Value::Number(n) => Usd::from_f64_lossy(n.as_f64()?),
            serde_json::Value::String(s) => Usd::from_decimal_str(s).ok(),
            _ => None,
        }?;
        (cost.femtos() >= 0).then_some(cost)
    })
}
