//! `--json` output: one JSON object per line, for scripts (`jq`, log shippers). Field names are
//! the store's; statuses are lowercase words, and captured JSON (input, output, attributes,
//! events) is embedded as JSON when it parses, as a string when it does not.

use agentstack_exporter_sqlite::{SpanRecord, SpanStatus, TraceSummary};
use serde_json::{Map, Value};

use super::source::Cost;

/// A cost as exact decimal USD text (`"0.0035"`), `null` when there is none.
pub fn cost(cost: Option<&Cost>) -> Value {
    cost.map_or(Value::Null, |c| {
        agentstack_cost::Usd::from_femtos(c.femtos)
            .to_string()
            .into()
    })
}

fn status_word(status: SpanStatus) -> &'static str {
    match status {
        SpanStatus::Unset => "unset",
        SpanStatus::Ok => "ok",
        SpanStatus::Error => "error",
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// A trace summary, with its `duration_nanos` and `status` (`ok` or `error`).
pub fn summary(trace: &TraceSummary) -> Value {
    let mut map = object(serde_json::to_value(trace).unwrap_or(Value::Null));
    map.insert("duration_nanos".into(), trace.duration_nanos().into());
    map.insert(
        "status".into(),
        if trace.has_error() { "error" } else { "ok" }.into(),
    );
    Value::Object(map)
}

/// A span, with `duration_nanos`, its status as a word and its captured JSON embedded.
pub fn span(span: &SpanRecord) -> Value {
    let mut map = object(serde_json::to_value(span).unwrap_or(Value::Null));
    map.insert("status".into(), status_word(span.status).into());
    map.insert("duration_nanos".into(), span.duration_nanos().into());
    for key in ["input", "output", "attributes", "events"] {
        if let Some(Value::String(text)) = map.get(key)
            && let Ok(parsed) = serde_json::from_str::<Value>(text)
        {
            map.insert(key.into(), parsed);
        }
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_embed_their_json_and_keep_bad_json_as_text() {
        let mut s = SpanRecord::new("t", "s", "chat", 10, 25);
        s.status = SpanStatus::Error;
        s.input = Some(r#"{"q":"hi"}"#.into());
        s.output = Some("{oops".into());
        let v = span(&s);
        assert_eq!(v["status"], "error");
        assert_eq!(v["duration_nanos"], 15);
        assert_eq!(v["input"]["q"], "hi");
        assert_eq!(v["output"], "{oops");
        assert_eq!(v["attributes"], serde_json::json!({}));
        assert_eq!(v["events"], serde_json::json!([]));
        assert_eq!(v["name"], "chat");
    }

    #[test]
    fn summaries_say_their_status() {
        let t = TraceSummary {
            trace_id: "abc".into(),
            root_name: "agent".into(),
            service_name: None,
            session_id: Some("s".into()),
            start_unix_nanos: 5,
            end_unix_nanos: 3,
            span_count: 2,
            input_tokens: 1,
            output_tokens: 2,
            error_count: 1,
        };
        let v = summary(&t);
        assert_eq!(v["status"], "error");
        assert_eq!(v["duration_nanos"], 0);
        assert_eq!(v["trace_id"], "abc");
        assert_eq!(v["session_id"], "s");
    }
}
