//! The compact JSON a store keeps of a [`SpanCost`] (the `breakdown` column of `span_costs`):
//! the same fields as its API JSON, less those at their default (zero amounts and counts,
//! `false` flags, the one currency). It reads back into the same [`SpanCost`] with
//! `serde_json::from_str`, as the full form does: `SpanCost`'s fields that the compact form
//! leaves out are `#[serde(default)]`. A priced span's full form is ~400 bytes, two thirds of
//! its row; the compact one is about half that.

use serde::Serialize;

use crate::cost::{CostBreakdown, Currency, SpanCost, UsageAnomaly};
use crate::estimate::TokenEstimator;
use crate::matching::MatchRule;
use crate::money::Usd;

impl SpanCost {
    /// The compact JSON of this cost, for a store (see the module docs).
    pub fn stored_json(&self) -> String {
        // Serializing plain data into a string cannot fail. An unpriced span's form is short
        // already, and kept whole.
        match self {
            SpanCost::Priced(breakdown) => serde_json::to_string(&StoredBreakdown::of(breakdown)),
            SpanCost::Unpriced(_) => serde_json::to_string(self),
        }
        .unwrap_or_else(|_| "{}".to_string())
    }
}

/// [`CostBreakdown`] without its default fields; the same names, after the tag of
/// [`SpanCost::Priced`].
#[derive(Serialize)]
struct StoredBreakdown<'a> {
    status: &'static str,
    #[serde(skip_serializing_if = "is_zero_usd")]
    input: Usd,
    #[serde(skip_serializing_if = "is_zero_usd")]
    cache_read: Usd,
    #[serde(skip_serializing_if = "is_zero_usd")]
    cache_write: Usd,
    #[serde(skip_serializing_if = "is_zero_usd")]
    output: Usd,
    #[serde(skip_serializing_if = "is_zero_usd")]
    reasoning: Usd,
    total: Usd,
    #[serde(skip_serializing_if = "is_default")]
    currency: Currency,
    #[serde(skip_serializing_if = "is_default")]
    tokens: StoredTokens,
    #[serde(skip_serializing_if = "is_default")]
    usage: StoredUsage,
    #[serde(skip_serializing_if = "is_false")]
    estimated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    estimator: Option<TokenEstimator>,
    model: &'a str,
    rule: MatchRule,
    #[serde(skip_serializing_if = "is_false")]
    from_override: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    tier_above_input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    anomaly: Option<UsageAnomaly>,
    #[serde(skip_serializing_if = "Option::is_none")]
    producer_cost: Option<Usd>,
    #[serde(skip_serializing_if = "is_false")]
    differs: bool,
}

impl<'a> StoredBreakdown<'a> {
    fn of(b: &'a CostBreakdown) -> StoredBreakdown<'a> {
        let t = b.tokens;
        let u = b.usage;
        StoredBreakdown {
            status: "priced",
            input: b.input,
            cache_read: b.cache_read,
            cache_write: b.cache_write,
            output: b.output,
            reasoning: b.reasoning,
            total: b.total,
            currency: b.currency,
            tokens: StoredTokens([t.input, t.cache_read, t.cache_write, t.output, t.reasoning]),
            usage: StoredUsage([u.input, u.output, u.cache_read, u.cache_write, u.reasoning]),
            estimated: b.estimated,
            estimator: b.estimator,
            model: &b.model,
            rule: b.rule,
            from_override: b.from_override,
            tier_above_input_tokens: b.tier_above_input_tokens,
            anomaly: b.anomaly,
            producer_cost: b.producer_cost,
            differs: b.differs,
        }
    }
}

/// [`PricedTokens`](crate::cost::PricedTokens) without its zero counts, in the order of
/// `TOKEN_NAMES`.
#[derive(Default, PartialEq, Eq)]
struct StoredTokens([u64; 5]);

/// [`TokenUsage`](crate::TokenUsage) without its zero counts, in the order of `USAGE_NAMES`.
#[derive(Default, PartialEq, Eq)]
struct StoredUsage([u64; 5]);

const TOKEN_NAMES: [&str; 5] = ["input", "cache_read", "cache_write", "output", "reasoning"];
const USAGE_NAMES: [&str; 5] = ["input", "output", "cache_read", "cache_write", "reasoning"];

impl Serialize for StoredTokens {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        nonzero_counts(serializer, TOKEN_NAMES, self.0)
    }
}

impl Serialize for StoredUsage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        nonzero_counts(serializer, USAGE_NAMES, self.0)
    }
}

/// A map of the counts that are not zero, under their names.
fn nonzero_counts<S: serde::Serializer>(
    serializer: S,
    names: [&str; 5],
    counts: [u64; 5],
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(None)?;
    for (name, count) in names.into_iter().zip(counts) {
        if count != 0 {
            map.serialize_entry(name, &count)?;
        }
    }
    map.end()
}

fn is_zero_usd(amount: &Usd) -> bool {
    amount.is_zero()
}

fn is_false(flag: &bool) -> bool {
    !flag
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}
