//! Prices and matching for real model names as spans carry them, against the bundled table
//! (LiteLLM 1.110.2). Each row: the name and provider a span sends, the table model it must be
//! priced as, the rule that finds it, and that model's input and output prices (USD per 1M
//! tokens, as LiteLLM lists them).

use agentstack_cost::{MatchRule, ModelMode, PriceTable};

struct Case {
    model: &'static str,
    provider: Option<&'static str>,
    priced_as: &'static str,
    rule: MatchRule,
    input: &'static str,
    output: &'static str,
}

const fn case(
    model: &'static str,
    provider: Option<&'static str>,
    priced_as: &'static str,
    rule: MatchRule,
    input: &'static str,
    output: &'static str,
) -> Case {
    Case {
        model,
        provider,
        priced_as,
        rule,
        input,
        output,
    }
}

use MatchRule::{Alias, Exact, ProviderRoute, RouteRemoved, SnapshotBase};

const CASES: &[Case] = &[
    // OpenAI: plain, case, route prefix, listed snapshots, unlisted snapshot.
    case("gpt-4o", Some("openai"), "gpt-4o", Exact, "2.5", "10"),
    case("GPT-4o", None, "gpt-4o", Exact, "2.5", "10"),
    case("openai/gpt-4o", None, "gpt-4o", RouteRemoved, "2.5", "10"),
    case(
        "gpt-4o-2024-08-06",
        Some("openai"),
        "gpt-4o-2024-08-06",
        Exact,
        "2.5",
        "10",
    ),
    case(
        "openai/gpt-4o-2024-08-06",
        None,
        "gpt-4o-2024-08-06",
        RouteRemoved,
        "2.5",
        "10",
    ),
    // The May 2024 snapshot kept its own, higher price: priced as the snapshot, not the base.
    case(
        "gpt-4o-2024-05-13",
        None,
        "gpt-4o-2024-05-13",
        Exact,
        "5",
        "15",
    ),
    case(
        "gpt-4o-2099-01-01",
        None,
        "gpt-4o",
        SnapshotBase,
        "2.5",
        "10",
    ),
    case("gpt-4o-mini", None, "gpt-4o-mini", Exact, "0.15", "0.6"),
    case(
        "o3-mini-2025-01-31",
        Some("openai"),
        "o3-mini-2025-01-31",
        Exact,
        "1.1",
        "4.4",
    ),
    case("o1", None, "o1", Exact, "15", "60"),
    case("o3", None, "o3", Exact, "2", "8"),
    case("o4-mini", None, "o4-mini", Exact, "1.1", "4.4"),
    case("gpt-4.1", None, "gpt-4.1", Exact, "2", "8"),
    case("gpt-5", None, "gpt-5", Exact, "1.25", "10"),
    case("gpt-4-0613", None, "gpt-4-0613", Exact, "30", "60"),
    case(
        "text-embedding-3-small",
        None,
        "text-embedding-3-small",
        Exact,
        "0.02",
        "0",
    ),
    // Azure OpenAI: the provider's route wins over OpenAI's own list.
    case(
        "gpt-4o",
        Some("azure.ai.openai"),
        "azure/gpt-4o",
        ProviderRoute,
        "2.5",
        "10",
    ),
    case("azure/gpt-4o", None, "azure/gpt-4o", Exact, "2.5", "10"),
    // Anthropic.
    case(
        "claude-sonnet-4-5-20250929",
        Some("anthropic"),
        "claude-sonnet-4-5-20250929",
        Exact,
        "3",
        "15",
    ),
    case(
        "anthropic/claude-sonnet-4-5",
        None,
        "claude-sonnet-4-5",
        RouteRemoved,
        "3",
        "15",
    ),
    case(
        "Claude-Haiku-4-5",
        Some("anthropic"),
        "claude-haiku-4-5",
        Exact,
        "1",
        "5",
    ),
    case(
        "claude-opus-4-7-20270101",
        None,
        "claude-opus-4-7",
        SnapshotBase,
        "5",
        "25",
    ),
    case(
        "claude-sonnet-latest",
        None,
        "claude-sonnet-5-5",
        Alias,
        "2",
        "10",
    ),
    // Anthropic on Vertex AI and Bedrock.
    case(
        "claude-sonnet-4-5",
        Some("gcp.vertex_ai"),
        "vertex_ai/claude-sonnet-4-5",
        ProviderRoute,
        "3",
        "15",
    ),
    case(
        "claude-sonnet-4-5@20250929",
        Some("gcp.vertex_ai"),
        "vertex_ai/claude-sonnet-4-5@20250929",
        ProviderRoute,
        "3",
        "15",
    ),
    // Retired from Anthropic's own list; still sold (and listed) on Vertex AI.
    case(
        "claude-3-5-sonnet-latest",
        Some("gcp.vertex_ai"),
        "vertex_ai/claude-3-5-sonnet",
        SnapshotBase,
        "3",
        "15",
    ),
    case(
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        Some("aws.bedrock"),
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        Exact,
        "3.3",
        "16.5",
    ),
    case(
        "bedrock/anthropic.claude-3-5-sonnet-20241022-v2:0",
        None,
        "anthropic.claude-3-5-sonnet-20241022-v2:0",
        RouteRemoved,
        "3",
        "15",
    ),
    // Google.
    case(
        "gemini-2.5-pro",
        Some("gcp.gemini"),
        "gemini/gemini-2.5-pro",
        ProviderRoute,
        "1.25",
        "10",
    ),
    case(
        "gemini-2.5-pro",
        Some("gcp.vertex_ai"),
        "gemini-2.5-pro",
        Exact,
        "1.25",
        "10",
    ),
    case(
        "models/gemini-2.5-flash",
        None,
        "gemini-2.5-flash",
        RouteRemoved,
        "0.3",
        "2.5",
    ),
    // Mistral, Cohere, DeepSeek, xAI, Meta via Together and Bedrock.
    case(
        "mistral-large-latest",
        Some("mistral_ai"),
        "mistral/mistral-large-latest",
        ProviderRoute,
        "0.5",
        "1.5",
    ),
    case(
        "command-a-03-2025",
        Some("cohere"),
        "command-a-03-2025",
        Exact,
        "2.5",
        "10",
    ),
    case(
        "deepseek-chat",
        Some("deepseek"),
        "deepseek/deepseek-chat",
        ProviderRoute,
        "0.28",
        "0.42",
    ),
    case(
        "deepseek-reasoner",
        None,
        "deepseek-reasoner",
        Exact,
        "0.28",
        "0.42",
    ),
    case(
        "grok-4.5",
        Some("x_ai"),
        "xai/grok-4.5",
        ProviderRoute,
        "2",
        "6",
    ),
    case(
        "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        Some("together_ai"),
        "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo",
        ProviderRoute,
        "1.04",
        "1.04",
    ),
    case(
        "meta.llama3-1-70b-instruct-v1:0",
        Some("aws.bedrock"),
        "meta.llama3-1-70b-instruct-v1:0",
        Exact,
        "0.72",
        "0.72",
    ),
    case(
        "groq/openai/gpt-oss-120b",
        None,
        "groq/openai/gpt-oss-120b",
        Exact,
        "0.15",
        "0.6",
    ),
];

#[test]
fn real_model_names_find_their_prices() {
    let table = PriceTable::bundled();
    let mut failures = Vec::new();
    for c in CASES {
        match table.resolve(c.model, c.provider) {
            Some(found) => {
                let got = (
                    found.name,
                    found.rule,
                    found.price.input.usd_per_million(),
                    found.price.output.usd_per_million(),
                );
                let want = (
                    c.priced_as,
                    c.rule,
                    c.input.to_string(),
                    c.output.to_string(),
                );
                if got != want {
                    failures.push(format!(
                        "{} ({:?}): got {got:?}, want {want:?}",
                        c.model, c.provider
                    ));
                }
            }
            None => failures.push(format!("{} ({:?}): not found", c.model, c.provider)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unknown_models_have_no_price() {
    let table = PriceTable::bundled();
    for (model, provider) in [
        ("my-fine-tune", None),
        ("", None),
        ("   ", None),
        ("gpt-4o-turbo-ultra", None),
        // Anthropic retired 3.5 Sonnet; LiteLLM 1.110.2 lists it only on Vertex AI and Bedrock,
        // so without one of those providers it is not guessed.
        ("claude-3-5-sonnet-latest", Some("anthropic")),
        ("anthropic/claude-3-5-sonnet-20241022", None),
    ] {
        assert!(
            table.resolve(model, provider).is_none(),
            "{model:?} was priced as {:?}",
            table.resolve(model, provider).map(|m| m.name)
        );
    }
}

#[test]
fn long_context_cache_and_mode_come_through() {
    let table = PriceTable::bundled();
    let pro = table.get("gemini/gemini-2.5-pro").unwrap();
    assert_eq!(pro.cache_read.unwrap().usd_per_million(), "0.125");
    assert_eq!(pro.tiers.len(), 1);
    assert_eq!(pro.tiers[0].above_input_tokens, 200_000);
    assert_eq!(pro.tiers[0].input.unwrap().usd_per_million(), "2.5");
    assert_eq!(pro.tiers[0].output.unwrap().usd_per_million(), "15");
    let sonnet = table.get("claude-sonnet-4-5").unwrap();
    assert_eq!(sonnet.cache_write.unwrap().usd_per_million(), "3.75");
    assert_eq!(sonnet.cache_read.unwrap().usd_per_million(), "0.3");
    let flash = table.get("gemini-2.5-flash").unwrap();
    assert_eq!(flash.reasoning.unwrap().usd_per_million(), "2.5");
    assert_eq!(
        table.get("text-embedding-3-large").unwrap().mode,
        ModelMode::Embedding
    );
}

#[test]
fn the_table_covers_the_major_providers() {
    let table = PriceTable::bundled();
    let source = table.source();
    assert_eq!(source.version.as_deref(), Some("1.110.2"));
    assert_eq!(
        source.sha256,
        "8943af58bf9f979c6a4bef815687117ffa341e462a41faed9be17b5c33d3dcc2"
    );
    assert!(source.license.contains("MIT License"));
    assert!(source.license.contains("Berri AI"));
    for provider in [
        "openai",
        "azure",
        "anthropic",
        "gemini",
        "vertex_ai-language-models",
        "vertex_ai-anthropic_models",
        "mistral",
        "cohere_chat",
        "deepseek",
        "xai",
        "bedrock",
        "bedrock_converse",
        "together_ai",
    ] {
        let count = table
            .model_names()
            .filter(|name| table.get(name).unwrap().provider.as_deref() == Some(provider))
            .count();
        assert!(count > 0, "no model of {provider}");
    }
    assert!(table.len() > 1000, "{} models", table.len());
}
