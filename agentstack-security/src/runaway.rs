//! The runaway-agent detectors, stateful per trace: tool loops, agent cycles, token explosions,
//! error and timeout chains.
//!
//! Memory is bounded: at most `max_traces` traces (least recently seen evicted first, idle ones
//! forgotten after `trace_idle_nanos`), `max_entries_per_trace` entries each, `max_baselines`
//! running usuals. Time comes only from the `now` passed in, never from the wall clock.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};

use crate::config::RunawayConfig;
use crate::finding::{Detector, Evidence, Finding, Location, clip};
use crate::span::{ScanSpan, SpanKind};

/// A running usual: the mean of the last ~`CAP` samples (an incremental mean whose count stops
/// growing at `CAP`, so it follows drift).
#[derive(Debug, Clone, Copy, Default)]
struct Baseline {
    count: u64,
    mean: f64,
}

const BASELINE_CAP: u64 = 1000;

impl Baseline {
    fn add(&mut self, x: f64) {
        self.count = (self.count + 1).min(BASELINE_CAP);
        self.mean += (x - self.mean) / self.count as f64;
    }
}

/// What is remembered of one trace.
#[derive(Debug, Default)]
struct TraceState {
    last_seen: i64,
    /// Position in the LRU index.
    lru_key: (i64, u64),
    /// Span ids already counted (a span delivered twice counts once).
    seen: HashSet<u64>,
    /// (tool, arguments) hash → (calls, tool name, arguments excerpt).
    tool_calls: HashMap<u64, (u32, String, String)>,
    /// Agent steps: (start, agent name), sorted by start.
    agents: Vec<(i64, String)>,
    /// Tokens of model calls in the trace.
    tokens: i64,
    /// Error and timeout spans: (name, was a timeout), the first few.
    errors: Vec<(String, bool)>,
    error_count: u32,
}

/// Follows traces and reports runaway agents. One per security worker; not shared across threads.
#[derive(Debug)]
pub struct RunawayTracker {
    config: RunawayConfig,
    traces: HashMap<(String, String), TraceState>,
    /// (last seen, sequence) → trace key, oldest first.
    lru: BTreeMap<(i64, u64), (String, String)>,
    seq: u64,
    /// (project, "model:<m>" or "agent:<a>") → tokens per span.
    span_baselines: HashMap<(String, String), Baseline>,
    /// project → tokens per trace (fed when a trace is forgotten).
    trace_baselines: HashMap<String, Baseline>,
}

fn hash_of(parts: &[&str]) -> u64 {
    let mut h = DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

fn is_timeout(span: &ScanSpan<'_>, config: &RunawayConfig) -> bool {
    if config.timeout_nanos > 0 && span.duration_nanos() >= config.timeout_nanos {
        return true;
    }
    span.is_error
        && span.status_message.is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            m.contains("timeout") || m.contains("timed out") || m.contains("deadline exceeded")
        })
}

impl RunawayTracker {
    /// A tracker with the given limits.
    pub fn new(config: RunawayConfig) -> Self {
        RunawayTracker {
            config,
            traces: HashMap::new(),
            lru: BTreeMap::new(),
            seq: 0,
            span_baselines: HashMap::new(),
            trace_baselines: HashMap::new(),
        }
    }

    /// The number of traces currently followed.
    pub fn traces(&self) -> usize {
        self.traces.len()
    }

    /// Forgets traces not seen since `now - trace_idle_nanos`, feeding their token totals into the
    /// project's usual tokens per trace. Called by [`observe`](Self::observe); call it on a timer
    /// too when spans are rare.
    pub fn evict_idle(&mut self, now: i64) {
        let cutoff = now.saturating_sub(self.config.trace_idle_nanos);
        while let Some((&(last_seen, _), _)) = self.lru.first_key_value() {
            if last_seen >= cutoff {
                break;
            }
            self.evict_oldest();
        }
    }

    fn evict_oldest(&mut self) {
        let Some((_, key)) = self.lru.pop_first() else {
            return;
        };
        if let Some(state) = self.traces.remove(&key)
            && state.tokens > 0
        {
            let full = self.trace_baselines.len() >= self.config.max_baselines;
            if let Some(b) = self.trace_baselines.get_mut(&key.0) {
                b.add(state.tokens as f64);
            } else if !full {
                let mut b = Baseline::default();
                b.add(state.tokens as f64);
                self.trace_baselines.insert(key.0, b);
            }
        }
    }

    /// Takes one span into its trace's state and returns what the runaway detectors find, given
    /// everything seen of the trace so far. A span seen before (same trace and span id) finds
    /// nothing and changes nothing.
    pub fn observe(&mut self, span: &ScanSpan<'_>, now: i64) -> Vec<Finding> {
        self.evict_idle(now);
        let key = (span.project.to_string(), span.trace_id.to_string());
        if !self.traces.contains_key(&key) {
            while self.traces.len() >= self.config.max_traces.max(1) {
                self.evict_oldest();
            }
            self.traces.insert(key.clone(), TraceState::default());
        }
        self.seq += 1;
        let seq = self.seq;
        let max_entries = self.config.max_entries_per_trace;
        let state = self.traces.get_mut(&key).expect("inserted above");
        self.lru.remove(&state.lru_key);
        state.last_seen = state.last_seen.max(now);
        state.lru_key = (state.last_seen, seq);
        self.lru.insert(state.lru_key, key.clone());

        let span_hash = hash_of(&[span.span_id]);
        if state.seen.contains(&span_hash) {
            return Vec::new();
        }
        if state.seen.len() < max_entries * 4 {
            state.seen.insert(span_hash);
        }

        let mut findings = Vec::new();
        let kind = span.span_kind();
        let config = &self.config;

        // Tool loop: the same tool with the same arguments.
        if let Some(tool) = span
            .tool_name
            .or((kind == SpanKind::Tool).then_some(span.name))
        {
            let args = span.input.unwrap_or("").trim();
            let h = hash_of(&[tool, args]);
            let known = state.tool_calls.contains_key(&h);
            if known || state.tool_calls.len() < max_entries {
                let entry = state
                    .tool_calls
                    .entry(h)
                    .or_insert_with(|| (0, tool.to_string(), clip(args, 80)));
                entry.0 += 1;
                let calls = entry.0;
                if calls >= config.tool_repeat_threshold.max(2) {
                    let over = calls - config.tool_repeat_threshold.max(2);
                    findings.push(Finding {
                        detector: Detector::ToolLoop,
                        score: (60 + 5 * over).min(90) as u8,
                        evidence: vec![Evidence {
                            signal: "repeat".into(),
                            detail: format!(
                                "tool `{}` called {calls} times with the same arguments: {}",
                                entry.1, entry.2
                            ),
                            location: Location::Trace,
                            score: (60 + 5 * over).min(90) as u8,
                        }],
                    });
                }
            }
        }

        // Agent cycle: the sequence of agents by start time repeats with a short period.
        if kind == SpanKind::Agent && state.agents.len() < max_entries {
            let agent = span.agent_name.unwrap_or(span.name).to_string();
            let at = state
                .agents
                .partition_point(|(start, _)| *start <= span.start_unix_nanos);
            state.agents.insert(at, (span.start_unix_nanos, agent));
            if let Some((cycle, repeats)) = find_cycle(
                &state.agents,
                config.max_cycle_period,
                config.agent_cycle_repeats,
            ) {
                let over = (repeats - config.agent_cycle_repeats) as u32;
                let score = (65 + 5 * over).min(90) as u8;
                findings.push(Finding {
                    detector: Detector::AgentCycle,
                    score,
                    evidence: vec![Evidence {
                        signal: "cycle".into(),
                        detail: format!("agents cycle {} times: {}", repeats, cycle.join(" → ")),
                        location: Location::Trace,
                        score,
                    }],
                });
            }
        }

        // Token explosion, per span against the model's (or agent's) usual, and per trace.
        if let Some(tokens) = span.total_tokens().filter(|t| *t > 0) {
            let baseline_key = match (span.model, span.agent_name) {
                (Some(model), _) => Some(format!("model:{model}")),
                (None, Some(agent)) => Some(format!("agent:{agent}")),
                _ => None,
            };
            let mut evidence = Vec::new();
            if config.max_span_tokens > 0 && tokens >= config.max_span_tokens {
                evidence.push(Evidence {
                    signal: "span_tokens".into(),
                    detail: format!(
                        "span used {tokens} tokens, limit {}",
                        config.max_span_tokens
                    ),
                    location: Location::Trace,
                    score: 70,
                });
            }
            if let Some(bk) = baseline_key {
                let full = self.span_baselines.len() >= config.max_baselines;
                let entry_key = (key.0.clone(), bk);
                match self.span_baselines.get_mut(&entry_key) {
                    Some(b) => {
                        if let Some(e) = explosion(tokens, b, config, &entry_key.1, "span") {
                            evidence.push(e);
                        } else {
                            b.add(tokens as f64);
                        }
                    }
                    None if !full => {
                        let mut b = Baseline::default();
                        b.add(tokens as f64);
                        self.span_baselines.insert(entry_key, b);
                    }
                    None => {}
                }
            }
            // Agent and chain spans often carry their children's totals: count model calls only.
            let counts_for_trace = !matches!(kind, SpanKind::Agent | SpanKind::Chain);
            if counts_for_trace {
                state.tokens = state.tokens.saturating_add(tokens);
                if config.max_trace_tokens > 0 && state.tokens >= config.max_trace_tokens {
                    evidence.push(Evidence {
                        signal: "trace_tokens".into(),
                        detail: format!(
                            "trace used {} tokens so far, limit {}",
                            state.tokens, config.max_trace_tokens
                        ),
                        location: Location::Trace,
                        score: 70,
                    });
                } else if let Some(b) = self.trace_baselines.get(&key.0)
                    && let Some(e) =
                        explosion(state.tokens, b, config, "traces of this project", "trace")
                {
                    evidence.push(e);
                }
            }
            if !evidence.is_empty() {
                evidence.sort_by_key(|x| std::cmp::Reverse(x.score));
                findings.push(Finding {
                    detector: Detector::TokenExplosion,
                    score: evidence[0].score,
                    evidence,
                });
            }
        }

        // Error and timeout chain.
        let timeout = is_timeout(span, config);
        if span.is_error || timeout {
            state.error_count += 1;
            if state.errors.len() < 8 {
                state.errors.push((clip(span.name, 60), timeout));
            }
            let needed = config.error_chain_length.max(2);
            if state.error_count >= needed {
                let score = (40 + 10 * (state.error_count - needed)).min(80) as u8;
                let timeouts = state.errors.iter().filter(|(_, t)| *t).count();
                let names: Vec<String> = state
                    .errors
                    .iter()
                    .map(|(n, t)| {
                        if *t {
                            format!("{n} (timeout)")
                        } else {
                            n.clone()
                        }
                    })
                    .collect();
                findings.push(Finding {
                    detector: Detector::ErrorChain,
                    score,
                    evidence: vec![Evidence {
                        signal: if timeouts > 0 {
                            "timeouts".into()
                        } else {
                            "errors".into()
                        },
                        detail: format!(
                            "{} failed or timed-out spans in the trace: {}",
                            state.error_count,
                            names.join(", ")
                        ),
                        location: Location::Trace,
                        score,
                    }],
                });
            }
        }
        findings
    }
}

/// Evidence when `tokens` is at least `token_factor` times the trusted usual `b`.
fn explosion(
    tokens: i64,
    b: &Baseline,
    config: &RunawayConfig,
    what: &str,
    scope: &str,
) -> Option<Evidence> {
    if b.count < config.min_baseline_samples || b.mean <= 0.0 {
        return None;
    }
    let ratio = tokens as f64 / b.mean;
    if ratio < config.token_factor {
        return None;
    }
    let score = if ratio >= 5.0 * config.token_factor {
        85
    } else if ratio >= 2.0 * config.token_factor {
        70
    } else {
        55
    };
    Some(Evidence {
        signal: format!("{scope}_tokens_vs_usual"),
        detail: format!(
            "{scope} used {tokens} tokens, {ratio:.1}× the usual {:.0} for {what}",
            b.mean
        ),
        location: Location::Trace,
        score,
    })
}

/// The longest stretch of `agents` (consecutive repeats collapsed) that repeats a cycle of 2 to
/// `max_period` agents (at least two distinct) `min_repeats` times or more: (the cycle, repeats).
fn find_cycle(
    agents: &[(i64, String)],
    max_period: usize,
    min_repeats: usize,
) -> Option<(Vec<String>, usize)> {
    let mut seq: Vec<&str> = Vec::with_capacity(agents.len());
    for (_, a) in agents {
        if seq.last() != Some(&a.as_str()) {
            seq.push(a);
        }
    }
    let min_repeats = min_repeats.max(2);
    let mut best: Option<(Vec<String>, usize)> = None;
    for period in 2..=max_period.max(2) {
        if seq.len() < period * min_repeats {
            break;
        }
        // run = how many consecutive i have seq[i] == seq[i - period].
        let mut run = 0;
        for i in period..seq.len() {
            if seq[i] == seq[i - period] {
                run += 1;
                let repeats = (run + period) / period;
                let start = i + 1 - (run + period);
                let cycle = &seq[start..start + period];
                let distinct = cycle.iter().collect::<HashSet<_>>().len();
                if repeats >= min_repeats
                    && distinct >= 2
                    && best.as_ref().is_none_or(|(_, r)| repeats > *r)
                {
                    best = Some((cycle.iter().map(|s| s.to_string()).collect(), repeats));
                }
            } else {
                run = 0;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(names: &[&str]) -> Vec<(i64, String)> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| (i as i64, n.to_string()))
            .collect()
    }

    #[test]
    fn cycles_are_found_with_their_period() {
        let (cycle, repeats) =
            find_cycle(&seq(&["sup", "a", "b", "a", "b", "a", "b"]), 4, 3).unwrap();
        assert_eq!(cycle, vec!["a", "b"]);
        assert_eq!(repeats, 3);
        let (cycle, repeats) =
            find_cycle(&seq(&["p", "r", "w", "p", "r", "w", "p", "r", "w"]), 4, 3).unwrap();
        assert_eq!(cycle.len(), 3);
        assert_eq!(repeats, 3);
    }

    #[test]
    fn no_cycle_in_a_pipeline_or_too_few_repeats() {
        assert!(find_cycle(&seq(&["plan", "research", "write", "review"]), 4, 3).is_none());
        assert!(find_cycle(&seq(&["a", "b", "a", "b"]), 4, 3).is_none());
        // A supervisor that sends work to different agents is not a cycle.
        assert!(
            find_cycle(
                &seq(&["sup", "a", "sup", "b", "sup", "c", "sup", "d"]),
                4,
                3
            )
            .is_none()
        );
        // Repeated steps of one agent are collapsed, not a cycle.
        assert!(find_cycle(&seq(&["a", "a", "a", "a", "a", "a"]), 4, 3).is_none());
    }
}
