//! OTLP values as JSON, and the typed reads every convention needs: text, token counts, ids.
//!
//! The JSON shapes match what the SDK writes in local mode (`agentstack/src/local.rs`), so a
//! span looks the same in the store whichever way it arrived.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use indexmap::IndexMap;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use serde_json::{Map, Value as Json};

/// Span attributes (or resource, event, link attributes) by key, as JSON, in arrival order.
/// Hashed with foldhash rather than serde_json's map (SipHash): normalize looks up about fifty
/// keys per span, and SipHash was a fifth of its time (`cargo bench --bench collector`).
/// Serialized, it is the same JSON object text.
pub(crate) type Attributes = IndexMap<String, Json, foldhash::fast::RandomState>;

/// One OTLP value as JSON: string, bool, int and double as themselves (a NaN or infinite double
/// as `null`, as JSON has no such number), an array as an array, a kvlist as an object, bytes
/// as base64 text (standard alphabet, padded: what OTLP/JSON itself writes for bytes). An
/// absent value, and the profiling-only string-table reference, are `null`.
pub(crate) fn any_value(value: Option<AnyValue>) -> Json {
    let Some(value) = value.and_then(|v| v.value) else {
        return Json::Null;
    };
    match value {
        any_value::Value::StringValue(s) => Json::String(s),
        any_value::Value::BoolValue(b) => Json::Bool(b),
        any_value::Value::IntValue(i) => Json::from(i),
        any_value::Value::DoubleValue(d) => {
            serde_json::Number::from_f64(d).map_or(Json::Null, Json::Number)
        }
        any_value::Value::ArrayValue(array) => Json::Array(
            array
                .values
                .into_iter()
                .map(|v| any_value(Some(v)))
                .collect(),
        ),
        any_value::Value::KvlistValue(list) => Json::Object(json_object(list.values)),
        any_value::Value::BytesValue(bytes) => Json::String(BASE64.encode(bytes)),
        any_value::Value::StringValueStrindex(_) => Json::Null,
    }
}

/// Key-value pairs as a JSON object; of two pairs with one key (which OTLP forbids), the last
/// wins, as in an SDK's attribute map.
pub(crate) fn attributes(pairs: Vec<KeyValue>) -> Attributes {
    collect_pairs(pairs)
}

/// Key-value pairs as a JSON object value (a kvlist, an event's or a link's attributes), as
/// [`attributes`] reads them.
pub(crate) fn json_object(pairs: Vec<KeyValue>) -> Map<String, Json> {
    collect_pairs(pairs)
}

/// Key-value pairs into a map of JSON values, the last of a repeated key winning.
fn collect_pairs<M: FromIterator<(String, Json)>>(pairs: Vec<KeyValue>) -> M {
    pairs
        .into_iter()
        .map(|kv| (kv.key, any_value(kv.value)))
        .collect()
}

/// The JSON object text of `attributes`, keys in arrival order.
pub(crate) fn json_text(attributes: &Attributes) -> String {
    serde_json::to_string(attributes).expect("a map of strings to JSON values serializes")
}

/// `object`'s members as [`Attributes`] (tests build attributes from `json!`).
#[cfg(test)]
pub(crate) fn from_json(object: Json) -> Attributes {
    match object {
        Json::Object(map) => map.into_iter().collect(),
        other => panic!("not a JSON object: {other}"),
    }
}

/// Lowercase hex of an id.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

/// A non-empty string attribute; a number is taken as its decimal text (some producers send
/// ids as ints). Anything else (bool, array, object, empty string) is no text.
pub(crate) fn text(attributes: &Attributes, key: &str) -> Option<String> {
    text_of(attributes.get(key)?)
}

/// A value as [`text`] reads it.
pub(crate) fn text_of(value: &Json) -> Option<String> {
    match value {
        Json::String(s) if !s.is_empty() => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The first key of `keys` with [`text`].
pub(crate) fn first_text(attributes: &Attributes, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| text(attributes, key))
}

/// A token count: an int, a double with no fraction (`12.0`), or a string holding either
/// (`"12"`, `" 12.0 "`). Negative, fractional, non-finite or unparsable values are no count.
pub(crate) fn tokens(attributes: &Attributes, key: &str) -> Option<i64> {
    match attributes.get(key)? {
        Json::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(whole)),
        Json::String(s) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(whole))
        }
        _ => None,
    }
    .filter(|count| *count >= 0)
}

/// The first key of `keys` with a token count: a later key is read only when the earlier ones
/// are absent (or unreadable), so counts are never added up.
pub(crate) fn first_tokens(attributes: &Attributes, keys: &[&str]) -> Option<i64> {
    keys.iter().find_map(|key| tokens(attributes, key))
}

/// `f` as an i64 when it is a whole number in range.
fn whole(f: f64) -> Option<i64> {
    // 2^63 is exactly representable; every whole f64 below it fits an i64.
    (f.is_finite() && f.fract() == 0.0 && f >= -(2f64.powi(63)) && f < 2f64.powi(63))
        .then_some(f as i64)
}

/// Captured input or output: the text for the `input`/`output` column and the attribute keys
/// it came from, which leave the attributes JSON (the value is kept once, in the column).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Moved {
    /// The column's text when it was built (reassembled messages, a non-string value's JSON
    /// text); `None` when it is the first key's string value as it is, which [`take`](Self::take)
    /// then moves out of the attributes instead of copying it (a prompt is often the largest
    /// part of a span).
    built: Option<String>,
    /// The attributes it was taken from; the first holds the text unless it was built.
    pub(crate) keys: Vec<String>,
}

impl Moved {
    /// Text built from the attributes `keys`.
    pub(crate) fn built(text: String, keys: Vec<String>) -> Moved {
        Moved {
            built: Some(text),
            keys,
        }
    }

    /// The column's text, read from `attributes` (the ones it was found in).
    pub(crate) fn text<'a>(&'a self, attributes: &'a Attributes) -> &'a str {
        match &self.built {
            Some(text) => text,
            None => match self.keys.first().and_then(|key| attributes.get(key)) {
                Some(Json::String(text)) => text,
                _ => "",
            },
        }
    }

    /// Removes `keys` from `attributes` and returns the column's text.
    pub(crate) fn take(self, attributes: &mut Attributes) -> String {
        let mut text = self.built;
        for key in &self.keys {
            let value = attributes.swap_remove(key);
            if text.is_none()
                && let Some(Json::String(value)) = value
            {
                text = Some(value);
            }
        }
        text.unwrap_or_default()
    }

    /// Also moves every attribute of `copies` that holds exactly this text: a producer that
    /// writes one input under two names (OpenLLMetry's `traceloop.entity.input` and
    /// `gen_ai.task.input`) has it stored once. A copy that differs stays an attribute.
    pub(crate) fn with_identical_copies(
        mut self,
        attributes: &Attributes,
        copies: &[&str],
    ) -> Moved {
        let mut same_keys = Vec::new();
        let text = self.text(attributes);
        for key in copies {
            let same = matches!(attributes.get(*key), Some(Json::String(s)) if s == text);
            if same && !self.keys.iter().any(|k| k == key) {
                same_keys.push((*key).to_string());
            }
        }
        self.keys.extend(same_keys);
        self
    }
}

/// An attribute captured whole into a column: a string as given (JSON text or plain text), any
/// other value as its JSON text. An absent or `null` value captures nothing.
pub(crate) fn moved(attributes: &Attributes, key: &str) -> Option<Moved> {
    let built = match attributes.get(key)? {
        Json::Null => return None,
        Json::String(_) => None,
        other => Some(other.to_string()),
    };
    Some(Moved {
        built,
        keys: vec![key.to_string()],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn value(v: any_value::Value) -> Option<AnyValue> {
        Some(AnyValue { value: Some(v) })
    }

    #[test]
    fn every_any_value_kind_has_its_json_shape() {
        use any_value::Value as V;
        let nested = V::KvlistValue(opentelemetry_proto::tonic::common::v1::KeyValueList {
            values: vec![
                KeyValue {
                    key: "a".into(),
                    value: value(V::IntValue(1)),
                    ..Default::default()
                },
                KeyValue {
                    key: "b".into(),
                    value: value(V::ArrayValue(
                        opentelemetry_proto::tonic::common::v1::ArrayValue {
                            values: vec![
                                AnyValue {
                                    value: Some(V::StringValue("x".into())),
                                },
                                AnyValue {
                                    value: Some(V::BoolValue(false)),
                                },
                            ],
                        },
                    )),
                    ..Default::default()
                },
            ],
        });
        assert_eq!(any_value(value(nested)), json!({"a": 1, "b": ["x", false]}));
        assert_eq!(any_value(value(V::DoubleValue(0.5))), json!(0.5));
        assert_eq!(any_value(value(V::DoubleValue(f64::NAN))), Json::Null);
        assert_eq!(
            any_value(value(V::BytesValue(vec![0xde, 0xad, 0xbe, 0xef]))),
            json!("3q2+7w==")
        );
        assert_eq!(any_value(value(V::StringValueStrindex(3))), Json::Null);
        assert_eq!(any_value(None), Json::Null);
        assert_eq!(any_value(Some(AnyValue { value: None })), Json::Null);
    }

    #[test]
    fn token_counts_are_read_from_ints_doubles_and_strings() {
        let attributes = from_json(json!({
            "int": 12, "double": 12.0, "string": "12", "string_double": " 12.0 ",
            "fraction": 12.5, "negative": -3, "word": "twelve", "bool": true,
            "huge_double": 1e300,
        }));
        for key in ["int", "double", "string", "string_double"] {
            assert_eq!(tokens(&attributes, key), Some(12), "{key}");
        }
        for key in [
            "fraction",
            "negative",
            "word",
            "bool",
            "huge_double",
            "absent",
        ] {
            assert_eq!(tokens(&attributes, key), None, "{key}");
        }
        assert_eq!(
            first_tokens(&attributes, &["word", "absent", "string"]),
            Some(12)
        );
    }

    #[test]
    fn ids_are_lowercase_hex() {
        assert_eq!(hex(&[0x00, 0xab, 0x0f, 0xf0]), "00ab0ff0");
    }
}
