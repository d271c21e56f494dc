//! Per-project price overrides: custom models (a fine-tune, a self-hosted model) and negotiated
//! prices, layered over the price table by [`crate::Pricing::with_overrides`]. The struct is
//! what the config file and the API carry, e.g. in JSON:
//!
//! ```json
//! {"models": {
//!   "gpt-4o": {"based_on": "gpt-4o", "input": "2.0", "output": "8.0"},
//!   "acme-llama-70b": {"input": "0.5", "output": "0.5", "mode": "chat"}
//! }}
//! ```
//!
//! Prices are USD per million tokens. An override `based_on` a table model starts from that
//! model's prices and replaces those it sets; one without must set `input` and `output`. An
//! override is matched by the same rules as the table (so `gpt-4o` also prices
//! `openai/gpt-4o-2024-08-06`), and before the table.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::money::TokenPrice;
use crate::prices::{ModelMode, ModelPrice, PriceFileError, PriceSource, PriceTable, PriceTier};

/// A project's overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceOverrides {
    /// Model name → its prices.
    #[serde(default)]
    pub models: BTreeMap<String, ModelOverride>,
}

/// The prices of one overridden or custom model (USD per million tokens).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelOverride {
    /// A model of the price table to start from (matched like a span's model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub based_on: Option<String>,
    /// The provider, for the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// What the model does (default: that of `based_on`, else chat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ModelMode>,
    /// Uncached input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<TokenPrice>,
    /// Output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<TokenPrice>,
    /// Cache read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<TokenPrice>,
    /// Cache write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<TokenPrice>,
    /// Reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<TokenPrice>,
    /// Long-context tiers, replacing those of `based_on` when set (`[]` removes them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiers: Option<Vec<PriceTier>>,
}

/// Why a project's overrides cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OverrideError {
    /// `based_on` names no model of the table.
    #[error(
        "override {model:?} is based on {based_on:?}, which the price table does not have; name \
         a listed model, or give the override its own input and output prices"
    )]
    UnknownBaseModel {
        /// The override.
        model: String,
        /// Its `based_on`.
        based_on: String,
    },
    /// A custom model without a price it needs.
    #[error(
        "override {model:?} has no {field} price and no based_on model to take it from; set \
         \"{field}\" (USD per million tokens)"
    )]
    MissingPrice {
        /// The override.
        model: String,
        /// `input` or `output`.
        field: &'static str,
    },
    /// The overrides do not form a table (two names differing only in case).
    #[error("the overrides cannot be indexed: {0}")]
    Table(#[from] PriceFileError),
}

impl PriceOverrides {
    /// Whether there is no override.
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }

    /// The overrides as a table of their own, with `based_on` prices filled in from `base`.
    pub fn build(&self, base: &PriceTable) -> Result<PriceTable, OverrideError> {
        let mut models = BTreeMap::new();
        for (name, over) in &self.models {
            let start = match &over.based_on {
                Some(based_on) => Some(
                    base.resolve(based_on, over.provider.as_deref())
                        .ok_or_else(|| OverrideError::UnknownBaseModel {
                            model: name.clone(),
                            based_on: based_on.clone(),
                        })?
                        .price
                        .clone(),
                ),
                None => None,
            };
            let required = |own: Option<TokenPrice>, from_base: Option<TokenPrice>, field| {
                own.or(from_base)
                    .ok_or_else(|| OverrideError::MissingPrice {
                        model: name.clone(),
                        field,
                    })
            };
            let price = ModelPrice {
                provider: over
                    .provider
                    .clone()
                    .or_else(|| start.as_ref().and_then(|s| s.provider.clone())),
                mode: over
                    .mode
                    .or(start.as_ref().map(|s| s.mode))
                    .unwrap_or(ModelMode::Chat),
                input: required(over.input, start.as_ref().map(|s| s.input), "input")?,
                output: required(over.output, start.as_ref().map(|s| s.output), "output")?,
                cache_read: over
                    .cache_read
                    .or(start.as_ref().and_then(|s| s.cache_read)),
                cache_write: over
                    .cache_write
                    .or(start.as_ref().and_then(|s| s.cache_write)),
                reasoning: over.reasoning.or(start.as_ref().and_then(|s| s.reasoning)),
                tiers: over
                    .tiers
                    .clone()
                    .or_else(|| start.as_ref().map(|s| s.tiers.clone()))
                    .unwrap_or_default(),
            };
            models.insert(name.clone(), price);
        }
        let source = PriceSource {
            name: "project price overrides".to_string(),
            package: None,
            version: None,
            file: None,
            sha256: String::new(),
            retrieved: None,
            license: String::new(),
        };
        Ok(PriceTable::new(source, models, BTreeMap::new())?)
    }
}
