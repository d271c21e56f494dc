//! `agentstack security eval FILE`: runs the security detectors over a labelled CSV or JSONL
//! file (`text`, `label`, optional `detector`/`kind`) and prints precision, recall and F1 per
//! detector — how to measure rules before turning them on.

use std::io::Write;
use std::path::PathBuf;

use agentstack_security::{SecurityConfig, SpanScanner, eval::eval_with};
use anyhow::Context;

/// `agentstack security`'s subcommands.
#[derive(Debug, clap::Args)]
pub struct SecurityArgs {
    #[command(subcommand)]
    pub command: SecurityCommand,
}

/// What `agentstack security` does.
#[derive(Debug, clap::Subcommand)]
pub enum SecurityCommand {
    /// Run the detectors over a labelled CSV/JSONL file and print precision, recall and F1 per
    /// detector (the repository's own set: agentstack-security/eval/labelled.jsonl)
    Eval {
        /// The labelled file: JSON lines or CSV with `text` and `label` columns
        file: PathBuf,
        /// A directory of extra rule files (`*.toml`) to load beside the built-in rules
        #[arg(long, value_name = "DIR")]
        rules_dir: Option<PathBuf>,
    },
}

/// Runs the subcommand, writing to `out`.
pub fn run(args: &SecurityArgs, out: &mut impl Write) -> anyhow::Result<()> {
    match &args.command {
        SecurityCommand::Eval { file, rules_dir } => {
            let config = SecurityConfig {
                rules_dir: rules_dir.clone(),
                ..SecurityConfig::default()
            };
            let (scanner, rule_errors) = SpanScanner::from_config(config);
            for error in &rule_errors {
                eprintln!("agentstack security: {error} (the other rules are used)");
            }
            let report = eval_with(file, &scanner)
                .with_context(|| format!("cannot evaluate the detectors on {}", file.display()))?;
            write!(out, "{report}")?;
            Ok(())
        }
    }
}
