//! Estimated tokens against tiktoken's own counts, and estimated costs marked as such.

use agentstack_cost::{CostInput, Pricing, SpanCost, TokenEstimator, Usd};

#[test]
fn openai_models_use_their_own_tokenizer() {
    for (model, estimator) in [
        ("gpt-4o", TokenEstimator::O200kBase),
        ("gpt-4o-mini-2024-07-18", TokenEstimator::O200kBase),
        ("openai/gpt-4.1", TokenEstimator::O200kBase),
        ("azure/gpt-5", TokenEstimator::O200kBase),
        ("o3-mini", TokenEstimator::O200kBase),
        ("gpt-4", TokenEstimator::Cl100kBase),
        ("gpt-3.5-turbo-0125", TokenEstimator::Cl100kBase),
        ("text-embedding-3-small", TokenEstimator::Cl100kBase),
        ("claude-sonnet-4-5", TokenEstimator::CharsDividedBy4),
        ("gemini/gemini-2.5-pro", TokenEstimator::CharsDividedBy4),
    ] {
        assert_eq!(TokenEstimator::for_model(model), estimator, "{model}");
    }
}

#[test]
fn counts_are_tiktokens() {
    // OpenAI's cookbook: "tiktoken is great!" is [83, 1609, 5963, 374, 2294, 0] in cl100k_base.
    let cl100k = tiktoken_rs::cl100k_base_singleton();
    assert_eq!(
        cl100k.encode_ordinary("tiktoken is great!"),
        vec![83, 1609, 5963, 374, 2294, 0]
    );
    assert_eq!(TokenEstimator::Cl100kBase.count("tiktoken is great!"), 6);
    assert_eq!(TokenEstimator::Cl100kBase.count("hello world"), 2);
    assert_eq!(TokenEstimator::O200kBase.count("hello world"), 2);
    let o200k = tiktoken_rs::o200k_base_singleton();
    for text in [
        "The quick brown fox jumps over the lazy dog.",
        "Résumé: naïve café, 東京, emoji 🎉 and code `fn main() {}`",
        "<|endoftext|> is text here, not a special token",
        "",
    ] {
        assert_eq!(
            TokenEstimator::O200kBase.count(text),
            o200k.encode_ordinary(text).len() as u64,
            "{text:?}"
        );
        assert_eq!(
            TokenEstimator::Cl100kBase.count(text),
            cl100k.encode_ordinary(text).len() as u64,
            "{text:?}"
        );
    }
}

#[test]
fn a_span_without_usage_is_estimated_from_its_text() {
    let input = r#"[{"role":"user","content":"Summarize the plot of Hamlet in one sentence."}]"#;
    let output = r#"[{"role":"assistant","content":"A prince avenges his father's murder and everyone dies."}]"#;
    let o200k = tiktoken_rs::o200k_base_singleton();
    // The string values of the JSON in document order, joined by newlines.
    let input_tokens = o200k
        .encode_ordinary("user\nSummarize the plot of Hamlet in one sentence.")
        .len() as u64;
    let output_tokens = o200k
        .encode_ordinary("assistant\nA prince avenges his father's murder and everyone dies.")
        .len() as u64;
    let cost = Pricing::bundled().cost(&CostInput {
        model: Some("gpt-4o"),
        input_text: Some(input),
        output_text: Some(output),
        ..CostInput::default()
    });
    let SpanCost::Priced(b) = &cost else {
        panic!("{cost:?}")
    };
    assert!(b.estimated);
    assert!(cost.estimated());
    assert_eq!(b.estimator, Some(TokenEstimator::O200kBase));
    assert_eq!(
        (b.usage.input, b.usage.output),
        (input_tokens, output_tokens)
    );
    // gpt-4o: $2.50 in, $10 out per 1M tokens = 2,500,000,000 and 10,000,000,000 femtodollars a
    // token.
    let expected = Usd::from_femtos(
        i128::from(input_tokens) * 2_500_000_000 + i128::from(output_tokens) * 10_000_000_000,
    );
    assert_eq!(b.total, expected);
}

#[test]
fn other_models_are_estimated_at_four_characters_a_token() {
    let cost = Pricing::bundled().cost(&CostInput {
        model: Some("claude-sonnet-4-5"),
        input_text: Some("0123456789"),
        ..CostInput::default()
    });
    let b = cost.breakdown().unwrap();
    // ceil(10 / 4) = 3 tokens × $3 / 1M = $0.000009.
    assert_eq!(b.estimator, Some(TokenEstimator::CharsDividedBy4));
    assert_eq!(b.usage.input, 3);
    assert_eq!(b.total, Usd::from_decimal_str("0.000009").unwrap());
}

#[test]
fn a_producer_cost_is_not_estimated() {
    let cost = Pricing::bundled().cost(&CostInput {
        model: Some("gpt-4o"),
        input_text: Some("hello"),
        producer_cost: Some(Usd::from_cents(1)),
        ..CostInput::default()
    });
    assert!(cost.breakdown().unwrap().estimated);
    assert!(
        !cost.estimated(),
        "the kept cost is the producer's, not an estimate"
    );
}
