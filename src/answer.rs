//! Every answer the proxy makes itself, built here and nowhere else: errors,
//! classified by where the fault lies and turned into Stripe-shaped
//! responses; the admin paths' JSON; the `200` that opens a CONNECT tunnel.
//!
//! Every error the proxy makes up (rather than relays or replays) carries a
//! `Stripe-Vcr-Error` header naming its kind, so a developer reading SDK
//! debug output can tell stripe-vcr's answers from Stripe's; every answer it
//! makes carries a `Request-Id` of its own (`req_vcr_…`).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{Response, StatusCode};

use crate::cassette::nearmiss::NearMiss;
use crate::stripe::errors::{ErrorType, StripeError};
use crate::stripe::params::DecodeError;

/// The body type of every response the proxy sends.
pub type Body = Full<Bytes>;

/// A response the proxy sends.
pub type ProxyResponse = Response<Body>;

/// Header marking a response stripe-vcr made itself.
pub const ERROR_HEADER: &str = "stripe-vcr-error";

/// Header naming the closest recording on a replay miss.
pub const CLOSEST_HEADER: &str = "stripe-vcr-closest";

/// Prefix of the `Request-Id` on answers stripe-vcr makes itself: shaped
/// like Stripe's (`req_` + 14 characters after it), never mistaken for one.
pub const REQUEST_ID_PREFIX: &str = "req_vcr_";

/// A `Request-Id` for an answer stripe-vcr made: `req_vcr_` and 14 hex
/// digits of SHA-256 over `seed`, so the same request answered the same way
/// carries the same id run after run (a test that logs it stays stable).
/// SDKs surface it in exceptions and logs, as they do Stripe's.
pub fn synthetic_request_id(seed: &[&[u8]]) -> HeaderValue {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in seed {
        hash.update(part);
        hash.update([0]);
    }
    let digest = hex::encode(hash.finalize());
    let id = format!("{REQUEST_ID_PREFIX}{}", &digest[..14]);
    HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("req_vcr_unknown"))
}

/// Anything that stops a request from getting a relayed or replayed answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The app's request is at fault.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The upstream API, or the network to it, is at fault.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The cassette library cannot answer.
    #[error(transparent)]
    Cassette(#[from] CassetteError),
    /// stripe-vcr itself cannot do what the request needs.
    #[error(transparent)]
    Proxy(#[from] ProxyFault),
}

/// Faults in stripe-vcr itself (its CA, its set-up), not in the request,
/// the upstream or the cassettes.
#[derive(Debug, thiserror::Error)]
pub enum ProxyFault {
    #[error("stripe-vcr could not mint a certificate for {host}: {cause}")]
    Certificate { host: String, cause: String },
}

/// Faults in what the client sent.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("Invalid request: {0}")]
    BadParams(#[from] DecodeError),
    #[error("The request body is larger than stripe-vcr's limit of {limit} bytes.")]
    BodyTooLarge { limit: usize },
    #[error("The request body could not be read: {0}")]
    BodyRead(String),
    #[error("no API key")]
    NoApiKey,
    #[error(transparent)]
    BadSet(#[from] crate::cassette::set::SetError),
    #[error("Invalid request path {0}: stripe-vcr refuses `..` segments and encoded slashes, which could reach another endpoint upstream than the one this request claims.")]
    BadPath(String),
    #[error("{0}")]
    Invalid(crate::stripe::validate::Violation),
    #[error("idempotency key `{key}` reused with different parameters")]
    IdempotencyKeyReused { key: String },
    #[error("idempotency key `{key}` first used for {first}, reused for {sent}")]
    IdempotencyKeyOtherEndpoint { key: String, sent: String, first: String },
    #[error("stripe-vcr refused to forward a request authenticated with a live-mode key ({key}): recordings are for test mode, and a live key turns a test run into real charges. Use a test key, or restart `stripe-vcr record` with --allow-live-keys.")]
    LiveKeyRefused { key: String },
    #[error("CONNECT needs a host:port target; got `{0}`")]
    BadConnect(String),
    #[error("stripe-vcr is replaying offline and does not open tunnels to other hosts: CONNECT {authority} refused. Only the API host is intercepted in replay mode.")]
    TunnelRefused { authority: String },
}

/// Faults on the way to, or from, the upstream API.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("stripe-vcr could not reach the upstream API at {upstream}: {cause}")]
    Unreachable { upstream: String, cause: String },
    #[error("The upstream API at {upstream} did not answer within {}.", humantime::format_duration(*after))]
    Timeout { upstream: String, after: Duration },
}

/// The cassettes cannot answer this request.
#[derive(Debug, thiserror::Error)]
pub enum CassetteError {
    #[error("{}", not_recorded_message(.request, .closest.as_ref()))]
    NotRecorded {
        /// `METHOD /path` of the request.
        request: String,
        closest: Option<NearMiss>,
    },
    #[error("stripe-vcr has no cassette set `{set}` in {dir} (known sets: {known}). Record it first, or check the Stripe-Vcr-Cassette header or /__cassette/ prefix.")]
    UnknownSet { set: String, dir: String, known: String },
    #[error("stripe-vcr records the API's /v1/ and /v2/ paths; {request} is not one, so it has no recording and is never sent upstream in replay mode.")]
    OutsideApi { request: String },
}

fn not_recorded_message(request: &str, closest: Option<&NearMiss>) -> String {
    match closest {
        Some(near) => format!(
            "stripe-vcr has no recording of {request} with these parameters. Closest recording: {}. Re-record, or make the request match.",
            near.describe()
        ),
        None => format!("stripe-vcr has no recording of {request}: the cassette directory has no recordings at all."),
    }
}

impl ProxyError {
    /// Short machine-readable kind, sent in the `Stripe-Vcr-Error` header.
    pub fn kind(&self) -> &'static str {
        match self {
            ProxyError::Client(ClientError::BadParams(_)) => "bad-params",
            ProxyError::Client(ClientError::BodyTooLarge { .. }) => "body-too-large",
            ProxyError::Client(ClientError::BodyRead(_)) => "body-read",
            ProxyError::Client(ClientError::NoApiKey) => "no-api-key",
            ProxyError::Client(ClientError::BadSet(_)) => "bad-cassette-set",
            ProxyError::Client(ClientError::BadPath(_)) => "bad-path",
            ProxyError::Client(ClientError::Invalid(_)) => "validation",
            ProxyError::Client(ClientError::IdempotencyKeyReused { .. }) => "idempotency-key-reused",
            ProxyError::Client(ClientError::IdempotencyKeyOtherEndpoint { .. }) => "idempotency-key-other-endpoint",
            ProxyError::Client(ClientError::TunnelRefused { .. }) => "tunnel-refused",
            ProxyError::Client(ClientError::BadConnect(_)) => "bad-connect",
            ProxyError::Client(ClientError::LiveKeyRefused { .. }) => "live-key-refused",
            ProxyError::Upstream(UpstreamError::Unreachable { .. }) => "upstream-unreachable",
            ProxyError::Upstream(UpstreamError::Timeout { .. }) => "upstream-timeout",
            ProxyError::Cassette(CassetteError::NotRecorded { .. }) => "replay-miss",
            ProxyError::Cassette(CassetteError::OutsideApi { .. }) => "not-recorded-path",
            ProxyError::Cassette(CassetteError::UnknownSet { .. }) => "unknown-cassette-set",
            ProxyError::Proxy(ProxyFault::Certificate { .. }) => "certificate",
        }
    }

    /// The HTTP status Stripe would use for this kind of fault.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::Client(
                ClientError::BadParams(_)
                | ClientError::BodyRead(_)
                | ClientError::BadSet(_)
                | ClientError::BadPath(_)
                | ClientError::BadConnect(_),
            ) => StatusCode::BAD_REQUEST,
            ProxyError::Client(
                ClientError::IdempotencyKeyReused { .. }
                | ClientError::IdempotencyKeyOtherEndpoint { .. }
                | ClientError::Invalid(_),
            ) => StatusCode::BAD_REQUEST,
            ProxyError::Client(ClientError::BodyTooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::Client(ClientError::NoApiKey) => StatusCode::UNAUTHORIZED,
            ProxyError::Client(ClientError::TunnelRefused { .. } | ClientError::LiveKeyRefused { .. }) => {
                StatusCode::FORBIDDEN
            }
            ProxyError::Upstream(_) | ProxyError::Proxy(_) => StatusCode::BAD_GATEWAY,
            ProxyError::Cassette(_) => StatusCode::NOT_FOUND,
        }
    }

    /// The Stripe error object for the body.
    pub fn stripe_error(&self) -> StripeError {
        match self {
            ProxyError::Client(ClientError::NoApiKey) => StripeError::no_api_key(),
            ProxyError::Client(ClientError::Invalid(violation)) => violation.to_stripe_error(),
            ProxyError::Client(ClientError::IdempotencyKeyReused { key }) => StripeError::idempotency_key_reused(key),
            ProxyError::Client(ClientError::IdempotencyKeyOtherEndpoint { key, sent, first }) => {
                StripeError::idempotency_key_other_endpoint(key, sent, first)
            }
            ProxyError::Upstream(e) => StripeError::new(ErrorType::ApiError, e.to_string()),
            ProxyError::Proxy(e) => StripeError::new(ErrorType::ApiError, e.to_string()),
            other => StripeError::new(ErrorType::InvalidRequestError, other.to_string()),
        }
    }

    /// The one conversion from an error to what the client receives.
    pub fn into_response(self) -> ProxyResponse {
        let body = self.stripe_error().to_body();
        let request_id = synthetic_request_id(&[self.kind().as_bytes(), &body]);
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert("request-id", request_id);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert("stripe-should-retry", HeaderValue::from_static("false"));
        headers.insert(ERROR_HEADER, HeaderValue::from_static(self.kind()));
        if let ProxyError::Client(ClientError::NoApiKey) = self {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Stripe\""));
        }
        if let ProxyError::Cassette(CassetteError::NotRecorded {
            closest: Some(near), ..
        }) = &self
        {
            if let Ok(v) = HeaderValue::from_str(&near.file_name) {
                headers.insert(CLOSEST_HEADER, v);
            }
        }
        response
    }
}

/// `outer: inner: innermost`, skipping repeats, so "client error (Connect)"
/// becomes "client error (Connect): tcp connect error: Connection refused".
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

/// Kind sent in `Stripe-Vcr-Error` on an admin path's error.
pub const ADMIN_ERROR_KIND: &str = "admin";

/// An answer to an admin request (`/__stripe-vcr/…`): pretty JSON, with a
/// `Request-Id` derived from `seed`; an error status also carries the
/// `admin` kind.
pub fn admin(status: StatusCode, body: &serde_json::Value, seed: &[&[u8]]) -> ProxyResponse {
    let mut response = Response::new(Full::new(Bytes::from(
        serde_json::to_vec_pretty(body).unwrap_or_default(),
    )));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("request-id", synthetic_request_id(seed));
    if status.is_client_error() || status.is_server_error() {
        headers.insert(ERROR_HEADER, HeaderValue::from_static(ADMIN_ERROR_KIND));
    }
    response
}

/// The `200` that tells a client its CONNECT tunnel is open (no body, as
/// RFC 9110 §9.3.6 has it).
pub fn tunnel_open() -> ProxyResponse {
    Response::new(Full::new(Bytes::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_faults_are_502_api_errors_that_say_do_not_retry() {
        let e: ProxyError = UpstreamError::Unreachable {
            upstream: "https://127.0.0.1:1".into(),
            cause: "connection refused".into(),
        }
        .into();
        let r = e.into_response();
        assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(r.headers()["stripe-should-retry"], "false");
        assert_eq!(r.headers()[ERROR_HEADER], "upstream-unreachable");
    }

    #[test]
    fn every_error_carries_a_stable_request_id_of_its_own() {
        let id = |e: ProxyError| {
            e.into_response().headers()["request-id"]
                .to_str()
                .expect("ascii")
                .to_owned()
        };
        let missing = || ProxyError::from(ClientError::BodyTooLarge { limit: 10 });
        let first = id(missing());
        assert!(
            first.starts_with("req_vcr_") && first.len() == "req_vcr_".len() + 14,
            "{first}"
        );
        assert_eq!(id(missing()), first, "the same answer, the same id");
        assert_ne!(id(ProxyError::from(ClientError::BodyTooLarge { limit: 11 })), first);
        assert_ne!(id(ProxyError::from(ClientError::NoApiKey)), first);
    }

    #[test]
    fn admin_answers_are_json_with_an_id_and_errors_say_so() {
        let ok = admin(
            StatusCode::OK,
            &serde_json::json!({"status": "ok"}),
            &[b"GET", b"/health"],
        );
        assert_eq!(ok.headers()[CONTENT_TYPE], "application/json");
        assert!(ok.headers()["request-id"]
            .to_str()
            .is_ok_and(|id| id.starts_with(REQUEST_ID_PREFIX)));
        assert!(ok.headers().get(ERROR_HEADER).is_none());
        let bad = admin(StatusCode::NOT_FOUND, &serde_json::json!({}), &[b"GET", b"/nope"]);
        assert_eq!(bad.headers()[ERROR_HEADER], ADMIN_ERROR_KIND);
        let fault = ProxyError::from(ProxyFault::Certificate {
            host: "h".into(),
            cause: "c".into(),
        })
        .into_response();
        assert_eq!(fault.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(fault.headers()[ERROR_HEADER], "certificate");
        assert_eq!(tunnel_open().status(), StatusCode::OK);
    }

    #[test]
    fn no_key_is_stripes_401() {
        let r = ProxyError::from(ClientError::NoApiKey).into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[WWW_AUTHENTICATE], "Basic realm=\"Stripe\"");
    }
}
