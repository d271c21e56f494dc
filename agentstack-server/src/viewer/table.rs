//! The `traces` table and the `tail` lines: one row per trace (time, short id, root name,
//! duration, spans, tokens, cost when any trace has one, status), with columns fitted to the terminal: the name shrinks first,
//! then the status shortens, then the least useful columns go.

use std::collections::HashMap;

use agentstack_exporter_sqlite::TraceSummary;
use jiff::ZonedDateTime;

use super::render::{self, Line, palette};
use super::source::Cost;

/// How many characters of a trace id the table shows; `show` accepts this prefix.
pub const SHORT_ID: usize = agentstack_exporter_sqlite::store::MIN_TRACE_ID_PREFIX;

/// Columns between cells.
const GAP: usize = 2;
/// The name column is not squeezed below this before other columns are dropped.
const MIN_NAME: usize = 12;
/// In `tail`, whose rows are not known in advance, the widest the name column gets.
const TAIL_NAME: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Time,
    Trace,
    Name,
    Duration,
    Spans,
    Tokens,
    Cost,
    Status,
}

use Column::*;

/// Left to right.
const COLUMNS: [Column; 8] = [Time, Trace, Name, Duration, Spans, Tokens, Cost, Status];
/// What goes first when the terminal is too narrow.
const DROP_ORDER: [Column; 5] = [Spans, Tokens, Time, Cost, Duration];

impl Column {
    fn title(self) -> &'static str {
        match self {
            Time => "TIME",
            Trace => "TRACE",
            Name => "NAME",
            Duration => "DURATION",
            Spans => "SPANS",
            Tokens => "TOKENS",
            Cost => "COST",
            Status => "STATUS",
        }
    }

    fn right_aligned(self) -> bool {
        matches!(self, Duration | Spans | Tokens | Cost)
    }
}

/// How the time column reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeStyle {
    /// `14:03:22` today, `May 01 14:03` earlier (the table).
    Relative,
    /// Always `14:03:22` (tail, which shows what happens now).
    TimeOfDay,
}

/// The text of one row's cells.
struct Cells {
    time: String,
    trace: String,
    name: String,
    duration: String,
    spans: String,
    tokens: String,
    cost: String,
    status: String,
    status_short: String,
    errors: bool,
}

impl Cells {
    fn of(
        trace: &TraceSummary,
        cost: Option<&Cost>,
        now: &ZonedDateTime,
        time: TimeStyle,
    ) -> Cells {
        let errors = trace.error_count > 0;
        let (status, status_short) = if errors {
            (
                format!("✗ {}", render::plural(trace.error_count, "error", "errors")),
                format!("✗ {}", render::compact_count(trace.error_count)),
            )
        } else {
            ("✓".to_string(), "✓".to_string())
        };
        let name = render::sanitize(&trace.root_name);
        Cells {
            time: match time {
                TimeStyle::Relative => render::format_start(trace.start_unix_nanos, now),
                TimeStyle::TimeOfDay => {
                    render::format_time_of_day(trace.start_unix_nanos, now.time_zone())
                }
            },
            trace: trace.trace_id.chars().take(SHORT_ID).collect(),
            name: if name.trim().is_empty() {
                "(unnamed)".into()
            } else {
                name
            },
            // Straight from the times: a negative duration is shown as such, not hidden.
            duration: render::format_duration(
                trace.end_unix_nanos.saturating_sub(trace.start_unix_nanos),
            ),
            spans: render::group_thousands(trace.span_count),
            tokens: render::format_tokens(trace.input_tokens, trace.output_tokens),
            cost: cost.map_or_else(
                || "–".to_string(),
                |c| render::format_cost(c.femtos, c.estimated),
            ),
            status,
            status_short,
            errors,
        }
    }

    fn get(&self, column: Column, short_status: bool) -> &str {
        match column {
            Time => &self.time,
            Trace => &self.trace,
            Name => &self.name,
            Duration => &self.duration,
            Spans => &self.spans,
            Tokens => &self.tokens,
            Cost => &self.cost,
            Status if short_status => &self.status_short,
            Status => &self.status,
        }
    }
}

/// Which columns are shown, how wide, in how many terminal columns.
#[derive(Debug, Clone)]
pub struct TableLayout {
    columns: Vec<(Column, usize)>,
    short_status: bool,
    time: TimeStyle,
    width: usize,
    /// The cost of each trace, by id (the cost column is shown when any has one).
    costs: HashMap<String, Cost>,
}

/// The natural widths of the columns: header or widest cell.
struct Natural {
    widths: [usize; 8],
    status_short: usize,
    /// Whether the cost column is shown at all.
    costs: bool,
}

impl TableLayout {
    /// Fits the columns to `rows` and `width` (the `traces` table), without costs.
    #[cfg(test)]
    pub fn fit(rows: &[TraceSummary], width: usize, now: &ZonedDateTime) -> TableLayout {
        TableLayout::fit_with_costs(rows, HashMap::new(), width, now)
    }

    /// Like [`fit`](Self::fit), with the cost of each trace by id: a cost column when any
    /// trace has one.
    pub fn fit_with_costs(
        rows: &[TraceSummary],
        costs: HashMap<String, Cost>,
        width: usize,
        now: &ZonedDateTime,
    ) -> TableLayout {
        let cells: Vec<Cells> = rows
            .iter()
            .map(|t| Cells::of(t, costs.get(&t.trace_id), now, TimeStyle::Relative))
            .collect();
        let mut natural = Natural {
            widths: COLUMNS.map(|c| render::width(c.title())),
            status_short: render::width(Status.title()),
            costs: !costs.is_empty(),
        };
        for row in &cells {
            for (i, &column) in COLUMNS.iter().enumerate() {
                natural.widths[i] = natural.widths[i].max(render::width(row.get(column, false)));
            }
            natural.status_short = natural.status_short.max(render::width(&row.status_short));
        }
        let mut layout = Self::arrange(natural, width, TimeStyle::Relative);
        layout.costs = costs;
        layout
    }

    /// Fixed widths for rows not known in advance (`tail`).
    pub fn fixed(width: usize) -> TableLayout {
        let natural = Natural {
            widths: [8, SHORT_ID, TAIL_NAME, 8, 5, 11, 8, 10],
            status_short: 6,
            costs: false,
        };
        Self::arrange(natural, width, TimeStyle::TimeOfDay)
    }

    fn arrange(natural: Natural, width: usize, time: TimeStyle) -> TableLayout {
        let name_natural = natural.widths[2];
        let mut shown: Vec<Column> = COLUMNS
            .into_iter()
            .filter(|&c| c != Cost || natural.costs)
            .collect();
        let mut short_status = false;
        let mut drops = DROP_ORDER.iter();
        let width_of = |c: Column, short: bool| {
            if c == Status && short {
                natural.status_short
            } else {
                natural.widths[COLUMNS.iter().position(|&x| x == c).unwrap_or(0)]
            }
        };
        let room_for_name = |shown: &[Column], short: bool| {
            let others: usize = shown
                .iter()
                .filter(|&&c| c != Name)
                .map(|&c| width_of(c, short))
                .sum::<usize>()
                + GAP * (shown.len() - 1);
            width.saturating_sub(others)
        };
        // A whole name is worth more than the word "errors".
        if room_for_name(&shown, false) < name_natural
            && room_for_name(&shown, true) >= name_natural
        {
            short_status = true;
        }
        let name_width = loop {
            let room = room_for_name(&shown, short_status);
            if room >= name_natural.min(MIN_NAME) {
                break name_natural.min(room);
            }
            if !short_status {
                short_status = true;
                continue;
            }
            match drops.next() {
                Some(&drop) => shown.retain(|&c| c != drop),
                // Nothing left to drop: the name gets what remains, the line is cut at the end.
                None => break room.max(1),
            }
        };
        let columns = shown
            .into_iter()
            .map(|c| {
                let w = if c == Name {
                    name_width
                } else {
                    width_of(c, short_status)
                };
                (c, w)
            })
            .collect();
        TableLayout {
            columns,
            short_status,
            time,
            width,
            costs: HashMap::new(),
        }
    }

    /// The column titles.
    pub fn header(&self) -> Line {
        let mut line = Line::new();
        for (i, &(column, w)) in self.columns.iter().enumerate() {
            if i > 0 {
                line.plain(" ".repeat(GAP));
            }
            let title = render::truncate(column.title(), w);
            let pad = " ".repeat(w.saturating_sub(render::width(&title)));
            if column.right_aligned() {
                line.plain(&pad).push(&title, palette::HEADER);
            } else {
                line.push(&title, palette::HEADER).plain(&pad);
            }
        }
        line.trim_end().truncate(self.width);
        line
    }

    /// One trace's row.
    pub fn row(&self, trace: &TraceSummary, now: &ZonedDateTime) -> Line {
        let cells = Cells::of(trace, self.costs.get(&trace.trace_id), now, self.time);
        let mut line = Line::new();
        for (i, &(column, w)) in self.columns.iter().enumerate() {
            if i > 0 {
                line.plain(" ".repeat(GAP));
            }
            let text = render::truncate(cells.get(column, self.short_status), w);
            let style = match column {
                Time => palette::PLAIN,
                Trace => palette::ID,
                Name => palette::TITLE,
                Duration => palette::DURATION,
                Spans | Tokens => palette::PLAIN,
                Cost => palette::COST,
                Status if cells.errors => palette::ERROR_MARK,
                Status => palette::OK_MARK,
            };
            let pad = " ".repeat(w.saturating_sub(render::width(&text)));
            if column.right_aligned() {
                line.plain(&pad).push(&text, style);
            } else {
                line.push(&text, style).plain(&pad);
            }
        }
        line.trim_end().truncate(self.width);
        line
    }

    #[cfg(test)]
    fn shown(&self) -> Vec<&'static str> {
        self.columns.iter().map(|(c, _)| c.title()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    fn now() -> ZonedDateTime {
        jiff::civil::date(2024, 5, 1)
            .at(14, 30, 0, 0)
            .to_zoned_datetime(TimeZone::UTC)
            .unwrap()
    }

    fn summary(name: &str, errors: i64) -> TraceSummary {
        let start = 1_714_572_000_000_000_000; // 2024-05-01T14:00:00Z
        TraceSummary {
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            root_name: name.into(),
            service_name: None,
            session_id: None,
            start_unix_nanos: start,
            end_unix_nanos: start + 4_120_000_000,
            span_count: 7,
            input_tokens: 1_234,
            output_tokens: 567,
            error_count: errors,
        }
    }

    #[test]
    fn a_wide_table_shows_every_column() {
        let rows = [summary("research_agent", 0), summary("support_agent", 2)];
        let layout = TableLayout::fit(&rows, 120, &now());
        assert_eq!(
            layout.shown(),
            [
                "TIME", "TRACE", "NAME", "DURATION", "SPANS", "TOKENS", "STATUS"
            ]
        );
        assert_eq!(
            layout.header().text(),
            "TIME      TRACE     NAME            DURATION  SPANS    TOKENS  STATUS"
        );
        assert_eq!(
            layout.row(&rows[0], &now()).text(),
            "14:00:00  4bf92f35  research_agent      4.1s      7  1234→567  ✓"
        );
        assert_eq!(
            layout.row(&rows[1], &now()).text(),
            "14:00:00  4bf92f35  support_agent       4.1s      7  1234→567  ✗ 2 errors"
        );
    }

    #[test]
    fn narrow_tables_shorten_the_name_then_drop_columns() {
        let rows = [summary("a_research_agent_with_a_really_long_name", 12)];
        for width in [20, 30, 40, 50, 60, 70, 80] {
            let layout = TableLayout::fit(&rows, width, &now());
            let lines = [layout.header(), layout.row(&rows[0], &now())];
            for line in &lines {
                assert!(line.width() <= width, "{width}: {:?}", line.text());
            }
            assert!(layout.shown().contains(&"TRACE"), "{width}");
        }
        let at_40 = TableLayout::fit(&rows, 40, &now());
        assert_eq!(at_40.shown(), ["TRACE", "NAME", "DURATION", "STATUS"]);
        assert_eq!(
            at_40.row(&rows[0], &now()).text(),
            "4bf92f35  a_research_…      4.1s  ✗ 12"
        );
        // Shortening the status keeps a name whole when that is enough.
        let short = [summary("research_agent", 1)];
        let at_70 = TableLayout::fit(&short, 70, &now());
        assert_eq!(at_70.shown().len(), 7);
        assert!(
            at_70
                .row(&short[0], &now())
                .text()
                .ends_with("research_agent      4.1s      7  1234→567  ✗ 1")
        );
        let at_80 = TableLayout::fit(&rows, 80, &now());
        assert_eq!(at_80.shown().len(), 7);
        let row = at_80.row(&rows[0], &now()).text();
        assert!(row.contains("a_research_agent_wi…"), "{row:?}");
    }

    #[test]
    fn odd_summaries_do_not_break_the_row() {
        let mut odd = summary("", 0);
        odd.end_unix_nanos = odd.start_unix_nanos - 5_000_000;
        odd.root_name = "\n".into();
        odd.trace_id = "ab".into();
        let layout = TableLayout::fit(std::slice::from_ref(&odd), 100, &now());
        let text = layout.row(&odd, &now()).text();
        assert!(text.contains("(unnamed)"), "{text}");
        assert!(text.contains("-5.0ms"), "{text}");
        assert!(text.contains("ab "), "{text}");
    }

    #[test]
    fn a_cost_column_appears_when_a_trace_has_a_cost() {
        let rows = [summary("research_agent", 0), summary("support_agent", 0)];
        let mut costs = HashMap::new();
        costs.insert(
            rows[0].trace_id.clone(),
            Cost {
                femtos: 3_500_000_000_000,
                estimated: true,
                detail: None,
            },
        );
        let layout = TableLayout::fit_with_costs(&rows[..1], costs, 120, &now());
        assert_eq!(
            layout.header().text(),
            "TIME      TRACE     NAME            DURATION  SPANS    TOKENS      COST  STATUS"
        );
        assert_eq!(
            layout.row(&rows[0], &now()).text(),
            "14:00:00  4bf92f35  research_agent      4.1s      7  1234→567  ~$0.0035  ✓"
        );
    }

    #[test]
    fn tail_rows_have_fixed_columns() {
        let layout = TableLayout::fixed(100);
        let short = layout.row(&summary("a", 0), &now()).text();
        let long = layout.row(&summary("abcdefghij", 0), &now()).text();
        assert_eq!(short.find("4.1s"), long.find("4.1s"));
        assert!(TableLayout::fixed(40).row(&summary("a", 0), &now()).width() <= 40);
    }
}
