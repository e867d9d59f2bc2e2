//! What happens to an intercepted API request: the [`Mode`] trait, and the
//! decoded request every mode receives.
//!
//! Accepting connections, TLS and routing never branch on the mode; they call
//! [`Mode::handle`] with an [`ApiRequest`] and send back what it returns.

mod known;
mod miss_log;
mod multipart;
mod outcome;
pub mod record;
mod record_paths;
pub mod replay;
mod request;
pub mod webhooks;

pub use crate::cassette::name::CassetteName;
pub use known::{Head, Known};
pub use miss_log::{Miss, MissLog, Misses};
pub use outcome::Outcome;
pub use record_paths::{RecordPaths, RecordPathsError};
pub use request::ApiRequest;

use std::future::Future;

use crate::answer::{ProxyError, ProxyResponse};
use crate::cassette::set::CassetteSet;

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
    pub cassette: Option<CassetteName>,
    /// Why, when it did not go as planned; logged (redacted) by the pipeline.
    pub detail: Option<(Severity, String)>,
}

impl Handled {
    /// A normal answer.
    pub fn ok(response: ProxyResponse, outcome: Outcome, cassette: Option<CassetteName>) -> Handled {
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
            ProxyError::Upstream(_) | ProxyError::Proxy(_) => (Outcome::Error, Severity::Error),
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

    /// Answers a request this mode has answered before, from what decoding
    /// it worked out then ([`Known`]) and this request's own head, without
    /// decoding it again. `None` (a miss, an error, a mode that does not
    /// memoise) sends it down the full path, so it must then have changed
    /// nothing: no counter, no sequence, no idempotency key.
    fn handle_known(&self, _known: &Known, _head: Head<'_>) -> Option<Handled> {
        None
    }

    /// Whether [`Mode::handle_known`] can answer at all: the pipeline keeps
    /// a memo of decoded requests only for a mode that says so.
    fn handles_known(&self) -> bool {
        false
    }

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

    /// Replay misses answered so far, of one set or all (`GET
    /// /__stripe-vcr/misses`); modes that never miss have none.
    fn misses(&self, _set: Option<&CassetteSet>) -> Misses {
        Misses::default()
    }

    /// The `/__stripe-vcr/webhooks` paths: record receives events there
    /// (`POST`), replay lists (`GET`) and flushes (`POST …/flush`) its
    /// deliveries. The answer's status and JSON body.
    fn webhooks(
        &self,
        _method: &hyper::Method,
        _uri: &hyper::Uri,
        _headers: &hyper::HeaderMap,
        _body: bytes::Bytes,
    ) -> impl Future<Output = (hyper::StatusCode, serde_json::Value)> + Send {
        std::future::ready((
            hyper::StatusCode::NOT_FOUND,
            serde_json::json!({"error": {"message": "this mode does not handle webhooks", "type": "invalid_request_error"}}),
        ))
    }

    /// Waits until every cassette this mode saved is synced to disk, then
    /// tidies what the run leaves behind. Called once the last request has
    /// finished.
    fn settle(&self) -> impl Future<Output = Settled> + Send {
        std::future::ready(Settled::default())
    }
}

/// What a mode left on disk when the run ended, for the summary.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Settled {
    /// Cassettes written but not synced to disk (the exit code says so).
    pub unsynced: u64,
    /// Occurrences an earlier, longer recording of a request left beyond
    /// what this run recorded of it, deleted so that replay never mixes two
    /// sessions (names relative to the cassette directory).
    pub stale_removed: Vec<String>,
    /// Webhook events recorded, delivered, and given up on, in this run.
    pub webhooks: WebhookTotals,
}

/// What became of webhook events in a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct WebhookTotals {
    pub recorded: u64,
    pub delivered: u64,
    pub failed: u64,
}
