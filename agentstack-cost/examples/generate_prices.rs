//! Regenerates `data/prices.json` from LiteLLM's `model_prices_and_context_window.json`:
//!
//! ```text
//! pip download litellm==1.110.2 --no-deps -d /tmp/litellm && cd /tmp/litellm && unzip -q litellm-*.whl
//! cargo run -p agentstack-cost --example generate_prices -- \
//!     /tmp/litellm/litellm/model_prices_and_context_window_backup.json 1.110.2 2026-12-01 \
//!     > agentstack-cost/data/prices.json
//! ```
//!
//! The same conversion is what `agentstack prices update FILE` calls
//! ([`agentstack_cost::PriceTable::from_litellm_json`]).

use std::process::ExitCode;

use agentstack_cost::{LitellmFileInfo, PriceTable};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, version, retrieved] = &args[..] else {
        eprintln!("usage: generate_prices LITELLM_JSON LITELLM_VERSION YYYY-MM-DD > prices.json");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("cannot read {path}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let info = LitellmFileInfo {
        version: Some(version.clone()),
        file: Some("litellm/model_prices_and_context_window_backup.json".to_string()),
        retrieved: Some(retrieved.clone()),
    };
    match PriceTable::from_litellm_json(&text, info) {
        Ok(table) => {
            print!("{}", table.to_prices_json());
            eprintln!("{} models, {} aliases", table.len(), table.aliases().len());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{path}: {error}");
            ExitCode::FAILURE
        }
    }
}
