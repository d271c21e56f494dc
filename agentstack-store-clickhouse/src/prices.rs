//! Each project's price overrides (a `PriceOverrides` as JSON text, checked by the caller) in
//! `price_overrides`: a set replaces the one before, as in the SQLite store. Rows are never
//! updated; the latest write has the highest version and reads use `FINAL`.

use crate::statement::Statement;
use crate::store::now_unix_nanos;
use crate::{ClickHouseStore, ClickHouseStoreError};

/// One row of `price_overrides`.
#[derive(Debug, Clone, clickhouse::Row, serde::Serialize, serde::Deserialize)]
struct PriceOverridesRow {
    project: String,
    overrides: String,
    updated_unix_nanos: i64,
    /// The write time: the latest set wins.
    write_version: u64,
}

/// The overrides of `project` and when they were set.
pub(crate) fn price_overrides_statement(project: &str) -> Statement {
    let mut sql =
        Statement::new("SELECT overrides, updated_unix_nanos FROM price_overrides FINAL WHERE ");
    sql.bind("project = ?", project);
    sql
}

/// `INSERT … VALUES` of one set of overrides written at `write_version` (the tests' current
/// ClickHouse).
pub(crate) fn insert_values_statement(
    project: &str,
    overrides_json: &str,
    updated_unix_nanos: i64,
    write_version: u64,
) -> Statement {
    let mut sql = Statement::new(
        "INSERT INTO price_overrides (project, overrides, updated_unix_nanos, write_version) \
         VALUES (",
    );
    sql.bind("?", project)
        .bind(", ?", overrides_json)
        .bind(", ?", updated_unix_nanos)
        .bind(", ?)", write_version);
    sql
}

/// Every project's overrides, by project.
pub(crate) const ALL_PRICE_OVERRIDES: &str =
    "SELECT project, overrides FROM price_overrides FINAL ORDER BY project";

impl ClickHouseStore {
    /// Stores `overrides_json` as the price overrides of `project`, replacing any before (the
    /// latest write wins; of two writers at once, the later by its clock).
    pub async fn set_price_overrides(
        &self,
        project: &str,
        overrides_json: &str,
        now_unix_nanos_given: i64,
    ) -> Result<(), ClickHouseStoreError> {
        let row = PriceOverridesRow {
            project: project.to_string(),
            overrides: overrides_json.to_string(),
            updated_unix_nanos: now_unix_nanos_given,
            write_version: now_unix_nanos(),
        };
        self.insert_rows("price_overrides", &[row], "storing price overrides")
            .await
    }

    /// The stored price overrides of `project` (JSON text) and when they were set.
    pub async fn price_overrides(
        &self,
        project: &str,
    ) -> Result<Option<(String, i64)>, ClickHouseStoreError> {
        let rows: Vec<(String, i64)> = price_overrides_statement(project)
            .query(self.client())
            .fetch_all()
            .await
            .map_err(|source| self.error("reading price overrides", source))?;
        Ok(rows.into_iter().next())
    }

    /// Every project's stored price overrides: (project, JSON text), by project.
    pub async fn all_price_overrides(&self) -> Result<Vec<(String, String)>, ClickHouseStoreError> {
        self.client()
            .query(ALL_PRICE_OVERRIDES)
            .fetch_all()
            .await
            .map_err(|source| self.error("reading price overrides", source))
    }
}
