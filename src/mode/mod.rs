//! What happens to an intercepted API request: the [`Mode`] trait, and the
//! decoded request every mode receives.
//!
//! Accepting connections, TLS and routing never branch on the mode; they call
//! [`Mode::handle`] with an [`ApiRequest`] and send back what it returns.

pub mod record;
pub mod replay;

use std::future::Future;

use bytes::Bytes;
use hyper::header::{HeaderMap, CONTENT_TYPE};
use hyper::Method;

use crate::cassette::format::BodyEncoding;
use crate::cassette::key::{CanonicalRequest, RequestKey};
use crate::cassette::redact::Redactor;
use crate::cassette::set::CassetteSet;
use crate::error::{ClientError, ProxyError, ProxyResponse};
use crate::route::Route;
use crate::stats::Outcome;
use crate::stripe::params::Params;

/// How the client reached the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// TLS straight to the proxy port (`https://localhost:8443` as API base).
    Direct,
    /// Inside an HTTP CONNECT tunnel to this host (`HTTPS_PROXY`).
    Tunnel(String),
    /// Plain HTTP to the proxy port (`http://127.0.0.1:8443` as API base).
    Plain,
}

impl Via {
    /// Short name for logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            Via::Direct => "direct-tls",
            Via::Tunnel(_) => "connect",
            Via::Plain => "plain-http",
        }
    }
}

/// What to do with a CONNECT to a host the proxy does not intercept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForeignTunnels {
    /// Pass the bytes through untouched (record mode).
    PassThrough,
    /// Refuse it (replay mode never opens a network connection).
    Refuse,
}

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
    pub params: Params,
    pub body_encoding: BodyEncoding,
    /// The redacted canonical form, and its key.
    pub canonical: CanonicalRequest,
    pub key: RequestKey,
    pub via: Via,
    /// The cassette set the request belongs to.
    pub set: CassetteSet,
}

/// How loudly to log a request's detail line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The client's own mistake.
    Info,
    /// Something the developer should look at (a replay miss).
    Warn,
    /// A real fault (upstream down, a cassette not saved).
    Error,
}

/// A mode's answer, with what happened for the log and the counters.
#[derive(Debug)]
pub struct Handled {
    pub response: ProxyResponse,
    pub outcome: Outcome,
    /// The cassette served or written, if any.
    pub cassette: Option<String>,
    /// Why, when it did not go as planned; logged (redacted) by the pipeline.
    pub detail: Option<(Severity, String)>,
}

impl Handled {
    /// A normal answer.
    pub fn ok(response: ProxyResponse, outcome: Outcome, cassette: Option<String>) -> Handled {
        Handled {
            response,
            outcome,
            cassette,
            detail: None,
        }
    }

    /// An error answer; misses count as misses, everything else as errors.
    pub fn error(error: ProxyError) -> Handled {
        let (outcome, severity) = match &error {
            ProxyError::Cassette(_) => (Outcome::Miss, Severity::Warn),
            ProxyError::Upstream(_) => (Outcome::Error, Severity::Error),
            ProxyError::Client(_) => (Outcome::Error, Severity::Info),
        };
        let detail = Some((severity, error.to_string()));
        Handled {
            response: error.into_response(),
            outcome,
            cassette: None,
            detail,
        }
    }
}

/// Record, replay (and later modes) implement this. `Send + Sync` because
/// one instance serves every connection.
pub trait Mode: Send + Sync + 'static {
    /// `record` or `replay`, for logs.
    fn name(&self) -> &'static str;

    /// Answers one request.
    fn handle(&self, request: ApiRequest) -> impl Future<Output = Handled> + Send;

    /// CONNECT to a host that is not intercepted.
    fn foreign_tunnels(&self) -> ForeignTunnels;

    /// Per-set counters for `/__stripe-vcr/stats`.
    fn stats(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Restarts sequences and forgets idempotency keys, for one set or all;
    /// false when there is no such set.
    fn reset(&self, _set: Option<&CassetteSet>) -> bool {
        false
    }

    /// Cassettes never served in this run (names relative to the cassette directory).
    fn unused(&self) -> Vec<String> {
        Vec::new()
    }
}

impl ApiRequest {
    /// Decodes an incoming request's parameters and computes its key.
    pub fn decode(
        parts: &hyper::http::request::Parts,
        body: Bytes,
        via: Via,
        redactor: &Redactor,
    ) -> Result<ApiRequest, ProxyError> {
        let (set, rewritten) = CassetteSet::from_request(parts).map_err(ClientError::from)?;
        let uri = rewritten.as_ref().unwrap_or(&parts.uri);
        let path = uri.path().to_owned();
        let query = uri.query().unwrap_or("");
        let path_and_query = uri
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_else(|| path.clone());
        let mut params = Params::from_form(query.as_bytes(), "query string").map_err(ClientError::from)?;
        let is_json = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("application/json"));
        let body_encoding = if body.iter().all(u8::is_ascii_whitespace) {
            BodyEncoding::None
        } else if is_json {
            params.merge(Params::from_json(&body).map_err(ClientError::from)?);
            BodyEncoding::Json
        } else {
            params.merge(Params::from_form(&body, "body").map_err(ClientError::from)?);
            BodyEncoding::Form
        };
        let canonical = CanonicalRequest::new(redactor, parts.method.as_str(), &path, &params, |name| {
            parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
        });
        Ok(ApiRequest {
            route: Route::classify(&parts.method, &path),
            key: canonical.key(),
            method: parts.method.clone(),
            path,
            path_and_query,
            headers: parts.headers.clone(),
            body,
            params,
            body_encoding,
            canonical,
            via,
            set,
        })
    }

    /// A request header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}
