//! The stored form of a cost (`SpanCost::stored_json`) reads back into the same cost, and is
//! shorter than the full form wherever a field is at its default.

use std::sync::Arc;

use agentstack_cost::cost::{CostBreakdown, Currency, PricedTokens, Unpriced, UnpricedReason};
use agentstack_cost::{
    CostInput, MatchRule, Pricing, SpanCost, TokenEstimator, TokenUsage, UsageAnomaly, Usd,
};

fn usd(text: &str) -> Usd {
    text.parse().unwrap()
}

/// Costs with every field at, and away from, its default.
fn costs() -> Vec<SpanCost> {
    let pricing = Pricing::bundled();
    let plain = pricing.cost(&CostInput {
        model: Some("gpt-4o"),
        usage: Some(TokenUsage {
            input: 812,
            output: 120,
            ..TokenUsage::default()
        }),
        ..CostInput::default()
    });
    let cached_and_reasoning = pricing.cost(&CostInput {
        model: Some("o3"),
        usage: Some(TokenUsage {
            input: 5000,
            output: 900,
            cache_read: 4000,
            cache_write: 0,
            reasoning: 700,
        }),
        producer_cost: Some(usd("1.5")),
        ..CostInput::default()
    });
    let estimated = pricing.cost(&CostInput {
        model: Some("gpt-4o"),
        input_text: Some("How many tokens is this?"),
        output_text: Some("A few."),
        ..CostInput::default()
    });
    let everything = SpanCost::Priced(CostBreakdown {
        input: usd("0.1"),
        cache_read: usd("0.01"),
        cache_write: usd("0.02"),
        output: usd("0.3"),
        reasoning: usd("0.000000000000001"),
        total: usd("0.430000000000001"),
        currency: Currency::Usd,
        tokens: PricedTokens {
            input: 1,
            cache_read: 2,
            cache_write: 3,
            output: 4,
            reasoning: 5,
        },
        usage: TokenUsage {
            input: 6,
            output: 9,
            cache_read: 2,
            cache_write: 3,
            reasoning: 5,
        },
        estimated: true,
        estimator: Some(TokenEstimator::CharsDividedBy4),
        model: Arc::from("claude-sonnet-4"),
        rule: MatchRule::RouteRemoved,
        from_override: true,
        tier_above_input_tokens: Some(200_000),
        anomaly: Some(UsageAnomaly::Both),
        producer_cost: Some(usd("0")),
        differs: true,
    });
    let nothing = SpanCost::Priced(CostBreakdown {
        input: Usd::ZERO,
        cache_read: Usd::ZERO,
        cache_write: Usd::ZERO,
        output: Usd::ZERO,
        reasoning: Usd::ZERO,
        total: Usd::ZERO,
        currency: Currency::Usd,
        tokens: PricedTokens::default(),
        usage: TokenUsage::default(),
        estimated: false,
        estimator: None,
        model: Arc::from("free-model"),
        rule: MatchRule::Exact,
        from_override: false,
        tier_above_input_tokens: None,
        anomaly: None,
        producer_cost: None,
        differs: false,
    });
    let unknown = pricing.cost(&CostInput {
        model: Some("no-such-model"),
        usage: Some(TokenUsage {
            input: 3,
            ..TokenUsage::default()
        }),
        ..CostInput::default()
    });
    let unpriced = SpanCost::Unpriced(Unpriced {
        reason: UnpricedReason::NoModel,
        usage: None,
        producer_cost: Some(usd("0.25")),
    });
    vec![
        plain,
        cached_and_reasoning,
        estimated,
        everything,
        nothing,
        unknown,
        unpriced,
    ]
}

#[test]
fn the_stored_form_reads_back_into_the_same_cost() {
    for cost in costs() {
        let stored = cost.stored_json();
        let back: SpanCost =
            serde_json::from_str(&stored).unwrap_or_else(|e| panic!("{stored}: {e}"));
        assert_eq!(back, cost, "{stored}");
        // The full form still reads too (rows written before the stored form).
        let full = serde_json::to_string(&cost).unwrap();
        assert_eq!(serde_json::from_str::<SpanCost>(&full).unwrap(), cost);
        assert!(stored.len() <= full.len(), "{stored} vs {full}");
    }
}

#[test]
fn the_stored_form_leaves_out_the_defaults_only() {
    let costs = costs();
    let plain: serde_json::Value = serde_json::from_str(&costs[0].stored_json()).unwrap();
    assert_eq!(
        plain,
        serde_json::json!({
            "status": "priced",
            "input": "0.00203",
            "output": "0.0012",
            "total": "0.00323",
            "tokens": {"input": 812, "output": 120},
            "usage": {"input": 812, "output": 120},
            "model": "gpt-4o",
            "rule": "exact",
        })
    );
    let full = serde_json::to_string(&costs[0]).unwrap();
    assert!(costs[0].stored_json().len() * 3 < full.len() * 2, "{full}");
    // Nothing away from its default is left out.
    let everything: serde_json::Value = serde_json::from_str(&costs[3].stored_json()).unwrap();
    let full: serde_json::Value = serde_json::to_value(&costs[3]).unwrap();
    let left_out: Vec<_> = full
        .as_object()
        .unwrap()
        .keys()
        .filter(|key| everything.get(key.as_str()).is_none())
        .collect();
    assert_eq!(left_out, ["currency"], "{everything}");
    assert_eq!(everything["tokens"], full["tokens"]);
    assert_eq!(everything["usage"], full["usage"]);
}
