//! `show`'s screens: a trace's header (root, id, start, duration, spans, tokens, cost, errors,
//! session), its span tree (kind, name, duration, a timeline bar, model, tokens, cost, errors in
//! red; a cost marked `~` rests on estimated tokens),
//! the `--io` blocks under each span, and one span in full for `--span`.

use std::collections::HashMap;

use agentstack_exporter_sqlite::{SpanRecord, SpanStatus};
use jiff::{ZonedDateTime, tz::TimeZone};

use super::render::{self, JsonCut, Line, palette};
use super::source::Cost;
use super::tree::{Placement, TreeRow};

/// Terminals narrower than this get no timeline bar, and each span's model and tokens go on a
/// line of their own.
pub const NARROW: usize = 60;
/// From this width on the timeline bar is at its widest.
const WIDE: usize = 100;
/// Most lines an error message is wrapped into under its span.
const MAX_ERROR_LINES: usize = 6;

/// What the header says about a whole trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceStats {
    pub root_name: String,
    pub start: i64,
    pub end: i64,
    pub spans: usize,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub errors: usize,
    pub orphans: usize,
    pub session: Option<String>,
    pub service: Option<String>,
    /// What the trace cost (the sum of `span_costs`); `None` when no span is priced.
    pub cost: Option<Cost>,
    /// Each priced span's cost, by span id.
    pub span_costs: HashMap<String, Cost>,
}

impl TraceStats {
    /// Sums up `spans`, laid out as `rows` (from [`super::tree::build_tree`]).
    pub fn of(spans: &[SpanRecord], rows: &[TreeRow]) -> TraceStats {
        let root = rows
            .iter()
            .find(|r| r.placement == Placement::Root)
            .or(rows.first())
            .and_then(|r| spans.get(r.index));
        let any = |get: fn(&SpanRecord) -> Option<&String>| {
            root.and_then(get)
                .or_else(|| spans.iter().find_map(get))
                .cloned()
        };
        TraceStats {
            root_name: root.map(|s| s.name.clone()).unwrap_or_default(),
            start: spans.iter().map(|s| s.start_unix_nanos).min().unwrap_or(0),
            end: spans.iter().map(|s| s.end_unix_nanos).max().unwrap_or(0),
            spans: spans.len(),
            input_tokens: spans.iter().fold(0i64, |sum, s| {
                sum.saturating_add(s.input_tokens.unwrap_or(0))
            }),
            output_tokens: spans.iter().fold(0i64, |sum, s| {
                sum.saturating_add(s.output_tokens.unwrap_or(0))
            }),
            errors: spans
                .iter()
                .filter(|s| s.status == SpanStatus::Error)
                .count(),
            orphans: rows
                .iter()
                .filter(|r| matches!(r.placement, Placement::Orphan { .. }))
                .count(),
            session: any(|s| s.session_id.as_ref()),
            service: any(|s| s.service_name.as_ref()),
            cost: None,
            span_costs: HashMap::new(),
        }
    }

    /// With the cost of each span (by span id) and their sum.
    pub fn with_costs(mut self, span_costs: HashMap<String, Cost>) -> TraceStats {
        self.cost = Cost::sum(span_costs.values());
        self.span_costs = span_costs;
        self
    }
}

/// The trace's header: its root and id, then the numbers, packed into as many lines as the
/// width needs.
pub fn header(trace_id: &str, stats: &TraceStats, now: &ZonedDateTime, width: usize) -> Vec<Line> {
    let name = if stats.root_name.trim().is_empty() {
        "(unnamed)"
    } else {
        &stats.root_name
    };
    let mut id = Line::styled("trace ", palette::DIM);
    id.push(trace_id, palette::ID);
    let mut title = Line::styled(name, palette::TITLE);
    let mut lines = Vec::new();
    if title.width() + 2 + id.width() <= width {
        title.plain("  ").append(id);
        lines.push(title);
    } else {
        // Narrow: the id gets a line of its own rather than being cut.
        title.truncate(width);
        id.truncate(width);
        lines.extend([title, id]);
    }

    let mut items = vec![
        Line::styled(
            format!(
                "started {}",
                render::format_datetime(stats.start, now.time_zone(), false)
            ),
            palette::PLAIN,
        ),
        Line::styled(
            render::format_duration(stats.end.saturating_sub(stats.start)),
            palette::PLAIN,
        ),
        Line::styled(
            render::plural(stats.spans as i64, "span", "spans"),
            palette::PLAIN,
        ),
    ];
    if stats.input_tokens != 0 || stats.output_tokens != 0 {
        items.push(Line::styled(
            format!(
                "{} in → {} out tokens",
                render::group_thousands(stats.input_tokens),
                render::group_thousands(stats.output_tokens)
            ),
            palette::PLAIN,
        ));
    }
    if let Some(cost) = &stats.cost {
        items.push(Line::styled(
            format!("{} cost", render::format_cost(cost.femtos, cost.estimated)),
            palette::COST,
        ));
    }
    items.push(if stats.errors > 0 {
        Line::styled(
            format!(
                "✗ {}",
                render::plural(stats.errors as i64, "error", "errors")
            ),
            palette::ERROR_MARK,
        )
    } else {
        Line::styled("✓ no errors", palette::OK_MARK)
    });
    if let Some(session) = &stats.session {
        items.push(Line::styled(format!("session {session}"), palette::PLAIN));
    }
    if let Some(service) = &stats.service {
        items.push(Line::styled(format!("service {service}"), palette::DIM));
    }
    if stats.orphans > 0 {
        items.push(Line::styled(
            render::plural(stats.orphans as i64, "orphan", "orphans"),
            palette::WARN,
        ));
    }
    lines.extend(render::pack(items, " · ", width).into_iter().map(|mut l| {
        l.truncate(width);
        l
    }));
    lines
}

/// How the tree is drawn.
#[derive(Debug, Clone, Copy)]
pub struct TreeOptions {
    pub width: usize,
    /// Print each span's captured input and output under it.
    pub io: bool,
}

/// The parts of one span's line.
struct SpanLine {
    left: Line,
    duration: String,
    details: Line,
}

fn span_line(span: &SpanRecord, row: &TreeRow, cost: Option<&Cost>) -> SpanLine {
    let error = span.status == SpanStatus::Error;
    let mut left = Line::new();
    left.push(&row.branch, palette::DIM);
    if let Some(kind) = span.kind.as_deref().filter(|k| !k.is_empty()) {
        left.push(format!("[{kind}]"), palette::kind(kind))
            .plain(" ");
    }
    let name = if span.name.trim().is_empty() {
        "(unnamed)"
    } else {
        &span.name
    };
    left.push(
        name,
        if error {
            palette::ERROR_MARK
        } else {
            palette::PLAIN
        },
    );
    if matches!(row.placement, Placement::Orphan { .. }) {
        left.push(" (orphan)", palette::WARN);
    }
    let mut details = Line::new();
    if let Some(model) = span.model.as_deref().filter(|m| !m.is_empty()) {
        details.push(model, palette::MODEL);
    }
    if span.input_tokens.is_some() || span.output_tokens.is_some() {
        if details.width() > 0 {
            details.plain("  ");
        }
        details.plain(format!(
            "{} tok",
            render::format_tokens(
                span.input_tokens.unwrap_or(0),
                span.output_tokens.unwrap_or(0)
            )
        ));
    }
    if let Some(cost) = cost {
        if details.width() > 0 {
            details.plain("  ");
        }
        details.push(
            render::format_cost(cost.femtos, cost.estimated),
            palette::COST,
        );
    }
    SpanLine {
        left,
        duration: render::format_duration(
            span.end_unix_nanos.saturating_sub(span.start_unix_nanos),
        ),
        details,
    }
}

/// Column widths of the tree.
struct TreeLayout {
    left: usize,
    duration: usize,
    bar: usize,
    inline_details: bool,
}

impl TreeLayout {
    fn fit(lines: &[SpanLine], width: usize) -> TreeLayout {
        let need_left = lines.iter().map(|l| l.left.width()).max().unwrap_or(0);
        let duration = lines
            .iter()
            .map(|l| render::width(&l.duration))
            .max()
            .unwrap_or(0)
            .max(4);
        let details = lines.iter().map(|l| l.details.width()).max().unwrap_or(0);
        let try_bar = |bar: usize| {
            let right = 2 + duration + if bar > 0 { 2 + bar } else { 0 };
            if width >= NARROW && details > 0 {
                let room = width.saturating_sub(right + 2 + details);
                if room >= need_left.min(30) {
                    return (need_left.min(room), true);
                }
            }
            (need_left.min(width.saturating_sub(right)), false)
        };
        let bar = if width >= WIDE {
            24
        } else if width >= NARROW {
            12
        } else {
            0
        };
        let (mut left, mut inline_details) = try_bar(bar);
        let mut bar = bar;
        if bar > 0 && left < need_left.min(20) {
            bar = 0;
            (left, inline_details) = try_bar(0);
        }
        TreeLayout {
            left,
            duration,
            bar,
            inline_details,
        }
    }
}

/// The span tree, one or more lines per span.
pub fn tree(
    spans: &[SpanRecord],
    rows: &[TreeRow],
    stats: &TraceStats,
    options: TreeOptions,
) -> Vec<Line> {
    let width = options.width;
    let parts: Vec<SpanLine> = rows
        .iter()
        .map(|r| {
            let span = &spans[r.index];
            span_line(span, r, stats.span_costs.get(&span.span_id))
        })
        .collect();
    let layout = TreeLayout::fit(&parts, width);
    let mut out = Vec::with_capacity(rows.len());
    for (row, part) in rows.iter().zip(parts) {
        let span = &spans[row.index];
        let error = span.status == SpanStatus::Error;
        let mut line = part.left;
        line.truncate(layout.left).pad_to(layout.left).plain("  ");
        line.plain(
            " ".repeat(
                layout
                    .duration
                    .saturating_sub(render::width(&part.duration)),
            ),
        )
        .push(
            &part.duration,
            if error {
                palette::ERROR
            } else {
                palette::DURATION
            },
        );
        if layout.bar > 0 {
            line.plain("  ").append(render::timeline_bar(
                span.start_unix_nanos,
                span.end_unix_nanos,
                stats.start,
                stats.end,
                layout.bar,
            ));
        }
        if layout.inline_details && part.details.width() > 0 {
            line.plain("  ").append(part.details.clone());
        }
        line.trim_end().truncate(width);
        out.push(line);

        let prefix = || Line::styled(&row.detail_prefix, palette::DIM);
        let room = width.saturating_sub(render::width(&row.detail_prefix) + 2);
        if !layout.inline_details && part.details.width() > 0 {
            let mut line = prefix();
            line.append(part.details).truncate(width);
            out.push(line);
        }
        if error {
            let message = span
                .status_message
                .as_deref()
                .filter(|m| !m.trim().is_empty())
                .unwrap_or("failed (no error message recorded)");
            let mut wrapped = render::wrap(message, room);
            if wrapped.len() > MAX_ERROR_LINES {
                wrapped.truncate(MAX_ERROR_LINES);
                if let Some(last) = wrapped.last_mut() {
                    last.push_str(" …");
                }
            }
            for (n, text) in wrapped.iter().enumerate() {
                let mut line = prefix();
                line.push(if n == 0 { "✗ " } else { "  " }, palette::ERROR_MARK)
                    .push(text, palette::ERROR)
                    .truncate(width);
                out.push(line);
            }
        }
        if options.io {
            let mut any = false;
            for (label, value) in [("input", &span.input), ("output", &span.output)] {
                let Some(value) = value else { continue };
                any = true;
                let mut line = prefix();
                line.push(format!("{label}:"), palette::LABEL)
                    .truncate(width);
                out.push(line);
                for text in render::pretty_json(value, JsonCut::IO) {
                    let mut line = prefix();
                    line.plain("  ").plain(text).truncate(width);
                    out.push(line);
                }
            }
            if any {
                let mut rail = prefix();
                rail.trim_end();
                out.push(rail);
            }
        }
    }
    if rows
        .iter()
        .any(|r| matches!(r.placement, Placement::Orphan { .. }))
    {
        out.push(Line::new());
        let note = "(orphan): its parent span is not in the file (yet) — it may still be on \
                    its way, or was lost";
        for text in render::wrap(note, width) {
            let mut line = Line::styled(text, palette::DIM);
            line.truncate(width);
            out.push(line);
        }
    }
    out
}

/// One `label  value` line of `--span`, the value wrapped under itself.
fn field(out: &mut Vec<Line>, label: &str, value: Line, width: usize) {
    const LABEL: usize = 10;
    let room = width.saturating_sub(LABEL + 2).max(10);
    let text = value.text();
    if value.width() <= room {
        let mut line = Line::styled(format!("  {label:<LABEL$}"), palette::LABEL);
        line.append(value).truncate(width);
        out.push(line);
        return;
    }
    for (n, piece) in render::hard_wrap(&text, room).into_iter().enumerate() {
        let head = if n == 0 { label } else { "" };
        let mut line = Line::styled(format!("  {head:<LABEL$}"), palette::LABEL);
        line.plain(piece);
        out.push(line);
    }
}

/// A titled JSON block of `--span`, in full.
fn json_block(out: &mut Vec<Line>, title: &str, value: Option<&str>, empty: &str, width: usize) {
    out.push(Line::new());
    out.push(Line::styled(title, palette::LABEL));
    let value = value
        .map(str::trim)
        .filter(|v| !v.is_empty() && *v != "{}" && *v != "[]");
    let Some(value) = value else {
        out.push(Line::styled(format!("  {empty}"), palette::DIM));
        return;
    };
    for text in render::pretty_json(value, JsonCut::FULL) {
        for piece in render::hard_wrap(&text, width.saturating_sub(2)) {
            let mut line = Line::new();
            line.plain("  ").plain(piece);
            out.push(line);
        }
    }
}

/// One span in full: every field, its attributes, events, input and output.
#[cfg(test)]
pub fn span_detail(
    span: &SpanRecord,
    parent_in_trace: bool,
    trace_start: i64,
    tz: &TimeZone,
    width: usize,
) -> Vec<Line> {
    span_detail_with_cost(span, None, parent_in_trace, trace_start, tz, width)
}

/// [`span_detail`] with the span's cost (a `cost` line under its tokens).
pub fn span_detail_with_cost(
    span: &SpanRecord,
    cost: Option<&Cost>,
    parent_in_trace: bool,
    trace_start: i64,
    tz: &TimeZone,
    width: usize,
) -> Vec<Line> {
    let mut out = Vec::new();
    let mut title = Line::new();
    if let Some(kind) = span.kind.as_deref().filter(|k| !k.is_empty()) {
        title
            .push(format!("[{kind}]"), palette::kind(kind))
            .plain(" ");
    }
    title.push(&span.name, palette::TITLE);
    title.truncate(width);
    out.push(title);

    let text = |s: &str| Line::styled(s, palette::PLAIN);
    let opt = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(text);
    field(
        &mut out,
        "span",
        Line::styled(&span.span_id, palette::ID),
        width,
    );
    field(
        &mut out,
        "trace",
        Line::styled(&span.trace_id, palette::ID),
        width,
    );
    let parent = match &span.parent_span_id {
        None => Line::styled("none (a root span)", palette::DIM),
        Some(p) if parent_in_trace => Line::styled(p, palette::ID),
        Some(p) => {
            let mut l = Line::styled(p, palette::ID);
            l.push(
                " (not in the file yet: this span is an orphan)",
                palette::WARN,
            );
            l
        }
    };
    field(&mut out, "parent", parent, width);
    if let Some(service) = opt(&span.service_name) {
        field(&mut out, "service", service, width);
    }
    let offset = span.start_unix_nanos.saturating_sub(trace_start);
    field(
        &mut out,
        "started",
        text(&format!(
            "{}  (+{} into the trace)",
            render::format_datetime(span.start_unix_nanos, tz, true),
            render::format_duration(offset)
        )),
        width,
    );
    field(
        &mut out,
        "ended",
        text(&render::format_datetime(span.end_unix_nanos, tz, true)),
        width,
    );
    field(
        &mut out,
        "duration",
        text(&render::format_duration(
            span.end_unix_nanos.saturating_sub(span.start_unix_nanos),
        )),
        width,
    );
    let status = match span.status {
        SpanStatus::Error => {
            let mut l = Line::styled("✗ error", palette::ERROR_MARK);
            if let Some(message) = span.status_message.as_deref().filter(|m| !m.is_empty()) {
                l.push(format!(": {message}"), palette::ERROR);
            }
            l
        }
        SpanStatus::Ok => Line::styled("✓ ok", palette::OK_MARK),
        SpanStatus::Unset => Line::styled("unset (no error)", palette::DIM),
    };
    field(&mut out, "status", status, width);
    if let Some(provider) = opt(&span.provider) {
        field(&mut out, "provider", provider, width);
    }
    if let Some(model) = span.model.as_deref().filter(|m| !m.is_empty()) {
        field(
            &mut out,
            "model",
            Line::styled(model, palette::MODEL),
            width,
        );
    }
    let counts = [
        (span.input_tokens, "in"),
        (span.output_tokens, "out"),
        (span.cache_read_input_tokens, "cache read"),
        (span.cache_creation_input_tokens, "cache write"),
        (span.reasoning_output_tokens, "reasoning"),
    ];
    let tokens: Vec<String> = counts
        .iter()
        .filter_map(|(n, what)| n.map(|n| format!("{} {what}", render::group_thousands(n))))
        .collect();
    if !tokens.is_empty() {
        field(&mut out, "tokens", text(&tokens.join(" · ")), width);
    }
    if let Some(cost) = cost {
        let mut line = Line::styled(
            render::format_cost(cost.femtos, cost.estimated),
            palette::COST,
        );
        if cost.estimated {
            line.push(" (estimated from the text)", palette::DIM);
        }
        if let Some(detail) = &cost.detail {
            line.plain(format!(" · {detail}"));
        }
        field(&mut out, "cost", line, width);
    }
    if let Some(session) = opt(&span.session_id) {
        field(&mut out, "session", session, width);
    }
    if let Some(user) = opt(&span.user_id) {
        field(&mut out, "user", user, width);
    }
    json_block(
        &mut out,
        "attributes",
        Some(&span.attributes),
        "none",
        width,
    );
    json_block(&mut out, "events", Some(&span.events), "none", width);
    json_block(
        &mut out,
        "input",
        span.input.as_deref(),
        "not captured",
        width,
    );
    json_block(
        &mut out,
        "output",
        span.output.as_deref(),
        "not captured",
        width,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::tree::build_tree;

    const T: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const BASE: i64 = 1_714_572_000_000_000_000;

    fn span(
        id: &str,
        parent: Option<&str>,
        name: &str,
        kind: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> SpanRecord {
        let mut s = SpanRecord::new(
            T,
            id,
            name,
            BASE + start_ms * 1_000_000,
            BASE + end_ms * 1_000_000,
        );
        s.parent_span_id = parent.map(str::to_string);
        s.kind = Some(kind.to_string());
        s
    }

    fn sample() -> Vec<SpanRecord> {
        let mut llm = span("b", Some("a"), "chat", "llm", 100, 1300);
        llm.model = Some("gpt-4o".into());
        llm.input_tokens = Some(812);
        llm.output_tokens = Some(120);
        llm.input = Some(r#"{"messages":[{"role":"user","content":"hi"}]}"#.into());
        llm.output = Some("not json at all".into());
        let mut tool = span("c", Some("a"), "web_search", "tool", 1400, 2250);
        tool.status = SpanStatus::Error;
        tool.status_message = Some("timeout after 30s talking to the search backend".into());
        let mut root = span("a", None, "research_agent", "agent", 0, 4100);
        root.session_id = Some("s-42".into());
        vec![
            root,
            llm,
            tool,
            span("d", Some("zz"), "late", "tool", 3000, 3100),
        ]
    }

    fn texts(lines: &[Line]) -> Vec<String> {
        lines.iter().map(Line::text).collect()
    }

    #[test]
    fn stats_and_header() {
        let spans = sample();
        let rows = build_tree(&spans);
        let stats = TraceStats::of(&spans, &rows);
        assert_eq!(stats.root_name, "research_agent");
        assert_eq!((stats.input_tokens, stats.output_tokens), (812, 120));
        assert_eq!((stats.errors, stats.orphans, stats.spans), (1, 1, 4));
        assert_eq!(stats.session.as_deref(), Some("s-42"));
        let now = jiff::Timestamp::from_nanosecond(i128::from(BASE))
            .unwrap()
            .to_zoned_datetime(TimeZone::UTC);
        let head = texts(&header(T, &stats, &now, 200));
        assert_eq!(head[0], format!("research_agent  trace {T}"));
        assert_eq!(
            head[1],
            "started 2024-05-01 14:00:00 · 4.1s · 4 spans · 812 in → 120 out tokens · ✗ 1 error · session s-42 · 1 orphan"
        );
        let narrow = header(T, &stats, &now, 40);
        assert_eq!(narrow[0].text(), "research_agent");
        assert_eq!(narrow[1].text(), format!("trace {T}"));
        for line in header(T, &stats, &now, 30).iter().chain(&narrow) {
            assert!(line.width() <= 40, "{:?}", line.text());
        }
        assert!(header(T, &stats, &now, 30).iter().all(|l| l.width() <= 30));
    }

    #[test]
    fn the_tree_shows_kinds_bars_models_and_errors() {
        let spans = sample();
        let rows = build_tree(&spans);
        let stats = TraceStats::of(&spans, &rows);
        let lines = texts(&tree(
            &spans,
            &rows,
            &stats,
            TreeOptions {
                width: 120,
                io: false,
            },
        ));
        assert!(
            lines[0].starts_with("[agent] research_agent "),
            "{lines:#?}"
        );
        assert!(
            lines[0].contains("4.1s  ━━━━━━━━━━━━━━━━━━━━━━━━"),
            "{lines:#?}"
        );
        assert!(lines[1].starts_with("├─ [llm] chat "), "{lines:#?}");
        assert!(lines[1].ends_with("gpt-4o  812→120 tok"), "{lines:#?}");
        assert!(lines[1].contains("1.2s  ━━━━━━━━"), "{lines:#?}");
        assert!(lines[2].starts_with("└─ [tool] web_search "), "{lines:#?}");
        assert!(lines[2].contains("850ms  ········━━━━━━"), "{lines:#?}");
        assert_eq!(
            lines[3],
            "      ✗ timeout after 30s talking to the search backend"
        );
        assert!(lines[4].starts_with("[tool] late (orphan)"), "{lines:#?}");
        assert!(lines.last().unwrap().starts_with("(orphan): "));
    }

    #[test]
    fn narrow_trees_drop_the_bar_and_fit() {
        let spans = sample();
        let rows = build_tree(&spans);
        let stats = TraceStats::of(&spans, &rows);
        for width in [20, 40, 59] {
            let lines = tree(&spans, &rows, &stats, TreeOptions { width, io: true });
            for line in &lines {
                assert!(line.width() <= width, "{width}: {:?}", line.text());
                assert!(!line.text().contains('━'), "{width}: {:?}", line.text());
            }
        }
        let lines = texts(&tree(
            &spans,
            &rows,
            &stats,
            TreeOptions {
                width: 40,
                io: false,
            },
        ));
        // Model and tokens move under the span.
        assert_eq!(lines[2], "│     gpt-4o  812→120 tok");
        assert_eq!(lines[4], "      ✗ timeout after 30s talking to the");
        assert_eq!(lines[5], "        search backend");
    }

    #[test]
    fn io_blocks_show_json_pretty_and_raw_text_as_is() {
        let spans = sample();
        let rows = build_tree(&spans);
        let stats = TraceStats::of(&spans, &rows);
        let lines = texts(&tree(
            &spans,
            &rows,
            &stats,
            TreeOptions {
                width: 100,
                io: true,
            },
        ));
        let joined = lines.join("\n");
        assert!(
            joined.contains("│     input:\n│       {\n│         \"messages\": ["),
            "{joined}"
        );
        assert!(
            joined.contains("│     output:\n│       not json at all\n│\n"),
            "{joined}"
        );
    }

    #[test]
    fn span_detail_prints_everything() {
        let spans = sample();
        let mut llm = spans[1].clone();
        llm.attributes = r#"{"gen_ai.request.model":"gpt-4o","temperature":0.2}"#.into();
        llm.events = "not json".into();
        llm.cache_read_input_tokens = Some(100);
        let lines = texts(&span_detail(&llm, true, BASE, &TimeZone::UTC, 80));
        let joined = lines.join("\n");
        assert_eq!(lines[0], "[llm] chat");
        for want in [
            "  span      b",
            "  parent    a",
            "  started   2024-05-01 14:00:00.100 +00:00  (+100ms into the trace)",
            "  duration  1.2s",
            "  status    unset (no error)",
            "  model     gpt-4o",
            "  tokens    812 in · 120 out · 100 cache read",
            "attributes\n  {\n    \"gen_ai.request.model\": \"gpt-4o\",",
            "events\n  not json",
            "input\n  {\n    \"messages\": [",
            "output\n  not json at all",
        ] {
            assert!(joined.contains(want), "missing {want:?} in\n{joined}");
        }
        let orphan = texts(&span_detail(&spans[3], false, BASE, &TimeZone::UTC, 80)).join("\n");
        assert!(orphan.contains("zz (not in the file yet"), "{orphan}");
        let failed = texts(&span_detail(&spans[2], true, BASE, &TimeZone::UTC, 30)).join("\n");
        assert!(failed.contains("✗ error: timeout"), "{failed}");
        assert!(failed.contains("input\n  not captured"), "{failed}");
    }
}
