//! Budgets: a daily or monthly spending limit per project, or per user or session of a project,
//! and a [`BudgetTracker`] that adds each span's cost to the budgets it falls under and reports
//! a [`BudgetCrossing`] exactly once per budget and period, the first time the spend reaches
//! the limit. Periods are UTC calendar days and months of the span's own time (passed in, never
//! read from a clock, so that replays and tests are deterministic); a late span counts in its
//! own period. The tracker's state can be restored after a restart ([`BudgetTracker::restore`])
//! so that a period already alerted is not alerted again.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::money::Usd;

/// The length of a budget's period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetPeriod {
    /// A UTC calendar day.
    Daily,
    /// A UTC calendar month.
    Monthly,
}

impl BudgetPeriod {
    /// The start of the period holding `unix_nanos`, in seconds since the Unix epoch.
    pub fn start_of(self, unix_nanos: i64) -> i64 {
        let days = unix_nanos.div_euclid(1_000_000_000).div_euclid(86_400);
        match self {
            BudgetPeriod::Daily => days * 86_400,
            BudgetPeriod::Monthly => {
                let (year, month, _) = civil_from_days(days);
                days_from_civil(year, month, 1) * 86_400
            }
        }
    }
}

/// Whose spending a budget limits, within its project.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum BudgetSubject {
    /// The whole project.
    Project,
    /// One end user (`user.id`).
    User(String),
    /// One session (`gen_ai.conversation.id`).
    Session(String),
}

/// A spending limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// Its id, unique across the tracker.
    pub id: String,
    /// The project.
    pub project: String,
    /// Whose spending.
    pub subject: BudgetSubject,
    /// Daily or monthly.
    pub period: BudgetPeriod,
    /// The limit; reaching it is crossing it.
    pub limit: Usd,
}

/// A budget reached in a period: raise one alert for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetCrossing {
    /// The budget's id.
    pub budget_id: String,
    /// Its project.
    pub project: String,
    /// Whose spending.
    pub subject: BudgetSubject,
    /// Daily or monthly.
    pub period: BudgetPeriod,
    /// The start of the period, seconds since the Unix epoch.
    pub period_start_unix_seconds: i64,
    /// The limit.
    pub limit: Usd,
    /// The spend in the period once the crossing span was added.
    pub spent: Usd,
    /// The time of the span that crossed it.
    pub crossed_at_unix_nanos: i64,
}

/// One span's spending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spend<'a> {
    /// The project.
    pub project: &'a str,
    /// The end user, if known.
    pub user: Option<&'a str>,
    /// The session, if known.
    pub session: Option<&'a str>,
    /// What the span cost (its kept cost).
    pub cost: Usd,
    /// When it happened (its end time), nanoseconds since the Unix epoch.
    pub at_unix_nanos: i64,
}

/// Why budgets cannot be tracked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetError {
    /// Two budgets with one id.
    #[error("two budgets have the id {id:?}; give each budget its own id")]
    DuplicateId {
        /// The id.
        id: String,
    },
    /// A limit of zero or less, which every period would cross at once.
    #[error("budget {id:?} has a limit of {limit} USD; set a limit above zero, or remove it")]
    NonPositiveLimit {
        /// The budget.
        id: String,
        /// Its limit.
        limit: Usd,
    },
    /// [`BudgetTracker::restore`] of a budget that is not tracked.
    #[error("no budget has the id {id:?}")]
    UnknownBudget {
        /// The id.
        id: String,
    },
}

/// The spend of one budget in one period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct PeriodSpend {
    spent: Usd,
    alerted: bool,
}

/// Adds spans' costs to budgets and reports each crossing once per period.
#[derive(Debug, Clone, Default)]
pub struct BudgetTracker {
    budgets: Vec<Budget>,
    by_project: FxHashMap<String, Vec<usize>>,
    /// (budget, period start) → its spend.
    spend: FxHashMap<(usize, i64), PeriodSpend>,
}

impl BudgetTracker {
    /// A tracker of `budgets`, none spent yet.
    pub fn new(budgets: Vec<Budget>) -> Result<BudgetTracker, BudgetError> {
        let mut by_project: FxHashMap<String, Vec<usize>> = FxHashMap::default();
        let mut ids = std::collections::HashSet::new();
        for (at, budget) in budgets.iter().enumerate() {
            if !ids.insert(budget.id.as_str()) {
                return Err(BudgetError::DuplicateId {
                    id: budget.id.clone(),
                });
            }
            if budget.limit.femtos() <= 0 {
                return Err(BudgetError::NonPositiveLimit {
                    id: budget.id.clone(),
                    limit: budget.limit,
                });
            }
            by_project
                .entry(budget.project.clone())
                .or_default()
                .push(at);
        }
        Ok(BudgetTracker {
            budgets,
            by_project,
            spend: FxHashMap::default(),
        })
    }

    /// The budgets tracked.
    pub fn budgets(&self) -> &[Budget] {
        &self.budgets
    }

    /// Adds one span's spending to every budget it falls under; returns the budgets it made
    /// cross their limit in their period (each at most once per period, ever).
    pub fn record(&mut self, spend: &Spend<'_>) -> Vec<BudgetCrossing> {
        let mut crossings = Vec::new();
        let Some(indices) = self.by_project.get(spend.project) else {
            return crossings;
        };
        for &at in indices {
            let budget = &self.budgets[at];
            let applies = match &budget.subject {
                BudgetSubject::Project => true,
                BudgetSubject::User(user) => spend.user == Some(user.as_str()),
                BudgetSubject::Session(session) => spend.session == Some(session.as_str()),
            };
            if !applies {
                continue;
            }
            let period_start = budget.period.start_of(spend.at_unix_nanos);
            let state = self.spend.entry((at, period_start)).or_default();
            state.spent += spend.cost;
            if !state.alerted && state.spent >= budget.limit {
                state.alerted = true;
                crossings.push(BudgetCrossing {
                    budget_id: budget.id.clone(),
                    project: budget.project.clone(),
                    subject: budget.subject.clone(),
                    period: budget.period,
                    period_start_unix_seconds: period_start,
                    limit: budget.limit,
                    spent: state.spent,
                    crossed_at_unix_nanos: spend.at_unix_nanos,
                });
            }
        }
        crossings
    }

    /// What a budget has spent in the period holding `at_unix_nanos`.
    pub fn spent(&self, budget_id: &str, at_unix_nanos: i64) -> Option<Usd> {
        let at = self.budgets.iter().position(|b| b.id == budget_id)?;
        let period_start = self.budgets[at].period.start_of(at_unix_nanos);
        Some(
            self.spend
                .get(&(at, period_start))
                .map_or(Usd::ZERO, |state| state.spent),
        )
    }

    /// Sets a budget's spend in a period from the store (after a restart): `alerted` says
    /// whether its crossing was already raised, so it is not raised again.
    pub fn restore(
        &mut self,
        budget_id: &str,
        period_start_unix_seconds: i64,
        spent: Usd,
        alerted: bool,
    ) -> Result<(), BudgetError> {
        let at = self
            .budgets
            .iter()
            .position(|b| b.id == budget_id)
            .ok_or_else(|| BudgetError::UnknownBudget {
                id: budget_id.to_string(),
            })?;
        self.spend.insert(
            (at, period_start_unix_seconds),
            PeriodSpend { spent, alerted },
        );
        Ok(())
    }

    /// Forgets the periods that started before `unix_seconds` (keep at least the current and
    /// the previous period, for late spans).
    pub fn forget_before(&mut self, unix_seconds: i64) {
        self.spend.retain(|(_, start), _| *start >= unix_seconds);
    }
}

// The two conversions below are Howard Hinnant's public-domain `days_from_civil` and
// `civil_from_days` (proleptic Gregorian calendar, days since 1970-01-01). They are all the
// calendar this crate needs (the first day of a UTC month), which does not warrant a date-time
// dependency.

/// (year, month 1–12, day 1–31) of a count of days since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of (year, month 1–12, day 1–31).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        for days in -800_000..800_000i64 {
            if days % 997 == 0 {
                let (y, m, d) = civil_from_days(days);
                assert_eq!(days_from_civil(y, m, d), days);
            }
        }
    }

    #[test]
    fn period_starts() {
        // 2026-12-01T10:03:29Z = 1_796_119_409 s.
        let at = 1_796_119_409 * 1_000_000_000;
        assert_eq!(BudgetPeriod::Daily.start_of(at), 1_796_083_200);
        assert_eq!(BudgetPeriod::Monthly.start_of(at), 1_796_083_200);
        // 2026-11-30T23:59:59Z is in November, which began 2026-11-01T00:00:00Z = 1_793_491_200.
        let late = (1_796_083_200 - 1) * 1_000_000_000;
        assert_eq!(BudgetPeriod::Monthly.start_of(late), 1_793_491_200);
        assert_eq!(BudgetPeriod::Daily.start_of(late), 1_796_083_200 - 86_400);
    }
}
