//! Capturing arguments, return values and errors of observed functions as JSON.
//!
//! The macro cannot know whether a type implements `Serialize` or `Debug`, so it uses autoref
//! specialization: `(&&&Capture(&value)).capture_into(..)` resolves to the `Serialize` impl when
//! there is one, else `Debug`, else records only the type name. The same trick finds the error
//! message of an `Err` (`Display`, else `Debug`, else the type name).

use std::cell::Cell;
use std::fmt::{Debug, Display, Write as _};

use serde::Serialize;

thread_local! {
    /// A buffer each thread writes captures into, so that a capture allocates exactly once: the
    /// finished text, at its exact size (it is freed on the export thread).
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Scratch buffers larger than this are not kept for reuse.
const MAX_KEPT_SCRATCH: usize = 64 * 1024;

/// A captured value being written as JSON text, with a size limit.
#[derive(Debug)]
pub struct JsonCapture {
    json: Vec<u8>,
    max_bytes: usize,
    is_object: bool,
    fields: usize,
}

impl JsonCapture {
    /// A JSON object of named fields (function arguments).
    pub fn object(max_bytes: usize) -> JsonCapture {
        let mut json = SCRATCH.take();
        json.push(b'{');
        JsonCapture {
            json,
            max_bytes,
            is_object: true,
            fields: 0,
        }
    }

    /// A single JSON value (a return value).
    pub fn value(max_bytes: usize) -> JsonCapture {
        JsonCapture {
            json: SCRATCH.take(),
            max_bytes,
            is_object: false,
            fields: 0,
        }
    }

    /// Starts the field `name` of an object; the next capture writes its value.
    pub fn field(&mut self, name: &str) -> &mut JsonCapture {
        if self.fields > 0 {
            self.json.push(b',');
        }
        self.fields += 1;
        write_json_string(&mut self.json, name);
        self.json.push(b':');
        self
    }

    fn write_serialize<T: Serialize + ?Sized>(&mut self, value: &T) {
        let start = self.json.len();
        if let Err(error) = serde_json::to_writer(&mut self.json, value) {
            self.json.truncate(start);
            write_json_string(&mut self.json, &format!("<not serializable: {error}>"));
        }
    }

    fn write_debug<T: Debug + ?Sized>(&mut self, value: &T) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        write_json_string(&mut self.json, &text);
    }

    fn write_type_name(&mut self, type_name: &str) {
        write_json_string(&mut self.json, &format!("<{type_name}>"));
    }

    /// The JSON text, truncated to the size limit (a truncated value becomes a JSON string that
    /// says how much was cut).
    pub fn finish(mut self) -> String {
        if self.is_object {
            self.json.push(b'}');
        }
        if self.json.is_empty() {
            self.json.extend_from_slice(b"null");
        }
        // serde_json writes only UTF-8; the lossy branch is never taken. `String::from` copies
        // into an allocation of the exact size, which the attribute value keeps as it is.
        let json = match std::str::from_utf8(&self.json) {
            Ok(text) => String::from(text),
            Err(_) => String::from_utf8_lossy(&self.json).into_owned(),
        };
        if self.max_bytes > 0 && json.len() > self.max_bytes {
            let mut cut = self.max_bytes;
            while !json.is_char_boundary(cut) {
                cut -= 1;
            }
            let cut_bytes = json.len() - cut;
            let mut truncated = Vec::with_capacity(cut + 48);
            write_json_string(
                &mut truncated,
                &format!("{}…[truncated {cut_bytes} bytes]", &json[..cut]),
            );
            return String::from_utf8(truncated).unwrap_or_default();
        }
        json
    }
}

impl Drop for JsonCapture {
    fn drop(&mut self) {
        let mut scratch = std::mem::take(&mut self.json);
        if scratch.capacity() <= MAX_KEPT_SCRATCH {
            scratch.clear();
            SCRATCH.set(scratch);
        }
    }
}

fn write_json_string(out: &mut Vec<u8>, text: &str) {
    // Writing a &str into a Vec never fails.
    let _ = serde_json::to_writer(out, text);
}

/// Wraps a value for autoref-specialized capture.
pub struct Capture<'a, T: ?Sized>(pub &'a T);

/// Highest priority: the value implements `Serialize`.
pub trait CaptureBySerialize {
    /// Writes the value into `out`.
    fn capture_into(&self, out: &mut JsonCapture);
}
impl<T: Serialize + ?Sized> CaptureBySerialize for &&Capture<'_, T> {
    fn capture_into(&self, out: &mut JsonCapture) {
        out.write_serialize(self.0);
    }
}

/// Second: the value implements `Debug`.
pub trait CaptureByDebug {
    /// Writes the value's `Debug` text into `out`, as a JSON string.
    fn capture_into(&self, out: &mut JsonCapture);
}
impl<T: Debug + ?Sized> CaptureByDebug for &Capture<'_, T> {
    fn capture_into(&self, out: &mut JsonCapture) {
        out.write_debug(self.0);
    }
}

/// Last: neither; only the type name is recorded.
pub trait CaptureByTypeName {
    /// Writes `"<type name>"` into `out`.
    fn capture_into(&self, out: &mut JsonCapture);
}
impl<T: ?Sized> CaptureByTypeName for Capture<'_, T> {
    fn capture_into(&self, out: &mut JsonCapture) {
        out.write_type_name(std::any::type_name::<T>());
    }
}

/// Wraps an error for autoref-specialized message extraction.
pub struct ErrorOf<'a, E: ?Sized>(pub &'a E);

/// The error implements `Display`: its message.
pub trait ErrorByDisplay {
    /// The message and the error's type name.
    fn error_message(&self) -> (String, &'static str);
}
impl<E: Display + ?Sized> ErrorByDisplay for &&ErrorOf<'_, E> {
    fn error_message(&self) -> (String, &'static str) {
        (self.0.to_string(), std::any::type_name::<E>())
    }
}

/// The error implements `Debug` only.
pub trait ErrorByDebug {
    /// The `Debug` text and the error's type name.
    fn error_message(&self) -> (String, &'static str);
}
impl<E: Debug + ?Sized> ErrorByDebug for &ErrorOf<'_, E> {
    fn error_message(&self) -> (String, &'static str) {
        (format!("{:?}", self.0), std::any::type_name::<E>())
    }
}

/// The error implements neither: its type name.
pub trait ErrorByTypeName {
    /// The type name, twice.
    fn error_message(&self) -> (String, &'static str);
}
impl<E: ?Sized> ErrorByTypeName for ErrorOf<'_, E> {
    fn error_message(&self) -> (String, &'static str) {
        let name = std::any::type_name::<E>();
        (name.to_string(), name)
    }
}

/// For return types that are not spelled `Result<…>` (aliases): whether the value is an `Err`,
/// and its message. The value is a `Result` whose error implements `Display`.
pub trait ErrorOfDisplay {
    /// `Some((message, type))` for an `Err`.
    fn err_message(&self) -> Option<(String, &'static str)>;
}
impl<T, E: Display> ErrorOfDisplay for &&Capture<'_, Result<T, E>> {
    fn err_message(&self) -> Option<(String, &'static str)> {
        self.0
            .as_ref()
            .err()
            .map(|e| (e.to_string(), std::any::type_name::<E>()))
    }
}

/// A `Result` whose error implements only `Debug`.
pub trait ErrorOfDebug {
    /// `Some((message, type))` for an `Err`.
    fn err_message(&self) -> Option<(String, &'static str)>;
}
impl<T, E: Debug> ErrorOfDebug for &Capture<'_, Result<T, E>> {
    fn err_message(&self) -> Option<(String, &'static str)> {
        self.0
            .as_ref()
            .err()
            .map(|e| (format!("{e:?}"), std::any::type_name::<E>()))
    }
}

/// Anything else: never an error.
pub trait ErrorOfOther {
    /// Always `None`.
    fn err_message(&self) -> Option<(String, &'static str)>;
}
impl<T: ?Sized> ErrorOfOther for Capture<'_, T> {
    fn err_message(&self) -> Option<(String, &'static str)> {
        None
    }
}

#[cfg(test)]
// The autoref depth is the point of these tests.
#[allow(clippy::needless_borrow)]
mod tests {
    use super::*;

    #[derive(Serialize, Debug)]
    struct Both {
        a: u32,
    }
    #[derive(Debug)]
    struct DebugOnly {
        #[allow(dead_code)]
        b: u32,
    }
    struct Neither;

    #[test]
    fn serialize_wins_over_debug_then_debug_then_type_name() {
        let mut out = JsonCapture::object(0);
        (&&&Capture(&Both { a: 1 })).capture_into(out.field("both"));
        (&&&Capture(&DebugOnly { b: 2 })).capture_into(out.field("debug"));
        (&&&Capture(&Neither)).capture_into(out.field("neither"));
        let json: serde_json::Value = serde_json::from_str(&out.finish()).unwrap();
        assert_eq!(json["both"], serde_json::json!({"a": 1}));
        assert_eq!(json["debug"], "DebugOnly { b: 2 }");
        assert_eq!(json["neither"], "<agentstack::capture::tests::Neither>");
    }

    #[test]
    fn unsized_str_and_strings_with_quotes_are_valid_json() {
        let mut out = JsonCapture::object(0);
        let text: &str = "say \"hi\"\n";
        (&&&Capture(text)).capture_into(out.field("q"));
        let json: serde_json::Value = serde_json::from_str(&out.finish()).unwrap();
        assert_eq!(json["q"], "say \"hi\"\n");
    }

    #[test]
    fn long_values_are_truncated_to_a_json_string_at_a_char_boundary() {
        let mut out = JsonCapture::value(10);
        (&&&Capture(&"ééééééééééééé")).capture_into(&mut out);
        let text = out.finish();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let s = json.as_str().unwrap();
        assert!(s.contains("[truncated"), "{s}");
        assert!(s.starts_with("\"éééé"), "{s}");
    }

    #[test]
    fn error_messages_prefer_display() {
        #[derive(Debug)]
        struct E;
        let io = std::io::Error::other("disk full");
        assert_eq!((&&&ErrorOf(&io)).error_message().0, "disk full");
        assert_eq!((&&&ErrorOf(&E)).error_message().0, "E");
        let r: Result<u8, std::io::Error> = Err(io);
        assert_eq!((&&&Capture(&r)).err_message().unwrap().0, "disk full");
        let ok: Result<u8, std::io::Error> = Ok(1);
        assert!((&&&Capture(&ok)).err_message().is_none());
        assert!((&&&Capture(&5u8)).err_message().is_none());
    }
}
