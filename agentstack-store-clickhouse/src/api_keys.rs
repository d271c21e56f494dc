//! The server's API keys in `api_keys` (one per prefix, only the key's SHA-256 kept), with the
//! SQLite store's answers: a prefix is stored once, a revocation keeps its first time, revoked
//! keys still count. Rows are never updated: a revocation writes the key again with a higher
//! version, and reads use `FINAL`.

use agentstack_exporter_sqlite::ApiKeyRecord;

use crate::statement::Statement;
use crate::store::now_unix_nanos;
use crate::{ClickHouseStore, ClickHouseStoreError};

/// The columns of `api_keys` in [`ApiKeyRow`]'s field order.
const API_KEY_COLUMNS: &str =
    "prefix, sha256, project, created_unix_nanos, revoked_unix_nanos, version";

/// The versions of a key's rows. Every revocation outranks every first write, and within each
/// kind the earlier write outranks the later, so the first write of a key and its first
/// revocation are the ones kept, whatever races with them.
fn insert_version(write_unix_nanos: u64) -> u64 {
    (u64::MAX / 2).saturating_sub(write_unix_nanos)
}

fn revoke_version(write_unix_nanos: u64) -> u64 {
    u64::MAX.saturating_sub(write_unix_nanos)
}

/// One row of `api_keys`.
#[derive(Debug, Clone, clickhouse::Row, serde::Serialize, serde::Deserialize)]
struct ApiKeyRow {
    prefix: String,
    sha256: String,
    project: String,
    created_unix_nanos: i64,
    revoked_unix_nanos: Option<i64>,
    version: u64,
}

impl ApiKeyRow {
    fn new(key: &ApiKeyRecord, version: u64) -> ApiKeyRow {
        ApiKeyRow {
            prefix: key.prefix.clone(),
            sha256: key.sha256.clone(),
            project: key.project.clone(),
            created_unix_nanos: key.created_unix_nanos,
            revoked_unix_nanos: key.revoked_unix_nanos,
            version,
        }
    }

    fn into_record(self) -> ApiKeyRecord {
        ApiKeyRecord {
            prefix: self.prefix,
            sha256: self.sha256,
            project: self.project,
            created_unix_nanos: self.created_unix_nanos,
            revoked_unix_nanos: self.revoked_unix_nanos,
        }
    }
}

/// `INSERT … VALUES` of `key`, a first write at `write_unix_nanos` (`revoked`: a revocation), for
/// the tests' current ClickHouse.
pub(crate) fn insert_values_statement(
    key: &ApiKeyRecord,
    write_unix_nanos: u64,
    revoked: bool,
) -> Statement {
    let version = if revoked {
        revoke_version(write_unix_nanos)
    } else {
        insert_version(write_unix_nanos)
    };
    let mut sql = Statement::new("INSERT INTO api_keys (");
    sql.push(API_KEY_COLUMNS)
        .bind(") VALUES (?", key.prefix.as_str())
        .bind(", ?", key.sha256.as_str())
        .bind(", ?", key.project.as_str())
        .bind(", ?", key.created_unix_nanos)
        .bind(", ?", key.revoked_unix_nanos)
        .bind(", ?)", version);
    sql
}

/// The key with `prefix`, as its kept row says.
pub(crate) fn api_key_statement(prefix: &str) -> Statement {
    let mut sql = Statement::new("SELECT ");
    sql.push(API_KEY_COLUMNS)
        .bind(" FROM api_keys FINAL WHERE prefix = ?", prefix);
    sql
}

/// Every key, oldest first.
pub(crate) fn api_keys_statement() -> Statement {
    let mut sql = Statement::new("SELECT ");
    sql.push(API_KEY_COLUMNS)
        .push(" FROM api_keys FINAL ORDER BY created_unix_nanos, prefix");
    sql
}

/// Whether any key was ever written.
pub(crate) const HAS_API_KEYS: &str = "SELECT toUInt8(count() > 0) FROM api_keys";

impl ClickHouseStore {
    /// Stores a new key; `false` (and nothing written) when a key with its prefix exists, as
    /// `SqliteSpanStore::insert_api_key`. The check is a read before the write: two processes
    /// storing the same prefix at the same moment may both answer `true`, and the first write
    /// is the one kept (prefixes are random, so this takes a collision and a race at once).
    pub async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<bool, ClickHouseStoreError> {
        if self.api_key(&key.prefix).await?.is_some() {
            return Ok(false);
        }
        self.write_api_key(ApiKeyRow::new(key, insert_version(now_unix_nanos())))
            .await?;
        Ok(true)
    }

    /// The key with `prefix`, revoked or not.
    pub async fn api_key(
        &self,
        prefix: &str,
    ) -> Result<Option<ApiKeyRecord>, ClickHouseStoreError> {
        let rows: Vec<ApiKeyRow> = api_key_statement(prefix)
            .query(self.client())
            .fetch_all()
            .await
            .map_err(|source| self.error("reading an API key", source))?;
        Ok(rows.into_iter().next().map(ApiKeyRow::into_record))
    }

    /// Every key, oldest first (by creation, then prefix).
    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, ClickHouseStoreError> {
        let rows: Vec<ApiKeyRow> = api_keys_statement()
            .query(self.client())
            .fetch_all()
            .await
            .map_err(|source| self.error("listing API keys", source))?;
        Ok(rows.into_iter().map(ApiKeyRow::into_record).collect())
    }

    /// Whether any key was ever stored (revoked ones count).
    pub async fn has_api_keys(&self) -> Result<bool, ClickHouseStoreError> {
        let any: u8 = self
            .client()
            .query(HAS_API_KEYS)
            .fetch_one()
            .await
            .map_err(|source| self.error("looking for API keys", source))?;
        Ok(any == 1)
    }

    /// Revokes the key with `prefix` at `unix_nanos` (a key revoked earlier keeps its first
    /// revocation time); the key as it now is, `None` if there is no such key.
    pub async fn revoke_api_key(
        &self,
        prefix: &str,
        unix_nanos: i64,
    ) -> Result<Option<ApiKeyRecord>, ClickHouseStoreError> {
        let Some(key) = self.api_key(prefix).await? else {
            return Ok(None);
        };
        if !key.is_active() {
            return Ok(Some(key));
        }
        let revoked = ApiKeyRecord {
            revoked_unix_nanos: Some(unix_nanos),
            ..key
        };
        self.write_api_key(ApiKeyRow::new(&revoked, revoke_version(now_unix_nanos())))
            .await?;
        // Read back: a revocation racing with this one may be the one kept.
        self.api_key(prefix).await
    }

    async fn write_api_key(&self, row: ApiKeyRow) -> Result<(), ClickHouseStoreError> {
        self.insert_rows("api_keys", &[row], "storing an API key")
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clickhouse::Row;

    #[test]
    fn columns_are_in_field_order() {
        let listed: Vec<&str> = API_KEY_COLUMNS.split(',').map(str::trim).collect();
        assert_eq!(listed, ApiKeyRow::COLUMN_NAMES);
    }

    #[test]
    fn revocations_outrank_first_writes_and_earlier_writes_outrank_later() {
        let (early, late) = (1_000, 2_000_000_000_000_000_000);
        assert!(insert_version(early) > insert_version(late));
        assert!(revoke_version(early) > revoke_version(late));
        assert!(revoke_version(late) > insert_version(0));
    }
}
