//! The price table: per-token prices of each model (input, output, cache read, cache write,
//! reasoning, long-context tiers), the aliases between model names, and where the prices came
//! from. [`PriceTable::bundled`] is the table shipped in `data/prices.json`;
//! [`PriceTable::from_litellm_json`] builds a new one from LiteLLM's
//! `model_prices_and_context_window.json` (what `agentstack prices update FILE` runs).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::matching::{self, MatchRule};
use crate::money::{MoneyError, TokenPrice};

/// The bundled table, derived from LiteLLM (see `data/LICENSE-litellm`).
const BUNDLED_PRICES: &str = include_str!("../data/prices.json");

/// The format of `prices.json` this crate reads and writes.
pub const PRICE_FILE_FORMAT: u32 = 1;

/// LiteLLM's licence, carried in every table derived from its data.
pub const LITELLM_LICENSE_NOTICE: &str = "Prices derived from LiteLLM's \
model_prices_and_context_window.json, Copyright (c) 2023 Berri AI, under the MIT License: \
Permission is hereby granted, free of charge, to any person obtaining a copy of this software \
and associated documentation files (the \"Software\"), to deal in the Software without \
restriction, including without limitation the rights to use, copy, modify, merge, publish, \
distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the \
Software is furnished to do so, subject to the following conditions: The above copyright notice \
and this permission notice shall be included in all copies or substantial portions of the \
Software. THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, \
INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE \
AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, \
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT \
OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.";

/// The LiteLLM providers whose models are kept: the major model makers and the clouds that
/// resell them (Azure OpenAI, Bedrock, Vertex AI, Together, Groq).
pub const KEPT_LITELLM_PROVIDERS: &[&str] = &[
    "openai",
    "text-completion-openai",
    "azure",
    "anthropic",
    "gemini",
    "vertex_ai",
    "vertex_ai-language-models",
    "vertex_ai-anthropic_models",
    "vertex_ai-mistral_models",
    "vertex_ai-llama_models",
    "vertex_ai-deepseek_models",
    "vertex_ai-embedding-models",
    "mistral",
    "codestral",
    "cohere",
    "cohere_chat",
    "deepseek",
    "xai",
    "bedrock",
    "bedrock_converse",
    "together_ai",
    "meta_llama",
    "groq",
];

/// What a model does, as far as pricing is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelMode {
    /// Chat and reasoning models (LiteLLM's `chat` and `responses`).
    Chat,
    /// Plain text completion.
    Completion,
    /// Embeddings.
    Embedding,
}

/// A long-context tier: when a request's prompt (all input tokens, cached ones included) is
/// larger than `above_input_tokens`, every token of the request is priced at the tier's prices
/// (how Anthropic, Google and xAI bill long context, and how LiteLLM's `*_above_200k_tokens`
/// keys are meant). A price the tier does not set is the model's base price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTier {
    /// The tier applies to prompts of more than this many tokens.
    pub above_input_tokens: u64,
    /// Input tokens not read from nor written to the cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<TokenPrice>,
    /// Output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<TokenPrice>,
    /// Input tokens read from the cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<TokenPrice>,
    /// Input tokens written to the cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<TokenPrice>,
    /// Reasoning output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<TokenPrice>,
}

/// The prices of one model. Written as USD per million tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// The LiteLLM provider the price is from (`openai`, `bedrock_converse`, …), or the
    /// provider an override names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// What the model does.
    pub mode: ModelMode,
    /// Input tokens not read from nor written to the cache.
    pub input: TokenPrice,
    /// Output tokens (reasoning ones included, unless `reasoning` is set).
    pub output: TokenPrice,
    /// Input tokens read from the cache; absent: the provider does not discount them, they are
    /// priced as input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<TokenPrice>,
    /// Input tokens written to the cache (the 5-minute cache of Anthropic); absent: priced as
    /// input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<TokenPrice>,
    /// Reasoning tokens, where the provider prices them apart from output; absent: priced as
    /// output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<TokenPrice>,
    /// Long-context tiers, by ascending threshold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<PriceTier>,
}

impl ModelPrice {
    /// The tier a prompt of `prompt_tokens` falls in: the one with the highest threshold below
    /// it, if any.
    pub fn tier_for(&self, prompt_tokens: u64) -> Option<&PriceTier> {
        self.tiers
            .iter()
            .filter(|tier| prompt_tokens > tier.above_input_tokens)
            .max_by_key(|tier| tier.above_input_tokens)
    }
}

/// Where a table's prices came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceSource {
    /// What the data is (`LiteLLM model_prices_and_context_window.json`).
    pub name: String,
    /// The package it was taken from (`litellm` on PyPI), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The package's version (`1.110.2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The file inside the package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// SHA-256 of the file, lowercase hex.
    pub sha256: String,
    /// The day the table was made, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieved: Option<String>,
    /// The data's licence notice.
    pub license: String,
}

/// What the caller knows about a LiteLLM file it converts (the sha256 is computed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LitellmFileInfo {
    /// The `litellm` package version the file came with, if known.
    pub version: Option<String>,
    /// Its path inside the package, if known.
    pub file: Option<String>,
    /// Today, `YYYY-MM-DD`.
    pub retrieved: Option<String>,
}

/// Why a price file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PriceFileError {
    /// Not JSON, or not the shape expected.
    #[error(
        "the price file is not valid {expected}: {source}; pass the file itself (LiteLLM's \
         model_prices_and_context_window.json, or a prices.json this crate wrote)"
    )]
    Json {
        /// Which format was expected.
        expected: &'static str,
        /// What serde_json said.
        #[source]
        source: serde_json::Error,
    },
    /// A format this crate does not know.
    #[error(
        "the price file has format {found}, this build reads format {PRICE_FILE_FORMAT}; \
         regenerate it with `agentstack prices update` from LiteLLM's JSON"
    )]
    UnknownFormat {
        /// The format found.
        found: u32,
    },
    /// A price that is not a usable number.
    #[error("model {model:?}: {field}: {source}")]
    BadPrice {
        /// The model.
        model: String,
        /// The price's key.
        field: String,
        /// Why.
        #[source]
        source: MoneyError,
    },
    /// A LiteLLM file in which no model of the kept providers has a token price.
    #[error(
        "no priced model of the kept providers was found; is this LiteLLM's \
         model_prices_and_context_window.json?"
    )]
    NoModels,
    /// An alias whose target is not in the table.
    #[error("alias {alias:?} points at {target:?}, which the table does not have")]
    DanglingAlias {
        /// The alias.
        alias: String,
        /// Its target.
        target: String,
    },
    /// Two names that differ only in case.
    #[error(
        "{first:?} and {second:?} differ only in case; model names match without case, so keep \
         one"
    )]
    DuplicateName {
        /// One name.
        first: String,
        /// The other.
        second: String,
    },
}

/// The serialized shape of a table (`data/prices.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PriceFile {
    format: u32,
    unit: String,
    source: PriceSource,
    models: BTreeMap<String, ModelPrice>,
    #[serde(default)]
    aliases: BTreeMap<String, String>,
}

/// The unit prices are written in.
const PRICE_UNIT: &str = "USD per 1,000,000 tokens";

/// One model of a table.
#[derive(Debug, Clone)]
pub(crate) struct ModelEntry {
    /// Its name in the table, as written there.
    pub(crate) name: Arc<str>,
    pub(crate) price: ModelPrice,
}

/// A set of model prices with their names and aliases, indexed for lookup by lowercase name.
#[derive(Debug, Clone)]
pub struct PriceTable {
    source: PriceSource,
    entries: Vec<ModelEntry>,
    aliases: BTreeMap<String, String>,
    /// Lowercase name or alias → entry, and whether the name is an alias.
    index: FxHashMap<Box<str>, (u32, bool)>,
}

impl PriceTable {
    /// The table bundled with this build (`data/prices.json`), parsed once.
    pub fn bundled() -> Arc<PriceTable> {
        static BUNDLED: OnceLock<Arc<PriceTable>> = OnceLock::new();
        BUNDLED
            .get_or_init(|| {
                Arc::new(
                    PriceTable::from_prices_json(BUNDLED_PRICES)
                        .expect("data/prices.json is checked by the crate's tests"),
                )
            })
            .clone()
    }

    /// Reads a table in this crate's format (what [`PriceTable::to_prices_json`] writes).
    pub fn from_prices_json(text: &str) -> Result<PriceTable, PriceFileError> {
        let file: PriceFile =
            serde_json::from_str(text).map_err(|source| PriceFileError::Json {
                expected: "prices.json (agentstack-cost format)",
                source,
            })?;
        if file.format != PRICE_FILE_FORMAT {
            return Err(PriceFileError::UnknownFormat { found: file.format });
        }
        PriceTable::new(file.source, file.models, file.aliases)
    }

    /// Builds a table from LiteLLM's `model_prices_and_context_window.json` text: the chat,
    /// completion, responses and embedding models of [`KEPT_LITELLM_PROVIDERS`] that have a
    /// per-token input price, their cache, reasoning and `*_above_<N>k_tokens` tier prices, and
    /// LiteLLM's `alias_of` entries that point at a kept model. Batch, priority, flex and
    /// 1-hour-cache prices are not kept (a span does not say which it used).
    pub fn from_litellm_json(
        text: &str,
        info: LitellmFileInfo,
    ) -> Result<PriceTable, PriceFileError> {
        let raw: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|source| PriceFileError::Json {
                expected: "LiteLLM model_prices_and_context_window.json (a JSON object of models)",
                source,
            })?;
        let mut models = BTreeMap::new();
        let mut alias_targets = BTreeMap::new();
        for (name, value) in &raw {
            let Some(object) = value.as_object() else {
                continue;
            };
            if let Some(target) = object.get("alias_of").and_then(|t| t.as_str()) {
                alias_targets.insert(name.clone(), target.to_string());
                continue;
            }
            if let Some(price) = litellm_model(name, object)? {
                models.insert(name.clone(), price);
            }
        }
        if models.is_empty() {
            return Err(PriceFileError::NoModels);
        }
        let aliases = alias_targets
            .into_iter()
            .filter(|(alias, target)| models.contains_key(target) && !models.contains_key(alias))
            .collect();
        let source = PriceSource {
            name: "LiteLLM model_prices_and_context_window.json".to_string(),
            package: Some("litellm (PyPI)".to_string()),
            version: info.version,
            file: info.file,
            sha256: sha256_hex(text.as_bytes()),
            retrieved: info.retrieved,
            license: LITELLM_LICENSE_NOTICE.to_string(),
        };
        PriceTable::new(source, models, aliases)
    }

    /// A table from parts; checks that aliases point at models and that no two names differ
    /// only in case.
    pub(crate) fn new(
        source: PriceSource,
        models: BTreeMap<String, ModelPrice>,
        aliases: BTreeMap<String, String>,
    ) -> Result<PriceTable, PriceFileError> {
        let mut entries = Vec::with_capacity(models.len());
        let mut index: FxHashMap<Box<str>, (u32, bool)> = FxHashMap::default();
        let mut spelled: FxHashMap<Box<str>, String> = FxHashMap::default();
        for (name, mut price) in models {
            price.tiers.sort_by_key(|tier| tier.above_input_tokens);
            let key: Box<str> = name.to_ascii_lowercase().into();
            if let Some(first) = spelled.insert(key.clone(), name.clone()) {
                return Err(PriceFileError::DuplicateName {
                    first,
                    second: name,
                });
            }
            index.insert(key, (entries.len() as u32, false));
            entries.push(ModelEntry {
                name: name.into(),
                price,
            });
        }
        for (alias, target) in &aliases {
            let Some(&(at, _)) = index.get(target.to_ascii_lowercase().as_str()) else {
                return Err(PriceFileError::DanglingAlias {
                    alias: alias.clone(),
                    target: target.clone(),
                });
            };
            let key: Box<str> = alias.to_ascii_lowercase().into();
            if let Some(first) = spelled.insert(key.clone(), alias.clone()) {
                return Err(PriceFileError::DuplicateName {
                    first,
                    second: alias.clone(),
                });
            }
            index.insert(key, (at, true));
        }
        Ok(PriceTable {
            source,
            entries,
            aliases,
            index,
        })
    }

    /// The table as `prices.json` text (pretty, sorted, stable across runs).
    pub fn to_prices_json(&self) -> String {
        let file = PriceFile {
            format: PRICE_FILE_FORMAT,
            unit: PRICE_UNIT.to_string(),
            source: self.source.clone(),
            models: self
                .entries
                .iter()
                .map(|entry| (entry.name.to_string(), entry.price.clone()))
                .collect(),
            aliases: self.aliases.clone(),
        };
        let mut text = serde_json::to_string_pretty(&file).expect("a price table serializes");
        text.push('\n');
        text
    }

    /// Where the prices came from.
    pub fn source(&self) -> &PriceSource {
        &self.source
    }

    /// How many models (aliases not counted).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table has no model.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The price of the model named exactly `name` (case aside), or of the alias `name`.
    pub fn get(&self, name: &str) -> Option<&ModelPrice> {
        self.lookup(&name.to_ascii_lowercase())
            .map(|(at, _)| &self.entries[at as usize].price)
    }

    /// Finds the price of `model` (as a span names it), with the provider as a hint, by the
    /// rules of [`crate::matching`]; `None` when no rule finds it.
    pub fn resolve(&self, model: &str, provider: Option<&str>) -> Option<ResolvedModel<'_>> {
        matching::resolve(model, provider, |candidate| self.lookup(candidate)).map(|(at, rule)| {
            let entry = &self.entries[at as usize];
            ResolvedModel {
                name: &entry.name,
                name_shared: entry.name.clone(),
                price: &entry.price,
                rule,
            }
        })
    }

    /// The entry of a lowercase name: (entry, is an alias).
    pub(crate) fn lookup(&self, lowercase: &str) -> Option<(u32, bool)> {
        self.index.get(lowercase).copied()
    }

    /// The names of all models (aliases not included), as written.
    pub fn model_names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|entry| &*entry.name)
    }

    /// The aliases: alias → model name.
    pub fn aliases(&self) -> &BTreeMap<String, String> {
        &self.aliases
    }
}

/// A model found in a table.
#[derive(Debug, Clone)]
pub struct ResolvedModel<'t> {
    /// Its name in the table.
    pub name: &'t str,
    pub(crate) name_shared: Arc<str>,
    /// Its prices.
    pub price: &'t ModelPrice,
    /// The rule that found it.
    pub rule: MatchRule,
}

/// Lowercase hex SHA-256.
fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One LiteLLM entry as a kept model, or `None` when it is not kept.
fn litellm_model(
    name: &str,
    object: &serde_json::Map<String, serde_json::Value>,
) -> Result<Option<ModelPrice>, PriceFileError> {
    let provider = object.get("litellm_provider").and_then(|p| p.as_str());
    let Some(provider) = provider.filter(|p| KEPT_LITELLM_PROVIDERS.contains(p)) else {
        return Ok(None);
    };
    let mode = match object.get("mode").and_then(|m| m.as_str()) {
        Some("chat" | "responses") => ModelMode::Chat,
        Some("completion") => ModelMode::Completion,
        Some("embedding") => ModelMode::Embedding,
        _ => return Ok(None),
    };
    let price = |field: &str| -> Result<Option<TokenPrice>, PriceFileError> {
        match object.get(field) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(value) => {
                let bad = |source| PriceFileError::BadPrice {
                    model: name.to_string(),
                    field: field.to_string(),
                    source,
                };
                let dollars = value.as_f64().ok_or_else(|| {
                    bad(MoneyError::NotANumber {
                        text: value.to_string(),
                    })
                })?;
                TokenPrice::from_litellm_usd_per_token(dollars)
                    .map(Some)
                    .map_err(bad)
            }
        }
    };
    let Some(input) = price("input_cost_per_token")? else {
        return Ok(None);
    };
    let output = price("output_cost_per_token")?.unwrap_or(TokenPrice::ZERO);
    let mut thresholds: Vec<u64> = object
        .keys()
        .filter_map(|key| tier_threshold(key))
        .collect();
    thresholds.sort_unstable();
    thresholds.dedup();
    let mut tiers = Vec::new();
    for thousands in thresholds {
        let suffix = format!("_above_{thousands}k_tokens");
        let tier = PriceTier {
            above_input_tokens: thousands * 1000,
            input: price(&format!("input_cost_per_token{suffix}"))?,
            output: price(&format!("output_cost_per_token{suffix}"))?,
            cache_read: price(&format!("cache_read_input_token_cost{suffix}"))?,
            cache_write: price(&format!("cache_creation_input_token_cost{suffix}"))?,
            reasoning: price(&format!("output_cost_per_reasoning_token{suffix}"))?,
        };
        if tier.input.is_some() || tier.output.is_some() {
            tiers.push(tier);
        }
    }
    Ok(Some(ModelPrice {
        provider: Some(provider.to_string()),
        mode,
        input,
        output,
        cache_read: price("cache_read_input_token_cost")?,
        cache_write: price("cache_creation_input_token_cost")?,
        reasoning: price("output_cost_per_reasoning_token")?,
        tiers,
    }))
}

/// `N` of a LiteLLM text-token tier key: `input_cost_per_token_above_200k_tokens` → 200. Keys of
/// other tiers (batch, priority, audio, 1-hour cache) are not tiers of text tokens.
fn tier_threshold(key: &str) -> Option<u64> {
    let rest = [
        "input_cost_per_token_above_",
        "output_cost_per_token_above_",
    ]
    .iter()
    .find_map(|prefix| key.strip_prefix(prefix))?;
    rest.strip_suffix("k_tokens")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier_keys() {
        assert_eq!(
            tier_threshold("input_cost_per_token_above_200k_tokens"),
            Some(200)
        );
        assert_eq!(
            tier_threshold("output_cost_per_token_above_128k_tokens"),
            Some(128)
        );
        assert_eq!(
            tier_threshold("input_cost_per_token_above_200k_tokens_priority"),
            None
        );
        assert_eq!(
            tier_threshold("cache_creation_input_token_cost_above_1hr"),
            None
        );
        assert_eq!(tier_threshold("input_cost_per_token_batches"), None);
    }
}
