//! The server's config file: a TOML file whose `[serve]` table sets any option of `agentstack
//! serve`. One precedence, for every setting: command-line flag, then environment variable,
//! then the config file, then the built-in default. The file is `--config FILE` (env
//! `AGENTSTACK_CONFIG`), else `./agentstack.toml` when it exists.
//!
//! Its `[cost]` table sets the cost worker's prices and budgets (only the price file has a
//! flag too, `--prices-file`):
//!
//! ```toml
//! [cost]
//! prices_file = "prices.json"          # from `agentstack prices update`; default: bundled
//! budgets = [
//!   { id = "shop-daily", project = "shop", period = "daily", limit_usd = 5 },
//!   { id = "ann", project = "shop", subject = "user:ann", period = "monthly", limit_usd = "20.50" },
//! ]
//! [cost.overrides.shop.models."gpt-4o"]  # PriceOverrides of project `shop` (USD per 1M tokens)
//! based_on = "gpt-4o"
//! input = "2.0"
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use agentstack_cost::{Budget, BudgetPeriod, BudgetSubject, BudgetTracker, PriceOverrides, Usd};

use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::Deserialize;

use agentstack_security::SecurityConfig;

use crate::alerts::webhooks::WebhookConfig;
use crate::logging::LogFormat;
use crate::serve::ServeArgs;

/// The config file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "agentstack.toml";

/// Why the config file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file named by `--config` or `AGENTSTACK_CONFIG` could not be read.
    #[error("cannot read the config file {path}: {source}; check the path given to --config")]
    Read {
        /// The file.
        path: PathBuf,
        /// What reading it said.
        source: std::io::Error,
    },
    /// The file is not TOML of the expected shape (an unknown key is an error too, so a typo
    /// never goes unnoticed).
    #[error("the config file {path} is not valid: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line and column.
        message: String,
    },
}

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The options of `agentstack serve`.
    #[serde(default)]
    pub serve: ServeSection,
    /// The security engine (`agentstack_security::SecurityConfig`: `builtin_rules`,
    /// `rules_dir`, `detector_weights`, `thresholds`, `dedup`, …); defaults when absent.
    #[serde(default)]
    pub security: Option<SecurityConfig>,
    /// Where alerts go besides the store and the API.
    #[serde(default)]
    pub alerts: AlertsSection,
    /// Prices and budgets of the cost worker.
    #[serde(default)]
    pub cost: CostSection,
}

/// The `[alerts]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsSection {
    /// `[[alerts.webhooks]]`: Slack, PagerDuty or signed JSON hooks.
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
}

/// The `[cost]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostSection {
    /// A prices.json (`agentstack prices update`) used instead of the bundled table;
    /// relative to the config file's directory. `--prices-file` wins over it.
    pub prices_file: Option<PathBuf>,
    /// Spending limits; each crossing raises one alert per period.
    #[serde(default)]
    pub budgets: Vec<BudgetEntry>,
    /// Per-project price overrides: `[cost.overrides.<project>]` is that project's
    /// `PriceOverrides` (custom models, negotiated prices). Overrides set through the API win.
    #[serde(default)]
    pub overrides: BTreeMap<String, PriceOverrides>,
}

/// One entry of `cost.budgets`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetEntry {
    /// Unique among the budgets; named in its alerts.
    pub id: String,
    /// The project whose spans count.
    pub project: String,
    /// `project` (the default), `user:ID` or `session:ID`.
    #[serde(default = "project_subject")]
    pub subject: String,
    /// `daily` or `monthly` (UTC calendar periods).
    pub period: BudgetPeriod,
    /// The limit in USD, a number or decimal text (`5`, `"20.50"`).
    pub limit_usd: Usd,
}

fn project_subject() -> String {
    "project".to_string()
}

impl CostSection {
    /// The budgets, checked: each error names its key (`cost.budgets[1].subject`).
    pub fn budgets(&self) -> Result<Vec<Budget>, String> {
        let budgets = self
            .budgets
            .iter()
            .enumerate()
            .map(|(at, entry)| {
                let subject = match entry.subject.split_once(':') {
                    None if entry.subject == "project" => BudgetSubject::Project,
                    Some(("user", id)) if !id.is_empty() => BudgetSubject::User(id.to_string()),
                    Some(("session", id)) if !id.is_empty() => {
                        BudgetSubject::Session(id.to_string())
                    }
                    _ => {
                        return Err(format!(
                            "cost.budgets[{at}].subject = {:?} is not a subject; give \
                             \"project\", \"user:ID\" or \"session:ID\"",
                            entry.subject
                        ));
                    }
                };
                if entry.id.trim().is_empty() {
                    return Err(format!("cost.budgets[{at}].id is empty; give it a name"));
                }
                Ok(Budget {
                    id: entry.id.clone(),
                    project: entry.project.clone(),
                    subject,
                    period: entry.period,
                    limit: entry.limit_usd,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        BudgetTracker::new(budgets.clone()).map_err(|error| format!("cost.budgets: {error}"))?;
        Ok(budgets)
    }
}

/// The `[serve]` table: each key is the long flag of `agentstack serve` with `_` for `-`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSection {
    /// `--otlp-http`.
    pub otlp_http: Option<SocketAddr>,
    /// `--otlp-grpc`.
    pub otlp_grpc: Option<SocketAddr>,
    /// `--no-otlp-grpc`.
    pub no_otlp_grpc: Option<bool>,
    /// `--api`.
    pub api: Option<SocketAddr>,
    /// `--db`; relative paths are relative to the config file's directory.
    pub db: Option<PathBuf>,
    /// `--max-body-bytes`.
    pub max_body_bytes: Option<usize>,
    /// `--max-decompressed-bytes`.
    pub max_decompressed_bytes: Option<usize>,
    /// `--bus-capacity`.
    pub bus_capacity: Option<usize>,
    /// `--admin-token`.
    pub admin_token: Option<String>,
    /// `--retention-days`.
    pub retention_days: Option<u32>,
    /// `--dashboard-dir`; relative paths are relative to the config file's directory.
    pub dashboard_dir: Option<PathBuf>,
    /// `--redis-url` (distributed mode).
    pub redis_url: Option<String>,
    /// `--clickhouse-url` (distributed mode).
    pub clickhouse_url: Option<String>,
    /// `--clickhouse-database`.
    pub clickhouse_database: Option<String>,
    /// `--clickhouse-user`.
    pub clickhouse_user: Option<String>,
    /// `--clickhouse-password`.
    pub clickhouse_password: Option<String>,
    /// `--stream-max-len`.
    pub stream_max_len: Option<usize>,
    /// `--claim-idle-ms`.
    pub claim_idle_ms: Option<u64>,
    /// `--max-deliveries`.
    pub max_deliveries: Option<usize>,
    /// `--write-batch-rows`.
    pub write_batch_rows: Option<usize>,
    /// `--write-batch-ms`.
    pub write_batch_ms: Option<u64>,
    /// `--hot-days`.
    pub hot_days: Option<u32>,
    /// `--clickhouse-retention-days`.
    pub clickhouse_retention_days: Option<u32>,
    /// `--health`.
    pub health: Option<SocketAddr>,
    /// `--log-format`: `text` or `json`.
    pub log_format: Option<LogFormat>,
    /// `--log`: the log filter.
    pub log: Option<String>,
}

impl ConfigFile {
    /// Parses `text`, the contents of `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<ConfigFile, ConfigError> {
        toml::from_str(text).map_err(|error| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: error.to_string().trim_end().to_string(),
        })
    }
}

/// Fills the options of `args` that neither a flag nor an environment variable set from the
/// config file (`args.config`, else ./agentstack.toml if it exists). Returns the file read.
pub fn apply_config_file(
    args: &mut ServeArgs,
    matches: &ArgMatches,
) -> Result<Option<PathBuf>, ConfigError> {
    let path = match &args.config {
        Some(path) => path.clone(),
        None if Path::new(DEFAULT_CONFIG_FILE).is_file() => PathBuf::from(DEFAULT_CONFIG_FILE),
        None => return Ok(None),
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    let file = ConfigFile::parse(&text, &path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    if let Some(mut security) = file.security {
        // A relative rules directory is relative to the file, like the other paths.
        security.rules_dir = security.rules_dir.map(|dir| base.join(dir));
        args.security = security;
    }
    args.webhooks = file.alerts.webhooks;
    let unset = |id: &str| {
        matches!(
            matches.value_source(id),
            None | Some(ValueSource::DefaultValue)
        )
    };
    apply_section(args, file.serve, base, unset);
    let mut cost = file.cost;
    cost.budgets().map_err(|message| ConfigError::Invalid {
        path: path.clone(),
        message,
    })?;
    let prices_file = cost.prices_file.take().map(|file| {
        if file.is_relative() {
            base.join(file)
        } else {
            file
        }
    });
    if unset("prices_file") && prices_file.is_some() {
        args.prices_file = prices_file;
    }
    args.cost = cost;
    Ok(Some(path))
}

/// Sets each option of `section` whose id `unset` says no flag or variable gave.
fn apply_section(
    args: &mut ServeArgs,
    section: ServeSection,
    base: &Path,
    unset: impl Fn(&str) -> bool,
) {
    fn fill<T>(slot: &mut T, value: Option<T>, unset: bool) {
        if let (true, Some(value)) = (unset, value) {
            *slot = value;
        }
    }
    let relative = |path: PathBuf| {
        if path.is_relative() {
            base.join(path)
        } else {
            path
        }
    };
    fill(&mut args.otlp_http, section.otlp_http, unset("otlp_http"));
    fill(&mut args.otlp_grpc, section.otlp_grpc, unset("otlp_grpc"));
    fill(
        &mut args.no_otlp_grpc,
        section.no_otlp_grpc,
        unset("no_otlp_grpc"),
    );
    fill(&mut args.api, section.api, unset("api"));
    fill(&mut args.db, section.db.map(relative), unset("db"));
    fill(
        &mut args.max_body_bytes,
        section.max_body_bytes,
        unset("max_body_bytes"),
    );
    fill(
        &mut args.max_decompressed_bytes,
        section.max_decompressed_bytes,
        unset("max_decompressed_bytes"),
    );
    fill(
        &mut args.bus_capacity,
        section.bus_capacity,
        unset("bus_capacity"),
    );
    fill(
        &mut args.admin_token,
        section.admin_token.map(Some),
        unset("admin_token"),
    );
    fill(
        &mut args.retention_days,
        section.retention_days,
        unset("retention_days"),
    );
    fill(
        &mut args.dashboard_dir,
        section.dashboard_dir.map(relative),
        unset("dashboard_dir"),
    );
    // The distributed mode's settings, shared by every role.
    fill(
        &mut args.redis_url,
        section.redis_url.map(Some),
        unset("redis_url"),
    );
    fill(
        &mut args.clickhouse.url,
        section.clickhouse_url.map(Some),
        unset("clickhouse_url"),
    );
    fill(
        &mut args.clickhouse.database,
        section.clickhouse_database,
        unset("clickhouse_database"),
    );
    fill(
        &mut args.clickhouse.user,
        section.clickhouse_user.map(Some),
        unset("clickhouse_user"),
    );
    fill(
        &mut args.clickhouse.password,
        section.clickhouse_password.map(Some),
        unset("clickhouse_password"),
    );
    fill(
        &mut args.stream_max_len,
        section.stream_max_len,
        unset("stream_max_len"),
    );
    fill(
        &mut args.claim_idle_ms,
        section.claim_idle_ms,
        unset("claim_idle_ms"),
    );
    fill(
        &mut args.max_deliveries,
        section.max_deliveries,
        unset("max_deliveries"),
    );
    fill(
        &mut args.write_batch_rows,
        section.write_batch_rows,
        unset("write_batch_rows"),
    );
    fill(
        &mut args.write_batch_ms,
        section.write_batch_ms,
        unset("write_batch_ms"),
    );
    fill(&mut args.hot_days, section.hot_days, unset("hot_days"));
    fill(
        &mut args.clickhouse_retention_days,
        section.clickhouse_retention_days,
        unset("clickhouse_retention_days"),
    );
    fill(&mut args.health, section.health.map(Some), unset("health"));
    fill(
        &mut args.log_format,
        section.log_format,
        unset("log_format"),
    );
    fill(&mut args.log_filter, section.log, unset("log_filter"));
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches, Parser};

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    /// `argv` parsed, then the config file `text` applied.
    fn parsed_with(argv: &[&str], text: &str) -> Result<ServeArgs, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("agentstack.toml");
        std::fs::write(&file, text).unwrap();
        let file_text = file.to_str().unwrap();
        let mut all = vec!["agentstack", "--config", file_text];
        all.extend_from_slice(argv);
        let matches = Cli::command().try_get_matches_from(all).unwrap();
        let mut cli = Cli::from_arg_matches(&matches).unwrap();
        apply_config_file(&mut cli.serve, &matches)?;
        Ok(cli.serve)
    }

    #[test]
    fn the_file_fills_what_no_flag_gave_and_a_flag_wins() {
        let args = parsed_with(
            &["--api", "127.0.0.1:9001"],
            "[serve]\napi = \"127.0.0.1:7000\"\notlp_http = \"127.0.0.1:7001\"\n\
             retention_days = 7\ndb = \"data/server.db\"\n",
        )
        .unwrap();
        assert_eq!(args.api.to_string(), "127.0.0.1:9001", "the flag wins");
        assert_eq!(
            args.otlp_http.to_string(),
            "127.0.0.1:7001",
            "the file fills"
        );
        assert_eq!(args.retention_days, 7);
        assert!(
            args.db.ends_with("data/server.db") && args.db.is_absolute(),
            "relative to the file: {}",
            args.db.display()
        );
        assert_eq!(
            args.otlp_grpc.to_string(),
            "127.0.0.1:4317",
            "the default stays"
        );
    }

    #[test]
    fn the_distributed_settings_come_from_the_same_table() {
        let args = parsed_with(
            &["--hot-days", "3"],
            "[serve]\nredis_url = \"redis://10.0.0.5:6379/\"\n\
             clickhouse_url = \"http://10.0.0.6:8123\"\nclickhouse_database = \"prod\"\n\
             hot_days = 14\nclickhouse_retention_days = 30\nwrite_batch_rows = 5000\n\
             health = \"127.0.0.1:9101\"\n",
        )
        .unwrap();
        assert_eq!(args.redis_url.as_deref(), Some("redis://10.0.0.5:6379/"));
        assert_eq!(args.clickhouse.url.as_deref(), Some("http://10.0.0.6:8123"));
        assert_eq!(args.clickhouse.database, "prod");
        assert_eq!(args.hot_days, 3, "the flag wins");
        assert_eq!(args.clickhouse_retention_days, 30);
        assert_eq!(args.write_batch_rows, 5000);
        assert_eq!(args.write_batch_ms, 1000, "the default stays");
        assert_eq!(args.health.unwrap().port(), 9101);
    }

    #[test]
    fn the_log_settings_come_from_the_table_and_a_flag_wins() {
        let text = "[serve]\nlog_format = \"json\"\nlog = \"warn,agentstack_server=debug\"\n";
        let args = parsed_with(&[], text).unwrap();
        assert_eq!(args.log_format, LogFormat::Json);
        assert_eq!(args.log_filter, "warn,agentstack_server=debug");
        let args = parsed_with(&["--log-format", "text", "--log", "error"], text).unwrap();
        assert_eq!(args.log_format, LogFormat::Text, "the flag wins");
        assert_eq!(args.log_filter, "error", "the flag wins");
        let error = parsed_with(&[], "[serve]\nlog_format = \"xml\"\n").unwrap_err();
        assert!(error.to_string().contains("log_format"), "{error}");
    }

    #[test]
    fn the_security_and_alerts_tables_reach_the_server() {
        let args = parsed_with(
            &[],
            "[security]\nrules_dir = \"rules\"\n[security.thresholds]\nalert = 40\n\
             medium = 55\nhigh = 75\ncritical = 95\n\n[[alerts.webhooks]]\nkind = \"slack\"\n\
             url = \"http://127.0.0.1:9/hook\"\n",
        )
        .unwrap();
        assert!(args.security.rules_dir.unwrap().ends_with("rules"));
        assert_eq!(args.security.thresholds.alert, 40);
        assert_eq!(args.webhooks.len(), 1);
        assert_eq!(args.webhooks[0].url, "http://127.0.0.1:9/hook");
    }

    #[test]
    fn an_unknown_key_is_an_error_with_its_line() {
        let error = parsed_with(&[], "[serve]\n\napi_addr = \"127.0.0.1:1\"\n").unwrap_err();
        let text = error.to_string();
        assert!(text.contains("api_addr"), "{text}");
        assert!(text.contains("line 3"), "{text}");
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let text = parsed_with(&[], "[serve]\nretention_days = \"long\"\n")
            .unwrap_err()
            .to_string();
        assert!(text.contains("retention_days"), "{text}");
    }

    #[test]
    fn the_cost_table_gives_budgets_overrides_and_the_price_file() {
        let args = parsed_with(
            &[],
            "[cost]\nprices_file = \"prices.json\"\nbudgets = [\n  { id = \"d\", project = \"shop\", \
             period = \"daily\", limit_usd = 5 },\n  { id = \"m\", project = \"shop\", subject = \
             \"user:ann\", period = \"monthly\", limit_usd = \"20.50\" },\n]\n\
             [cost.overrides.shop.models.\"gpt-4o\"]\nbased_on = \"gpt-4o\"\ninput = \"2.0\"\n",
        )
        .unwrap();
        let budgets = args.cost.budgets().unwrap();
        assert_eq!(budgets[0].limit, Usd::from_cents(500));
        assert_eq!(budgets[1].subject, BudgetSubject::User("ann".into()));
        assert_eq!(budgets[1].limit, Usd::from_cents(2050));
        assert!(args.prices_file.unwrap().ends_with("prices.json"));
        let shop = &args.cost.overrides["shop"].models["gpt-4o"];
        assert_eq!(shop.input.unwrap().usd_per_million(), "2");
    }

    #[test]
    fn cost_errors_name_their_key() {
        let bad_subject = parsed_with(
            &[],
            "[cost]\nbudgets = [{ id = \"d\", project = \"p\", subject = \"team:x\", \
             period = \"daily\", limit_usd = 1 }]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            bad_subject.contains("cost.budgets[0].subject"),
            "{bad_subject}"
        );
        let bad_period = parsed_with(
            &[],
            "[cost]\nbudgets = [{ id = \"d\", project = \"p\", period = \"weekly\", \
             limit_usd = 1 }]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            bad_period.contains("weekly") && bad_period.contains("budgets"),
            "{bad_period}"
        );
        let duplicate = parsed_with(
            &[],
            "[cost]\nbudgets = [{ id = \"d\", project = \"p\", period = \"daily\", \
             limit_usd = 1 }, { id = \"d\", project = \"q\", period = \"daily\", limit_usd = 2 }]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            duplicate.contains("cost.budgets") && duplicate.contains("\"d\""),
            "{duplicate}"
        );
        let unknown = parsed_with(&[], "[cost.overrides.p.models.x]\ninptu = \"1\"\n")
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("inptu"), "{unknown}");
    }

    #[test]
    fn a_missing_file_given_explicitly_is_an_error() {
        let matches = Cli::command()
            .try_get_matches_from(["agentstack", "--config", "/nonexistent/agentstack.toml"])
            .unwrap();
        let mut cli = Cli::from_arg_matches(&matches).unwrap();
        let error = apply_config_file(&mut cli.serve, &matches).unwrap_err();
        assert!(matches!(error, ConfigError::Read { .. }), "{error}");
    }
}
