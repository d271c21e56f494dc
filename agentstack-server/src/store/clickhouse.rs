//! The [`Store`] of the distributed mode: [`ClickHouseStore`]'s own async methods, by the same
//! names, with its error carried in [`StoreFailure::ClickHouse`].

use std::collections::HashMap;
use std::sync::Arc;

use agentstack_exporter_sqlite::store::{
    AlertPage, AlertQuery, AlertRecord, Conversation, CostQuery, CostReport, SessionPage,
    SessionQuery, SpanCostRecord, SpanStats, StatsWindow, TraceAlerts, TraceCost, TracePage,
    TraceQuery, TraceSummary,
};
use agentstack_exporter_sqlite::{ApiKeyRecord, SpanRecord};
use agentstack_store_clickhouse::ClickHouseStore;

use super::{Store, StoreResult, spans_of};
use crate::bus::SpanBatch;

/// `ids` as the `&[&str]` the store takes.
fn as_strs(ids: &[String]) -> Vec<&str> {
    ids.iter().map(String::as_str).collect()
}

#[async_trait::async_trait]
impl Store for ClickHouseStore {
    fn describe(&self) -> String {
        format!(
            "ClickHouse at {} (database {})",
            self.url(),
            self.database()
        )
    }

    async fn insert_spans(&self, batches: Arc<Vec<Arc<SpanBatch>>>) -> StoreResult<usize> {
        Ok(ClickHouseStore::insert_spans(self, &spans_of(&batches)).await?)
    }

    async fn trace_page(&self, query: &TraceQuery) -> StoreResult<TracePage> {
        Ok(ClickHouseStore::trace_page(self, query).await?)
    }

    async fn traces_matching(
        &self,
        query: &TraceQuery,
        trace_ids: &[String],
    ) -> StoreResult<Vec<TraceSummary>> {
        Ok(ClickHouseStore::traces_matching(self, query, trace_ids).await?)
    }

    async fn trace_in_project(
        &self,
        project: Option<&str>,
        trace_id: &str,
    ) -> StoreResult<Vec<SpanRecord>> {
        Ok(ClickHouseStore::trace_in_project(self, project, trace_id).await?)
    }

    async fn stats(&self, window: &StatsWindow) -> StoreResult<SpanStats> {
        Ok(ClickHouseStore::stats(self, window).await?)
    }

    async fn span_count(&self) -> StoreResult<i64> {
        Ok(ClickHouseStore::span_count(self).await?)
    }

    async fn session_page(&self, query: &SessionQuery) -> StoreResult<SessionPage> {
        Ok(ClickHouseStore::session_page(self, query).await?)
    }

    async fn conversation(
        &self,
        project: &str,
        trace_id: &str,
    ) -> StoreResult<Option<Conversation>> {
        Ok(ClickHouseStore::conversation(self, project, trace_id).await?)
    }

    async fn insert_alerts(&self, alerts: Vec<AlertRecord>) -> StoreResult<Vec<AlertRecord>> {
        Ok(ClickHouseStore::insert_alerts(self, &alerts).await?)
    }

    async fn alert_page(&self, query: &AlertQuery) -> StoreResult<AlertPage> {
        Ok(ClickHouseStore::alert_page(self, query).await?)
    }

    async fn trace_alerts(
        &self,
        project: &str,
        trace_ids: &[String],
    ) -> StoreResult<HashMap<String, TraceAlerts>> {
        Ok(ClickHouseStore::trace_alerts(self, project, &as_strs(trace_ids)).await?)
    }

    async fn alert_exists(&self, project: &str, dedup_key: &str) -> StoreResult<bool> {
        Ok(ClickHouseStore::alert_exists(self, project, dedup_key).await?)
    }

    async fn insert_span_costs(&self, costs: Arc<Vec<SpanCostRecord>>) -> StoreResult<Vec<usize>> {
        Ok(ClickHouseStore::insert_span_costs(self, &costs).await?)
    }

    async fn trace_costs(
        &self,
        project: &str,
        trace_ids: &[String],
    ) -> StoreResult<HashMap<String, TraceCost>> {
        Ok(ClickHouseStore::trace_costs(self, project, &as_strs(trace_ids)).await?)
    }

    async fn span_costs_of_trace(
        &self,
        project: &str,
        trace_id: &str,
    ) -> StoreResult<HashMap<String, SpanCostRecord>> {
        Ok(ClickHouseStore::span_costs_of_trace(self, project, trace_id).await?)
    }

    async fn cost_report(&self, query: &CostQuery) -> StoreResult<CostReport> {
        Ok(ClickHouseStore::cost_report(self, query).await?)
    }

    async fn cost_since(
        &self,
        project: &str,
        since_unix_nanos: i64,
        user_id: Option<&str>,
        session_id: Option<&str>,
    ) -> StoreResult<i128> {
        Ok(
            ClickHouseStore::cost_since(self, project, since_unix_nanos, user_id, session_id)
                .await?,
        )
    }

    async fn set_price_overrides(
        &self,
        project: &str,
        overrides_json: &str,
        now_unix_nanos: i64,
    ) -> StoreResult<()> {
        Ok(
            ClickHouseStore::set_price_overrides(self, project, overrides_json, now_unix_nanos)
                .await?,
        )
    }

    async fn all_price_overrides(&self) -> StoreResult<Vec<(String, String)>> {
        Ok(ClickHouseStore::all_price_overrides(self).await?)
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<bool> {
        Ok(ClickHouseStore::insert_api_key(self, key).await?)
    }

    async fn api_key(&self, prefix: &str) -> StoreResult<Option<ApiKeyRecord>> {
        Ok(ClickHouseStore::api_key(self, prefix).await?)
    }

    async fn api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        Ok(ClickHouseStore::api_keys(self).await?)
    }

    async fn has_api_keys(&self) -> StoreResult<bool> {
        Ok(ClickHouseStore::has_api_keys(self).await?)
    }

    async fn revoke_api_key(
        &self,
        prefix: &str,
        unix_nanos: i64,
    ) -> StoreResult<Option<ApiKeyRecord>> {
        Ok(ClickHouseStore::revoke_api_key(self, prefix, unix_nanos).await?)
    }
}
