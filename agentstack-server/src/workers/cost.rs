//! The cost worker: consumes the bus as the `cost` consumer group, prices every span that names
//! a model, carries token usage or a producer's cost (with its project's [`ProjectPricing`]),
//! writes one `span_costs` row per span and its `cost_metrics` hour in one transaction (a span
//! delivered twice is priced once), and adds the new costs to the budgets, raising an alert
//! through the [`AlertSink`] when one is crossed (once per period).
//!
//! **Budgets across replicas**: on a durable bus several cost workers may share the group, each
//! pricing part of the spans. Each then sets its budgets' spend from the store again every
//! [`BUDGET_RESYNC_INTERVAL`] (before a write, so its own new rows are never counted twice),
//! so the spend of the others counts within that; the dedup key keeps one alert per period.
//!
//! **Agent of a span**: its own `gen_ai.agent.name`; else the nearest ancestor among the spans
//! priced together (the bus batches gathered into one write) that has a `gen_ai.agent.name`
//! or is of kind `agent` (its name then). An agent span usually ends, and so is exported,
//! after its model calls, in the same SDK batch unless the run outlasts a flush (5 s); a span
//! whose agent is not in its write keeps an empty agent.

use std::sync::Arc;

use agentstack_cost::{
    Budget, BudgetCrossing, BudgetSubject, BudgetTracker, CostInput, PRODUCER_COST_ATTRIBUTES,
    Pricing, SpanCost, Spend, TokenUsage, Usd, producer_cost_from_attributes,
};
use agentstack_exporter_sqlite::SpanRecord;
use agentstack_exporter_sqlite::store::{AlertRecord, AlertSeverity, SpanCostRecord};
use rustc_hash::FxHashMap;

use crate::alerts::AlertSink;
use crate::bus::{SpanBatch, SpanSubscription};
use crate::clock::now_unix_nanos;
use crate::normalize::NormalizedSpan;
use crate::pricing::ProjectPricing;
use crate::store::{Store, StoreResult};
use crate::workers::retry::{Retried, retry};

/// The consumer group of the cost worker.
pub const COST_GROUP: &str = "cost";

/// The attribute naming a span's agent.
const AGENT_NAME_ATTRIBUTE: &str = "gen_ai.agent.name";

/// How far up the parent chain the agent is looked for.
const MAX_AGENT_DEPTH: usize = 64;

/// Spans gathered into one write at most: as many as the embedded writer's backlog writes
/// (`Batching::EMBEDDED`), for the same reason (each write rewrites the pages of the
/// trace-keyed index it touches).
const MAX_SPANS_PER_WRITE: usize = 32_768;

/// How often a cost worker on a durable bus reads its budgets' spend from the store again.
pub const BUDGET_RESYNC_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// What the cost worker did, for the shutdown message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CostStats {
    /// Spans received.
    pub spans: u64,
    /// Span cost rows written for the first time.
    pub priced: u64,
    /// Rows already stored (a span delivered again).
    pub duplicates: u64,
    /// Rows the store refused after every attempt.
    pub failed: u64,
    /// Budget crossings raised.
    pub budget_alerts: u64,
}

/// The attributes of a span the cost worker reads, parsed once and only when present.
#[derive(Debug, Default)]
struct CostAttributes {
    producer_cost: Option<Usd>,
    total_tokens: Option<u64>,
    agent: Option<String>,
}

/// The few attributes the cost worker reads, deserialized straight from the attributes text
/// (serde skips every other key without building it, which is most of the cost of a span).
#[derive(Debug, Default, serde::Deserialize)]
struct WantedAttributes {
    #[serde(rename = "llm.cost.total")]
    llm_cost_total: Option<serde_json::Value>,
    #[serde(rename = "gen_ai.usage.cost")]
    gen_ai_usage_cost: Option<serde_json::Value>,
    #[serde(rename = "gen_ai.usage.total_tokens")]
    gen_ai_total_tokens: Option<serde_json::Value>,
    #[serde(rename = "llm.token_count.total")]
    llm_token_count_total: Option<serde_json::Value>,
    #[serde(rename = "llm.usage.total_tokens")]
    llm_usage_total_tokens: Option<serde_json::Value>,
    #[serde(rename = "gen_ai.agent.name")]
    agent_name: Option<serde_json::Value>,
}

impl CostAttributes {
    /// Reads `attributes` (JSON object text) only when one of the keys may be in it.
    fn of(attributes: &str) -> CostAttributes {
        let wanted = attributes.contains("cost")
            || attributes.contains("total")
            || attributes.contains(AGENT_NAME_ATTRIBUTE);
        if !wanted {
            return CostAttributes::default();
        }
        let Ok(found) = serde_json::from_str::<WantedAttributes>(attributes) else {
            return CostAttributes::default();
        };
        // The same first-found-wins order as `PRODUCER_COST_ATTRIBUTES`.
        let mut costs = serde_json::Map::new();
        for (key, value) in [
            (PRODUCER_COST_ATTRIBUTES[0], found.llm_cost_total),
            (PRODUCER_COST_ATTRIBUTES[1], found.gen_ai_usage_cost),
        ] {
            if let Some(value) = value {
                costs.insert(key.to_string(), value);
            }
        }
        CostAttributes {
            producer_cost: (!costs.is_empty())
                .then(|| producer_cost_from_attributes(&costs))
                .flatten(),
            total_tokens: [
                found.gen_ai_total_tokens,
                found.llm_token_count_total,
                found.llm_usage_total_tokens,
            ]
            .into_iter()
            .find_map(|value| value?.as_u64()),
            agent: found
                .agent_name
                .and_then(|v| v.as_str().map(str::to_string))
                .filter(|name| !name.is_empty()),
        }
    }
}

/// The cost input of one stored span, its usage reconciled with the producer's total.
pub fn cost_input<'a>(
    record: &'a SpanRecord,
    producer_cost: Option<Usd>,
    total_tokens: Option<u64>,
) -> CostInput<'a> {
    let mut usage = TokenUsage::from_otel(
        record.input_tokens,
        record.output_tokens,
        record.cache_read_input_tokens,
        record.cache_creation_input_tokens,
        record.reasoning_output_tokens,
    );
    if let (Some(usage), Some(total)) = (usage.as_mut(), total_tokens) {
        usage.reconcile_with_total(total);
    }
    CostInput {
        model: record.model.as_deref(),
        provider: record.provider.as_deref(),
        usage,
        input_text: record.input.as_deref(),
        output_text: record.output.as_deref(),
        producer_cost,
    }
}

/// Prices one stored span with `pricing`, reading its producer cost and total tokens from its
/// attributes; `None` for a span with nothing to price (no model, no usage, no producer cost).
/// Used by the viewer too, for a trace file that has no `span_costs`.
pub fn price_record(record: &SpanRecord, pricing: &Pricing) -> Option<SpanCost> {
    let attributes = CostAttributes::of(&record.attributes);
    worth_pricing(record, &attributes).then(|| {
        pricing.cost(&cost_input(
            record,
            attributes.producer_cost,
            attributes.total_tokens,
        ))
    })
}

/// Whether a span says anything about cost.
fn worth_pricing(record: &SpanRecord, attributes: &CostAttributes) -> bool {
    record
        .model
        .as_deref()
        .is_some_and(|m| !m.trim().is_empty())
        || record.input_tokens.is_some()
        || record.output_tokens.is_some()
        || attributes.producer_cost.is_some()
}

/// The `span_costs` row of a priced span.
fn cost_row(project: &str, record: &SpanRecord, agent: String, cost: &SpanCost) -> SpanCostRecord {
    let usage = cost.usage().copied().unwrap_or_default();
    let breakdown = cost.breakdown();
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    SpanCostRecord {
        project: project.to_string(),
        trace_id: record.trace_id.clone(),
        span_id: record.span_id.clone(),
        start_unix_nanos: record.start_unix_nanos,
        end_unix_nanos: record.end_unix_nanos,
        model: record.model.clone().unwrap_or_default(),
        matched_model: breakdown.map(|b| b.model.to_string()),
        provider: record.provider.clone(),
        agent,
        session_id: record.session_id.clone(),
        user_id: record.user_id.clone(),
        cost_femtos: cost.kept_cost().map(Usd::femtos),
        estimated: cost.estimated(),
        producer_cost: match cost {
            SpanCost::Priced(b) => b.producer_cost,
            SpanCost::Unpriced(u) => u.producer_cost,
        }
        .map(|usd| usd.to_string()),
        differs: breakdown.is_some_and(|b| b.differs),
        input_tokens: count(usage.input),
        output_tokens: count(usage.output),
        cache_read_tokens: count(usage.cache_read),
        cache_write_tokens: count(usage.cache_write),
        reasoning_tokens: count(usage.reasoning),
        breakdown: cost.stored_json(),
    }
}

/// Prices `spans` (one write's worth): the rows to store, in span order. Pure, so the benchmark
/// and the tests call it directly.
pub fn price_spans(spans: &[&NormalizedSpan], pricing: &ProjectPricing) -> Vec<SpanCostRecord> {
    let attributes: Vec<CostAttributes> = spans
        .iter()
        .map(|span| CostAttributes::of(&span.record.attributes))
        .collect();
    // (project, trace, span) → position, for the agent of ancestors.
    let mut positions: FxHashMap<(&str, &str, &str), usize> =
        FxHashMap::with_capacity_and_hasher(spans.len(), Default::default());
    for (at, span) in spans.iter().enumerate() {
        positions.insert(
            (&span.project, &span.record.trace_id, &span.record.span_id),
            at,
        );
    }
    let own_agent = |at: usize| -> Option<String> {
        let record = &spans[at].record;
        attributes[at].agent.clone().or_else(|| {
            (record.kind.as_deref() == Some("agent") && !record.name.is_empty())
                .then(|| record.name.clone())
        })
    };
    let agent_of = |at: usize| -> String {
        if let Some(agent) = &attributes[at].agent {
            return agent.clone();
        }
        let span = spans[at];
        let mut parent = span.record.parent_span_id.as_deref();
        for _ in 0..MAX_AGENT_DEPTH {
            let Some(id) = parent else { break };
            let Some(&up) =
                positions.get(&(span.project.as_str(), span.record.trace_id.as_str(), id))
            else {
                break;
            };
            if let Some(agent) = own_agent(up) {
                return agent;
            }
            parent = spans[up].record.parent_span_id.as_deref();
        }
        String::new()
    };
    let mut by_project: FxHashMap<&str, Pricing> = FxHashMap::default();
    let mut rows = Vec::new();
    for (at, span) in spans.iter().enumerate() {
        let record = &span.record;
        if !worth_pricing(record, &attributes[at]) {
            continue;
        }
        let pricing = by_project
            .entry(span.project.as_str())
            .or_insert_with(|| pricing.pricing(&span.project));
        let input = cost_input(
            record,
            attributes[at].producer_cost,
            attributes[at].total_tokens,
        );
        let cost = pricing.cost(&input);
        rows.push(cost_row(&span.project, record, agent_of(at), &cost));
    }
    rows
}

/// The alert of a budget crossing: detector `budget`, one per budget and period (the dedup key
/// `budget:<id>:<period start, YYYY-MM-DD>`), about the trace of the span that crossed it, more
/// severe the further over the limit that span took the spend.
pub fn budget_alert(crossing: &BudgetCrossing, trace_id: &str, span_id: &str) -> AlertRecord {
    let period_day = period_day(crossing.period_start_unix_seconds);
    let limit = crossing.limit.femtos().max(1) as f64;
    let ratio = crossing.spent.femtos() as f64 / limit;
    let (severity, score) = if ratio >= 2.0 {
        (AlertSeverity::Critical, 95)
    } else if ratio >= 1.2 {
        (AlertSeverity::High, 80)
    } else {
        (AlertSeverity::Medium, 60)
    };
    let period = match crossing.period {
        agentstack_cost::BudgetPeriod::Daily => "daily",
        agentstack_cost::BudgetPeriod::Monthly => "monthly",
    };
    let whose = match &crossing.subject {
        BudgetSubject::Project => format!("project {}", crossing.project),
        BudgetSubject::User(user) => format!("user {user}"),
        BudgetSubject::Session(session) => format!("session {session}"),
    };
    AlertRecord {
        id: 0,
        project: crossing.project.clone(),
        dedup_key: budget_dedup_key(&crossing.budget_id, crossing.period_start_unix_seconds),
        trace_id: Some(trace_id.to_string()),
        span_id: Some(span_id.to_string()),
        detector: "budget".to_string(),
        title: format!(
            "{} budget {} of ${} crossed by {whose}: ${} spent since {period_day}",
            capitalized(period),
            crossing.budget_id,
            cents(crossing.limit),
            cents(crossing.spent),
        ),
        evidence: serde_json::json!([{
            "budget_id": crossing.budget_id,
            "subject": crossing.subject,
            "period": period,
            "period_start": period_day,
            "limit_usd": crossing.limit.to_string(),
            "spent_usd": crossing.spent.to_string(),
        }])
        .to_string(),
        score,
        severity,
        time_unix_nanos: crossing.crossed_at_unix_nanos,
    }
}

/// The dedup key of a budget's alert in the period starting at `period_start_unix_seconds`.
pub fn budget_dedup_key(budget_id: &str, period_start_unix_seconds: i64) -> String {
    format!(
        "budget:{budget_id}:{}",
        period_day(period_start_unix_seconds)
    )
}

fn period_day(unix_seconds: i64) -> String {
    jiff::Timestamp::from_second(unix_seconds)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| unix_seconds.to_string())
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `12.34` (whole cents, rounded half away from zero).
fn cents(usd: Usd) -> String {
    let cents = usd.round_to_cents();
    format!("{}.{:02}", cents / 100, (cents % 100).abs())
}

/// Sets each budget's spend in its current period from the store (the sum of its
/// `span_costs` since the period began), and whether its alert was already raised, so that a
/// restart neither forgets the spend nor alerts again.
pub async fn restore_budgets(
    tracker: &mut BudgetTracker,
    budgets: &[Budget],
    store: &dyn Store,
    now_unix_nanos: i64,
) -> StoreResult<()> {
    for budget in budgets {
        let period_start = budget.period.start_of(now_unix_nanos);
        let (user, session) = match &budget.subject {
            BudgetSubject::Project => (None, None),
            BudgetSubject::User(user) => (Some(user.as_str()), None),
            BudgetSubject::Session(session) => (None, Some(session.as_str())),
        };
        let spent = store
            .cost_since(
                &budget.project,
                period_start.saturating_mul(1_000_000_000),
                user,
                session,
            )
            .await?;
        let alerted = store
            .alert_exists(&budget.project, &budget_dedup_key(&budget.id, period_start))
            .await?;
        // The id is the tracker's own: it cannot be unknown.
        let _ = tracker.restore(&budget.id, period_start, Usd::from_femtos(spent), alerted);
    }
    Ok(())
}

/// Runs the cost worker until `subscription` ends.
pub async fn run(
    mut subscription: impl SpanSubscription,
    store: Arc<dyn Store>,
    pricing: Arc<ProjectPricing>,
    mut budgets: BudgetTracker,
    alerts: AlertSink,
) -> CostStats {
    let mut stats = CostStats::default();
    // Only a shared (durable) group can have other replicas writing costs meanwhile.
    let resync = subscription.is_durable() && !budgets.budgets().is_empty();
    let mut synced_at = std::time::Instant::now();
    while let Some(first) = subscription.next().await {
        let mut batches = vec![first];
        let mut count = batches[0].spans.len();
        while count < MAX_SPANS_PER_WRITE
            && let Some(next) = subscription.try_next()
        {
            count += next.spans.len();
            batches.push(next);
        }
        stats.spans += count as u64;
        let rows = Arc::new(priced(&batches, &pricing));
        if resync && !rows.is_empty() && synced_at.elapsed() >= BUDGET_RESYNC_INTERVAL {
            // Before the write: the store holds every replica's costs but not these rows yet.
            let listed = budgets.budgets().to_vec();
            match restore_budgets(&mut budgets, &listed, store.as_ref(), now_unix_nanos()).await {
                Ok(()) => synced_at = std::time::Instant::now(),
                Err(error) => {
                    tracing::warn!(%error, "cannot read the budgets' spend; using this worker's own");
                }
            }
        }
        if !rows.is_empty() {
            match write(&mut subscription, &store, &rows, &mut stats).await {
                Retried::Done(new) => {
                    add_to_budgets(&rows, &new, &mut budgets, &alerts, &mut stats);
                }
                Retried::Malformed(_) | Retried::GaveUp => {}
                // Stopping while the store is down: the batches stay unacknowledged in the
                // durable bus for the next cost worker.
                Retried::Abandoned => return stats,
            }
        }
        // Priced and stored (or counted as failed), crossings raised: a durable bus may forget
        // these batches.
        subscription.ack().await;
    }
    stats
}

/// Adds the new rows' costs to the budgets and raises the crossings.
fn add_to_budgets(
    rows: &[SpanCostRecord],
    new: &[usize],
    budgets: &mut BudgetTracker,
    alerts: &AlertSink,
    stats: &mut CostStats,
) {
    let mut raised = Vec::new();
    for &at in new {
        let row = &rows[at];
        let Some(femtos) = row.cost_femtos else {
            continue;
        };
        let spend = Spend {
            project: &row.project,
            user: row.user_id.as_deref(),
            session: row.session_id.as_deref(),
            cost: Usd::from_femtos(femtos),
            at_unix_nanos: row.end_unix_nanos,
        };
        for crossing in budgets.record(&spend) {
            raised.push(budget_alert(&crossing, &row.trace_id, &row.span_id));
        }
    }
    if !raised.is_empty() {
        stats.budget_alerts += raised.len() as u64;
        if !alerts.raise(raised) {
            tracing::warn!("the alert queue is full; a budget alert was dropped");
        }
    }
}

fn priced(batches: &[Arc<SpanBatch>], pricing: &ProjectPricing) -> Vec<SpanCostRecord> {
    let spans: Vec<&NormalizedSpan> = batches.iter().flat_map(|b| b.spans.iter()).collect();
    price_spans(&spans, pricing)
}

/// Writes `rows`, retried as [`retry`] does; counts what it did.
async fn write(
    subscription: &mut impl SpanSubscription,
    store: &Arc<dyn Store>,
    rows: &Arc<Vec<SpanCostRecord>>,
    stats: &mut CostStats,
) -> Retried<Vec<usize>> {
    let total = rows.len() as u64;
    let written = retry(subscription, "cost", || {
        store.insert_span_costs(Arc::clone(rows))
    })
    .await;
    match &written {
        Retried::Done(new) => {
            stats.priced += new.len() as u64;
            stats.duplicates += total - new.len() as u64;
        }
        Retried::Malformed(_) | Retried::GaveUp => stats.failed += total,
        Retried::Abandoned => {}
    }
    written
}

#[cfg(test)]
mod tests {
    use agentstack_cost::BudgetPeriod;
    use agentstack_exporter_sqlite::store::AlertQuery;

    use super::*;

    fn span(id: u8, parent: Option<u8>, kind: &str, attributes: &str) -> NormalizedSpan {
        let mut record = SpanRecord::new(
            "a".repeat(32),
            format!("{id:016x}"),
            format!("s{id}"),
            0,
            10,
        );
        record.parent_span_id = parent.map(|p| format!("{p:016x}"));
        record.kind = Some(kind.to_string());
        record.attributes = attributes.to_string();
        NormalizedSpan {
            project: "p".into(),
            record,
            otel_span_kind: 1,
            links: Vec::new(),
            resource_attributes: "{}".into(),
            scope_name: "test".into(),
        }
    }

    fn llm(id: u8, parent: Option<u8>, model: &str, input: i64, output: i64) -> NormalizedSpan {
        let mut span = span(id, parent, "llm", "{}");
        span.record.model = Some(model.into());
        span.record.input_tokens = Some(input);
        span.record.output_tokens = Some(output);
        span
    }

    #[test]
    fn spans_are_priced_with_their_agent_and_others_skipped() {
        let agent = span(1, None, "agent", r#"{"gen_ai.agent.name":"researcher"}"#);
        let chain = span(2, Some(1), "chain", "{}");
        let call = llm(3, Some(2), "gpt-4o", 1000, 100);
        let orphan = llm(4, Some(9), "gpt-4o", 1000, 0);
        let tool = span(5, Some(1), "tool", "{}");
        let spans = [&agent, &chain, &call, &orphan, &tool];
        let rows = price_spans(&spans, &ProjectPricing::bundled());
        assert_eq!(rows.len(), 2, "only the model calls");
        assert_eq!(rows[0].agent, "researcher", "found two levels up");
        // gpt-4o: 1000 × $2.50/M + 100 × $10/M = $0.0035
        assert_eq!(rows[0].cost_femtos, Some(3_500_000_000_000));
        assert_eq!(rows[0].matched_model.as_deref(), Some("gpt-4o"));
        assert_eq!(rows[1].agent, "", "its agent is not in the write");
    }

    #[test]
    fn anthropic_accounted_input_is_reconciled_with_the_total() {
        // Anthropic-style: input 100 excludes the 1000 cached tokens; the total says so.
        let mut call = llm(1, None, "claude-sonnet-4-5", 100, 50);
        call.record.cache_read_input_tokens = Some(1000);
        call.record.attributes = r#"{"gen_ai.usage.total_tokens":1150}"#.into();
        let rows = price_spans(&[&call], &ProjectPricing::bundled());
        assert_eq!(
            rows[0].input_tokens, 1100,
            "the cache was added to the input"
        );
        // 100 × $3/M + 1000 × $0.30/M + 50 × $15/M = 0.0003 + 0.0003 + 0.00075
        assert_eq!(rows[0].cost_femtos, Some(1_350_000_000_000));
    }

    #[test]
    fn a_producer_cost_is_kept_beside_ours() {
        let mut call = llm(1, None, "gpt-4o", 1000, 100);
        call.record.attributes =
            r#"{"llm.cost.total":0.01,"gen_ai.usage.total_tokens":1100}"#.into();
        let rows = price_spans(&[&call], &ProjectPricing::bundled());
        assert_eq!(
            rows[0].cost_femtos,
            Some(10_000_000_000_000),
            "the producer's"
        );
        assert_eq!(rows[0].producer_cost.as_deref(), Some("0.01"));
        assert!(rows[0].differs, "ours is $0.0035");
        let breakdown: serde_json::Value = serde_json::from_str(&rows[0].breakdown).unwrap();
        assert_eq!(breakdown["total"], "0.0035");
        // A span with nothing but a producer's cost still counts.
        let mut tool = span(2, None, "tool", r#"{"gen_ai.usage.cost":"0.002"}"#);
        tool.record.name = "paid search".into();
        let rows = price_spans(&[&tool], &ProjectPricing::bundled());
        assert_eq!(rows[0].cost_femtos, Some(2_000_000_000_000));
    }

    #[tokio::test]
    async fn a_crossing_alerts_once_and_a_restart_remembers() {
        let shared = crate::store::SqliteStore::new(
            agentstack_exporter_sqlite::SqliteSpanStore::open_in_memory().unwrap(),
        );
        let store = shared.sqlite();
        let budget = Budget {
            id: "daily".into(),
            project: "p".into(),
            subject: BudgetSubject::Project,
            period: BudgetPeriod::Daily,
            limit: Usd::from_decimal_str("0.005").unwrap(),
        };
        let now = 1_796_119_409 * 1_000_000_000; // 2026-12-01T10:03:29Z
        let mut call = llm(1, None, "gpt-4o", 1000, 100);
        call.record.end_unix_nanos = now;
        let rows = price_spans(&[&call], &ProjectPricing::bundled());
        assert_eq!(store.insert_span_costs(&rows).unwrap(), [0]);
        let mut tracker = BudgetTracker::new(vec![budget.clone()]).unwrap();
        let spend = |femtos| Spend {
            project: "p",
            user: None,
            session: None,
            cost: Usd::from_femtos(femtos),
            at_unix_nanos: now,
        };
        assert!(tracker.record(&spend(3_500_000_000_000)).is_empty());
        let crossing = tracker.record(&spend(3_500_000_000_000)).pop().unwrap();
        let alert = budget_alert(&crossing, "t", "s");
        assert_eq!(alert.dedup_key, "budget:daily:2026-12-01");
        assert_eq!(alert.severity, AlertSeverity::High, "1.4 × the limit");
        assert!(alert.title.contains("$0.01"), "{}", alert.title);
        store.insert_alerts(&[alert]).unwrap();

        // After a restart: the spend is read back and the alert is known.
        let mut restored = BudgetTracker::new(vec![budget.clone()]).unwrap();
        restore_budgets(&mut restored, &[budget], &shared, now)
            .await
            .unwrap();
        assert_eq!(
            restored.spent("daily", now),
            Some(Usd::from_femtos(3_500_000_000_000))
        );
        assert!(restored.record(&spend(3_500_000_000_000)).is_empty());
        let page = store.alert_page(&AlertQuery::default()).unwrap();
        assert_eq!(page.alerts.len(), 1);
    }
}
