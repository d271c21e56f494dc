//! Reading the times and intervals people type on the command line: `--since 1h`, `--since 2d`,
//! `--until 2024-05-01T12:00:00Z`, `--interval 500ms`. Parsing is jiff's (friendly durations,
//! RFC 3339, civil dates in the local time zone); this module only decides what a value means.

use std::time::Duration;

use jiff::{SignedDuration, Span, Timestamp, ZonedDateTime, civil};

/// What a time value may look like, shown in every parse error.
const TIME_FORMS: &str = "a duration back from now (30m, 1h, 2d, 1h30m, \"2 days ago\"), \
                          a local date or time (2024-05-01, 2024-05-01 14:00, 14:00), \
                          an RFC 3339 timestamp (2024-05-01T14:00:00Z), `today`, `yesterday` or `now`";

/// Parses a `--since`/`--until` value into an instant, relative to `now` (whose time zone is
/// the one local dates and times are read in).
///
/// A duration always points back in time: `1h`, `-1h` and `1h ago` all mean one hour before
/// `now`, because a filter on stored traces never looks into the future.
pub fn parse_time_spec(text: &str, now: &ZonedDateTime) -> Result<Timestamp, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("empty time; expected {TIME_FORMS}"));
    }
    if text.eq_ignore_ascii_case("now") {
        return Ok(now.timestamp());
    }
    // Midnight of today or yesterday, local time.
    let days_back = match text.to_ascii_lowercase().as_str() {
        "today" => Some(0),
        "yesterday" => Some(1),
        _ => None,
    };
    if let Some(days) = days_back {
        return now
            .date()
            .checked_sub(Span::new().days(days))
            .and_then(|date| date.to_zoned_datetime(now.time_zone().clone()))
            .map(|z| z.timestamp())
            .map_err(|e| format!("cannot compute {text:?}: {e}"));
    }
    // An exact instant: RFC 3339 / ISO 8601 with an offset or `Z`.
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts);
    }
    let tz = now.time_zone().clone();
    let local = |dt: civil::DateTime| {
        dt.to_zoned_datetime(tz.clone())
            .map(|z| z.timestamp())
            .map_err(|e| format!("{text:?} is not a valid local time: {e}"))
    };
    // A wall-clock date and time, in the local time zone.
    if let Ok(dt) = text.parse::<civil::DateTime>() {
        return local(dt);
    }
    // A bare date: its midnight.
    if let Ok(date) = text.parse::<civil::Date>() {
        return local(date.to_datetime(civil::Time::midnight()));
    }
    // A bare time of day: today at that time.
    if text.contains(':')
        && let Ok(time) = text.parse::<civil::Time>()
    {
        return local(now.date().to_datetime(time));
    }
    // A duration back from now. Spans (not fixed durations) so that `2d` means two calendar days.
    let bare = text.trim_end_matches("ago").trim();
    if let Ok(span) = bare.parse::<Span>() {
        return now
            .checked_sub(span.abs())
            .map(|z| z.timestamp())
            .map_err(|e| format!("{text:?} reaches too far back: {e}"));
    }
    Err(format!(
        "cannot read the time {text:?}; expected {TIME_FORMS}"
    ))
}

/// The clap value parser for `--since` / `--until`: [`parse_time_spec`] against the local clock.
pub fn time_arg(text: &str) -> Result<Timestamp, String> {
    parse_time_spec(text, &ZonedDateTime::now())
}

/// The shortest polling interval `tail` accepts; anything faster only burns the CPU.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// Parses a polling interval such as `1s`, `200ms` or `2.5s`; a bare number is seconds.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let parsed = if let Ok(secs) = text.parse::<f64>() {
        if !secs.is_finite() || secs > 86_400.0 {
            return Err(format!("the interval {text:?} is out of range"));
        }
        SignedDuration::try_from_secs_f64(secs).map_err(|e| e.to_string())
    } else {
        text.parse::<SignedDuration>().map_err(|e| e.to_string())
    };
    let duration = parsed.map_err(|e| {
        format!("cannot read the interval {text:?} ({e}); expected e.g. 1s, 500ms or 2.5s")
    })?;
    let duration = Duration::try_from(duration)
        .map_err(|_| format!("the interval {text:?} must be positive"))?;
    if duration < MIN_INTERVAL {
        return Err(format!(
            "the interval {text:?} is too short; use at least 10ms"
        ));
    }
    Ok(duration)
}

/// Nanoseconds since the Unix epoch, as the store keeps them (saturating at the i64 range,
/// which covers the years 1677–2262).
pub fn unix_nanos(ts: Timestamp) -> i64 {
    let nanos = ts.as_nanosecond();
    i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    /// 2024-05-01 14:30:00 at UTC+02:00 (a fixed offset: no dependence on the machine's zone).
    fn now() -> ZonedDateTime {
        let tz = TimeZone::fixed(jiff::tz::offset(2));
        civil::date(2024, 5, 1)
            .at(14, 30, 0, 0)
            .to_zoned_datetime(tz)
            .unwrap()
    }

    fn parse(text: &str) -> String {
        parse_time_spec(text, &now()).unwrap().to_string()
    }

    #[test]
    fn durations_count_back_from_now() {
        assert_eq!(parse("1h"), "2024-05-01T11:30:00Z");
        assert_eq!(parse("30m"), "2024-05-01T12:00:00Z");
        assert_eq!(parse("2d"), "2024-04-29T12:30:00Z");
        assert_eq!(parse("1h30m"), "2024-05-01T11:00:00Z");
        assert_eq!(parse("90s"), "2024-05-01T12:28:30Z");
        assert_eq!(parse("-1h"), "2024-05-01T11:30:00Z");
        assert_eq!(parse("2 days ago"), "2024-04-29T12:30:00Z");
        assert_eq!(parse(" 1w "), "2024-04-24T12:30:00Z");
    }

    #[test]
    fn absolute_times() {
        assert_eq!(parse("2024-04-30T10:00:00Z"), "2024-04-30T10:00:00Z");
        assert_eq!(parse("2024-04-30T10:00:00+02:00"), "2024-04-30T08:00:00Z");
        // Local forms are read in now's zone (UTC+2).
        assert_eq!(parse("2024-04-30 10:00"), "2024-04-30T08:00:00Z");
        assert_eq!(parse("2024-04-30T10:00:00"), "2024-04-30T08:00:00Z");
        assert_eq!(parse("2024-04-30"), "2024-04-29T22:00:00Z");
        assert_eq!(parse("09:15"), "2024-05-01T07:15:00Z");
        assert_eq!(parse("now"), "2024-05-01T12:30:00Z");
        assert_eq!(parse("today"), "2024-04-30T22:00:00Z");
        assert_eq!(parse("Yesterday"), "2024-04-29T22:00:00Z");
    }

    #[test]
    fn nonsense_is_an_error_that_shows_the_forms() {
        for bad in ["", "yesterday-ish", "1x", "2024-13-01", "25:00", "h"] {
            let err = parse_time_spec(bad, &now()).unwrap_err();
            assert!(
                err.contains("30m, 1h, 2d") || err.contains("not a valid"),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_interval("200ms").unwrap(), Duration::from_millis(200));
        assert_eq!(parse_interval("2.5").unwrap(), Duration::from_millis(2500));
        assert_eq!(parse_interval("1m").unwrap(), Duration::from_secs(60));
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("-1s").is_err());
        assert!(parse_interval("1ms").unwrap_err().contains("too short"));
        assert!(parse_interval("soon").is_err());
        assert!(parse_interval("NaN").is_err());
    }

    #[test]
    fn unix_nanos_saturates() {
        assert_eq!(unix_nanos(Timestamp::UNIX_EPOCH), 0);
        assert_eq!(
            unix_nanos("2024-05-01T12:30:00Z".parse().unwrap()),
            1_714_566_600_000_000_000
        );
        assert_eq!(unix_nanos(Timestamp::MAX), i64::MAX);
        assert_eq!(unix_nanos(Timestamp::MIN), i64::MIN);
    }
}
