//! The terminal viewer: `agentstack traces`, `show` and `tail` read the local trace file the
//! SDK writes in local mode (`./.agentstack/traces.db`), or the REST API of `agentstack serve`
//! (`--server URL`), through one [`TraceSource`], and print it for people, or as JSON lines for
//! scripts. Formatting is pure (`render`, `table`, `trace_view`, `tree`); this module holds the
//! command-line arguments, opens the source and writes to the terminal.

mod api_client;
mod json;
mod render;
mod source;
mod table;
mod timespec;
mod trace_view;
mod tree;

use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use agentstack_exporter_sqlite::store::DEFAULT_LOCAL_PATH;
use agentstack_exporter_sqlite::{SpanRecord, SpanStatus, TraceFilter, TraceSummary};
use anstream::{AutoStream, ColorChoice};
use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use jiff::{Timestamp, ZonedDateTime};

use api_client::ApiSource;
use render::{Line, palette};
use source::{FileSource, TraceSource};
use table::TableLayout;

/// Where the viewer reads traces from; every command has these flags.
#[derive(Debug, Clone, Args)]
pub struct Source {
    /// The trace file the SDK writes in local mode
    #[arg(long, value_name = "PATH", env = "AGENTSTACK_LOCAL_PATH", default_value = DEFAULT_LOCAL_PATH)]
    pub db: PathBuf,

    /// Read from the REST API of `agentstack serve` instead of a file: its address as serve
    /// prints it (http://127.0.0.1:8000, with or without /api/v1)
    #[arg(long, value_name = "URL", env = "AGENTSTACK_SERVER")]
    pub server: Option<String>,

    /// The project API key to read a server with (`agentstack keys create`); the same variable
    /// the SDK sends its spans with. Not needed by a server without keys
    #[arg(
        long,
        value_name = "KEY",
        env = "AGENTSTACK_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,
}

/// Conditions on whole traces, shared by `traces` and `tail`.
#[derive(Debug, Clone, Args)]
pub struct Filters {
    /// Only traces whose root span name contains TEXT (case-insensitive)
    #[arg(long, value_name = "TEXT")]
    pub name: Option<String>,

    /// Only traces with at least one failed span (error), or with none (ok)
    #[arg(long, value_enum, value_name = "STATUS")]
    pub status: Option<StatusFilter>,

    /// Only traces of this session (`gen_ai.conversation.id`)
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFilter {
    /// No span failed
    Ok,
    /// At least one span failed
    Error,
}

impl Filters {
    /// The same conditions as the store applies, for summaries `tail` gets unfiltered.
    fn matches(&self, trace: &TraceSummary) -> bool {
        let name_ok = self.name.as_deref().is_none_or(|needle| {
            trace
                .root_name
                .to_lowercase()
                .contains(&needle.to_lowercase())
        });
        let status_ok = match self.status {
            Some(StatusFilter::Error) => trace.has_error(),
            Some(StatusFilter::Ok) => !trace.has_error(),
            None => true,
        };
        let session_ok = self
            .session
            .as_deref()
            .is_none_or(|s| trace.session_id.as_deref() == Some(s));
        name_ok && status_ok && session_ok
    }
}

/// `agentstack traces`.
#[derive(Debug, Clone, Args)]
pub struct TracesArgs {
    #[command(flatten)]
    pub source: Source,

    /// Only traces that started at or after TIME: a duration back from now (30m, 1h, 2d), a
    /// local date or time (2024-05-01, "2024-05-01 14:00", 14:00, today, yesterday), or RFC 3339
    /// (2024-05-01T14:00:00Z)
    #[arg(long, value_name = "TIME", value_parser = timespec::time_arg)]
    pub since: Option<Timestamp>,

    /// Only traces that started before TIME (same forms as --since)
    #[arg(long, value_name = "TIME", value_parser = timespec::time_arg)]
    pub until: Option<Timestamp>,

    #[command(flatten)]
    pub filters: Filters,

    /// How many traces to list, newest first (at most 1000)
    #[arg(long, short = 'n', value_name = "N", default_value_t = 30,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub limit: u16,

    /// Print one JSON object per trace and line, for scripts
    #[arg(long)]
    pub json: bool,
}

/// `agentstack show`.
#[derive(Debug, Clone, Args)]
pub struct ShowArgs {
    /// The trace: its id, or the first 8 or more characters of it (as `traces` lists them)
    #[arg(value_name = "TRACE_ID")]
    pub trace: String,

    #[command(flatten)]
    pub source: Source,

    /// Also print each span's captured input and output (pretty JSON, long values cut)
    #[arg(long)]
    pub io: bool,

    /// Print one span in full instead of the tree: all attributes, events, input and output.
    /// SPAN_ID is its id or a unique prefix of it (`show --json` lists the ids)
    #[arg(long, value_name = "SPAN_ID")]
    pub span: Option<String>,

    /// Print one JSON object per span and line (in tree order), for scripts
    #[arg(long)]
    pub json: bool,
}

/// `agentstack tail`.
#[derive(Debug, Clone, Args)]
pub struct TailArgs {
    #[command(flatten)]
    pub source: Source,

    /// How often to look for new spans: 1s, 500ms, 2.5s
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = timespec::parse_interval)]
    pub interval: Duration,

    /// First print the traces that were active since TIME (same forms as `traces --since`),
    /// then follow; by default only what arrives from now on is printed
    #[arg(long, value_name = "TIME", value_parser = timespec::time_arg)]
    pub since: Option<Timestamp>,

    #[command(flatten)]
    pub filters: Filters,

    /// Print one JSON object per new or updated trace and line (with "event": "new" or "updated")
    #[arg(long)]
    pub json: bool,
}

/// Standard output with its width and colour decided once: colours only on a terminal (or when
/// asked), never into a pipe; `NO_COLOR` and `CLICOLOR_FORCE` are honoured by anstream.
pub struct Terminal {
    out: AutoStream<io::StdoutLock<'static>>,
    width: usize,
}

impl Terminal {
    pub fn new(color: ColorChoice) -> Terminal {
        Terminal {
            out: AutoStream::new(io::stdout(), color).lock(),
            width: detect_width(),
        }
    }

    fn line(&mut self, line: &Line) -> io::Result<()> {
        writeln!(self.out, "{line}")
    }

    fn lines(&mut self, lines: &[Line]) -> io::Result<()> {
        lines.iter().try_for_each(|l| self.line(l))
    }

    fn json(&mut self, value: &serde_json::Value) -> io::Result<()> {
        writeln!(self.out, "{value}")
    }
}

/// The width to lay out for: `COLUMNS` when set (so `COLUMNS=40 agentstack … | less` works),
/// else the terminal's, else (a pipe) no limit.
fn detect_width() -> usize {
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&c| c > 0);
    if let Some(columns) = columns {
        return columns;
    }
    if io::stdout().is_terminal()
        && let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size()
        && w > 0
    {
        return usize::from(w);
    }
    render::UNLIMITED
}

/// A message for the person at the terminal, on stderr (so `--json` output stays clean).
fn note(message: &str) {
    let mut err = anstream::stderr();
    let _ = writeln!(err, "{}", Line::styled(message, palette::DIM));
}

fn missing_file(path: &Path) -> String {
    format!(
        "no trace file at {} yet — run an agent with agentstack::init() (AGENTSTACK_MODE=local) \
         in this directory, or point --db (or AGENTSTACK_LOCAL_PATH) at the file it writes",
        path.display()
    )
}

fn no_traces_yet(path: &Path) -> String {
    format!(
        "no traces yet in {} — run an agent with agentstack::init() (AGENTSTACK_MODE=local)",
        path.display()
    )
}

/// Opens the source: the server's API with `--server`, else the trace file; `None` if the file
/// does not exist (opening would create it).
fn open(source: &Source) -> Result<Option<Box<dyn TraceSource>>> {
    if let Some(url) = source.server.as_deref().filter(|u| !u.trim().is_empty()) {
        let key = source.api_key.as_deref().filter(|k| !k.trim().is_empty());
        return Ok(Some(Box::new(ApiSource::new(url, key)?)));
    }
    if !source.db.exists() {
        return Ok(None);
    }
    Ok(Some(Box::new(FileSource::open(&source.db)?)))
}

/// Whether the source is a server (whose messages differ from a file's).
fn is_server(source: &Source) -> bool {
    source
        .server
        .as_deref()
        .is_some_and(|u| !u.trim().is_empty())
}

/// Said when the source holds no trace at all.
fn no_traces_in(source: &Source, described: &str) -> String {
    if is_server(source) {
        format!(
            "no traces yet on {described} — export spans to its collector (set \
             AGENTSTACK_ENDPOINT to the address `agentstack serve` prints for it)"
        )
    } else {
        no_traces_yet(&source.db)
    }
}

fn unix_nanos(ts: Timestamp) -> i64 {
    timespec::unix_nanos(ts)
}

/// `agentstack traces`: the table of recent traces.
pub fn traces(args: &TracesArgs, term: &mut Terminal) -> Result<()> {
    let Some(store) = open(&args.source)? else {
        note(&missing_file(&args.source.db));
        return Ok(());
    };
    let filter = TraceFilter {
        since_unix_nanos: args.since.map(unix_nanos),
        until_unix_nanos: args.until.map(unix_nanos),
        name_contains: args.filters.name.clone(),
        status: args.filters.status.map(|s| match s {
            StatusFilter::Ok => SpanStatus::Ok,
            StatusFilter::Error => SpanStatus::Error,
        }),
        session_id: args.filters.session.clone(),
        project: None,
        limit: usize::from(args.limit),
    };
    let traces = store.recent_traces(&filter)?;
    if traces.is_empty() {
        if !store.has_traces()? {
            note(&no_traces_in(&args.source, &store.describe()));
        } else {
            note(&format!(
                "no trace in {} matches these filters; widen --since/--until or drop \
                 --name/--status/--session",
                store.describe()
            ));
        }
        return Ok(());
    }
    let costs = store.trace_costs(&traces)?;
    if args.json {
        for trace in &traces {
            let mut value = json::summary(trace);
            if let Some(map) = value.as_object_mut() {
                let cost = costs.get(&trace.trace_id);
                map.insert("cost".into(), json::cost(cost));
                map.insert(
                    "cost_estimated".into(),
                    cost.is_some_and(|c| c.estimated).into(),
                );
            }
            term.json(&value)?;
        }
        return Ok(());
    }
    let now = ZonedDateTime::now();
    let layout = TableLayout::fit_with_costs(&traces, costs, term.width, &now);
    term.line(&layout.header())?;
    for trace in &traces {
        term.line(&layout.row(trace, &now))?;
    }
    Ok(())
}

/// Finds the span whose id starts with `prefix`, or says which ones there are.
fn find_span<'a>(spans: &'a [SpanRecord], prefix: &str) -> Result<&'a SpanRecord> {
    let wanted = prefix.trim().to_ascii_lowercase();
    let found: Vec<&SpanRecord> = spans
        .iter()
        .filter(|s| s.span_id.starts_with(&wanted))
        .collect();
    let list = |spans: &mut dyn Iterator<Item = &SpanRecord>| {
        spans
            .take(12)
            .map(|s| {
                format!(
                    "{} ({})",
                    s.span_id,
                    render::truncate(&render::sanitize(&s.name), 30)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match found.len() {
        1 => Ok(found[0]),
        0 => bail!(
            "no span of this trace has an id starting with {prefix:?}; its spans are: {}{}",
            list(&mut spans.iter()),
            if spans.len() > 12 { ", …" } else { "" }
        ),
        n => bail!(
            "{n} spans of this trace have ids starting with {prefix:?}: {}; give more characters",
            list(&mut found.into_iter())
        ),
    }
}

/// `agentstack show`: one trace as a tree, or one of its spans in full.
pub fn show(args: &ShowArgs, term: &mut Terminal) -> Result<()> {
    let Some(store) = open(&args.source)? else {
        bail!(missing_file(&args.source.db));
    };
    let spans = store.trace(&args.trace)?;
    if spans.is_empty() {
        bail!(
            "no trace in {} has an id starting with {:?}; `agentstack traces` lists the traces it holds",
            store.describe(),
            args.trace
        );
    }
    let rows = tree::build_tree(&spans);
    let stats = trace_view::TraceStats::of(&spans, &rows).with_costs(store.span_costs(&spans));
    let now = ZonedDateTime::now();
    let trace_id = spans[0].trace_id.clone();

    if let Some(prefix) = &args.span {
        let span = find_span(&spans, prefix)?;
        if args.json {
            let mut value = json::span(span);
            if let Some(map) = value.as_object_mut() {
                map.insert(
                    "cost".into(),
                    json::cost(stats.span_costs.get(&span.span_id)),
                );
            }
            term.json(&value)?;
        } else {
            let parent_in_trace = span
                .parent_span_id
                .as_deref()
                .is_some_and(|p| spans.iter().any(|s| s.span_id == p));
            let lines = trace_view::span_detail_with_cost(
                span,
                stats.span_costs.get(&span.span_id),
                parent_in_trace,
                stats.start,
                now.time_zone(),
                term.width,
            );
            term.lines(&lines)?;
        }
        return Ok(());
    }
    if args.json {
        for row in &rows {
            let span = &spans[row.index];
            let mut value = json::span(span);
            if let Some(map) = value.as_object_mut() {
                map.insert("depth".into(), row.depth.into());
                map.insert(
                    "cost".into(),
                    json::cost(stats.span_costs.get(&span.span_id)),
                );
            }
            term.json(&value)?;
        }
        return Ok(());
    }
    term.lines(&trace_view::header(&trace_id, &stats, &now, term.width))?;
    term.line(&Line::new())?;
    let options = trace_view::TreeOptions {
        width: term.width,
        io: args.io,
    };
    term.lines(&trace_view::tree(&spans, &rows, &stats, options))?;
    Ok(())
}

/// How far back (by span end) `tail` looks on every poll: spans written this much after they
/// ended still count as news. The SDK flushes every 5 s, so this is generous.
const TAIL_WINDOW_NANOS: i64 = 120 * 1_000_000_000;

/// `agentstack tail`: prints a line whenever a trace appears or changes, until interrupted.
pub fn tail(args: &TailArgs, term: &mut Terminal) -> Result<()> {
    let store = match open(&args.source)? {
        Some(store) => store,
        None => {
            note(&format!(
                "waiting for {} to appear — run an agent with agentstack::init() \
                 (AGENTSTACK_MODE=local); Ctrl-C to stop",
                args.source.db.display()
            ));
            while !args.source.db.exists() {
                std::thread::sleep(args.interval);
            }
            Box::new(FileSource::open(&args.source.db)?)
        }
    };
    let layout = TableLayout::fixed(term.width.saturating_sub(2));
    let mut header_printed = false;
    let mut print = |term: &mut Terminal, trace: &TraceSummary, new: bool| -> io::Result<()> {
        if args.json {
            let mut value = json::summary(trace);
            if let Some(map) = value.as_object_mut() {
                map.insert("event".into(), if new { "new" } else { "updated" }.into());
            }
            return term.json(&value);
        }
        if !header_printed {
            header_printed = true;
            let mut header = Line::styled("  ", palette::PLAIN);
            header.append(layout.header());
            term.line(&header)?;
        }
        let mut line = if new {
            Line::styled("+ ", palette::OK_MARK)
        } else {
            Line::styled("~ ", palette::DIM)
        };
        line.append(layout.row(trace, &ZonedDateTime::now()));
        term.line(&line)?;
        term.out.flush()
    };

    let now = unix_nanos(Timestamp::now());
    let mut seen: HashMap<String, TraceSummary> = HashMap::new();
    // What is already there is not news, unless --since asks for it.
    let backlog_since = args.since.map(unix_nanos);
    for trace in store.traces_updated_since(backlog_since.unwrap_or(now - TAIL_WINDOW_NANOS))? {
        if backlog_since.is_some() && args.filters.matches(&trace) {
            print(term, &trace, true)?;
        }
        seen.insert(trace.trace_id.clone(), trace);
    }
    // Said once the file's present state is known: what arrives from here on is printed.
    note(&format!(
        "following {}: + a new trace, ~ a trace that changed; Ctrl-C to stop",
        store.describe()
    ));
    // Set while the server does not answer: `tail` outlives a restart of `agentstack serve`.
    let mut unreachable = false;
    loop {
        std::thread::sleep(args.interval);
        let window_start = unix_nanos(Timestamp::now()).saturating_sub(TAIL_WINDOW_NANOS);
        let updated = match store.traces_updated_since(window_start) {
            Ok(updated) => updated,
            Err(error) if error.downcast_ref::<api_client::Unreachable>().is_some() => {
                if !std::mem::replace(&mut unreachable, true) {
                    note(&format!(
                        "{error:#}; trying again every {:?} (Ctrl-C to stop)",
                        args.interval
                    ));
                }
                continue;
            }
            Err(error) => return Err(error),
        };
        if std::mem::replace(&mut unreachable, false) {
            note(&format!("{} answers again", store.describe()));
        }
        for trace in updated {
            let new = match seen.get(&trace.trace_id) {
                Some(old) if *old == trace => continue,
                Some(_) => false,
                None => true,
            };
            if args.filters.matches(&trace) {
                print(term, &trace, new)?;
            }
            seen.insert(trace.trace_id.clone(), trace);
        }
        // Forget traces well out of the window (a straggler span then reads as a new trace).
        seen.retain(|_, t| t.end_unix_nanos >= window_start.saturating_sub(TAIL_WINDOW_NANOS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(name: &str, errors: i64, session: Option<&str>) -> TraceSummary {
        TraceSummary {
            trace_id: "t".into(),
            root_name: name.into(),
            service_name: None,
            session_id: session.map(str::to_string),
            start_unix_nanos: 0,
            end_unix_nanos: 1,
            span_count: 1,
            input_tokens: 0,
            output_tokens: 0,
            error_count: errors,
        }
    }

    #[test]
    fn tail_filters_match_like_the_store() {
        let f = |name: Option<&str>, status, session: Option<&str>| Filters {
            name: name.map(str::to_string),
            status,
            session: session.map(str::to_string),
        };
        let t = summary("Research_Agent", 1, Some("s1"));
        assert!(f(None, None, None).matches(&t));
        assert!(f(Some("research"), None, None).matches(&t));
        assert!(!f(Some("support"), None, None).matches(&t));
        assert!(f(None, Some(StatusFilter::Error), None).matches(&t));
        assert!(!f(None, Some(StatusFilter::Ok), None).matches(&t));
        assert!(f(None, None, Some("s1")).matches(&t));
        assert!(!f(None, None, Some("s2")).matches(&t));
    }

    #[test]
    fn span_prefixes_pick_one_span_or_explain() {
        let spans = vec![
            SpanRecord::new("t", "aaaa111100000000", "one", 0, 1),
            SpanRecord::new("t", "aaaa222200000000", "two", 0, 1),
        ];
        assert_eq!(find_span(&spans, "AAAA1").unwrap().name, "one");
        let ambiguous = find_span(&spans, "aaaa").unwrap_err().to_string();
        assert!(
            ambiguous.contains("2 spans") && ambiguous.contains("(two)"),
            "{ambiguous}"
        );
        let none = find_span(&spans, "bb").unwrap_err().to_string();
        assert!(none.contains("aaaa111100000000 (one)"), "{none}");
    }
}
