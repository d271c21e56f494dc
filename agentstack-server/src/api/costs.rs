//! Costs in the API, for the project of the request: `GET /api/v1/costs` (totals, groups by
//! model, day, agent, session or user, and a time series), `GET /api/v1/budgets` (each budget's
//! spend in its current period), the admin routes `GET`/`PUT /api/v1/projects/{name}/prices`
//! (a project's price overrides, applied to new spans), and the cost fields the trace list and
//! trace detail carry. Amounts are `cost_usd` (a JSON number rounded to 10⁻⁶ USD, for charts)
//! beside `cost` (exact decimal text, for sums).

use std::collections::HashMap;
use std::sync::Arc;

use agentstack_cost::{Budget, BudgetPeriod, BudgetSubject, PriceOverrides, SpanCost, Usd};
use agentstack_exporter_sqlite::store::{
    CostGroup, CostGroupBy, CostQuery, CostTotals, SpanCostRecord, TraceCost,
};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;

use super::params::{QueryParams, format_time};
use super::{ApiError, ApiState, Project, json_response};
use crate::pricing::ProjectPricing;

const COSTS_PARAMETERS: &[&str] = &["group_by", "since", "until"];

/// Ranges up to this long get hourly buckets in the series; longer ones daily.
const HOURLY_SERIES_UP_TO_NANOS: i64 = 48 * 3_600_000_000_000;

/// What the cost routes need beside the store: each project's prices and the budgets.
#[derive(Debug)]
pub struct CostApi {
    /// The prices, shared with the cost worker (a `PUT` of overrides reaches it at once).
    pub pricing: Arc<ProjectPricing>,
    /// The server's budgets, every project's.
    pub budgets: Vec<Budget>,
}

impl Default for CostApi {
    fn default() -> CostApi {
        CostApi {
            pricing: Arc::new(ProjectPricing::bundled()),
            budgets: Vec::new(),
        }
    }
}

/// Exact femtodollars as a JSON number of dollars rounded to the millionth (half away from
/// zero): for charts and display, never for adding up (use the exact `cost` text).
pub fn usd_number(femtos: i128) -> f64 {
    const PER_MICRO: i128 = 1_000_000_000;
    let half = if femtos < 0 {
        -PER_MICRO / 2
    } else {
        PER_MICRO / 2
    };
    let micros = (femtos + half) / PER_MICRO;
    micros as f64 / 1e6
}

/// The cost fields of a trace in the list and the detail.
#[derive(Debug, Default, Serialize)]
pub(super) struct TraceCostFields {
    /// The sum of its priced spans' costs; `null` when none is priced.
    cost_usd: Option<f64>,
    /// Whether any of that rests on estimated tokens.
    cost_estimated: bool,
}

impl TraceCostFields {
    pub(super) fn of(cost: Option<&TraceCost>) -> TraceCostFields {
        TraceCostFields {
            cost_usd: cost.map(|c| usd_number(c.cost_femtos)),
            cost_estimated: cost.is_some_and(|c| c.estimated),
        }
    }
}

/// The cost fields of one span of the detail.
#[derive(Debug, Default, Serialize)]
pub(super) struct SpanCostFields {
    /// What it cost (the producer's cost when it sent one); `null` when not priced.
    cost_usd: Option<f64>,
    /// Whether that rests on estimated tokens.
    cost_estimated: bool,
    /// The cost engine's account of it (`status` priced or unpriced, the parts in exact
    /// decimal USD, the tokens, the matched model and rule); `null` for a span with nothing to
    /// price. Read into a [`SpanCost`] and written out whole: the store keeps its compact form
    /// ([`SpanCost::stored_json`]), which leaves out the fields at their default.
    cost: Option<SpanCost>,
}

impl SpanCostFields {
    pub(super) fn of(row: Option<&SpanCostRecord>) -> SpanCostFields {
        let Some(row) = row else {
            return SpanCostFields::default();
        };
        SpanCostFields {
            cost_usd: row.cost_femtos.map(usd_number),
            cost_estimated: row.estimated && row.cost_femtos.is_some(),
            cost: serde_json::from_str(&row.breakdown).ok(),
        }
    }
}

/// The trace list's `min_cost` (USD, e.g. `0.01`) in femtodollars.
pub(super) fn min_cost_param(params: &QueryParams) -> Result<Option<i128>, ApiError> {
    let Some(text) = params.text("min_cost") else {
        return Ok(None);
    };
    match Usd::from_decimal_str(text.trim()) {
        Ok(usd) if usd.femtos() >= 0 => Ok(Some(usd.femtos())),
        _ => Err(ApiError::bad_parameter(
            "min_cost",
            format!(
                "min_cost={text:?} is not an amount of USD; give a decimal number of dollars at \
                 least 0, such as 0.01"
            ),
        )),
    }
}

/// The costs of `trace_ids` in `project` (those with priced spans).
pub(super) async fn trace_costs(
    state: &ApiState,
    project: &str,
    trace_ids: Vec<String>,
) -> Result<HashMap<String, TraceCost>, ApiError> {
    state
        .store
        .trace_costs(project, &trace_ids)
        .await
        .map_err(ApiError::from)
}

/// The cost rows of one trace's spans, by span id.
pub(super) async fn span_costs(
    state: &ApiState,
    project: &str,
    trace_id: &str,
) -> Result<HashMap<String, SpanCostRecord>, ApiError> {
    state
        .store
        .span_costs_of_trace(project, trace_id)
        .await
        .map_err(ApiError::from)
}

fn totals_json(totals: &CostTotals) -> serde_json::Value {
    serde_json::json!({
        "cost_usd": usd_number(totals.cost_femtos),
        "cost": Usd::from_femtos(totals.cost_femtos).to_string(),
        "estimated_cost_usd": usd_number(totals.estimated_cost_femtos),
        "input_tokens": totals.input_tokens,
        "output_tokens": totals.output_tokens,
        "span_count": totals.span_count,
    })
}

fn group_json(group: &CostGroup) -> serde_json::Value {
    serde_json::json!({
        "key": group.key,
        "cost_usd": usd_number(group.totals.cost_femtos),
        "cost": Usd::from_femtos(group.totals.cost_femtos).to_string(),
        "input_tokens": group.totals.input_tokens,
        "output_tokens": group.totals.output_tokens,
        "span_count": group.totals.span_count,
    })
}

/// `GET /api/v1/costs?group_by=model|day|agent|session|user&since&until`.
pub async fn costs(
    State(state): State<ApiState>,
    Project(project): Project,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = QueryParams::parse(raw.as_deref(), COSTS_PARAMETERS)?;
    let group_name = params.text("group_by").unwrap_or("model");
    let Some(group_by) = CostGroupBy::from_name(group_name) else {
        return Err(ApiError::bad_parameter(
            "group_by",
            format!(
                "group_by={group_name:?} is not a grouping; give model, day, agent, session or user"
            ),
        ));
    };
    let since = params.time("since")?;
    let until = params.time("until")?;
    if let (Some(since), Some(until)) = (since, until)
        && since >= until
    {
        return Err(ApiError::bad_parameter(
            "until",
            "until is not after since; give a range that ends after it starts",
        ));
    }
    let hourly = group_by != CostGroupBy::Day
        && since.is_some_and(|since| {
            let end = until.unwrap_or_else(crate::clock::now_unix_nanos);
            end.saturating_sub(since) <= HOURLY_SERIES_UP_TO_NANOS
        });
    let bucket_seconds = if hourly { 3600 } else { 86_400 };
    let query = CostQuery {
        project,
        group_by,
        since_unix_nanos: since,
        until_unix_nanos: until,
        bucket_seconds,
    };
    let report = state.store.cost_report(&query).await?;
    let series: Vec<serde_json::Value> = report
        .series
        .iter()
        .map(|point| {
            serde_json::json!({
                "bucket_start": format_time(point.bucket_start_unix_seconds.saturating_mul(1_000_000_000)),
                "key": point.key,
                "cost_usd": usd_number(point.totals.cost_femtos),
                "cost": Usd::from_femtos(point.totals.cost_femtos).to_string(),
                "input_tokens": point.totals.input_tokens,
                "output_tokens": point.totals.output_tokens,
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({
            "group_by": group_by.name(),
            "since": since.map(format_time),
            "until": until.map(format_time),
            // Model, day and agent come from hourly aggregates: the range counts whole hours.
            "range_in_whole_hours": group_by.from_hourly_metrics(),
            "bucket": if hourly { "1h" } else { "1d" },
            "total": totals_json(&report.total),
            "groups": report.groups.iter().map(group_json).collect::<Vec<_>>(),
            "series": series,
        }),
    ))
}

/// `project`, `user:ID` or `session:ID`, as the config file writes it.
fn scope_of(subject: &BudgetSubject) -> String {
    match subject {
        BudgetSubject::Project => "project".to_string(),
        BudgetSubject::User(user) => format!("user:{user}"),
        BudgetSubject::Session(session) => format!("session:{session}"),
    }
}

/// `GET /api/v1/budgets`: the caller's project's budgets and their spend in the current period
/// (from the store's span costs).
pub async fn budgets(
    State(state): State<ApiState>,
    Project(project): Project,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    QueryParams::parse(raw.as_deref(), &[])?;
    let mine: Vec<Budget> = state
        .costs
        .budgets
        .iter()
        .filter(|b| b.project == project)
        .cloned()
        .collect();
    let now = crate::clock::now_unix_nanos();
    let mut spent = Vec::with_capacity(mine.len());
    for budget in mine {
        let start = budget.period.start_of(now);
        let (user, session) = match &budget.subject {
            BudgetSubject::Project => (None, None),
            BudgetSubject::User(u) => (Some(u.as_str()), None),
            BudgetSubject::Session(s) => (None, Some(s.as_str())),
        };
        let total = state
            .store
            .cost_since(
                &budget.project,
                start.saturating_mul(1_000_000_000),
                user,
                session,
            )
            .await?;
        spent.push((budget, start, total));
    }
    let budgets: Vec<serde_json::Value> = spent
        .iter()
        .map(|(budget, start, spent)| {
            serde_json::json!({
                "id": budget.id,
                "scope": scope_of(&budget.subject),
                "period": match budget.period {
                    BudgetPeriod::Daily => "daily",
                    BudgetPeriod::Monthly => "monthly",
                },
                "period_start": format_time(start.saturating_mul(1_000_000_000)),
                "limit_usd": usd_number(budget.limit.femtos()),
                "limit": budget.limit.to_string(),
                "spent_usd": usd_number(*spent),
                "spent": Usd::from_femtos(*spent).to_string(),
                "crossed": *spent >= budget.limit.femtos(),
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "budgets": budgets }),
    ))
}

fn prices_json(project: &str, pricing: &ProjectPricing) -> serde_json::Value {
    let (overrides, source) = pricing.overrides(project);
    serde_json::json!({
        "project": project,
        "source": source,
        "overrides": overrides,
        "table": pricing.table().source(),
    })
}

/// `GET /api/v1/projects/{name}/prices` (admin): the project's price overrides and where they
/// came from (`none`, `config`, `api`).
pub async fn get_prices(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    super::keys::admin(&state)?.check(&headers)?;
    Ok(json_response(
        StatusCode::OK,
        &prices_json(&name, &state.costs.pricing),
    ))
}

/// `PUT /api/v1/projects/{name}/prices` (admin): replaces the project's price overrides with
/// the body (a `PriceOverrides` JSON object: `{"models": {"gpt-4o": {"input": "2.0", …}}}`,
/// USD per million tokens). They are stored, and price the project's spans from now on; spans
/// already priced keep their cost.
pub async fn put_prices(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    super::keys::admin(&state)?.check(&headers)?;
    let refuse = |message: String| ApiError {
        status: StatusCode::BAD_REQUEST,
        message,
        parameter: None,
    };
    let overrides: PriceOverrides = serde_json::from_slice(&body).map_err(|error| {
        refuse(format!(
            "the body is not price overrides: {error}; send JSON such as {{\"models\": \
             {{\"gpt-4o\": {{\"based_on\": \"gpt-4o\", \"input\": \"2.0\"}}}}}} (USD per million \
             tokens)"
        ))
    })?;
    state
        .costs
        .pricing
        .check(&overrides)
        .map_err(|error| refuse(error.to_string()))?;
    let text = serde_json::to_string(&overrides)
        .map_err(|error| ApiError::internal(format!("cannot encode the overrides: {error}")))?;
    let project = name.clone();
    state
        .store
        .set_price_overrides(&project, &text, crate::clock::now_unix_nanos())
        .await?;
    state
        .costs
        .pricing
        .set_from_api(&name, overrides)
        .map_err(|error| refuse(error.to_string()))?;
    Ok(json_response(
        StatusCode::OK,
        &prices_json(&name, &state.costs.pricing),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_to_the_millionth() {
        assert_eq!(usd_number(3_500_000_000_000), 0.0035);
        assert_eq!(usd_number(1_499_999_999), 0.000001);
        assert_eq!(usd_number(1_500_000_000), 0.000002);
        assert_eq!(usd_number(-1_500_000_000), -0.000002);
        assert_eq!(usd_number(0), 0.0);
    }

    #[test]
    fn min_cost_is_dollars_or_a_400_naming_it() {
        let params = QueryParams::parse(Some("min_cost=0.01"), &["min_cost"]).unwrap();
        assert_eq!(min_cost_param(&params).unwrap(), Some(10_000_000_000_000));
        for bad in ["cheap", "-1", "0.0000000000000001"] {
            let params =
                QueryParams::parse(Some(&format!("min_cost={bad}")), &["min_cost"]).unwrap();
            assert_eq!(
                min_cost_param(&params).unwrap_err().parameter.as_deref(),
                Some("min_cost"),
                "{bad}"
            );
        }
    }
}
