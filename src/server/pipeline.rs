//! The per-request path every mode shares: read the body within its limit,
//! decode the parameters, canonicalise, hand the request to the mode, then
//! count and log what happened.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Incoming};
use hyper::Request;
use tokio_util::either::Either;

use crate::answer::{ClientError, ProxyError, ProxyResponse};
use crate::audit_log::{AuditLog, Entry, Finding};
use crate::mode::webhooks::WEBHOOKS_PATH;
use crate::mode::{ApiRequest, Handled, Head, Known, Mode, Severity, Via};
use crate::server::admin;
use crate::server::logging;
use crate::server::memo::{self, Found, Memo};
use crate::server::stats::Stats;
use crate::stripe::auth::ApiKey;
use crate::stripe::redact::Redactor;
use crate::stripe::validate::{ValidationMode, Validator, Violation};
use crate::tls::LeafIssuer;

pub use crate::server::findings::{Findings, VALIDATION_HEADER};

/// Everything a connection needs, shared by all of them.
pub struct State<M> {
    pub mode: M,
    pub stats: Arc<Stats>,
    /// The one redactor: match keys, cassettes and log lines all go through it.
    pub redactor: Arc<Redactor>,
    pub tls: Arc<LeafIssuer>,
    /// Checks request shapes against the schema.
    pub validator: Validator,
    /// Where `--audit-log` lines go, if anywhere.
    pub audit: Option<AuditLog>,
    /// Requests decoded before, when the mode answers from them (replay,
    /// without `--audit-log`).
    pub memo: Option<Memo>,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// The port the proxy listens on: a CONNECT to a loopback name on it is
    /// the proxy itself, intercepted like the API on 443.
    pub listen_port: u16,
    /// How long the whole body may take to arrive.
    pub body_read_timeout: std::time::Duration,
    /// How long a request's headers may take to arrive.
    pub header_read_timeout: std::time::Duration,
    /// How long a client may take to send its first byte, or to finish a
    /// TLS handshake (directly or inside a CONNECT tunnel).
    pub handshake_timeout: std::time::Duration,
    /// Cancelled when the proxy shuts down.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Every connection task, so shutdown can wait for them.
    pub tasks: tokio_util::task::TaskTracker,
}

/// The future [`handle`] returns: the response itself when it was made
/// at once, else the rest of the work, boxed.
pub type Handling = Either<std::future::Ready<ProxyResponse>, Pin<Box<dyn Future<Output = ProxyResponse> + Send>>>;

/// Handles one (non-CONNECT) request end to end. Never fails: every error
/// becomes a Stripe-shaped response here or in the mode.
///
/// A request the memo knows whose body has already arrived (a GET; over
/// HTTP/1.1 a body comes after hyper has asked for the answer) is answered
/// right here, before any future exists: what hyper moves into place for
/// every request (and spawns for every HTTP/2 stream) is then just the
/// response. Anything else (a body still on its way, a request not seen
/// before, a miss, the admin paths) goes on in a boxed future, which
/// answers a known request the same way once its body is in.
pub fn handle<M: Mode>(state: Arc<State<M>>, request: Request<Incoming>, via: Via) -> Handling {
    let started = Instant::now();
    if request.uri().path().starts_with(admin::PREFIX) && !matches!(via, Via::Tunnel(_)) {
        if request.uri().path().starts_with(WEBHOOKS_PATH) {
            return Either::Right(Box::pin(async move { webhooks(&state, request).await }));
        }
        return Either::Left(std::future::ready(admin::handle(
            &state.mode,
            &state.stats,
            &state.redactor,
            request.method(),
            request.uri(),
        )));
    }
    let (parts, body) = request.into_parts();
    let body = match body_now(body, state.body_limit) {
        BodyNow::Read(body) => body,
        BodyNow::Pending(pending) => {
            return Either::Right(Box::pin(async move {
                let body = pending.finish(state.body_read_timeout).await;
                if let Ok(bytes) = &body {
                    if let Some(response) = answer_known(&state, &parts, bytes, &via, started) {
                        return response;
                    }
                }
                // Boxed on its own: inline, it would make this future (moved
                // into place for every POST) several times larger.
                Box::pin(decode_and_answer(&state, parts, body, via, started)).await
            }));
        }
    };
    if let Ok(bytes) = &body {
        if let Some(response) = answer_known(&state, &parts, bytes, &via, started) {
            return Either::Left(std::future::ready(response));
        }
    }
    Either::Right(Box::pin(async move {
        decode_and_answer(&state, parts, body, via, started).await
    }))
}

/// A request the memo knows, answered by the mode from what it knows
/// (`None`: not known, or the mode wants the full path).
fn answer_known<M: Mode>(
    state: &State<M>,
    parts: &hyper::http::request::Parts,
    body: &Bytes,
    via: &Via,
    started: Instant,
) -> Option<ProxyResponse> {
    let Found::Known(entry) = state.memo.as_ref()?.find(parts, body) else {
        return None;
    };
    let head = Head {
        method: &parts.method,
        headers: &parts.headers,
    };
    let mut handled = state.mode.handle_known(&entry.known, head)?;
    if let Some(findings) = &entry.findings {
        findings.note(&mut handled);
    }
    let access = AccessLine {
        via: via.as_str(),
        method: parts.method.clone(),
        path: LoggedPath::Memo(entry),
    };
    Some(finish(state, handled, None, access, started))
}

/// The full path: decode, validate, ask the mode, await its answer.
async fn decode_and_answer<M: Mode>(
    state: &State<M>,
    parts: hyper::http::request::Parts,
    body: Result<Bytes, ProxyError>,
    via: Via,
    started: Instant,
) -> ProxyResponse {
    let prepared = prepare(state, parts, body, via);
    let mut handled = prepared.answer.await;
    if let Some(findings) = &prepared.findings {
        findings.note(&mut handled);
    }
    finish(state, handled, prepared.audit, prepared.access, started)
}

/// `/__stripe-vcr/webhooks…`: the body read within the request limits, the
/// mode's answer as admin JSON. Not counted as API traffic.
async fn webhooks<M: Mode>(state: &State<M>, request: Request<Incoming>) -> ProxyResponse {
    let (parts, body) = request.into_parts();
    let seed = [parts.method.as_str().as_bytes(), parts.uri.path().as_bytes()];
    let body = match read_body(body, state.body_limit, state.body_read_timeout).await {
        Ok(body) => body,
        Err(e) => return e.into_response(),
    };
    let (status, answer) = state
        .mode
        .webhooks(&parts.method, &parts.uri, &parts.headers, body)
        .await;
    crate::answer::admin(status, &answer, &seed)
}

/// A request decoded and validated, with the answer under way.
struct Prepared<F> {
    answer: F,
    /// The `--validate warn` findings to note on the answer.
    findings: Option<Arc<Findings>>,
    audit: Option<Box<Entry>>,
    access: AccessLine,
}

/// Decodes and validates a request and asks the mode (unless validation
/// refuses it first): everything between reading the body and awaiting the
/// answer, as a plain function. A request new to the memo is remembered.
fn prepare<M: Mode>(
    state: &State<M>,
    parts: hyper::http::request::Parts,
    body: Result<Bytes, ProxyError>,
    via: Via,
) -> Prepared<impl Future<Output = Handled> + Send + '_> {
    let access = AccessLine {
        via: via.as_str(),
        method: parts.method.clone(),
        path: LoggedPath::Uri(parts.uri.clone()),
    };
    let answered = |handled| Either::Left(std::future::ready(handled));
    // Known requests that reach here are ones the mode sent down the full
    // path (a miss): looked up again only to be remembered if they are new.
    let unknown = match (&state.memo, &body) {
        (Some(memo), Ok(bytes)) => match memo.find(&parts, bytes) {
            Found::Unknown(unknown) => Some(unknown),
            Found::Known(_) => None,
        },
        _ => None,
    };
    let api = match body.and_then(|bytes| ApiRequest::decode(parts, bytes, via, &state.redactor)) {
        Ok(api) => api,
        Err(e) => {
            return Prepared {
                answer: answered(Handled::error(e)),
                findings: None,
                audit: None,
                access,
            }
        }
    };
    let violations = state.validator.check(&api.route, &api.canonical.params, api.typing());
    let audit = state
        .audit
        .as_ref()
        .map(|_| Box::new(audit_entry(state, &api, &violations)));
    let (answer, findings) = match verdict(state, &api, &violations) {
        Verdict::Refuse(handled) => (answered(handled), None),
        Verdict::Serve(findings) => {
            if let (Some(memo), Some(unknown)) = (&state.memo, unknown) {
                let logged = access.logged_path(&state.redactor).into();
                memo.remember(unknown, Known::of(&api), findings.clone(), logged);
            }
            (Either::Right(state.mode.handle(api)), findings)
        }
    };
    Prepared {
        answer,
        findings,
        audit,
        access,
    }
}

/// What the access line says besides the outcome.
struct AccessLine {
    via: &'static str,
    method: hyper::Method,
    path: LoggedPath,
}

/// The path an access line shows.
enum LoggedPath {
    /// This request's, to be redacted.
    Uri(hyper::Uri),
    /// As redacted when the memo first saw it.
    Memo(Arc<memo::Entry>),
}

impl AccessLine {
    /// The path, redacted and printable.
    fn logged_path<'a>(&'a self, redactor: &Redactor) -> std::borrow::Cow<'a, str> {
        match &self.path {
            LoggedPath::Uri(uri) => match redactor.redact(uri.path()) {
                std::borrow::Cow::Borrowed(path) => logging::printable(path),
                std::borrow::Cow::Owned(path) => logging::printable(&path).into_owned().into(),
            },
            LoggedPath::Memo(entry) => std::borrow::Cow::Borrowed(&entry.logged_path),
        }
    }
}

/// Counts, audits and logs a handled request; returns its response.
fn finish<M: Mode>(
    state: &State<M>,
    handled: Handled,
    audit: Option<Box<Entry>>,
    line: AccessLine,
    started: Instant,
) -> ProxyResponse {
    state.stats.count(handled.outcome);
    if let (Some(log), Some(mut entry)) = (&state.audit, audit) {
        entry.outcome = handled.outcome.as_str().to_owned();
        entry.status = handled.response.status().as_u16();
        entry.cassette = handled
            .cassette
            .as_deref()
            .map(|c| state.redactor.redact(c).into_owned());
        log.append(&entry);
    }
    if let Some((severity, detail)) = &handled.detail {
        let detail = state.redactor.redact(detail);
        match severity {
            Severity::Info => tracing::info!("{detail}"),
            Severity::Warn => tracing::warn!("{detail}"),
            Severity::Error => tracing::error!("{detail}"),
        }
    }
    if logging::access_enabled() {
        let cassette = match &handled.cassette {
            Some(name) => name.logged(|n| logging::printable(&state.redactor.redact(n)).into_owned()),
            None => "-",
        };
        logging::access(&logging::Access {
            via: line.via,
            method: line.method.as_str(),
            path: &line.logged_path(&state.redactor),
            outcome: handled.outcome.as_str(),
            status: handled.response.status().as_u16(),
            cassette,
            micros: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        });
    }
    handled.response
}

/// The audit line for a request, before its outcome is known. Path,
/// parameters and headers are redacted (the path in any spelling: the
/// canonical path went through the redactor); the key itself is reduced to
/// "live or not".
fn audit_entry<M: Mode>(state: &State<M>, api: &ApiRequest, violations: &[Violation]) -> Entry {
    let header = |name: &str| api.header(name).map(|v| state.redactor.redact(v).into_owned());
    Entry {
        time: Entry::now(),
        mode: state.mode.name().to_owned(),
        endpoint: api.route.name().map(str::to_owned),
        method: api.method.to_string(),
        path: api.canonical.path.clone(),
        params: api.canonical.params.clone(),
        body_encoding: Some(api.body_encoding),
        findings: violations.iter().map(Finding::from).collect(),
        outcome: String::new(),
        status: 0,
        cassette: None,
        stripe_version: header("stripe-version"),
        user_agent: header("user-agent"),
        live_key: ApiKey::live_among(&api.headers).is_some(),
    }
}

/// What validation decided about a request.
enum Verdict {
    /// `--validate strict` answers it with Stripe's own error.
    Refuse(Handled),
    /// The mode answers it; with findings to note in `warn` mode.
    Serve(Option<Arc<Findings>>),
}

/// Refuses a request that breaks the documented shape in `--validate
/// strict` mode; otherwise lets it through, with the findings to note.
fn verdict<M: Mode>(state: &State<M>, api: &ApiRequest, violations: &[Violation]) -> Verdict {
    let Some(first) = violations.first() else {
        return Verdict::Serve(None);
    };
    let summary = violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    let line = format!("{} {} breaks the documented shape: {summary}", api.method, api.path);
    if state.validator.mode == ValidationMode::Strict {
        let mut handled = Handled::error(ClientError::Invalid(first.clone()).into());
        handled.detail = Some((Severity::Warn, format!("{line} (answered locally, --validate strict)")));
        return Verdict::Refuse(handled);
    }
    Verdict::Serve(Some(Arc::new(Findings::new(violations, line))))
}

/// What [`body_now`] found.
enum BodyNow {
    /// The whole body (or why it cannot be had).
    Read(Result<Bytes, ProxyError>),
    /// Still arriving.
    Pending(PendingBody),
}

/// A body still arriving: the rest is read by [`PendingBody::finish`].
struct PendingBody {
    collect: http_body_util::combinators::Collect<Limited<Incoming>>,
    limit: usize,
}

/// The whole body if it has already arrived (at most `limit` bytes; a
/// declared `Content-Length` over the limit is refused before any of it is
/// read), without waiting: a small body usually comes with its headers.
fn body_now(body: Incoming, limit: usize) -> BodyNow {
    if body.is_end_stream() {
        return BodyNow::Read(Ok(Bytes::new()));
    }
    if body.size_hint().lower() > limit as u64 {
        return BodyNow::Read(Err(ClientError::BodyTooLarge { limit }.into()));
    }
    let mut collect = Limited::new(body, limit).collect();
    // Polled once with a waker that does nothing: if the body is not all
    // here, `finish` polls it again with the task's own.
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match Pin::new(&mut collect).poll(&mut cx) {
        std::task::Poll::Ready(read) => BodyNow::Read(collected(read, limit)),
        std::task::Poll::Pending => BodyNow::Pending(PendingBody { collect, limit }),
    }
}

impl PendingBody {
    /// Reads the rest of the body within `timeout`: a client that stops
    /// sending halfway is answered (and its connection closed) when the
    /// time is up, instead of holding it forever.
    async fn finish(mut self, timeout: std::time::Duration) -> Result<Bytes, ProxyError> {
        // Usually all here by the time this is first polled: no timer then.
        let first = std::future::poll_fn(|cx| std::task::Poll::Ready(Pin::new(&mut self.collect).poll(cx))).await;
        if let std::task::Poll::Ready(read) = first {
            return collected(read, self.limit);
        }
        match tokio::time::timeout(timeout, self.collect).await {
            Ok(read) => collected(read, self.limit),
            Err(_) => Err(ClientError::BodyRead(format!(
                "the whole body did not arrive within {} (--body-read-timeout)",
                humantime::format_duration(timeout)
            ))
            .into()),
        }
    }
}

/// What reading a body came to.
fn collected(
    read: Result<http_body_util::Collected<Bytes>, Box<dyn std::error::Error + Send + Sync>>,
    limit: usize,
) -> Result<Bytes, ProxyError> {
    match read {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ClientError::BodyTooLarge { limit }.into()),
        Err(e) => Err(ClientError::BodyRead(e.to_string()).into()),
    }
}

/// Reads the whole body: at most `limit` bytes, within `timeout` (see
/// [`body_now`] and [`PendingBody::finish`]).
async fn read_body(body: Incoming, limit: usize, timeout: std::time::Duration) -> Result<Bytes, ProxyError> {
    match body_now(body, limit) {
        BodyNow::Read(read) => read,
        BodyNow::Pending(pending) => pending.finish(timeout).await,
    }
}
