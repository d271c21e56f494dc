//! The LiteLLM conversion (`agentstack prices update FILE`), the bundled `prices.json`, and
//! typed errors for bad price files.

use agentstack_cost::{LitellmFileInfo, ModelMode, PriceFileError, PriceTable};

/// Real entries of LiteLLM 1.110.2's file: gpt-4o (and a snapshot), claude-sonnet-4-5 and 5-5
/// with the `claude-sonnet-latest` alias, gemini/gemini-2.5-pro (a 200k tier), a Bedrock Claude
/// with tiers, an embedding model, an image model and a Fireworks model (neither kept), and
/// LiteLLM's `sample_spec`.
const EXCERPT: &str = include_str!("data/litellm_excerpt.json");

fn info() -> LitellmFileInfo {
    LitellmFileInfo {
        version: Some("1.110.2".to_string()),
        file: Some("litellm/model_prices_and_context_window_backup.json".to_string()),
        retrieved: Some("2026-12-01".to_string()),
    }
}

#[test]
fn litellm_entries_convert_to_the_same_prices_as_the_bundled_table() {
    let converted = PriceTable::from_litellm_json(EXCERPT, info()).unwrap();
    let names: Vec<&str> = converted.model_names().collect();
    assert_eq!(
        names,
        vec![
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            "claude-sonnet-4-5",
            "claude-sonnet-5-5",
            "gemini/gemini-2.5-pro",
            "gpt-4o",
            "gpt-4o-2024-08-06",
            "text-embedding-3-small",
        ],
        "kept: chat and embedding models of kept providers; not the image model, Fireworks, \
         sample_spec, nor the alias entry"
    );
    assert_eq!(
        converted
            .aliases()
            .get("claude-sonnet-latest")
            .map(String::as_str),
        Some("claude-sonnet-5-5")
    );
    let bundled = PriceTable::bundled();
    for name in names {
        assert_eq!(converted.get(name), bundled.get(name), "{name}");
    }
    let tiered = converted
        .get("anthropic.claude-sonnet-4-5-20250929-v1:0")
        .unwrap();
    assert_eq!(tiered.tiers.len(), 1);
    assert_eq!(
        tiered.tiers[0].cache_write.unwrap().usd_per_million(),
        "7.5"
    );
    assert_eq!(
        converted.get("text-embedding-3-small").unwrap().mode,
        ModelMode::Embedding
    );
    let source = converted.source();
    // sha256sum of tests/data/litellm_excerpt.json.
    assert_eq!(
        source.sha256,
        "d440374a4d2ab4d8eb6d64c8d705c355086b247e27ba4e5679dadfb497f6976c"
    );
    assert_eq!(source.version.as_deref(), Some("1.110.2"));
    assert!(source.license.contains("MIT License"));
}

#[test]
fn written_tables_read_back_the_same() {
    let bundled = PriceTable::bundled();
    let text = bundled.to_prices_json();
    let again = PriceTable::from_prices_json(&text).unwrap();
    assert_eq!(again.to_prices_json(), text);
    assert_eq!(again.len(), bundled.len());
    // The committed file is exactly what the converter writes (no hand edits).
    assert_eq!(text, include_str!("../data/prices.json"));
}

#[test]
fn bad_price_files_are_typed_errors() {
    let err = |result: Result<PriceTable, PriceFileError>| result.unwrap_err();
    assert!(matches!(
        err(PriceTable::from_litellm_json("not json", info())),
        PriceFileError::Json { .. }
    ));
    assert!(matches!(
        err(PriceTable::from_litellm_json("[1, 2]", info())),
        PriceFileError::Json { .. }
    ));
    assert!(matches!(
        err(PriceTable::from_litellm_json(
            r#"{"img": {"litellm_provider": "openai", "mode": "image_generation", "input_cost_per_token": 1e-6}}"#,
            info()
        )),
        PriceFileError::NoModels
    ));
    let negative = err(PriceTable::from_litellm_json(
        r#"{"m": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": -1e-6}}"#,
        info(),
    ));
    assert!(
        matches!(&negative, PriceFileError::BadPrice { model, field, .. }
            if model == "m" && field == "input_cost_per_token"),
        "{negative:?}"
    );
    assert!(negative.to_string().contains("negative"), "{negative}");
    assert!(matches!(
        err(PriceTable::from_litellm_json(
            r#"{"m": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": "cheap"}}"#,
            info()
        )),
        PriceFileError::BadPrice { .. }
    ));
    let ours = |models: &str, aliases: &str, format: u32| {
        format!(
            r#"{{"format": {format}, "unit": "USD per 1,000,000 tokens",
                "source": {{"name": "t", "sha256": "", "license": ""}},
                "models": {models}, "aliases": {aliases}}}"#
        )
    };
    let model = r#"{"m": {"mode": "chat", "input": "1", "output": "2"}}"#;
    assert!(PriceTable::from_prices_json(&ours(model, "{}", 1)).is_ok());
    assert!(matches!(
        err(PriceTable::from_prices_json(&ours(model, "{}", 2))),
        PriceFileError::UnknownFormat { found: 2 }
    ));
    assert!(matches!(
        err(PriceTable::from_prices_json(&ours(
            model,
            r#"{"a": "missing"}"#,
            1
        ))),
        PriceFileError::DanglingAlias { .. }
    ));
    assert!(matches!(
        err(PriceTable::from_prices_json(&ours(
            r#"{"M": {"mode": "chat", "input": "1", "output": "2"}, "m": {"mode": "chat", "input": "1", "output": "2"}}"#,
            "{}",
            1
        ))),
        PriceFileError::DuplicateName { .. }
    ));
    // A price with more decimals than kept exactly, and a price that is not a number.
    for bad in [
        r#"{"m": {"mode": "chat", "input": "0.0000000001", "output": "2"}}"#,
        r#"{"m": {"mode": "chat", "input": "two", "output": "2"}}"#,
        r#"{"m": {"mode": "image", "input": "1", "output": "2"}}"#,
        // A misspelled price is refused, not ignored.
        r#"{"m": {"mode": "chat", "input": "1", "output": "2", "cache_raed": "0.1"}}"#,
    ] {
        let e = err(PriceTable::from_prices_json(&ours(bad, "{}", 1)));
        assert!(matches!(e, PriceFileError::Json { .. }), "{bad}: {e:?}");
    }
}
