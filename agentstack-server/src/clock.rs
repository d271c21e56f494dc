//! The wall clock as the server's records count it: nanoseconds since the Unix epoch.

/// Now, in nanoseconds since the Unix epoch (0 before it, `i64::MAX` past 2262).
pub fn now_unix_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
        })
}
