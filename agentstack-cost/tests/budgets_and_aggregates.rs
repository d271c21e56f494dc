//! Budgets raise exactly one crossing per period; aggregates equal the sum of span costs.

use agentstack_cost::{
    Budget, BudgetError, BudgetPeriod, BudgetSubject, BudgetTracker, CostAggregator, CostInput,
    CostMetricKey, Pricing, Spend, TokenUsage, Usd, hour_start,
};

/// 2026-12-01T00:00:00Z in nanoseconds.
const DEC_1: i64 = 1_796_083_200 * 1_000_000_000;
const HOUR: i64 = 3_600 * 1_000_000_000;
const DAY: i64 = 24 * HOUR;

fn usd(text: &str) -> Usd {
    Usd::from_decimal_str(text).unwrap()
}

fn budget(id: &str, subject: BudgetSubject, period: BudgetPeriod, limit: &str) -> Budget {
    Budget {
        id: id.to_string(),
        project: "acme".to_string(),
        subject,
        period,
        limit: usd(limit),
    }
}

fn spend(cost: &str, at: i64) -> Spend<'static> {
    Spend {
        project: "acme",
        user: Some("u-1"),
        session: Some("s-1"),
        cost: usd(cost),
        at_unix_nanos: at,
    }
}

#[test]
fn a_daily_budget_alerts_once_per_day() {
    let mut tracker = BudgetTracker::new(vec![budget(
        "daily",
        BudgetSubject::Project,
        BudgetPeriod::Daily,
        "1",
    )])
    .unwrap();
    // $0.40 + $0.40 = $0.80 < $1; the third brings it to $1.20: one crossing.
    assert!(tracker.record(&spend("0.4", DEC_1 + HOUR)).is_empty());
    assert!(tracker.record(&spend("0.4", DEC_1 + 2 * HOUR)).is_empty());
    let crossings = tracker.record(&spend("0.4", DEC_1 + 3 * HOUR));
    assert_eq!(crossings.len(), 1);
    let crossing = &crossings[0];
    assert_eq!(crossing.budget_id, "daily");
    assert_eq!(crossing.spent, usd("1.2"));
    assert_eq!(crossing.period_start_unix_seconds, DEC_1 / 1_000_000_000);
    assert_eq!(crossing.crossed_at_unix_nanos, DEC_1 + 3 * HOUR);
    // More spending the same day raises nothing more.
    for i in 4..20 {
        assert!(tracker.record(&spend("0.4", DEC_1 + i * HOUR)).is_empty());
    }
    // The next day starts again from zero: one more crossing, on the third span.
    let next_day: Vec<usize> = (0..5)
        .map(|i| tracker.record(&spend("0.4", DEC_1 + DAY + i * HOUR)).len())
        .collect();
    assert_eq!(next_day, vec![0, 0, 1, 0, 0]);
    // A late span of the first day does not alert that day again.
    assert!(tracker.record(&spend("5", DEC_1 + 23 * HOUR)).is_empty());
    // 19 spans of $0.40 (hours 1–19) and the late $5: $12.60.
    assert_eq!(tracker.spent("daily", DEC_1), Some(usd("12.6")));
}

#[test]
fn reaching_the_limit_exactly_is_crossing_it() {
    let mut tracker = BudgetTracker::new(vec![budget(
        "b",
        BudgetSubject::Project,
        BudgetPeriod::Daily,
        "0.3",
    )])
    .unwrap();
    // 0.1 + 0.1 + 0.1 is exactly 0.3 here (in f64 it is 0.30000000000000004).
    let counts: Vec<usize> = (0..4)
        .map(|i| tracker.record(&spend("0.1", DEC_1 + i)).len())
        .collect();
    assert_eq!(counts, vec![0, 0, 1, 0]);
}

#[test]
fn monthly_user_and_session_budgets_are_separate() {
    let mut tracker = BudgetTracker::new(vec![
        budget(
            "user-month",
            BudgetSubject::User("u-1".into()),
            BudgetPeriod::Monthly,
            "10",
        ),
        budget(
            "other-user",
            BudgetSubject::User("u-2".into()),
            BudgetPeriod::Monthly,
            "10",
        ),
        budget(
            "session-day",
            BudgetSubject::Session("s-1".into()),
            BudgetPeriod::Daily,
            "3",
        ),
    ])
    .unwrap();
    let mut alerts: Vec<(String, i64)> = Vec::new();
    // $1 a day for 40 days from 2026-12-01: u-1 reaches $10 on Dec 10, then again in January
    // on Jan 10 (the 41st day is Jan 10: Dec has 31 days). s-1 reaches $3 on no single day.
    for day in 0..41 {
        for crossing in tracker.record(&spend("1", DEC_1 + day * DAY + HOUR)) {
            alerts.push((crossing.budget_id, day));
        }
    }
    assert_eq!(
        alerts,
        vec![
            ("user-month".to_string(), 9),
            ("user-month".to_string(), 40)
        ]
    );
    // Three dollars in one day in one session: the session budget crosses once.
    let crossings: Vec<_> = (0..4)
        .flat_map(|i| tracker.record(&spend("1", DEC_1 + 50 * DAY + i * HOUR)))
        .map(|c| c.budget_id)
        .collect();
    assert_eq!(crossings, vec!["session-day".to_string()]);
    // Other projects are not counted.
    let mut other = spend("100", DEC_1);
    other.project = "other";
    assert!(tracker.record(&other).is_empty());
}

#[test]
fn a_restored_period_that_was_alerted_does_not_alert_again() {
    let mut tracker = BudgetTracker::new(vec![budget(
        "daily",
        BudgetSubject::Project,
        BudgetPeriod::Daily,
        "1",
    )])
    .unwrap();
    tracker
        .restore("daily", DEC_1 / 1_000_000_000, usd("1.5"), true)
        .unwrap();
    assert!(tracker.record(&spend("1", DEC_1 + HOUR)).is_empty());
    assert_eq!(tracker.spent("daily", DEC_1 + HOUR), Some(usd("2.5")));
    assert!(matches!(
        tracker.restore("nope", 0, Usd::ZERO, false),
        Err(BudgetError::UnknownBudget { .. })
    ));
    tracker.forget_before(DEC_1 / 1_000_000_000 + 1);
    assert_eq!(tracker.spent("daily", DEC_1), Some(Usd::ZERO));
}

#[test]
fn bad_budgets_are_typed_errors() {
    let twice = vec![
        budget("a", BudgetSubject::Project, BudgetPeriod::Daily, "1"),
        budget("a", BudgetSubject::Project, BudgetPeriod::Monthly, "1"),
    ];
    assert!(matches!(
        BudgetTracker::new(twice),
        Err(BudgetError::DuplicateId { .. })
    ));
    let zero = vec![budget(
        "z",
        BudgetSubject::Project,
        BudgetPeriod::Daily,
        "0",
    )];
    assert!(matches!(
        BudgetTracker::new(zero),
        Err(BudgetError::NonPositiveLimit { .. })
    ));
}

/// A small deterministic generator (64-bit LCG), so the test is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

#[test]
fn aggregates_equal_the_sum_of_span_costs() {
    let pricing = Pricing::bundled();
    let models = [
        "gpt-4o",
        "claude-sonnet-4-5",
        "gemini/gemini-2.5-pro",
        "o3-mini",
        "unknown-model",
    ];
    let agents = [Some("planner"), Some("coder"), None];
    let mut rng = Lcg(7);
    let mut aggregator = CostAggregator::new();
    let mut total = Usd::ZERO;
    let mut input_tokens = 0;
    let mut spans = Vec::new();
    for i in 0..5_000 {
        let model = models[rng.next(models.len() as u64) as usize];
        let agent = agents[rng.next(agents.len() as u64) as usize];
        let input = rng.next(300_000);
        let cache_read = rng.next(input + 1);
        let output = rng.next(5_000);
        let usage = TokenUsage {
            input,
            output,
            cache_read,
            cache_write: 0,
            reasoning: rng.next(output + 1),
        };
        let producer_cost = (i % 50 == 0).then(|| Usd::from_cents(3));
        let cost = pricing.cost(&CostInput {
            model: Some(model),
            usage: Some(usage),
            producer_cost,
            ..CostInput::default()
        });
        let at = DEC_1 + (rng.next(72) as i64) * HOUR + rng.next(3_600_000_000_000) as i64;
        total += cost.kept_cost().unwrap_or(Usd::ZERO);
        input_tokens += input;
        let key = CostMetricKey::new("acme", Some(model), agent, at);
        assert_eq!(key.hour_unix_seconds, hour_start(at));
        assert_eq!(key.hour_unix_seconds % 3600, 0);
        spans.push((key.clone(), cost.kept_cost().unwrap_or(Usd::ZERO)));
        aggregator.add(key, &cost);
    }
    // Each key's cost is the exact sum of its spans' kept costs.
    for (key, _) in &spans {
        let expected: Usd = spans
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, c)| *c)
            .sum();
        assert_eq!(aggregator.get(key).unwrap().cost, expected, "{key:?}");
    }
    let rows = aggregator.drain();
    assert!(aggregator.is_empty());
    assert!(
        rows.windows(2).all(|w| w[0].0 < w[1].0),
        "drained in key order"
    );
    let summed: Usd = rows.iter().map(|(_, m)| m.cost).sum();
    assert_eq!(summed, total);
    assert_eq!(rows.iter().map(|(_, m)| m.spans).sum::<u64>(), 5_000);
    assert_eq!(
        rows.iter().map(|(_, m)| m.input_tokens).sum::<u64>(),
        input_tokens
    );
    let unknown: u64 = rows
        .iter()
        .filter(|(k, _)| k.model == "unknown-model")
        .map(|(_, m)| m.spans - m.priced_spans)
        .sum();
    assert!(unknown > 0, "unknown models are counted but not priced");
}
