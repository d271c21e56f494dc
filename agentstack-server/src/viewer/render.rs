//! Pure formatting for the terminal viewer: durations, times, token counts, width-aware
//! truncation, the timeline bar, cut-down JSON, and the styled [`Line`] every screen is built
//! from. Nothing here does I/O; whether the styles become colour codes is the writer's choice.

use std::fmt;

use anstyle::{AnsiColor, Style};
use jiff::{Timestamp, ZonedDateTime, tz::TimeZone};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// "Do not truncate": the width used when the output goes to a pipe and `COLUMNS` is unset.
pub const UNLIMITED: usize = usize::MAX / 4;

/// The viewer's colours, in one place.
pub mod palette {
    use super::*;

    pub const PLAIN: Style = Style::new();
    pub const ERROR: Style = AnsiColor::Red.on_default();
    pub const ERROR_MARK: Style = AnsiColor::Red.on_default().bold();
    pub const OK_MARK: Style = AnsiColor::Green.on_default();
    pub const DIM: Style = Style::new().dimmed();
    pub const HEADER: Style = Style::new().bold().dimmed();
    pub const TITLE: Style = Style::new().bold();
    pub const ID: Style = AnsiColor::Yellow.on_default();
    pub const DURATION: Style = Style::new().dimmed();
    pub const BAR: Style = AnsiColor::Cyan.on_default();
    pub const MODEL: Style = AnsiColor::Blue.on_default();
    pub const COST: Style = AnsiColor::Green.on_default();
    pub const WARN: Style = AnsiColor::Yellow.on_default();
    pub const LABEL: Style = Style::new().bold();

    /// The colour of a span kind's tag.
    pub fn kind(kind: &str) -> Style {
        match kind {
            "agent" => AnsiColor::Magenta.on_default().bold(),
            "tool" => AnsiColor::Yellow.on_default(),
            "llm" => AnsiColor::Cyan.on_default(),
            "chain" => AnsiColor::Blue.on_default(),
            "retriever" | "embedding" => AnsiColor::Green.on_default(),
            "guardrail" => AnsiColor::BrightRed.on_default(),
            _ => Style::new().dimmed(),
        }
    }
}

/// Makes text from the trace file safe to print: control characters (newlines, tabs, escape
/// sequences that could repaint the terminal) become spaces or `�`.
pub fn sanitize(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if c.is_control() => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// The number of terminal columns `text` takes.
pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// Cuts `text` to at most `max` columns, ending with `…` when something was cut.
pub fn truncate(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// A line of styled segments. Widths are measured on the text alone, so a line that fits with
/// colours also fits without.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line {
    segments: Vec<(String, Style)>,
}

impl Line {
    pub fn new() -> Self {
        Self::default()
    }

    /// A line with one segment.
    pub fn styled(text: impl AsRef<str>, style: Style) -> Self {
        let mut line = Self::new();
        line.push(text, style);
        line
    }

    /// Appends `text` (sanitized) in `style`.
    pub fn push(&mut self, text: impl AsRef<str>, style: Style) -> &mut Self {
        let text = sanitize(text.as_ref());
        if !text.is_empty() {
            self.segments.push((text, style));
        }
        self
    }

    pub fn plain(&mut self, text: impl AsRef<str>) -> &mut Self {
        self.push(text, palette::PLAIN)
    }

    /// Appends the segments of another line.
    pub fn append(&mut self, other: Line) -> &mut Self {
        self.segments.extend(other.segments);
        self
    }

    pub fn width(&self) -> usize {
        self.segments.iter().map(|(t, _)| width(t)).sum()
    }

    /// The text without styles.
    pub fn text(&self) -> String {
        self.segments.iter().map(|(t, _)| t.as_str()).collect()
    }

    /// Pads with spaces to `columns`.
    pub fn pad_to(&mut self, columns: usize) -> &mut Self {
        let w = self.width();
        if w < columns {
            self.plain(" ".repeat(columns - w));
        }
        self
    }

    /// Cuts the line to at most `max` columns; the cut segment ends with `…` in its own style.
    pub fn truncate(&mut self, max: usize) -> &mut Self {
        if self.width() <= max {
            return self;
        }
        if max == 0 {
            self.segments.clear();
            return self;
        }
        let mut used = 0;
        let mut kept = Vec::new();
        for (text, style) in self.segments.drain(..) {
            let w = width(&text);
            if used + w < max {
                used += w;
                kept.push((text, style));
            } else {
                // The line overflows from here on: fill the room left, ending with `…`.
                let room = max - used;
                let mut cut = String::new();
                let mut cut_width = 0;
                for c in text.chars() {
                    let w = c.width().unwrap_or(0);
                    if cut_width + w > room - 1 {
                        break;
                    }
                    cut.push(c);
                    cut_width += w;
                }
                cut.push('…');
                kept.push((cut, style));
                break;
            }
        }
        self.segments = kept;
        self
    }

    /// Removes trailing spaces (left by padding the last column).
    pub fn trim_end(&mut self) -> &mut Self {
        while let Some((text, _)) = self.segments.last_mut() {
            let trimmed = text.trim_end_matches(' ').len();
            text.truncate(trimmed);
            if text.is_empty() {
                self.segments.pop();
            } else {
                break;
            }
        }
        self
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (text, style) in &self.segments {
            if style.is_plain() {
                f.write_str(text)?;
            } else {
                write!(f, "{style}{text}{style:#}")?;
            }
        }
        Ok(())
    }
}

/// A duration for people: `850ns`, `850µs`, `12.3ms`, `850ms`, `4.1s`, `2m03s`, `1h02m`,
/// `3d04h`. Negative durations (clock skew, bad data) keep their sign.
pub fn format_duration(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    // Round half up at the precision shown, then pick the unit on the rounded value so that
    // 999.7µs reads 1.0ms, not 1000µs.
    let round = |unit: u64| (n + unit / 2) / unit;
    let text = if n < 1_000 {
        format!("{n}ns")
    } else if round(1_000) < 1_000 {
        format!("{}µs", round(1_000))
    } else if round(100_000) < 1_000 {
        let tenths = round(100_000);
        format!("{}.{}ms", tenths / 10, tenths % 10)
    } else if round(1_000_000) < 1_000 {
        format!("{}ms", round(1_000_000))
    } else if round(100_000_000) < 600 {
        let tenths = round(100_000_000);
        format!("{}.{}s", tenths / 10, tenths % 10)
    } else {
        let secs = round(1_000_000_000);
        if secs < 3_600 {
            format!("{}m{:02}s", secs / 60, secs % 60)
        } else if secs < 86_400 {
            format!("{}h{:02}m", secs / 3_600, secs % 3_600 / 60)
        } else {
            format!("{}d{:02}h", secs / 86_400, secs % 86_400 / 3_600)
        }
    };
    format!("{sign}{text}")
}

fn zoned(unix_nanos: i64, tz: &TimeZone) -> Option<ZonedDateTime> {
    Timestamp::from_nanosecond(i128::from(unix_nanos))
        .ok()
        .map(|ts| ts.to_zoned_datetime(tz.clone()))
}

/// When a trace started, short: `14:03:22` today, `May 01 14:03` earlier this year, else
/// `2023-05-01`. `now` gives both "today" and the time zone.
pub fn format_start(unix_nanos: i64, now: &ZonedDateTime) -> String {
    let Some(t) = zoned(unix_nanos, now.time_zone()) else {
        return "?".into();
    };
    let format = if t.date() == now.date() {
        "%H:%M:%S"
    } else if t.year() == now.year() {
        "%b %d %H:%M"
    } else {
        "%Y-%m-%d"
    };
    t.strftime(format).to_string()
}

/// The time of day only (`14:03:22`), for `tail`.
pub fn format_time_of_day(unix_nanos: i64, tz: &TimeZone) -> String {
    zoned(unix_nanos, tz).map_or_else(|| "?".into(), |t| t.strftime("%H:%M:%S").to_string())
}

/// A full local date and time: `2024-05-01 14:03:22` (with `.123` when `millis`).
pub fn format_datetime(unix_nanos: i64, tz: &TimeZone, millis: bool) -> String {
    let format = if millis {
        "%Y-%m-%d %H:%M:%S%.3f %:z"
    } else {
        "%Y-%m-%d %H:%M:%S"
    };
    zoned(unix_nanos, tz).map_or_else(
        || format!("? ({unix_nanos} ns)"),
        |t| t.strftime(format).to_string(),
    )
}

/// `1234567` → `1,234,567`.
pub fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count in at most 5 columns: `950`, `9999`, `12.3k`, `123k`, `1.2M`.
pub fn compact_count(n: i64) -> String {
    let sign = if n < 0 { "-" } else { "" };
    let a = n.unsigned_abs();
    let text = if a < 10_000 {
        a.to_string()
    } else if a < 99_950 {
        format!("{:.1}k", a as f64 / 1e3)
    } else if a < 999_500 {
        format!("{}k", (a + 500) / 1_000)
    } else if a < 99_950_000 {
        format!("{:.1}M", a as f64 / 1e6)
    } else if a < 999_500_000 {
        format!("{}M", (a + 500_000) / 1_000_000)
    } else {
        format!("{:.1}G", a as f64 / 1e9)
    };
    format!("{sign}{text}")
}

/// A cost for people: `$12.34` from a dollar up, `$0.0035` below (four decimals),
/// `<$0.0001` for less, `$0` for nothing; `~` in front when it rests on estimated tokens.
pub fn format_cost(femtos: i128, estimated: bool) -> String {
    const PER_USD: i128 = 1_000_000_000_000_000;
    let mark = if estimated { "~" } else { "" };
    let sign = if femtos < 0 { "-" } else { "" };
    let a = femtos.unsigned_abs() as i128;
    let rounded = |places: u32| {
        let unit = PER_USD / 10i128.pow(places);
        (a + unit / 2) / unit
    };
    let text = if a == 0 {
        "$0".to_string()
    } else if rounded(2) >= 100 {
        let cents = rounded(2);
        format!("${}.{:02}", cents / 100, cents % 100)
    } else if rounded(4) == 0 {
        "<$0.0001".to_string()
    } else {
        let tenths_of_mills = rounded(4);
        format!(
            "${}.{:04}",
            tenths_of_mills / 10_000,
            tenths_of_mills % 10_000
        )
    };
    format!("{mark}{sign}{text}")
}

/// Tokens in a table cell: `1234→567`, or `–` when there are none.
pub fn format_tokens(input: i64, output: i64) -> String {
    if input == 0 && output == 0 {
        "–".into()
    } else {
        format!("{}→{}", compact_count(input), compact_count(output))
    }
}

/// Where a span ran within its trace, as `width` cells: `(lead, fill, trail)` counts for a bar
/// drawn as `···━━━━···`. At least one cell is filled; odd times are clamped into the trace.
pub fn timeline(
    start: i64,
    end: i64,
    trace_start: i64,
    trace_end: i64,
    width: usize,
) -> (usize, usize, usize) {
    if width == 0 {
        return (0, 0, 0);
    }
    if trace_end <= trace_start {
        return (0, width, 0);
    }
    let w = width as i128;
    let total = (i128::from(trace_end) - i128::from(trace_start)).max(1);
    let s = (i128::from(start) - i128::from(trace_start)).clamp(0, total);
    let e = (i128::from(end) - i128::from(trace_start)).clamp(s, total);
    let mut a = s * w / total;
    let mut b = (e * w + total - 1) / total;
    a = a.min(w - 1);
    b = b.clamp(a + 1, w);
    let (a, b) = (a as usize, b as usize);
    (a, b - a, width - b)
}

/// The bar for [`timeline`], styled.
pub fn timeline_bar(start: i64, end: i64, trace_start: i64, trace_end: i64, width: usize) -> Line {
    let (lead, fill, trail) = timeline(start, end, trace_start, trace_end, width);
    let mut line = Line::new();
    line.push("·".repeat(lead), palette::DIM)
        .push("━".repeat(fill), palette::BAR)
        .push("·".repeat(trail), palette::DIM);
    line
}

/// Cuts a string to at most `max_bytes` (on a character boundary), saying how much was left.
pub fn cut_text(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_string();
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes)", &text[..end], text.len() - end)
}

/// How `--io` shortens a captured value.
#[derive(Debug, Clone, Copy)]
pub struct JsonCut {
    /// Longest string value kept whole, in bytes.
    pub max_string_bytes: usize,
    /// Array items kept.
    pub max_items: usize,
    /// Lines kept of the pretty-printed result.
    pub max_lines: usize,
}

impl JsonCut {
    pub const IO: JsonCut = JsonCut {
        max_string_bytes: 200,
        max_items: 10,
        max_lines: 30,
    };
    pub const FULL: JsonCut = JsonCut {
        max_string_bytes: usize::MAX,
        max_items: usize::MAX,
        max_lines: usize::MAX,
    };
}

/// A JSON value that keeps its object keys in the order they were written (captured arguments
/// read best in their parameter order; `serde_json::Value` sorts them).
enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl<'de> serde::Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Json;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
                Ok(Json::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
                Ok(Json::Number(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
                Ok(Json::Number(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
                Ok(serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number))
            }
            fn visit_str<E>(self, v: &str) -> Result<Json, E> {
                Ok(Json::String(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Json, E> {
                Ok(Json::String(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Json>()? {
                    entries.push(entry);
                }
                Ok(Json::Object(entries))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("{text:?}"))
}

/// Pretty-prints like `serde_json::to_string_pretty` (two-space indents), shortened per `cut`.
fn write_pretty(value: &Json, indent: usize, cut: JsonCut, out: &mut String) {
    let pad = |n: usize| "  ".repeat(n);
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(&n.to_string()),
        Json::String(s) => out.push_str(&quoted(&cut_text(s, cut.max_string_bytes))),
        Json::Array(items) if items.is_empty() => out.push_str("[]"),
        Json::Array(items) => {
            out.push_str("[\n");
            let kept = items.len().min(cut.max_items);
            for (i, item) in items[..kept].iter().enumerate() {
                out.push_str(&pad(indent + 1));
                write_pretty(item, indent + 1, cut, out);
                if i + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            if kept < items.len() {
                out.push_str(&pad(indent + 1));
                out.push_str(&quoted(&format!("… ({} more items)", items.len() - kept)));
                out.push('\n');
            }
            out.push_str(&pad(indent));
            out.push(']');
        }
        Json::Object(entries) if entries.is_empty() => out.push_str("{}"),
        Json::Object(entries) => {
            out.push_str("{\n");
            for (i, (key, item)) in entries.iter().enumerate() {
                out.push_str(&pad(indent + 1));
                out.push_str(&quoted(key));
                out.push_str(": ");
                write_pretty(item, indent + 1, cut, out);
                if i + 1 < entries.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(indent));
            out.push('}');
        }
    }
}

/// Pretty-prints captured JSON for reading, keys in their written order, shortened per `cut`.
/// Text that is not JSON is shown as it is (cut the same way), so a bad capture never hides what
/// was captured.
pub fn pretty_json(text: &str, cut: JsonCut) -> Vec<String> {
    let pretty = match serde_json::from_str::<Json>(text) {
        Ok(value) => {
            let mut out = String::new();
            write_pretty(&value, 0, cut, &mut out);
            out
        }
        Err(_) => cut_text(text, cut.max_string_bytes.saturating_mul(4)),
    };
    let mut lines: Vec<String> = pretty.lines().map(str::to_string).collect();
    if lines.len() > cut.max_lines {
        let more = lines.len() - cut.max_lines;
        lines.truncate(cut.max_lines);
        lines.push(format!("… ({more} more lines)"));
    }
    lines
}

/// Word-wraps prose (error messages) to `columns`, at least 10 wide.
pub fn wrap(text: &str, columns: usize) -> Vec<String> {
    let text = sanitize(text);
    let options =
        textwrap::Options::new(columns.max(10)).wrap_algorithm(textwrap::WrapAlgorithm::FirstFit);
    textwrap::wrap(&text, options)
        .into_iter()
        .map(|l| l.into_owned())
        .collect()
}

/// Breaks a line into pieces of at most `columns` (at least 10), keeping every character:
/// for `show --span`, which prints values in full.
pub fn hard_wrap(line: &str, columns: usize) -> Vec<String> {
    let columns = columns.max(10);
    let mut out = vec![String::new()];
    let mut used = 0;
    for c in sanitize(line).chars() {
        let w = c.width().unwrap_or(0);
        if used + w > columns {
            out.push(String::new());
            used = 0;
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
        used += w;
    }
    out
}

/// Packs `items` into lines of at most `columns`, separated by `sep`; an item wider than a line
/// gets a line of its own (the caller truncates).
pub fn pack(items: Vec<Line>, sep: &str, columns: usize) -> Vec<Line> {
    let mut lines: Vec<Line> = Vec::new();
    let mut current = Line::new();
    for item in items {
        if current.width() == 0 {
            current = item;
        } else if current.width() + width(sep) + item.width() <= columns {
            current.push(sep, palette::DIM).append(item);
        } else {
            lines.push(std::mem::replace(&mut current, item));
        }
    }
    if current.width() > 0 {
        lines.push(current);
    }
    lines
}

/// `1 error`, `3 errors`.
pub fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{} {}", group_thousands(n), if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let cases = [
            (0, "0ns"),
            (999, "999ns"),
            (1_000, "1µs"),
            (850_000, "850µs"),
            (999_499, "999µs"),
            (999_700, "1.0ms"),
            (12_340_000, "12.3ms"),
            (99_940_000, "99.9ms"),
            (99_960_000, "100ms"),
            (850_000_000, "850ms"),
            (999_600_000, "1.0s"),
            (4_120_000_000, "4.1s"),
            (59_940_000_000, "59.9s"),
            (59_960_000_000, "1m00s"),
            (123_000_000_000, "2m03s"),
            (3_599_000_000_000, "59m59s"),
            (3_720_000_000_000, "1h02m"),
            (97_200_000_000_000, "1d03h"),
            (-12_340_000, "-12.3ms"),
            (i64::MIN, "-106751d23h"),
            (i64::MAX, "106751d23h"),
        ];
        for (nanos, want) in cases {
            assert_eq!(format_duration(nanos), want, "{nanos} ns");
        }
    }

    fn now() -> ZonedDateTime {
        let tz = TimeZone::fixed(jiff::tz::offset(2));
        jiff::civil::date(2024, 5, 1)
            .at(14, 30, 0, 0)
            .to_zoned_datetime(tz)
            .unwrap()
    }

    #[test]
    fn start_times_are_local_and_shorter_for_today() {
        // 2024-05-01T10:03:22Z is 12:03:22 at UTC+2.
        assert_eq!(format_start(1_714_557_802_000_000_000, &now()), "12:03:22");
        // Late on the previous UTC day, but already today at UTC+2.
        assert_eq!(format_start(1_714_515_000_000_000_000, &now()), "00:10:00");
        assert_eq!(
            format_start(1_714_428_600_000_000_000, &now()),
            "Apr 30 00:10"
        );
        assert_eq!(
            format_start(1_682_944_200_000_000_000, &now()),
            "2023-05-01"
        );
        assert_eq!(format_start(0, &now()), "1970-01-01");
        assert_eq!(format_start(i64::MIN, &now()), "1677-09-21");
        let tz = now().time_zone().clone();
        assert_eq!(
            format_datetime(1_714_557_802_123_000_000, &tz, true),
            "2024-05-01 12:03:22.123 +02:00"
        );
        assert_eq!(
            format_time_of_day(1_714_557_802_000_000_000, &tz),
            "12:03:22"
        );
    }

    #[test]
    fn costs() {
        assert_eq!(format_cost(3_500_000_000_000, false), "$0.0035");
        assert_eq!(format_cost(3_500_000_000_000, true), "~$0.0035");
        assert_eq!(format_cost(12_345_000_000_000_000, false), "$12.35");
        assert_eq!(format_cost(999_960_000_000_000, false), "$1.00");
        assert_eq!(format_cost(10_000_000_000, false), "<$0.0001");
        assert_eq!(format_cost(0, false), "$0");
    }

    #[test]
    fn counts() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1_234), "1,234");
        assert_eq!(group_thousands(-1_234_567), "-1,234,567");
        assert_eq!(compact_count(9_999), "9999");
        assert_eq!(compact_count(12_345), "12.3k");
        assert_eq!(compact_count(99_960), "100k");
        assert_eq!(compact_count(1_234_567), "1.2M");
        assert_eq!(format_tokens(0, 0), "–");
        assert_eq!(format_tokens(1_234, 56_789), "1234→56.8k");
        assert_eq!(plural(1, "error", "errors"), "1 error");
        assert_eq!(plural(2, "error", "errors"), "2 errors");
    }

    #[test]
    fn truncation_respects_display_width() {
        assert_eq!(truncate("research_agent", 20), "research_agent");
        assert_eq!(truncate("research_agent", 14), "research_agent");
        assert_eq!(truncate("research_agent", 9), "research…");
        assert_eq!(truncate("research_agent", 1), "…");
        assert_eq!(truncate("research_agent", 0), "");
        // Wide characters take two columns; never overshoot.
        let cut = truncate("検索エージェント", 7);
        assert_eq!(cut, "検索エ…");
        assert!(width(&cut) <= 7);
        for max in 0..20 {
            assert!(width(&truncate("a検b索cエージェント", max)) <= max);
        }
    }

    #[test]
    fn lines_truncate_across_segments_and_keep_styles_out_of_the_width() {
        let mut line = Line::new();
        line.push("├─ ", palette::DIM)
            .push("[tool]", palette::kind("tool"))
            .plain(" web_search");
        assert_eq!(line.width(), 20);
        let mut cut = line.clone();
        cut.truncate(12);
        assert_eq!(cut.text(), "├─ [tool] w…");
        assert_eq!(cut.width(), 12);
        let mut cut = line.clone();
        cut.truncate(9);
        assert_eq!(cut.text(), "├─ [tool…");
        assert_eq!(cut.width(), 9);
        let mut cut = line.clone();
        cut.truncate(0);
        assert_eq!(cut.text(), "");
        let rendered = format!("{line}");
        assert!(
            rendered.contains("\x1b["),
            "styles are rendered: {rendered:?}"
        );
        assert_eq!(
            Line::styled("x\x1b[31my\nz", palette::PLAIN).text(),
            "x\u{FFFD}[31my z"
        );
        let mut padded = Line::styled("ab", palette::ERROR);
        padded.pad_to(5);
        assert_eq!(padded.width(), 5);
        padded.trim_end();
        assert_eq!(padded.text(), "ab");
    }

    #[test]
    fn timeline_cells() {
        assert_eq!(timeline(0, 100, 0, 100, 10), (0, 10, 0));
        assert_eq!(timeline(50, 100, 0, 100, 10), (5, 5, 0));
        assert_eq!(timeline(0, 1, 0, 100, 10), (0, 1, 9));
        assert_eq!(timeline(100, 100, 0, 100, 10), (9, 1, 0));
        assert_eq!(timeline(20, 10, 0, 100, 10), (2, 1, 7)); // ends before it starts
        assert_eq!(timeline(-50, 500, 0, 100, 10), (0, 10, 0)); // outside the trace
        assert_eq!(timeline(5, 5, 5, 5, 4), (0, 4, 0)); // zero-length trace
        assert_eq!(
            timeline(i64::MIN, i64::MAX, i64::MIN, i64::MAX, 8),
            (0, 8, 0)
        );
        assert_eq!(timeline(0, 0, 0, 0, 0), (0, 0, 0));
    }

    #[test]
    fn json_is_pretty_and_cut() {
        let long = "x".repeat(500);
        let text = format!(r#"{{"q":"{long}","n":[1,2,3,4,5,6,7,8,9,10,11,12]}}"#);
        let lines = pretty_json(&text, JsonCut::IO);
        let joined = lines.join("\n");
        assert!(joined.contains("… (300 more bytes)"), "{joined}");
        assert!(joined.contains("… (2 more items)"), "{joined}");
        assert_eq!(lines[0], "{");
        // Not JSON: shown raw.
        assert_eq!(pretty_json("not {json", JsonCut::IO), vec!["not {json"]);
        // Keys keep their order, and the output matches serde_json's pretty form.
        let text = r#"{"role":"user","content":"hi","n":[1,2.5,true,null,{}],"e":[]}"#;
        let ordered = pretty_json(text, JsonCut::FULL).join("\n");
        assert_eq!(
            ordered,
            "{\n  \"role\": \"user\",\n  \"content\": \"hi\",\n  \"n\": [\n    1,\n    2.5,\n    true,\n    null,\n    {}\n  ],\n  \"e\": []\n}"
        );
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        let reparsed: serde_json::Value = serde_json::from_str(&ordered).unwrap();
        assert_eq!(value, reparsed);
        // Multi-byte characters are never split.
        let cut = cut_text("ééé", 3);
        assert_eq!(cut, "é… (4 more bytes)");
        let many: String = format!("[{}]", vec!["1"; 100].join(","));
        let lines = pretty_json(
            &many,
            JsonCut {
                max_items: 1000,
                max_lines: 5,
                ..JsonCut::IO
            },
        );
        assert_eq!(lines.len(), 6);
        assert_eq!(lines[5], "… (97 more lines)");
    }

    #[test]
    fn wrapping() {
        assert_eq!(
            wrap("connection refused by upstream host", 16),
            vec!["connection", "refused by", "upstream host"]
        );
        let pieces = hard_wrap(&"a".repeat(25), 10);
        assert_eq!(pieces, vec!["a".repeat(10), "a".repeat(10), "a".repeat(5)]);
        let items = ["started 12:00", "4.1s", "7 spans", "1,234 → 567 tokens"]
            .map(|s| Line::styled(s, palette::PLAIN))
            .to_vec();
        let packed = pack(items, " · ", 30);
        let texts: Vec<String> = packed.iter().map(Line::text).collect();
        assert_eq!(
            texts,
            vec!["started 12:00 · 4.1s · 7 spans", "1,234 → 567 tokens"]
        );
    }
}
