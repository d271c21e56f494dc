//! Per-project overrides: custom models, negotiated prices, and typed errors for bad ones.

use agentstack_cost::{
    CostInput, OverrideError, PriceOverrides, PriceTable, Pricing, TokenUsage, Usd,
};

fn overrides(json: &str) -> PriceOverrides {
    serde_json::from_str(json).unwrap()
}

#[test]
fn a_custom_model_is_priced_and_matched_like_a_listed_one() {
    let pricing = Pricing::with_overrides(
        PriceTable::bundled(),
        &overrides(r#"{"models": {"acme-llama-70b": {"input": "0.5", "output": "0.5", "cache_read": "0.05"}}}"#),
    )
    .unwrap();
    let cost = pricing.cost(&CostInput {
        model: Some("ACME-Llama-70B-2026-01-01"),
        usage: Some(TokenUsage {
            input: 2_000,
            cache_read: 1_000,
            output: 1_000,
            ..TokenUsage::default()
        }),
        ..CostInput::default()
    });
    // uncached 1,000 × 0.50 = 500 µ$; cache read 1,000 × 0.05 = 50 µ$; output 1,000 × 0.50 =
    // 500 µ$; total 1,050 µ$.
    let b = cost.breakdown().unwrap();
    assert!(b.from_override);
    assert_eq!(&*b.model, "acme-llama-70b");
    assert_eq!(b.total, Usd::from_decimal_str("0.00105").unwrap());
}

#[test]
fn bad_overrides_are_typed_errors() {
    let table = PriceTable::bundled();
    let unknown_base = Pricing::with_overrides(
        table.clone(),
        &overrides(r#"{"models": {"x": {"based_on": "no-such-model"}}}"#),
    )
    .unwrap_err();
    assert!(
        matches!(unknown_base, OverrideError::UnknownBaseModel { .. }),
        "{unknown_base:?}"
    );
    assert!(unknown_base.to_string().contains("no-such-model"));
    let missing = Pricing::with_overrides(
        table.clone(),
        &overrides(r#"{"models": {"x": {"input": "1"}}}"#),
    )
    .unwrap_err();
    assert!(
        matches!(
            missing,
            OverrideError::MissingPrice {
                field: "output",
                ..
            }
        ),
        "{missing:?}"
    );
    let duplicate = Pricing::with_overrides(
        table,
        &overrides(r#"{"models": {"X": {"input": "1", "output": "1"}, "x": {"input": "1", "output": "1"}}}"#),
    )
    .unwrap_err();
    assert!(
        matches!(duplicate, OverrideError::Table(_)),
        "{duplicate:?}"
    );
    // A misspelled field is refused, not ignored.
    let typo = serde_json::from_str::<PriceOverrides>(r#"{"models": {"x": {"inptu": "1"}}}"#);
    assert!(typo.unwrap_err().to_string().contains("inptu"));
    let bad_price = serde_json::from_str::<PriceOverrides>(r#"{"models": {"x": {"input": "-1"}}}"#);
    assert!(bad_price.unwrap_err().to_string().contains("negative"));
}

#[test]
fn empty_overrides_change_nothing() {
    let pricing =
        Pricing::with_overrides(PriceTable::bundled(), &PriceOverrides::default()).unwrap();
    let found = pricing.resolve("gpt-4o", None).unwrap();
    assert!(!found.from_override);
}
