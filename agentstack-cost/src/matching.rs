//! Model-name matching: how the model a span names (`openai/gpt-4o-2024-08-06`,
//! `us.anthropic.claude-sonnet-4-5-20250929-v1:0`, `Claude-Sonnet-4-5`) finds its price.
//!
//! Every step is a hash lookup of one candidate name, never a scan of the table, and the first
//! hit wins. The order:
//!
//! 1. The name, trimmed and lowercased (an alias hit is reported as [`MatchRule::Alias`]).
//! 2. With the span's provider, the name under that provider's LiteLLM route, unless it starts
//!    with that route already: `gpt-4o` from `azure.ai.openai` → `azure/gpt-4o`,
//!    `claude-sonnet-4-5` from `gcp.vertex_ai` → `vertex_ai/claude-sonnet-4-5`,
//!    `meta-llama/Llama-3.3-70B-Instruct-Turbo` from `together_ai` →
//!    `together_ai/meta-llama/…`. Tried before step 1 (and before each later candidate), so a
//!    reseller's own price wins over the maker's list price.
//! 3. The name without its route: after the first `/`, then after the last `/`
//!    (`openai/gpt-4o` → `gpt-4o`; `bedrock/converse/meta.llama3-…` → `meta.llama3-…`).
//! 4. Without a Bedrock cross-region prefix (`us.`, `eu.`, `apac.`, `global.`, `jp.`, `au.`,
//!    `us-gov.`, `ca.`): `us.anthropic.claude-…` → `anthropic.claude-…`.
//! 5. The snapshot's base model, taking off one suffix at a time and looking up after each:
//!    a Bedrock version `-v2:0` / `-v1`, a Vertex `@20240620` / `@001` / `@latest`, a date
//!    `-2024-08-06` / `-20241022`, an OpenAI `-0613`-style `MMDD`, a `-latest`, a Google
//!    `-001`-style version. So `gpt-4o-2024-08-06` is priced as that snapshot when the table
//!    lists it, else as `gpt-4o`.
//!
//! A name no step finds has no price: the span gets no cost, never a guess.

/// How a model's price was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchRule {
    /// The name itself.
    Exact,
    /// An alias of the table (`claude-sonnet-latest` → its model).
    Alias,
    /// The name under the span provider's route (`azure/gpt-4o`).
    ProviderRoute,
    /// The name without its route prefix or Bedrock region (`openai/gpt-4o` → `gpt-4o`).
    RouteRemoved,
    /// The base model of a snapshot the table does not list (`gpt-4o-2099-01-01` → `gpt-4o`).
    SnapshotBase,
}

/// Span providers (`gen_ai.provider.name` values, the deprecated `gen_ai.system` ones, and
/// OpenInference's `llm.provider`) and the LiteLLM route their models are listed under.
const PROVIDER_ROUTES: &[(&str, &str)] = &[
    ("azure.ai.openai", "azure/"),
    ("azure", "azure/"),
    ("azure_openai", "azure/"),
    ("aws.bedrock", "bedrock/"),
    ("bedrock", "bedrock/"),
    ("amazon_bedrock", "bedrock/"),
    ("gcp.gemini", "gemini/"),
    ("gemini", "gemini/"),
    ("google_genai", "gemini/"),
    ("google", "gemini/"),
    ("gcp.vertex_ai", "vertex_ai/"),
    ("vertex_ai", "vertex_ai/"),
    ("vertexai", "vertex_ai/"),
    ("mistral_ai", "mistral/"),
    ("mistral", "mistral/"),
    ("mistralai", "mistral/"),
    ("x_ai", "xai/"),
    ("xai", "xai/"),
    ("deepseek", "deepseek/"),
    ("cohere", "cohere/"),
    ("groq", "groq/"),
    ("together_ai", "together_ai/"),
    ("together", "together_ai/"),
    ("meta_llama", "meta_llama/"),
];

/// The LiteLLM route of a span's provider, any case.
fn provider_route(provider: &str) -> Option<&'static str> {
    let provider = provider.trim();
    PROVIDER_ROUTES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(provider))
        .map(|(_, route)| *route)
}

/// Bedrock cross-region inference profile prefixes.
const BEDROCK_REGION_PREFIXES: &[&str] = &[
    "us.", "eu.", "apac.", "global.", "jp.", "au.", "us-gov.", "ca.",
];

/// Resolves `model` with `lookup` (a lowercase name → the table's entry and whether it is an
/// alias) by the module's rules.
pub(crate) fn resolve<T: Copy>(
    model: &str,
    provider: Option<&str>,
    lookup: impl Fn(&str) -> Option<(T, bool)>,
) -> Option<(T, MatchRule)> {
    let trimmed = model.trim();
    if trimmed.is_empty() {
        return None;
    }
    let name: std::borrow::Cow<'_, str> = if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
        trimmed.to_ascii_lowercase().into()
    } else {
        trimmed.into()
    };
    let route = provider.and_then(provider_route);
    let hit = |candidate: &str, rule: MatchRule| {
        lookup(candidate).map(|(at, alias)| {
            (
                at,
                if alias && rule == MatchRule::Exact {
                    MatchRule::Alias
                } else {
                    rule
                },
            )
        })
    };
    let routed = |stem: &str, rule: MatchRule| {
        route
            .filter(|route| !stem.starts_with(route))
            .and_then(|route| {
                // Under the route, the name as given is a provider-route match; a later
                // candidate keeps its own rule (a snapshot base stays a snapshot base).
                let routed_rule = if rule == MatchRule::Exact {
                    MatchRule::ProviderRoute
                } else {
                    rule
                };
                hit(&format!("{route}{stem}"), routed_rule)
            })
            .or_else(|| hit(stem, rule))
    };

    // Steps 1–2: the name as given, under the provider's route first.
    if let Some(found) = routed(&name, MatchRule::Exact) {
        return Some(found);
    }
    // Steps 3–4: the stems without route and region.
    let mut stems: Vec<&str> = vec![&name];
    if let Some((_, after_first)) = name.split_once('/') {
        stems.push(after_first);
        if let Some((_, after_last)) = name.rsplit_once('/')
            && after_last != after_first
        {
            stems.push(after_last);
        }
    }
    let last = *stems.last().expect("at least the name");
    if let Some(regionless) = BEDROCK_REGION_PREFIXES
        .iter()
        .find_map(|prefix| last.strip_prefix(prefix))
    {
        stems.push(regionless);
    }
    for stem in &stems[1..] {
        if let Some(found) = routed(stem, MatchRule::RouteRemoved) {
            return Some(found);
        }
    }
    // Step 5: snapshot bases of every stem.
    for stem in &stems {
        let mut base: &str = stem;
        while let Some(shorter) = strip_snapshot_suffix(base) {
            base = shorter;
            if let Some(found) = routed(base, MatchRule::SnapshotBase) {
                return Some(found);
            }
        }
    }
    None
}

/// The name without one snapshot suffix, or `None` when it ends in none.
pub(crate) fn strip_snapshot_suffix(name: &str) -> Option<&str> {
    let bytes = name.as_bytes();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    // Vertex `@…` versions.
    if let Some((base, version)) = name.rsplit_once('@')
        && !base.is_empty()
        && (digits(version) || version == "latest")
    {
        return Some(base);
    }
    // Bedrock `-v2:0`, `-v1`.
    if let Some((base, version)) = name.rsplit_once("-v") {
        let (major, minor) = version.split_once(':').unwrap_or((version, "0"));
        if !base.is_empty() && digits(major) && digits(minor) && base.contains('.') {
            return Some(base);
        }
    }
    // `-latest`.
    if let Some(base) = name.strip_suffix("-latest")
        && !base.is_empty()
    {
        return Some(base);
    }
    // `-YYYY-MM-DD`.
    if bytes.len() > 11 {
        let (base, date) = name.split_at(name.len() - 11);
        let d = date.as_bytes();
        if d[0] == b'-'
            && d[5] == b'-'
            && d[8] == b'-'
            && digits(&date[1..5])
            && digits(&date[6..8])
            && digits(&date[9..11])
        {
            return Some(base);
        }
    }
    // `-YYYYMMDD`, `-MMDD`, `-001`: a dash and 8, 4 or 3 digits.
    if let Some((base, tail)) = name.rsplit_once('-')
        && !base.is_empty()
        && matches!(tail.len(), 3 | 4 | 8)
        && digits(tail)
    {
        return Some(base);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_suffixes() {
        let cases = [
            ("gpt-4o-2024-08-06", Some("gpt-4o")),
            ("claude-sonnet-4-5-20250929", Some("claude-sonnet-4-5")),
            ("gpt-4-0613", Some("gpt-4")),
            ("gemini-1.5-pro-002", Some("gemini-1.5-pro")),
            ("claude-3-5-sonnet@20240620", Some("claude-3-5-sonnet")),
            ("codestral@latest", Some("codestral")),
            ("mistral-large-latest", Some("mistral-large")),
            (
                "anthropic.claude-3-5-sonnet-20241022-v2:0",
                Some("anthropic.claude-3-5-sonnet-20241022"),
            ),
            (
                "meta.llama3-70b-instruct-v1:0",
                Some("meta.llama3-70b-instruct"),
            ),
            ("gpt-4o", None),
            ("o3", None),
            ("gpt-4.1", None),
            ("text-embedding-3-small", None),
            ("deepseek-v3", None),
            ("-latest", None),
        ];
        for (name, base) in cases {
            assert_eq!(strip_snapshot_suffix(name), base, "{name}");
        }
    }
}
