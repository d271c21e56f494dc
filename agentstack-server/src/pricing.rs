//! The prices of each project, shared by the cost worker (which prices new spans with them) and
//! the API (`PUT /api/v1/projects/{name}/prices` changes them): the server's price table (the
//! bundled one, or `[cost] prices_file`) with a project's overrides over it. A project's
//! overrides come from the API when it set them (stored in the store's `price_overrides`),
//! else from the config file's `[cost.overrides.<project>]`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use agentstack_cost::{OverrideError, PriceFileError, PriceOverrides, PriceTable, Pricing};

/// Where a project's overrides came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OverrideSource {
    /// None: the table alone.
    None,
    /// The config file's `[cost.overrides.<project>]`.
    Config,
    /// `PUT /api/v1/projects/{name}/prices` (kept in the store).
    Api,
}

/// Why the prices could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PricingError {
    /// `prices_file` could not be read.
    #[error(
        "cannot read the price file {path} (config key cost.prices_file): {source}; check the \
         path, or remove the key to use the bundled prices"
    )]
    ReadPrices {
        /// The file.
        path: String,
        /// What reading said.
        source: std::io::Error,
    },
    /// `prices_file` is not a prices.json.
    #[error(
        "the price file {path} (config key cost.prices_file) is not usable: {source}; write it \
         with `agentstack prices update LITELLM_JSON --out {path}`"
    )]
    BadPrices {
        /// The file.
        path: String,
        /// What is wrong.
        source: PriceFileError,
    },
    /// A project's overrides do not apply to the table.
    #[error("{key}: {source}")]
    BadOverrides {
        /// The config key or the API route at fault (`cost.overrides.shop`).
        key: String,
        /// What is wrong.
        source: OverrideError,
    },
}

/// One project's effective prices.
#[derive(Debug, Clone)]
struct ProjectEntry {
    overrides: PriceOverrides,
    source: OverrideSource,
    pricing: Pricing,
}

/// The prices of every project. Cheap to read from many threads.
#[derive(Debug)]
pub struct ProjectPricing {
    table: Arc<PriceTable>,
    base: Pricing,
    projects: RwLock<HashMap<String, ProjectEntry>>,
}

impl ProjectPricing {
    /// The bundled table, no overrides.
    pub fn bundled() -> ProjectPricing {
        ProjectPricing::new(PriceTable::bundled(), &BTreeMap::new())
            .expect("no overrides cannot fail")
    }

    /// `table` with the config file's overrides of each project (checked here, so a bad one
    /// stops the server at start-up and names its key).
    pub fn new(
        table: Arc<PriceTable>,
        config: &BTreeMap<String, PriceOverrides>,
    ) -> Result<ProjectPricing, PricingError> {
        let mut projects = HashMap::new();
        for (project, overrides) in config {
            let pricing =
                Pricing::with_overrides(Arc::clone(&table), overrides).map_err(|source| {
                    PricingError::BadOverrides {
                        key: format!("cost.overrides.{project}"),
                        source,
                    }
                })?;
            projects.insert(
                project.clone(),
                ProjectEntry {
                    overrides: overrides.clone(),
                    source: OverrideSource::Config,
                    pricing,
                },
            );
        }
        Ok(ProjectPricing {
            base: Pricing::new(Arc::clone(&table)),
            table,
            projects: RwLock::new(projects),
        })
    }

    /// The table of `prices_file` (a prices.json), or the bundled one.
    pub fn table_from(prices_file: Option<&Path>) -> Result<Arc<PriceTable>, PricingError> {
        let Some(path) = prices_file else {
            return Ok(PriceTable::bundled());
        };
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PricingError::ReadPrices {
            path: shown.clone(),
            source,
        })?;
        PriceTable::from_prices_json(&text)
            .map(Arc::new)
            .map_err(|source| PricingError::BadPrices {
                path: shown,
                source,
            })
    }

    /// The server's table.
    pub fn table(&self) -> &PriceTable {
        self.base.table()
    }

    /// The pricing of `project`'s new spans.
    pub fn pricing(&self, project: &str) -> Pricing {
        self.read()
            .get(project)
            .map_or_else(|| self.base.clone(), |entry| entry.pricing.clone())
    }

    /// `project`'s overrides and where they came from.
    pub fn overrides(&self, project: &str) -> (PriceOverrides, OverrideSource) {
        self.read().get(project).map_or_else(
            || (PriceOverrides::default(), OverrideSource::None),
            |entry| (entry.overrides.clone(), entry.source),
        )
    }

    /// Checks `overrides` against the table without applying them.
    pub fn check(&self, overrides: &PriceOverrides) -> Result<Pricing, OverrideError> {
        Pricing::with_overrides(Arc::clone(&self.table), overrides)
    }

    /// Makes `overrides` (set through the API, already stored) `project`'s prices from now on.
    pub fn set_from_api(
        &self,
        project: &str,
        overrides: PriceOverrides,
    ) -> Result<(), OverrideError> {
        let pricing = Pricing::with_overrides(Arc::clone(&self.table), &overrides)?;
        self.projects
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                project.to_string(),
                ProjectEntry {
                    overrides,
                    source: OverrideSource::Api,
                    pricing,
                },
            );
        Ok(())
    }

    /// Applies the overrides the API stored before (read from the store at start-up); one
    /// that no longer applies to the table (a model gone from a new prices file) is reported
    /// and skipped.
    pub fn load_stored(&self, stored: Vec<(String, String)>) -> Vec<String> {
        let mut problems = Vec::new();
        for (project, text) in stored {
            let parsed: Result<PriceOverrides, String> =
                serde_json::from_str(&text).map_err(|e| e.to_string());
            let applied = parsed.and_then(|overrides| {
                self.set_from_api(&project, overrides)
                    .map_err(|e| e.to_string())
            });
            if let Err(error) = applied {
                problems.push(format!(
                    "the price overrides stored for project {project:?} are not used: {error}; \
                     PUT new ones to /api/v1/projects/{project}/prices"
                ));
            }
        }
        problems
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, ProjectEntry>> {
        self.projects.read().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use agentstack_cost::{CostInput, TokenUsage};

    use super::*;

    fn overrides(json: &str) -> PriceOverrides {
        serde_json::from_str(json).unwrap()
    }

    /// What 1M input tokens of `model` cost `project`, in USD text.
    fn per_million(pricing: &ProjectPricing, project: &str, model: &str) -> String {
        let input = CostInput {
            model: Some(model),
            usage: Some(TokenUsage {
                input: 1_000_000,
                ..TokenUsage::default()
            }),
            ..CostInput::default()
        };
        pricing
            .pricing(project)
            .cost(&input)
            .kept_cost()
            .unwrap()
            .to_string()
    }

    #[test]
    fn a_bad_config_override_names_its_key() {
        let mut config = BTreeMap::new();
        config.insert(
            "shop".to_string(),
            overrides(r#"{"models": {"mine": {"based_on": "no-such-model"}}}"#),
        );
        let error = ProjectPricing::new(PriceTable::bundled(), &config)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("cost.overrides.shop: "), "{error}");
        assert!(error.contains("no-such-model"), "{error}");
    }

    #[test]
    fn api_overrides_win_over_the_config_and_stay_in_their_project() {
        let mut config = BTreeMap::new();
        config.insert(
            "shop".to_string(),
            overrides(r#"{"models": {"gpt-4o": {"based_on": "gpt-4o", "input": "2"}}}"#),
        );
        let pricing = ProjectPricing::new(PriceTable::bundled(), &config).unwrap();
        assert_eq!(per_million(&pricing, "shop", "gpt-4o"), "2");
        assert_eq!(per_million(&pricing, "other", "gpt-4o"), "2.5");
        assert_eq!(pricing.overrides("shop").1, OverrideSource::Config);
        let problems = pricing.load_stored(vec![
            (
                "shop".to_string(),
                r#"{"models": {"gpt-4o": {"based_on": "gpt-4o", "input": "1.5"}}}"#.to_string(),
            ),
            ("broken".to_string(), "not json".to_string()),
        ]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("\"broken\""), "{problems:?}");
        assert_eq!(per_million(&pricing, "shop", "gpt-4o"), "1.5");
        assert_eq!(pricing.overrides("shop").1, OverrideSource::Api);
        assert_eq!(pricing.overrides("other").1, OverrideSource::None);
    }
}
