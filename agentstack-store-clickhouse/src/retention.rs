//! Retention by whole daily partitions, never row deletes: spans whose day is past the hot
//! window move from `spans` to `spans_archive` (`ATTACH PARTITION … FROM`, hard links, no rows
//! rewritten, then `DROP PARTITION`), and days past the retention window are dropped from both.
//! The partitions are listed from `system.parts`; every statement runs on 18.16 and current.

use crate::statement::Statement;
use crate::store::now_unix_nanos;
use crate::{ClickHouseStore, ClickHouseStoreError};

/// Nanoseconds in a day.
const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// One daily partition of `spans` or `spans_archive`: the UTC day of its spans' start.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PartitionDay {
    /// The partition as ClickHouse names it: the day, `YYYY-MM-DD`.
    pub partition: String,
    /// Days since the Unix epoch.
    pub day: i64,
}

impl PartitionDay {
    /// Whether every span of the day started before `cutoff_unix_nanos`.
    fn ends_by(&self, cutoff_unix_nanos: i64) -> bool {
        (self.day + 1).saturating_mul(NANOS_PER_DAY) <= cutoff_unix_nanos
    }
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct PartitionRow {
    partition: String,
    day: i64,
}

/// The active partitions of `table`, oldest first.
/// (Of the store's database: `currentDatabase()`, the client's.)
pub(crate) fn partitions_statement(table: &str) -> Statement {
    let mut sql = Statement::new(
        "SELECT DISTINCT partition, toInt64(toUInt16(toDate(partition))) AS day FROM system.parts \
         WHERE active AND database = currentDatabase() AND ",
    );
    sql.bind("table = ?", table).push(" ORDER BY day");
    sql
}

/// How many spans `spans_archive` holds, each once.
pub(crate) const ARCHIVED_SPAN_COUNT: &str = "SELECT toInt64(count()) FROM spans_archive FINAL";

/// Attaches the partition `partition` of `spans` to `spans_archive` (same structure and key).
pub(crate) fn archive_partition_statement(partition: &str) -> Statement {
    let mut sql = Statement::new("ALTER TABLE spans_archive ATTACH PARTITION ");
    sql.bind("?", partition).push(" FROM spans");
    sql
}

/// Drops the partition `partition` of `table`.
pub(crate) fn drop_partition_statement(table: &str, partition: &str) -> Statement {
    let mut sql = Statement::new("ALTER TABLE ");
    sql.push(table).bind(" DROP PARTITION ?", partition);
    sql
}

/// The cutoff `days` days before `now`.
fn cutoff(now_unix_nanos: i64, days: u32) -> i64 {
    now_unix_nanos.saturating_sub(i64::from(days).saturating_mul(NANOS_PER_DAY))
}

impl ClickHouseStore {
    /// The daily partitions of `table` (`spans` or `spans_archive`), oldest first.
    pub async fn partitions(&self, table: &str) -> Result<Vec<PartitionDay>, ClickHouseStoreError> {
        let rows: Vec<PartitionRow> = partitions_statement(table)
            .query(self.client())
            .fetch_all()
            .await
            .map_err(|source| self.error("listing partitions", source))?;
        Ok(rows
            .into_iter()
            .map(|row| PartitionDay {
                partition: row.partition,
                day: row.day,
            })
            .collect())
    }

    /// How many spans `spans_archive` holds (a span archived twice counts once).
    pub async fn archived_span_count(&self) -> Result<i64, ClickHouseStoreError> {
        #[derive(clickhouse::Row, serde::Deserialize)]
        struct CountRow {
            count: i64,
        }
        let row: CountRow = self
            .client()
            .query(ARCHIVED_SPAN_COUNT)
            .fetch_one()
            .await
            .map_err(|source| self.error("counting archived spans", source))?;
        Ok(row.count)
    }

    /// Moves every day of `spans` older than `days` days (the hot window) to `spans_archive`;
    /// returns the days moved. See [`archive_before`](Self::archive_before).
    pub async fn archive_older_than(
        &self,
        days: u32,
    ) -> Result<Vec<PartitionDay>, ClickHouseStoreError> {
        self.archive_before(cutoff(now_unix_nanos() as i64, days))
            .await
    }

    /// Moves every day of `spans` whose spans all started before `cutoff_unix_nanos` to
    /// `spans_archive`, a whole partition at a time; returns the days moved. Interrupted between
    /// its two steps, a day is in both tables; run again, it is attached again and dropped, and
    /// the archive's ReplacingMergeTree folds the repeat.
    pub async fn archive_before(
        &self,
        cutoff_unix_nanos: i64,
    ) -> Result<Vec<PartitionDay>, ClickHouseStoreError> {
        let old: Vec<PartitionDay> = self
            .partitions("spans")
            .await?
            .into_iter()
            .filter(|day| day.ends_by(cutoff_unix_nanos))
            .collect();
        for day in &old {
            archive_partition_statement(&day.partition)
                .query(self.client())
                .execute()
                .await
                .map_err(|source| self.error("archiving a partition", source))?;
            drop_partition_statement("spans", &day.partition)
                .query(self.client())
                .execute()
                .await
                .map_err(|source| self.error("dropping an archived partition", source))?;
        }
        Ok(old)
    }

    /// Drops every day older than `days` days (the retention window) from `spans`,
    /// `spans_archive` and `span_links`; returns the days dropped. See [`drop_before`](Self::drop_before).
    pub async fn drop_older_than(
        &self,
        days: u32,
    ) -> Result<Vec<PartitionDay>, ClickHouseStoreError> {
        self.drop_before(cutoff(now_unix_nanos() as i64, days))
            .await
    }

    /// Drops every day whose spans all started before `cutoff_unix_nanos`, from `spans`, from
    /// `spans_archive` and from `span_links` (the links of those spans), a whole partition at a
    /// time; returns the days dropped (each once, oldest first). Span costs and the hourly
    /// `cost_metrics` are kept (they are not partitioned by day).
    pub async fn drop_before(
        &self,
        cutoff_unix_nanos: i64,
    ) -> Result<Vec<PartitionDay>, ClickHouseStoreError> {
        let mut dropped = Vec::new();
        for table in ["spans", "spans_archive", "span_links"] {
            for day in self.partitions(table).await? {
                if !day.ends_by(cutoff_unix_nanos) {
                    continue;
                }
                drop_partition_statement(table, &day.partition)
                    .query(self.client())
                    .execute()
                    .await
                    .map_err(|source| self.error("dropping a partition", source))?;
                dropped.push(day);
            }
        }
        dropped.sort();
        dropped.dedup();
        Ok(dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_ends_by_the_cutoff_only_when_all_of_it_is_before() {
        let day = PartitionDay {
            partition: "1970-01-02".into(),
            day: 1,
        };
        assert!(!day.ends_by(2 * NANOS_PER_DAY - 1));
        assert!(day.ends_by(2 * NANOS_PER_DAY));
        assert_eq!(cutoff(10 * NANOS_PER_DAY, 7), 3 * NANOS_PER_DAY);
    }
}
