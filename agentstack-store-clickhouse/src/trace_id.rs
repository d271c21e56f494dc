//! Trace ids as the reads accept them: a full id or a prefix of at least
//! `MIN_TRACE_ID_PREFIX` hex characters, any case, checked as the SQLite store checks them.

use agentstack_exporter_sqlite::store::MIN_TRACE_ID_PREFIX;

use crate::ClickHouseStoreError;

/// `given` checked and lowercased: 0-9 and a-f (any case), at least [`MIN_TRACE_ID_PREFIX`] and
/// at most 32 characters.
pub(crate) fn parse_trace_id(given: &str) -> Result<String, ClickHouseStoreError> {
    let id = given.trim().to_ascii_lowercase();
    let invalid = |reason| ClickHouseStoreError::InvalidTraceId {
        given: given.to_string(),
        reason,
    };
    if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid("it has characters other than 0-9 and a-f"));
    }
    if id.len() > 32 {
        return Err(invalid("it is longer than 32 characters"));
    }
    if id.len() < MIN_TRACE_ID_PREFIX {
        return Err(invalid("it is too short to pick one trace"));
    }
    Ok(id)
}

/// Whether `text` is `len` lowercase hex characters.
pub(crate) fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
