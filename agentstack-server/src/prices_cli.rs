//! `agentstack prices`: `update FILE` turns LiteLLM's `model_prices_and_context_window.json`
//! into a prices.json (for `agentstack serve --prices-file`, or `[cost] prices_file`), and
//! `show MODEL` says which price a model name gets and why (the matched model and rule).

use std::io::Write;
use std::path::PathBuf;

use agentstack_cost::{LitellmFileInfo, PriceTable, TokenPrice};
use anyhow::{Context, bail};

/// `agentstack prices`.
#[derive(Debug, clap::Args)]
pub struct PricesArgs {
    #[command(subcommand)]
    pub command: PricesCommand,
}

/// The subcommands of `agentstack prices`.
#[derive(Debug, clap::Subcommand)]
pub enum PricesCommand {
    /// Convert LiteLLM's model_prices_and_context_window.json (from the `litellm` package on
    /// PyPI) into a prices.json; prints the model count, the source and its SHA-256
    Update {
        /// LiteLLM's JSON file
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Where to write the prices.json
        #[arg(long, value_name = "PATH", default_value = "prices.json")]
        out: PathBuf,
        /// The `litellm` package version the file came with, recorded as the source's version
        #[arg(long, value_name = "VERSION")]
        litellm_version: Option<String>,
    },
    /// Show the price a model name gets: the matched model, the matching rule and the prices
    /// per 1M tokens
    Show {
        /// The model as a span names it (gpt-4o-2024-08-06, openai/gpt-4o, …)
        #[arg(value_name = "MODEL")]
        model: String,
        /// The span's provider (gen_ai.provider.name), a hint for matching
        #[arg(long, value_name = "PROVIDER")]
        provider: Option<String>,
        /// A prices.json to look in instead of the bundled table
        #[arg(long, value_name = "FILE", env = "AGENTSTACK_PRICES_FILE")]
        prices_file: Option<PathBuf>,
    },
}

/// Runs `agentstack prices …`, writing to `out`.
pub fn run(args: &PricesArgs, out: &mut impl Write) -> anyhow::Result<()> {
    match &args.command {
        PricesCommand::Update {
            file,
            out: path,
            litellm_version,
        } => update(file, path, litellm_version.clone(), out),
        PricesCommand::Show {
            model,
            provider,
            prices_file,
        } => show(model, provider.as_deref(), prices_file.as_deref(), out),
    }
}

fn update(
    file: &std::path::Path,
    path: &std::path::Path,
    version: Option<String>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| {
        format!(
            "cannot read {}; give the path of LiteLLM's model_prices_and_context_window.json",
            file.display()
        )
    })?;
    let info = LitellmFileInfo {
        version,
        file: file
            .file_name()
            .map(|name| name.to_string_lossy().into_owned()),
        retrieved: Some(jiff::Timestamp::now().strftime("%Y-%m-%d").to_string()),
    };
    let table = PriceTable::from_litellm_json(&text, info)
        .with_context(|| format!("{} cannot be converted", file.display()))?;
    std::fs::write(path, table.to_prices_json())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let source = table.source();
    writeln!(
        out,
        "wrote {} models ({} aliases) to {}",
        table.len(),
        table.aliases().len(),
        path.display()
    )?;
    writeln!(
        out,
        "source: {}{}",
        source.name,
        source
            .version
            .as_ref()
            .map_or_else(String::new, |v| format!(", litellm {v}"))
    )?;
    writeln!(out, "sha256: {}", source.sha256)?;
    writeln!(
        out,
        "price spans with it: agentstack serve --prices-file {} (or [cost] prices_file)",
        path.display()
    )?;
    Ok(())
}

fn show(
    model: &str,
    provider: Option<&str>,
    prices_file: Option<&std::path::Path>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let table = crate::pricing::ProjectPricing::table_from(prices_file)?;
    let Some(found) = table.resolve(model, provider) else {
        bail!(
            "no price for {model:?}{}: no matching rule finds it in {}; spans naming it get no \
             cost. Give a project override for it (PUT /api/v1/projects/NAME/prices, or \
             [cost.overrides.NAME] in the config file)",
            provider.map_or_else(String::new, |p| format!(" (provider {p})")),
            prices_file.map_or_else(
                || "the bundled table".to_string(),
                |p| p.display().to_string()
            )
        );
    };
    let price = found.price;
    let rule = serde_json::to_value(found.rule)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    writeln!(out, "model     {}", found.name)?;
    writeln!(out, "rule      {rule}")?;
    if let Some(provider) = &price.provider {
        writeln!(out, "provider  {provider}")?;
    }
    writeln!(out, "per 1M tokens (USD):")?;
    let line =
        |out: &mut dyn Write, label: &str, price: Option<TokenPrice>, fallback: &str| match price {
            Some(price) => writeln!(out, "  {label:<12}{}", price.usd_per_million()),
            None => writeln!(out, "  {label:<12}{fallback}"),
        };
    line(out, "input", Some(price.input), "")?;
    line(out, "output", Some(price.output), "")?;
    line(out, "cache read", price.cache_read, "(input price)")?;
    line(out, "cache write", price.cache_write, "(input price)")?;
    line(out, "reasoning", price.reasoning, "(output price)")?;
    for tier in &price.tiers {
        writeln!(
            out,
            "  above {} prompt tokens: input {}, output {}",
            tier.above_input_tokens,
            tier.input
                .map_or("-".to_string(), TokenPrice::usd_per_million),
            tier.output
                .map_or("-".to_string(), TokenPrice::usd_per_million),
        )?;
    }
    let source = table.source();
    writeln!(
        out,
        "source    {}{}",
        source.name,
        source
            .version
            .as_ref()
            .map_or_else(String::new, |v| format!(", litellm {v}"))
    )?;
    Ok(())
}
