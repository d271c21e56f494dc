//! Query strings of the API: decoded once, every name checked against the endpoint's list (an
//! unknown or repeated parameter is a 400 naming it, so a typo never silently returns
//! everything), and typed readers for text, times and numbers whose errors name the parameter.

use percent_encoding::percent_decode_str;

use super::ApiError;

/// The 400 of a `cursor` the API did not give out (each list's cursor is opaque text of its own).
pub fn foreign_cursor() -> ApiError {
    ApiError::bad_parameter(
        "cursor",
        "this cursor is not one the API gave out; pass next_cursor from the previous page \
         unchanged, or leave cursor out for the first page",
    )
}

/// The parameters of one request, each name at most once.
#[derive(Debug, Default)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    /// Decodes `raw` (`application/x-www-form-urlencoded`, as browsers and curl send it) and
    /// refuses names not in `allowed`, repeated names and undecodable text.
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<QueryParams, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for piece in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            let name = decode(name).ok_or_else(|| {
                ApiError::bad_parameter(
                    name,
                    "this parameter name is not valid percent-encoded UTF-8; encode it as UTF-8",
                )
            })?;
            let value = decode(value).ok_or_else(|| {
                ApiError::bad_parameter(
                    &name,
                    format!(
                        "the value of {name} is not valid percent-encoded UTF-8; encode it as UTF-8"
                    ),
                )
            })?;
            if !allowed.contains(&name.as_str()) {
                let known = if allowed.is_empty() {
                    "this endpoint takes no query parameters".to_string()
                } else {
                    format!("this endpoint takes {}", allowed.join(", "))
                };
                return Err(ApiError::bad_parameter(
                    &name,
                    format!("unknown query parameter {name:?}: {known}; check its spelling"),
                ));
            }
            if pairs.iter().any(|(seen, _)| *seen == name) {
                return Err(ApiError::bad_parameter(
                    &name,
                    format!("{name} is given more than once; give it once"),
                ));
            }
            pairs.push((name, value));
        }
        Ok(QueryParams { pairs })
    }

    /// The value of `name`; an empty value counts as not given.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The value of `name`, owned.
    pub fn string(&self, name: &str) -> Option<String> {
        self.text(name).map(str::to_string)
    }

    /// A time: RFC 3339 (`2026-12-01T09:00:00Z`) or nanoseconds since the Unix epoch.
    pub fn time(&self, name: &str) -> Result<Option<i64>, ApiError> {
        let Some(text) = self.text(name) else {
            return Ok(None);
        };
        parse_time(text).map(Some).ok_or_else(|| {
            ApiError::bad_parameter(
                name,
                format!(
                    "{name}={text:?} is not a time; give RFC 3339 (2026-12-01T09:00:00Z) or \
                     nanoseconds since the Unix epoch (1764579600000000000)"
                ),
            )
        })
    }

    /// A whole number, at least 0.
    pub fn number(&self, name: &str) -> Result<Option<u64>, ApiError> {
        let Some(text) = self.text(name) else {
            return Ok(None);
        };
        text.parse::<u64>().map(Some).map_err(|_| {
            ApiError::bad_parameter(
                name,
                format!("{name}={text:?} is not a whole number; give digits only, such as 100"),
            )
        })
    }
}

/// `+` is a space, `%XX` a byte; `None` if the bytes are not UTF-8.
fn decode(text: &str) -> Option<String> {
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

/// RFC 3339 or unix nanoseconds.
pub fn parse_time(text: &str) -> Option<i64> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let timestamp: jiff::Timestamp = text.parse().ok()?;
    i64::try_from(timestamp.as_nanosecond()).ok()
}

/// A time as RFC 3339 (UTC), for answers.
pub fn format_time(unix_nanos: i64) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(unix_nanos))
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// Nanoseconds as milliseconds, with the fraction.
pub fn millis(nanos: i64) -> f64 {
    nanos as f64 / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_decoded_and_checked() {
        let params = QueryParams::parse(
            Some("q=%27+OR+1%3D1&limit=5&name="),
            &["q", "limit", "name"],
        )
        .unwrap();
        assert_eq!(params.text("q"), Some("' OR 1=1"));
        assert_eq!(params.number("limit").unwrap(), Some(5));
        assert_eq!(params.text("name"), None);
        let error = QueryParams::parse(Some("limt=5"), &["limit"]).unwrap_err();
        assert_eq!(error.parameter.as_deref(), Some("limt"));
        let error = QueryParams::parse(Some("q=a&q=b"), &["q"]).unwrap_err();
        assert_eq!(error.parameter.as_deref(), Some("q"));
        assert!(QueryParams::parse(Some("q=%ff"), &["q"]).is_err());
    }

    #[test]
    fn times_are_rfc3339_or_nanos() {
        assert_eq!(
            parse_time("1700000000000000000"),
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z"),
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_time("2023-11-14T23:13:20+01:00"),
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(
            format_time(1_700_000_000_000_000_000),
            "2023-11-14T22:13:20Z"
        );
    }
}
