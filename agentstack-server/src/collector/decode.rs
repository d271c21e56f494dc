//! From an HTTP request to an `ExportTraceServiceRequest`: the content type and encoding it
//! declares, gzip decompressed as a stream with a cap (a small bomb never becomes a large
//! allocation), and the protobuf or OTLP/JSON decoding, each failure a [`Refusal`] that says
//! what was wrong.

use std::io::Read;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flate2::read::MultiGzDecoder;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

/// The body formats of OTLP/HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/x-protobuf`: the binary protobuf encoding.
    Protobuf,
    /// `application/json`: OTLP/JSON (hex ids, camelCase field names).
    Json,
}

impl Format {
    /// The format a request's `Content-Type` names.
    pub fn of(headers: &HeaderMap) -> Result<Format, Refusal> {
        let given = headers
            .get(header::CONTENT_TYPE)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        let essence = given
            .as_deref()
            .and_then(|value| value.split(';').next())
            .map(|value| value.trim().to_ascii_lowercase());
        match essence.as_deref() {
            Some("application/x-protobuf") => Ok(Format::Protobuf),
            Some("application/json") => Ok(Format::Json),
            _ => Err(Refusal::ContentType(given)),
        }
    }

    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => "application/x-protobuf",
            Format::Json => "application/json",
        }
    }
}

/// The body encodings accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// No `Content-Encoding`, or `identity`.
    Identity,
    /// `Content-Encoding: gzip`.
    Gzip,
}

impl Encoding {
    /// The encoding a request's `Content-Encoding` names.
    pub fn of(headers: &HeaderMap) -> Result<Encoding, Refusal> {
        let Some(value) = headers.get(header::CONTENT_ENCODING) else {
            return Ok(Encoding::Identity);
        };
        let given = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match given.trim().to_ascii_lowercase().as_str() {
            "" | "identity" => Ok(Encoding::Identity),
            "gzip" | "x-gzip" => Ok(Encoding::Gzip),
            _ => Err(Refusal::ContentEncoding(given)),
        }
    }
}

/// Why a request was not accepted; each becomes an HTTP answer whose text says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// 415: not one of OTLP/HTTP's content types.
    #[error(
        "unsupported Content-Type {}: send OTLP traces as application/x-protobuf or application/json",
        .0.as_deref().map_or("(none)".to_string(), |given| format!("{given:?}"))
    )]
    ContentType(Option<String>),
    /// 415: a compression the collector does not decode.
    #[error("unsupported Content-Encoding {0:?}: send the body uncompressed or as gzip")]
    ContentEncoding(String),
    /// 413: the body as sent is over the limit.
    #[error(
        "the request body is larger than {limit} bytes; send fewer spans per request (a smaller \
         export batch)"
    )]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 413: the gzip body decompresses past the limit.
    #[error(
        "the gzip request body decompresses to more than {limit} bytes; send fewer spans per \
         request (a smaller export batch)"
    )]
    DecompressedTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 400: the body could not be read off the connection.
    #[error("the request body could not be read: {0}")]
    Unreadable(String),
    /// 400: `Content-Encoding: gzip` but the body is not gzip.
    #[error("the body is declared gzip (Content-Encoding: gzip) but is not valid gzip: {0}")]
    Gzip(String),
    /// 400: not a protobuf `ExportTraceServiceRequest`.
    #[error("the body is not a valid OTLP ExportTraceServiceRequest protobuf: {0}")]
    Protobuf(String),
    /// 400: not an OTLP/JSON `ExportTraceServiceRequest`.
    #[error("the body is not a valid OTLP/JSON ExportTraceServiceRequest: {0}")]
    Json(String),
    /// 503: the bus is full.
    #[error("{0}")]
    BusFull(String),
    /// 503: the server is shutting down.
    #[error("{0}")]
    ShuttingDown(String),
    /// 500: the collector itself failed.
    #[error("the collector failed while decoding the request: {0}; this is a bug in agentstack")]
    Internal(String),
}

impl Refusal {
    /// The HTTP status of this refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::ContentType(_) | Refusal::ContentEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Refusal::TooLarge { .. } | Refusal::DecompressedTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Refusal::Unreadable(_) | Refusal::Gzip(_) | Refusal::Protobuf(_) | Refusal::Json(_) => {
                StatusCode::BAD_REQUEST
            }
            Refusal::BusFull(_) | Refusal::ShuttingDown(_) => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, format!("{self}\n")).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// Decodes one request body: decompressed (at most `max_decompressed` bytes), then parsed.
pub fn request(
    body: &[u8],
    format: Format,
    encoding: Encoding,
    max_decompressed: usize,
) -> Result<ExportTraceServiceRequest, Refusal> {
    let inflated;
    let bytes = match encoding {
        Encoding::Identity => body,
        Encoding::Gzip => {
            inflated = gunzip(body, max_decompressed)?;
            &inflated[..]
        }
    };
    match format {
        Format::Protobuf => ExportTraceServiceRequest::decode(bytes)
            .map_err(|error| Refusal::Protobuf(error.to_string())),
        Format::Json => {
            serde_json::from_slice(bytes).map_err(|error| Refusal::Json(error.to_string()))
        }
    }
}

/// The most a deflate stream can grow: 258 bytes from every 2 bits, about 1032 to 1.
const DEFLATE_MAX_RATIO: usize = 1032;

/// Decompresses a gzip body, reading at most one byte past `limit`: a body that would grow
/// larger is refused once that byte arrives, before anything more is inflated.
///
/// The output is allocated once at the size the gzip trailer states ([`stated_size`]), so a
/// 200 KB batch is not grown through five reallocations and copies into fresh memory.
fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, Refusal> {
    let mut out = Vec::with_capacity(stated_size(body).min(limit.saturating_add(1)));
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    MultiGzDecoder::new(body)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|error| Refusal::Gzip(error.to_string()))?;
    if out.len() > limit {
        return Err(Refusal::DecompressedTooLarge { limit });
    }
    Ok(out)
}

/// The uncompressed size a gzip body states in its last 4 bytes (ISIZE, RFC 1952, modulo
/// 2³²), bounded by what its compressed bytes could inflate to: a hint for the output buffer
/// only, which nothing trusts. With several members it is the last one's size, so the buffer
/// may still grow; a body too short for a trailer states 4 times its length.
fn stated_size(body: &[u8]) -> usize {
    let most = body.len().saturating_mul(DEFLATE_MAX_RATIO);
    match body.last_chunk::<4>() {
        Some(isize_bytes) if body.len() >= 18 => {
            usize::try_from(u32::from_le_bytes(*isize_bytes)).map_or(most, |size| size.min(most))
        }
        _ => body.len().saturating_mul(4),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_stops_one_byte_past_the_limit() {
        let bomb = gzip(&vec![0u8; 10 * 1024 * 1024]);
        assert_eq!(
            gunzip(&bomb, 1024),
            Err(Refusal::DecompressedTooLarge { limit: 1024 })
        );
        assert_eq!(gunzip(&gzip(&[7; 1024]), 1024).unwrap(), vec![7; 1024]);
        assert!(matches!(gunzip(b"not gzip", 1024), Err(Refusal::Gzip(_))));
    }

    #[test]
    fn the_output_is_sized_by_the_trailer_but_never_trusts_it() {
        let data = vec![b'a'; 100_000];
        let body = gzip(&data);
        assert_eq!(stated_size(&body), 100_000);
        let out = gunzip(&body, 1 << 20).unwrap();
        assert_eq!(out, data);
        assert_eq!(
            out.capacity(),
            100_000,
            "allocated once, at the stated size"
        );

        // A trailer that lies: too small (the buffer grows), or beyond what the bytes could
        // inflate to (bounded by the deflate ratio).
        let mut understated = body.clone();
        let at = understated.len() - 4;
        understated[at..].copy_from_slice(&10u32.to_le_bytes());
        assert_eq!(stated_size(&understated), 10);
        let mut overstated = body;
        overstated[at..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            stated_size(&overstated),
            overstated.len() * DEFLATE_MAX_RATIO
        );
        // flate2 checks ISIZE against the data, so both lies are refused, not obeyed.
        assert!(matches!(
            gunzip(&understated, 1 << 20),
            Err(Refusal::Gzip(_))
        ));
        assert!(matches!(
            gunzip(&overstated, 1 << 20),
            Err(Refusal::Gzip(_))
        ));

        // Two members: the trailer states the last one only, and the output still holds both.
        let mut two = gzip(b"first ");
        two.extend(gzip(b"second"));
        assert_eq!(stated_size(&two), 6);
        assert_eq!(gunzip(&two, 1 << 20).unwrap(), b"first second");
        assert_eq!(stated_size(b"short"), 20);
    }

    #[test]
    fn content_types_and_encodings() {
        let mut headers = HeaderMap::new();
        assert_eq!(Format::of(&headers), Err(Refusal::ContentType(None)));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert_eq!(Format::of(&headers), Ok(Format::Json));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(
            Format::of(&headers)
                .unwrap_err()
                .to_string()
                .contains("\"text/plain\"")
        );
        assert_eq!(Encoding::of(&headers), Ok(Encoding::Identity));
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
        assert_eq!(
            Encoding::of(&headers).unwrap_err().status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }

    #[test]
    fn otlp_json_ids_are_hex() {
        let json = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{
            "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
            "parentSpanId":"","name":"x","kind":1,
            "startTimeUnixNano":"1544712660000000000","endTimeUnixNano":1544712661000000000,
            "attributes":[{"key":"n","value":{"intValue":"3"}}],"unknownField":true}]}]}]}"#;
        let request = request(json, Format::Json, Encoding::Identity, 1 << 20).unwrap();
        let span = &request.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.trace_id.len(), 16);
        assert_eq!(span.span_id[..2], [0xee, 0xe1]);
        assert!(span.parent_span_id.is_empty());
        assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
        assert_eq!(span.end_time_unix_nano, 1_544_712_661_000_000_000);
    }
}
