//! The request every mode receives: read once, its path checked, its
//! parameters decoded (query string, form or JSON body), canonicalised and
//! keyed.

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use hyper::Method;

use crate::answer::{ClientError, ProxyError};
use crate::cassette::format::BodyEncoding;
use crate::cassette::key::{CanonicalRequest, RequestKey};
use crate::cassette::set::CassetteSet;
use crate::mode::multipart;
use crate::mode::Via;
use crate::stripe::params::{Params, Typing};
use crate::stripe::redact::Redactor;
use crate::stripe::route::Route;

/// An intercepted request, read and decoded once for every mode.
#[derive(Debug)]
pub struct ApiRequest {
    pub method: Method,
    /// Path without the query string.
    pub path: String,
    /// `path?query` as the client sent it, for forwarding.
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub route: Route,
    pub body_encoding: BodyEncoding,
    /// The redacted canonical form (its parameters are also what validation
    /// and the audit log see), and its key.
    pub canonical: CanonicalRequest,
    pub key: RequestKey,
    pub via: Via,
    /// The cassette set the request belongs to.
    pub set: CassetteSet,
}

/// True if a `Content-Type` value is the media type `media`: compared
/// whole and case-insensitively, parameters such as `; charset=utf-8`
/// allowed (`application/jsonl` is not `application/json`).
fn media_type_is(content_type: &[u8], media: &str) -> bool {
    let essence = content_type.split(|b| *b == b';').next().unwrap_or_default();
    essence.trim_ascii().eq_ignore_ascii_case(media.as_bytes())
}

/// Refuses paths that could mean something else upstream than what the
/// proxy routed: a `.` or `..` segment, a slash, backslash or NUL inside a
/// segment, spelt literally, percent-encoded (`.%2e`, `%2E%2E`, `%2f`) or
/// percent-encoded twice (`%252e%252e`, which a server or intermediary
/// that decodes once more would read as `..`). Stripe's own paths never
/// contain an escaped dot, slash or percent sign.
fn check_path(path: &str) -> Result<(), ClientError> {
    let decoded = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    let unsafe_segment = |seg: &str| seg == "." || seg == ".." || seg.contains(['/', '\\', '\0']);
    let refused = || ClientError::BadPath(path.chars().take(200).collect());
    for raw in path.split('/') {
        if unsafe_segment(raw) {
            return Err(refused());
        }
        // Without an escape, decoding changes nothing: only a segment with
        // one is decoded (every request's path passes here).
        if raw.contains('%') {
            let once = decoded(raw);
            if unsafe_segment(&once) || unsafe_segment(&decoded(&once)) {
                return Err(refused());
            }
        }
    }
    Ok(())
}

impl ApiRequest {
    /// Decodes an incoming request's parameters and computes its key. Takes
    /// the request head by value: its headers move into the result.
    pub fn decode(
        parts: hyper::http::request::Parts,
        body: Bytes,
        via: Via,
        redactor: &Redactor,
    ) -> Result<ApiRequest, ProxyError> {
        let (set, rewritten) = CassetteSet::from_request(&parts).map_err(ClientError::from)?;
        let uri = rewritten.as_ref().unwrap_or(&parts.uri);
        let path = uri.path().to_owned();
        check_path(&path)?;
        let query = uri.query().unwrap_or("");
        let path_and_query = uri
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_else(|| path.clone());
        let mut params = Params::from_form(query.as_bytes(), "query string").map_err(ClientError::from)?;
        let content_type = parts.headers.get(CONTENT_TYPE).map(HeaderValue::as_bytes);
        let has_body = !body.iter().all(u8::is_ascii_whitespace);
        let body_encoding = match content_type {
            _ if !has_body => BodyEncoding::None,
            Some(ct) if media_type_is(ct, "application/json") => BodyEncoding::Json,
            Some(ct) if media_type_is(ct, "multipart/form-data") => BodyEncoding::Multipart,
            Some(ct) if !media_type_is(ct, "application/x-www-form-urlencoded") => BodyEncoding::Raw,
            // Stripe's SDKs always say what they send; curl -d says form.
            _ => BodyEncoding::Form,
        };
        match body_encoding {
            BodyEncoding::None | BodyEncoding::Raw => {}
            BodyEncoding::Form => params.merge(Params::from_form(&body, "body").map_err(ClientError::from)?),
            BodyEncoding::Json => params.merge(Params::from_json(&body).map_err(ClientError::from)?),
            BodyEncoding::Multipart => params.merge(multipart::params(content_type.unwrap_or_default(), &body)?),
        }
        let mut canonical = CanonicalRequest::from_owned(redactor, parts.method.as_str(), &path, params, |name| {
            parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
        });
        if body_encoding == BodyEncoding::Raw {
            canonical = canonical.with_raw_body(&body);
        }
        Ok(ApiRequest {
            route: Route::classify(&parts.method, &path),
            key: canonical.key(),
            method: parts.method,
            path,
            path_and_query,
            headers: parts.headers,
            body,
            body_encoding,
            canonical,
            via,
            set,
        })
    }

    /// Whether the parameters came with JSON types (a JSON body) or as text.
    pub fn typing(&self) -> Typing {
        if self.body_encoding == BodyEncoding::Json {
            Typing::Json
        } else {
            Typing::Text
        }
    }

    /// A request header as text (ASCII values only).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(method: &str, uri: &str, content_type: Option<&str>, body: &str) -> Result<ApiRequest, ProxyError> {
        let mut b = hyper::Request::builder().method(method).uri(uri);
        if let Some(ct) = content_type {
            b = b.header(CONTENT_TYPE, ct);
        }
        let (parts, ()) = b.body(()).expect("request").into_parts();
        ApiRequest::decode(parts, Bytes::from(body.to_owned()), Via::Plain, Redactor::standard())
    }

    #[test]
    fn paths_that_could_mean_another_endpoint_are_refused() {
        for bad in [
            "/v1/payment_intents/../customers",
            "/v1/payment_intents/%2e%2e/customers",
            "/v1/payment_intents/.%2e/customers",
            "/v1/payment_intents/%2e./customers",
            "/v1/payment_intents/%2E%2E/customers",
            "/v1/payment_intents/%252e%252e/customers",
            "/v1/payment_intents/%252E./customers",
            "/v1/payment_intents/pi_1%2Fconfirm",
            "/v1/payment_intents/pi_1%252fconfirm",
            "/v1/payment_intents/./x",
            "/v1/payment_intents/%2e/x",
            "/v1/payment_intents/a%5cb",
            "/v1/payment_intents/a%255cb",
            "/v1/payment_intents/a%00",
        ] {
            let err = decode("GET", bad, None, "").expect_err(bad);
            assert_eq!(err.kind(), "bad-path", "{bad}");
        }
        for fine in [
            "/v1/payment_intents/pi_1..x",
            "/v1/payment_intents/pi_1%5Fx",
            "/v1/payment_intents/%70i_1",
            "/v1/payment_intents/.x",
        ] {
            assert!(decode("GET", fine, None, "").is_ok(), "{fine}");
        }
    }

    #[test]
    fn bodies_are_form_json_multipart_or_matched_by_digest() {
        assert!(decode(
            "POST",
            "/v1/payment_intents",
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            "a=1"
        )
        .is_ok());
        assert!(decode("POST", "/v1/payment_intents", Some("application/json"), "{\"a\":1}").is_ok());
        assert!(decode("POST", "/v1/payment_intents", None, "a=1").is_ok());
        assert!(decode(
            "POST",
            "/v1/payment_intents",
            Some("APPLICATION/JSON ; charset=utf-8"),
            "{}"
        )
        .is_ok());
        // Any other type is matched by the body's digest, not refused.
        let mut digests = std::collections::BTreeSet::new();
        for other in [
            "application/jsonl",
            "application/jsonx",
            "application/x-www-form-urlencodedx",
            "application/octet-stream",
        ] {
            let raw = decode("POST", "/v1/payment_intents", Some(other), "{}").expect(other);
            assert_eq!(raw.body_encoding, BodyEncoding::Raw, "{other}");
            assert!(raw.canonical.params.0.is_empty(), "{other}");
            digests.insert(raw.canonical.body.clone().expect("a digest"));
        }
        assert_eq!(digests.len(), 1, "the same bytes, the same digest: {digests:?}");
        let other = decode("POST", "/v1/payment_intents", Some("text/plain"), "{ }").expect("raw");
        assert_ne!(
            other.key,
            decode("POST", "/v1/payment_intents", Some("text/plain"), "{}")
                .expect("raw")
                .key
        );
        assert!(
            decode("POST", "/v1/payment_intents", Some("text/plain"), "").is_ok(),
            "no body, no complaint"
        );
        let err = decode(
            "POST",
            "/v1/payment_intents",
            Some("multipart/form-data; boundary=x"),
            "--x",
        )
        .expect_err("a broken multipart body");
        assert_eq!(err.status(), hyper::StatusCode::BAD_REQUEST);
        assert_eq!(err.kind(), "bad-params");
    }
}
