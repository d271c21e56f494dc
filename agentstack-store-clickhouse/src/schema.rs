//! The store's schema as versioned migration steps (the files in `sql/`), applied in order and
//! recorded in `schema_migrations`. Every statement is idempotent (`CREATE … IF NOT EXISTS`), so
//! two processes migrating at once both succeed and leave one schema; the ledger's repeated rows
//! fold into one (ReplacingMergeTree on the version).

/// The ledger, created before any step.
pub const SCHEMA_MIGRATIONS: &str = include_str!("../sql/000_schema_migrations.sql");

/// One step of the schema.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its version, from 1, in order.
    pub version: u32,
    /// What it does, as recorded in `schema_migrations`.
    pub name: &'static str,
    /// Its statements, separated by `;` at the end of a line (`--` lines are comments).
    pub sql: &'static str,
}

/// The steps, in order. Append only: a released step never changes.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "spans",
        sql: include_str!("../sql/001_spans.sql"),
    },
    Migration {
        version: 2,
        name: "spans_archive",
        sql: include_str!("../sql/002_spans_archive.sql"),
    },
    Migration {
        version: 3,
        name: "security_alerts",
        sql: include_str!("../sql/003_security_alerts.sql"),
    },
    Migration {
        version: 4,
        name: "cost_metrics",
        sql: include_str!("../sql/004_cost_metrics.sql"),
    },
    Migration {
        version: 5,
        name: "span_links",
        sql: include_str!("../sql/005_span_links.sql"),
    },
    Migration {
        version: 6,
        name: "span_costs",
        sql: include_str!("../sql/006_span_costs.sql"),
    },
    Migration {
        version: 7,
        name: "price_overrides",
        sql: include_str!("../sql/007_price_overrides.sql"),
    },
    Migration {
        version: 8,
        name: "api_keys",
        sql: include_str!("../sql/008_api_keys.sql"),
    },
];

/// The version of an up-to-date database.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |step| step.version)
}

/// The statements of `sql`: split at a `;` that ends a line, comment lines (`--`) left out, as
/// `clickhouse-current` splits them too. ClickHouse's HTTP interface takes one per request.
pub fn statements(sql: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        if line.trim_start().starts_with("--") {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if line.trim_end().ends_with(';') {
            push_statement(&mut statements, &mut current);
        }
    }
    push_statement(&mut statements, &mut current);
    statements
}

fn push_statement(statements: &mut Vec<String>, current: &mut String) {
    let statement = current.trim().trim_end_matches(';').trim();
    if !statement.is_empty() {
        statements.push(statement.to_string());
    }
    current.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_count_up_from_one() {
        for (index, step) in MIGRATIONS.iter().enumerate() {
            assert_eq!(step.version as usize, index + 1, "step {}", step.name);
        }
    }

    #[test]
    fn statements_split_at_line_end_semicolons_without_comments() {
        let sql = "-- a comment; not a statement\nCREATE TABLE a (x String);\nSELECT 1;\n\n";
        assert_eq!(
            statements(sql),
            vec![
                "CREATE TABLE a (x String)".to_string(),
                "SELECT 1".to_string()
            ]
        );
        for step in MIGRATIONS {
            assert!(!statements(step.sql).is_empty(), "step {}", step.name);
        }
    }
}
