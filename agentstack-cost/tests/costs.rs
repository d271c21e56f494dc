//! Span costs against hand-computed figures. Prices are the bundled table's (LiteLLM 1.110.2),
//! in USD per million tokens; each test writes its arithmetic out. A figure that counts cached
//! tokens twice, drops reasoning tokens, or ignores a tier fails these.

use agentstack_cost::usage::{OpenAiCompletionDetails, OpenAiPromptDetails};
use agentstack_cost::{
    AnthropicUsage, CostBreakdown, CostInput, GeminiUsage, MatchRule, ModelOverride, OpenAiUsage,
    PriceOverrides, PriceTable, Pricing, SpanCost, TokenPrice, TokenUsage, UnpricedReason,
    UsageAnomaly, Usd, producer_cost_from_attributes_json,
};

fn usd(text: &str) -> Usd {
    Usd::from_decimal_str(text).unwrap()
}

fn priced(model: &str, provider: Option<&str>, usage: TokenUsage) -> CostBreakdown {
    let cost = Pricing::bundled().cost(&CostInput {
        model: Some(model),
        provider,
        usage: Some(usage),
        ..CostInput::default()
    });
    match cost {
        SpanCost::Priced(breakdown) => breakdown,
        SpanCost::Unpriced(unpriced) => panic!("{model}: {unpriced:?}"),
    }
}

#[test]
fn openai_shaped_span_with_cached_and_reasoning_tokens() {
    // o3-mini-2025-01-31: input $1.10, cache read $0.55, output $4.40 (no reasoning price: reasoning
    // is output). prompt_tokens 2006 include 1920 cached; completion_tokens 300 include 192
    // reasoning.
    let usage = TokenUsage::from(OpenAiUsage {
        prompt_tokens: 2006,
        completion_tokens: 300,
        prompt_tokens_details: OpenAiPromptDetails {
            cached_tokens: 1920,
        },
        completion_tokens_details: OpenAiCompletionDetails {
            reasoning_tokens: 192,
        },
    });
    let b = priced("o3-mini-2025-01-31", Some("openai"), usage);
    // uncached   (2006 − 1920) =   86 × 1.10 =   94.6 µ$
    // cache read             1920 × 0.55 = 1056.0 µ$
    // output     (300 − 192)  =  108 × 4.40 =  475.2 µ$
    // reasoning               192 × 4.40 =  844.8 µ$
    // total                               = 2470.6 µ$ = $0.0024706
    assert_eq!(b.input, usd("0.0000946"));
    assert_eq!(b.cache_read, usd("0.001056"));
    assert_eq!(b.cache_write, Usd::ZERO);
    assert_eq!(b.output, usd("0.0004752"));
    assert_eq!(b.reasoning, usd("0.0008448"));
    assert_eq!(b.total, usd("0.0024706"));
    assert_eq!((b.tokens.input, b.tokens.output), (86, 108));
    assert_eq!(&*b.model, "o3-mini-2025-01-31");
    assert_eq!(b.rule, MatchRule::Exact);
    assert!(!b.estimated && !b.differs && b.anomaly.is_none());
    // Counting the cached tokens twice would give 2006 × 1.10 + 1920 × 0.55 + 300 × 4.40 =
    // 4582.6 µ$.
    assert_ne!(b.total, usd("0.0045826"));
}

#[test]
fn anthropic_shaped_span_whose_input_excludes_the_cache() {
    // claude-sonnet-4-5: input $3, cache read $0.30, cache write $3.75, output $15.
    // Anthropic's input_tokens (50) exclude cache reads (4000) and writes (1000).
    let usage = TokenUsage::from(AnthropicUsage {
        input_tokens: 50,
        output_tokens: 200,
        cache_read_input_tokens: 4000,
        cache_creation_input_tokens: 1000,
    });
    assert_eq!(usage.input, 5050);
    let b = priced("claude-sonnet-4-5", Some("anthropic"), usage);
    // uncached      50 × 3    =  150 µ$
    // cache read  4000 × 0.30 = 1200 µ$
    // cache write 1000 × 3.75 = 3750 µ$
    // output       200 × 15   = 3000 µ$
    // total                   = 8100 µ$ = $0.0081
    assert_eq!(b.input, usd("0.00015"));
    assert_eq!(b.cache_read, usd("0.0012"));
    assert_eq!(b.cache_write, usd("0.00375"));
    assert_eq!(b.output, usd("0.003"));
    assert_eq!(b.total, usd("0.0081"));
    assert_eq!(b.total.round_to_cents(), 1);
}

#[test]
fn anthropic_on_bedrock_above_200k_prices_the_whole_call_at_the_tier() {
    // anthropic.claude-sonnet-4-5-20250929-v1:0 above 200k prompt tokens: input $6, cache read
    // $0.60, cache write $7.50, output $22.50. Prompt = 10,000 + 180,000 + 20,000 = 210,000.
    let usage = TokenUsage::from(AnthropicUsage {
        input_tokens: 10_000,
        output_tokens: 1_000,
        cache_read_input_tokens: 180_000,
        cache_creation_input_tokens: 20_000,
    });
    let b = priced(
        "bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0",
        None,
        usage,
    );
    // uncached     10,000 × 6    =  60,000 µ$
    // cache read  180,000 × 0.60 = 108,000 µ$
    // cache write  20,000 × 7.50 = 150,000 µ$
    // output        1,000 × 22.5 =  22,500 µ$
    // total                      = 340,500 µ$ = $0.3405
    assert_eq!(b.tier_above_input_tokens, Some(200_000));
    assert_eq!(b.input, usd("0.06"));
    assert_eq!(b.cache_read, usd("0.108"));
    assert_eq!(b.cache_write, usd("0.15"));
    assert_eq!(b.output, usd("0.0225"));
    assert_eq!(b.total, usd("0.3405"));
    assert_eq!(b.rule, MatchRule::RouteRemoved);

    // Exactly 200,000 prompt tokens is not above 200k: base prices.
    // cache read 200,000 × 0.30 = 60,000 µ$.
    let at_threshold = priced(
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        None,
        TokenUsage {
            input: 200_000,
            cache_read: 200_000,
            ..TokenUsage::default()
        },
    );
    assert_eq!(at_threshold.tier_above_input_tokens, None);
    assert_eq!(at_threshold.total, usd("0.06"));
}

#[test]
fn gemini_shaped_span_with_thoughts_and_a_long_prompt() {
    // gemini/gemini-2.5-pro above 200k: input $2.50, cache read $0.25, output $15 (reasoning is
    // output, at the tier's price). Gemini's prompt_token_count (250,000) includes 100,000
    // cached; thoughts (3,000) are not in candidates (2,000).
    let usage = TokenUsage::from(GeminiUsage {
        prompt_token_count: 250_000,
        candidates_token_count: 2_000,
        cached_content_token_count: 100_000,
        thoughts_token_count: 3_000,
        tool_use_prompt_token_count: 0,
    });
    assert_eq!((usage.output, usage.reasoning), (5_000, 3_000));
    let b = priced("gemini-2.5-pro", Some("gcp.gemini"), usage);
    // uncached   150,000 × 2.50 = 375,000 µ$
    // cache read 100,000 × 0.25 =  25,000 µ$
    // output       2,000 × 15   =  30,000 µ$
    // reasoning    3,000 × 15   =  45,000 µ$
    // total                     = 475,000 µ$ = $0.475
    assert_eq!(&*b.model, "gemini/gemini-2.5-pro");
    assert_eq!(b.rule, MatchRule::ProviderRoute);
    assert_eq!(b.tier_above_input_tokens, Some(200_000));
    assert_eq!(b.input, usd("0.375"));
    assert_eq!(b.cache_read, usd("0.025"));
    assert_eq!(b.output, usd("0.03"));
    assert_eq!(b.reasoning, usd("0.045"));
    assert_eq!(b.total, usd("0.475"));
}

#[test]
fn gemini_flash_thoughts_are_not_missed() {
    // gemini-2.5-flash (Vertex): input $0.30, cache read $0.03, output $2.50, reasoning $2.50.
    let usage = TokenUsage::from(GeminiUsage {
        prompt_token_count: 1000,
        candidates_token_count: 100,
        cached_content_token_count: 600,
        thoughts_token_count: 400,
        tool_use_prompt_token_count: 0,
    });
    let b = priced("gemini-2.5-flash", None, usage);
    // uncached   400 × 0.30 =  120 µ$
    // cache read 600 × 0.03 =   18 µ$
    // output     100 × 2.50 =  250 µ$
    // reasoning  400 × 2.50 = 1000 µ$
    // total                 = 1388 µ$ (without the thoughts it would be 388 µ$)
    assert_eq!(b.total, usd("0.001388"));
    assert_eq!(b.reasoning, usd("0.001"));
}

#[test]
fn a_separate_reasoning_price_is_used_and_output_is_not_charged_twice() {
    // A custom model: input $1, output $4, reasoning $8. Output 500 includes 300 reasoning.
    let mut overrides = PriceOverrides::default();
    overrides.models.insert(
        "acme-reasoner".to_string(),
        ModelOverride {
            input: Some(TokenPrice::from_usd_per_million("1").unwrap()),
            output: Some(TokenPrice::from_usd_per_million("4").unwrap()),
            reasoning: Some(TokenPrice::from_usd_per_million("8").unwrap()),
            ..ModelOverride::default()
        },
    );
    let pricing = Pricing::with_overrides(PriceTable::bundled(), &overrides).unwrap();
    let cost = pricing.cost(&CostInput {
        model: Some("acme-reasoner"),
        usage: Some(TokenUsage {
            input: 1000,
            output: 500,
            reasoning: 300,
            ..TokenUsage::default()
        }),
        ..CostInput::default()
    });
    let b = cost.breakdown().unwrap();
    // input     1000 × 1 = 1000 µ$
    // output     200 × 4 =  800 µ$
    // reasoning  300 × 8 = 2400 µ$
    // total              = 4200 µ$
    assert_eq!(b.output, usd("0.0008"));
    assert_eq!(b.reasoning, usd("0.0024"));
    assert_eq!(b.total, usd("0.0042"));
    assert!(b.from_override);
}

#[test]
fn input_that_excludes_the_cache_is_flagged_and_nothing_goes_negative() {
    // Strands Agents sends Anthropic's input_tokens (4299) as gen_ai.usage.input_tokens, beside
    // 35,574 cache reads and 17,787 cache writes. claude-sonnet-4-5: $3 / $0.30 / $3.75 / $15.
    let b = priced(
        "claude-sonnet-4-5",
        None,
        TokenUsage {
            input: 4299,
            output: 631,
            cache_read: 35_574,
            cache_write: 17_787,
            reasoning: 0,
        },
    );
    // uncached      4,299 × 3    = 12,897.00 µ$
    // cache read   35,574 × 0.30 = 10,672.20 µ$
    // cache write  17,787 × 3.75 = 66,701.25 µ$
    // output          631 × 15   =  9,465.00 µ$
    // total                      = 99,735.45 µ$
    assert_eq!(b.anomaly, Some(UsageAnomaly::InputExcludedCache));
    assert_eq!(b.total, usd("0.09973545"));
}

#[test]
fn producer_cost_is_kept_and_a_difference_is_shown() {
    // gpt-4o: 1000 × $2.50 + 100 × $10 = 2500 + 1000 µ$ = $0.0035.
    let pricing = Pricing::bundled();
    let span = |producer_cost| CostInput {
        model: Some("gpt-4o"),
        usage: Some(TokenUsage {
            input: 1000,
            output: 100,
            ..TokenUsage::default()
        }),
        producer_cost,
        ..CostInput::default()
    };
    let same = pricing.cost(&span(Usd::from_f64_lossy(0.0035)));
    let b = same.breakdown().unwrap();
    assert_eq!(b.total, usd("0.0035"));
    assert!(!b.differs);
    let other = pricing.cost(&span(Some(usd("0.01"))));
    let b = other.breakdown().unwrap();
    assert!(b.differs);
    assert_eq!(b.total, usd("0.0035"));
    assert_eq!(other.kept_cost(), Some(usd("0.01")));
    // An unknown model's producer cost is still kept.
    let unknown = pricing.cost(&CostInput {
        model: Some("in-house-model"),
        producer_cost: Some(usd("0.2")),
        ..CostInput::default()
    });
    assert_eq!(unknown.kept_cost(), Some(usd("0.2")));
    assert!(matches!(
        unknown,
        SpanCost::Unpriced(ref u) if u.reason == UnpricedReason::UnknownModel
    ));
}

#[test]
fn producer_cost_attributes() {
    assert_eq!(
        producer_cost_from_attributes_json(r#"{"llm.cost.total": 0.0123, "x": 1}"#),
        Some(usd("0.0123"))
    );
    assert_eq!(
        producer_cost_from_attributes_json(r#"{"gen_ai.usage.cost": "0.5"}"#),
        Some(usd("0.5"))
    );
    assert_eq!(
        producer_cost_from_attributes_json(r#"{"llm.cost.total": 0.1, "gen_ai.usage.cost": 9}"#),
        Some(usd("0.1"))
    );
    assert_eq!(
        producer_cost_from_attributes_json(r#"{"llm.cost.total": -1}"#),
        None
    );
    assert_eq!(producer_cost_from_attributes_json(r#"{"a": 1}"#), None);
    assert_eq!(
        producer_cost_from_attributes_json("not json llm.cost.total"),
        None
    );
}

#[test]
fn spans_without_model_or_usage_get_no_cost() {
    let pricing = Pricing::bundled();
    let no_model = pricing.cost(&CostInput {
        usage: Some(TokenUsage::default()),
        ..CostInput::default()
    });
    assert!(matches!(no_model, SpanCost::Unpriced(ref u) if u.reason == UnpricedReason::NoModel));
    assert_eq!(no_model.kept_cost(), None);
    let no_usage = pricing.cost(&CostInput {
        model: Some("gpt-4o"),
        ..CostInput::default()
    });
    assert!(matches!(no_usage, SpanCost::Unpriced(ref u) if u.reason == UnpricedReason::NoUsage));
}

#[test]
fn a_million_small_calls_add_up_to_the_cent() {
    // gpt-4o-mini input is $0.15 / 1M: one million 1-token calls cost exactly $0.15.
    let pricing = Pricing::bundled();
    let input = CostInput {
        model: Some("gpt-4o-mini"),
        usage: Some(TokenUsage {
            input: 1,
            ..TokenUsage::default()
        }),
        ..CostInput::default()
    };
    let total: Usd = (0..1_000_000)
        .map(|_| pricing.cost(&input).kept_cost().unwrap())
        .sum();
    assert_eq!(total, usd("0.15"));
    assert_eq!(total.round_to_cents(), 15);
    // The same sum in f64 drifts off the exact figure.
    let float: f64 = (0..1_000_000).map(|_| 0.15e-6).sum();
    assert_ne!(float, 0.15);
}

#[test]
fn negotiated_prices_override_the_table_for_every_spelling() {
    let overrides: PriceOverrides = serde_json::from_str(
        r#"{"models": {"gpt-4o": {"based_on": "gpt-4o", "input": "2.0", "output": 8}}}"#,
    )
    .unwrap();
    let pricing = Pricing::with_overrides(PriceTable::bundled(), &overrides).unwrap();
    let cost = pricing.cost(&CostInput {
        model: Some("openai/gpt-4o-2024-08-06"),
        usage: Some(TokenUsage {
            input: 1000,
            output: 100,
            cache_read: 500,
            ..TokenUsage::default()
        }),
        ..CostInput::default()
    });
    let b = cost.breakdown().unwrap();
    // uncached 500 × 2.00 = 1000 µ$; cache read 500 × 1.25 (kept from gpt-4o) = 625 µ$;
    // output 100 × 8 = 800 µ$; total 2425 µ$.
    assert!(b.from_override);
    assert_eq!(&*b.model, "gpt-4o");
    assert_eq!(b.rule, MatchRule::SnapshotBase);
    assert_eq!(b.total, usd("0.002425"));
    // Other models still come from the table.
    let other = pricing.resolve("gpt-4o-mini", None).unwrap();
    assert!(!other.from_override);
}

#[test]
fn a_breakdown_serializes_with_exact_amounts() {
    let cost = Pricing::bundled().cost(&CostInput {
        model: Some("gpt-4o"),
        usage: Some(TokenUsage {
            input: 1000,
            output: 100,
            ..TokenUsage::default()
        }),
        ..CostInput::default()
    });
    let json = serde_json::to_value(&cost).unwrap();
    assert_eq!(json["status"], "priced");
    assert_eq!(json["total"], "0.0035");
    assert_eq!(json["input"], "0.0025");
    assert_eq!(json["currency"], "USD");
    assert_eq!(json["model"], "gpt-4o");
    assert_eq!(json["rule"], "exact");
    assert_eq!(json["estimated"], false);
    let back: SpanCost = serde_json::from_value(json).unwrap();
    assert_eq!(back, cost);
}
