//! The cassette file format: one pretty-printed JSON document per recorded
//! interaction. This module is the only place that knows its shape.
//!
//! ```json
//! {
//!   "format_version": 1,
//!   "recorded_at": "2026-11-22T15:04:05Z",
//!   "endpoint": "create",
//!   "occurrence": 1,
//!   "request": { "method": "POST", "path": "/v1/payment_intents",
//!                "params": { "amount": "2000", "currency": "usd" },
//!                "headers": { "stripe-version": "2026-07-29.dahlia" },
//!                "body_encoding": "form", "user_agent": "Stripe/v1 PythonBindings/15.3.1" },
//!   "response": { "status": 200, "headers": { "request-id": "req_…" }, "body": { … } }
//! }
//! ```

use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::cassette::key::CanonicalRequest;

/// The version written into every cassette. Bump it when the canonical form
/// or the layout changes; loading refuses other versions.
pub const FORMAT_VERSION: u32 = 1;

/// One recorded request/response pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cassette {
    pub format_version: u32,
    /// RFC 3339, UTC, whole seconds.
    pub recorded_at: String,
    /// The Payment Intents endpoint (`create`, `retrieve`, …), for readers.
    pub endpoint: String,
    /// 1 for the first time this exact request was recorded in a session,
    /// 2 for the second, …; replay serves them in this order.
    pub occurrence: u32,
    pub request: RecordedRequest,
    pub response: RecordedResponse,
}

/// How the request carried its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyEncoding {
    /// No body (GET, or a POST without parameters).
    None,
    /// `application/x-www-form-urlencoded`, what Stripe's SDKs send.
    Form,
    /// `application/json`: Stripe's v2 API, and some Stripe-compatible gateways.
    Json,
    /// `multipart/form-data` (file uploads): text fields are parameters,
    /// each file a `sha256:` digest of its bytes.
    Multipart,
    /// Anything else: matched by the SHA-256 of the raw body
    /// ([`CanonicalRequest::body`](crate::cassette::key::CanonicalRequest::body)).
    Raw,
}

/// The request side: its canonical form plus informational fields that are
/// not part of matching.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    #[serde(flatten)]
    pub canonical: CanonicalRequest,
    pub body_encoding: BodyEncoding,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The cassette (file name in the same set) whose request first used the
    /// `Idempotency-Key` this request sent again: an SDK retry, or a key
    /// reused on purpose. Keys change every run, so the relation is stored,
    /// never the key; replay serves this cassette to the request that reuses
    /// the key of that one, and to no other (`mode::replay`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reuses_idempotency_key_of: Option<String>,
}

/// The response side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawResponse", into = "RawResponse")]
pub struct RecordedResponse {
    pub status: u16,
    pub headers: ResponseHeaders,
    pub body: ResponseBody,
}

/// The response as it is spelt on disk: exactly one of `body` (JSON) or
/// `body_text`. (Not `#[serde(flatten)]`: flattening buffers values and
/// would lose the exact digits of numbers, which cassettes keep.)
#[derive(Serialize, Deserialize)]
struct RawResponse {
    status: u16,
    headers: ResponseHeaders,
    /// Present (even as `null`, a valid JSON body) or absent.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    body: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body_text: Option<String>,
}

/// A field that is there, whatever its value: `"body": null` is `Some(Null)`.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(deserializer).map(Some)
}

impl TryFrom<RawResponse> for RecordedResponse {
    type Error = String;
    fn try_from(raw: RawResponse) -> Result<Self, Self::Error> {
        let body = match (raw.body, raw.body_text) {
            (Some(json), None) => ResponseBody::Body(json),
            (None, Some(text)) => ResponseBody::BodyText(text),
            (None, None) => return Err("the response has neither `body` nor `body_text`".to_owned()),
            (Some(_), Some(_)) => return Err("the response has both `body` and `body_text`".to_owned()),
        };
        Ok(RecordedResponse {
            status: raw.status,
            headers: raw.headers,
            body,
        })
    }
}

impl From<RecordedResponse> for RawResponse {
    fn from(r: RecordedResponse) -> RawResponse {
        let (body, body_text) = match r.body {
            ResponseBody::Body(json) => (Some(json), None),
            ResponseBody::BodyText(text) => (None, Some(text)),
        };
        RawResponse {
            status: r.status,
            headers: r.headers,
            body,
            body_text,
        }
    }
}

/// A response body: JSON is stored as JSON so cassettes read and diff well.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseBody {
    /// `"body": { … }` — the response was JSON.
    Body(serde_json::Value),
    /// `"body_text": "…"` — anything else (UTF-8, lossily).
    BodyText(String),
}

/// Response headers in their original order; a repeated header keeps all its
/// values. Serialised as an object (`name → value`, or `name → [values]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseHeaders(pub Vec<(String, String)>);

/// Headers that describe one connection or one encoding of the body rather
/// than the response: never stored, never replayed.
const PER_CONNECTION: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
    "content-encoding",
    "alt-svc",
];

/// Headers that carry credentials or session state: never stored.
const SECRET_HEADERS: [&str; 3] = ["set-cookie", "cookie", "authorization"];

impl ResponseHeaders {
    /// Keeps the end-to-end headers of an upstream response (redaction
    /// happens when the whole cassette is sealed). `Content-Encoding` is
    /// kept only when the upstream client could not undo it
    /// (`upstream::decode_body`): the body is then still encoded, and the
    /// redactor refuses to seal it, so no cassette on disk ever has one.
    pub fn from_upstream(headers: &HeaderMap) -> ResponseHeaders {
        ResponseHeaders(
            headers
                .iter()
                .filter(|(name, _)| {
                    let n = name.as_str();
                    (n == "content-encoding" || !PER_CONNECTION.contains(&n)) && !SECRET_HEADERS.contains(&n)
                })
                .map(|(name, value)| {
                    let text = String::from_utf8_lossy(value.as_bytes());
                    (name.as_str().to_owned(), text.into_owned())
                })
                .collect(),
        )
    }

    /// The first value of a header (case-insensitive name).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// As a `HeaderMap` for replay; entries that are not valid HTTP are
    /// skipped (a hand-edited cassette must not crash the proxy).
    pub fn to_header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.0.len());
        for (name, value) in &self.0 {
            if PER_CONNECTION.contains(&name.to_ascii_lowercase().as_str()) {
                continue;
            }
            match (
                HeaderName::try_from(name.as_str()),
                HeaderValue::try_from(value.as_str()),
            ) {
                (Ok(n), Ok(v)) => {
                    map.append(n, v);
                }
                _ => tracing::warn!(header = %name, "skipping a cassette header that is not valid HTTP"),
            }
        }
        map
    }
}

impl Serialize for ResponseHeaders {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut names: Vec<&str> = Vec::new();
        for (n, _) in &self.0 {
            if !names.contains(&n.as_str()) {
                names.push(n);
            }
        }
        let mut map = serializer.serialize_map(Some(names.len()))?;
        for name in names {
            let values: Vec<&str> = self
                .0
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .collect();
            match values.as_slice() {
                [one] => map.serialize_entry(name, one)?,
                many => map.serialize_entry(name, many)?,
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for ResponseHeaders {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        struct HeadersVisitor;
        impl<'de> Visitor<'de> for HeadersVisitor {
            type Value = ResponseHeaders;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of header names to a string or an array of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((name, value)) = access.next_entry::<String, OneOrMany>()? {
                    match value {
                        OneOrMany::One(v) => out.push((name, v)),
                        OneOrMany::Many(vs) => out.extend(vs.into_iter().map(|v| (name.clone(), v))),
                    }
                }
                Ok(ResponseHeaders(out))
            }
        }
        deserializer.deserialize_map(HeadersVisitor)
    }
}

impl ResponseBody {
    /// Stores an upstream body: parsed as JSON when it is JSON (redaction
    /// happens when the whole cassette is sealed).
    pub fn from_upstream(bytes: &[u8]) -> ResponseBody {
        match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(value) => ResponseBody::Body(value),
            Err(_) => ResponseBody::BodyText(String::from_utf8_lossy(bytes).into_owned()),
        }
    }

    /// Appends the bytes replay sends to `out`: JSON pretty-printed with
    /// two spaces, which is how api.stripe.com formats its bodies.
    pub fn write_replayed(&self, out: &mut Vec<u8>) {
        match self {
            // A `Value` always serialises into a `Vec`.
            ResponseBody::Body(value) => {
                let _ = serde_json::to_writer_pretty(out, value);
            }
            ResponseBody::BodyText(text) => out.extend_from_slice(text.as_bytes()),
        }
    }
}

/// Why a cassette file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("not a valid cassette: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cassette format version {found}, but this stripe-vcr reads version {FORMAT_VERSION}; re-record it or upgrade stripe-vcr")]
    Version { found: u32 },
}

impl Cassette {
    /// Parses a cassette file's bytes and checks its version.
    pub fn from_slice(bytes: &[u8]) -> Result<Cassette, FormatError> {
        #[derive(Deserialize)]
        struct VersionOnly {
            format_version: u32,
        }
        // One parse in the usual case; the version is looked at on its own
        // only to explain a failure (another version may have another shape).
        match serde_json::from_slice::<Cassette>(bytes) {
            Ok(c) if c.format_version == FORMAT_VERSION => Ok(c),
            Ok(c) => Err(FormatError::Version {
                found: c.format_version,
            }),
            Err(e) => match serde_json::from_slice::<VersionOnly>(bytes) {
                Ok(v) if v.format_version != FORMAT_VERSION => Err(FormatError::Version {
                    found: v.format_version,
                }),
                _ => Err(e.into()),
            },
        }
    }

    /// The bytes written to disk: pretty JSON and a final newline.
    pub fn to_file_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stripe::params::Params;

    fn sample() -> Cassette {
        Cassette {
            format_version: FORMAT_VERSION,
            recorded_at: "2026-11-22T15:04:05Z".into(),
            endpoint: "create".into(),
            occurrence: 1,
            request: RecordedRequest {
                canonical: CanonicalRequest::new(
                    crate::stripe::redact::Redactor::standard(),
                    "POST",
                    "/v1/payment_intents",
                    &Params::from_form(b"amount=2000&currency=usd", "body").expect("form"),
                    |_| None,
                ),
                body_encoding: BodyEncoding::Form,
                user_agent: Some("curl/8".into()),
                reuses_idempotency_key_of: None,
            },
            response: RecordedResponse {
                status: 200,
                headers: ResponseHeaders(vec![
                    ("request-id".into(), "req_1".into()),
                    ("vary".into(), "Origin".into()),
                    ("vary".into(), "Accept".into()),
                ]),
                body: ResponseBody::Body(serde_json::json!({"id": "pi_1", "amount": 2000})),
            },
        }
    }

    #[test]
    fn round_trips_and_reads_well() {
        let c = sample();
        let bytes = c.to_file_bytes();
        let text = String::from_utf8(bytes.clone()).expect("utf8");
        assert!(text.contains("\"vary\": [\n"), "{text}");
        assert!(text.contains("\"body\": {"), "{text}");
        assert!(text.contains("\"params\": {"), "{text}");
        assert_eq!(Cassette::from_slice(&bytes).expect("parses"), c);
    }

    #[test]
    fn text_bodies_round_trip() {
        let mut c = sample();
        c.response.body = ResponseBody::BodyText("not json".into());
        let bytes = c.to_file_bytes();
        assert!(String::from_utf8_lossy(&bytes).contains("\"body_text\": \"not json\""));
        assert_eq!(Cassette::from_slice(&bytes).expect("parses"), c);
    }

    #[test]
    fn wrong_version_and_garbage_are_errors() {
        let mut c = sample();
        c.format_version = 99;
        assert!(matches!(
            Cassette::from_slice(&c.to_file_bytes()),
            Err(FormatError::Version { found: 99 })
        ));
        let err = Cassette::from_slice(b"{\"format_version\": 1, ").expect_err("truncated");
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn upstream_headers_drop_per_connection_and_secrets() {
        let mut h = HeaderMap::new();
        h.insert("content-length", HeaderValue::from_static("10"));
        h.insert("connection", HeaderValue::from_static("keep-alive"));
        h.insert("set-cookie", HeaderValue::from_static("session=abc"));
        h.insert("request-id", HeaderValue::from_static("req_1"));
        let kept = ResponseHeaders::from_upstream(&h);
        assert_eq!(kept.0, vec![("request-id".to_owned(), "req_1".to_owned())]);
    }

    #[test]
    fn a_body_left_encoded_is_never_sealed() {
        // The upstream client removes Content-Encoding when it decodes the
        // body; one still there means the body could not be read.
        let mut h = HeaderMap::new();
        h.insert("content-encoding", HeaderValue::from_static("br"));
        h.insert("request-id", HeaderValue::from_static("req_1"));
        let mut c = sample();
        c.response.headers = ResponseHeaders::from_upstream(&h);
        c.response.body = ResponseBody::from_upstream(b"\x0b\x02\x80sk_test_hidden\x03");
        let err = crate::cassette::seal::seal(crate::stripe::redact::Redactor::standard(), &c).expect_err("refused");
        assert!(err.to_string().contains("Content-Encoding `br`"), "{err}");
        // Replay never sends it, even from a hand-edited cassette.
        assert!(c.response.headers.to_header_map().get("content-encoding").is_none());
    }

    #[test]
    fn json_bodies_replay_pretty_in_their_original_order() {
        let body = ResponseBody::from_upstream(br#"{"z":"first","n":1}"#);
        let mut out = b"kept ".to_vec();
        body.write_replayed(&mut out);
        assert_eq!(out, b"kept {\n  \"z\": \"first\",\n  \"n\": 1\n}");
        let text = ResponseBody::from_upstream(b"not json");
        let mut out = Vec::new();
        text.write_replayed(&mut out);
        assert_eq!(out, b"not json");
    }

    #[test]
    fn sealing_redacts_every_part_of_a_cassette() {
        let mut c = sample();
        c.request.user_agent = Some("agent sk_test_ua".into());
        c.response
            .headers
            .0
            .push(("idempotency-key".into(), "k-sk_live_abc".into()));
        c.response.body = ResponseBody::Body(serde_json::json!({"client_secret": "pi_1_secret_abc"}));
        let sealed = crate::cassette::seal::seal(crate::stripe::redact::Redactor::standard(), &c).expect("seal");
        let text = String::from_utf8(sealed.get().to_file_bytes()).expect("utf8");
        for secret in ["sk_test_ua", "sk_live_abc", "secret_abc"] {
            assert!(!text.contains(secret), "{secret} survived:\n{text}");
        }
        assert!(text.contains("pi_1_secret_REDACTED") && text.contains("k-sk_live_REDACTED"));
    }
}
