//! The per-request path every mode shares: read the body within its limit,
//! decode the parameters, canonicalise, hand the request to the mode, then
//! count and log what happened.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Incoming};
use hyper::header::HeaderValue;
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

/// Response header listing validation findings in `--validate warn` mode.
pub const VALIDATION_HEADER: &str = "stripe-vcr-validation";

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

/// Handles one (non-CONNECT) request end to end. Never fails: every error
/// becomes a Stripe-shaped response here or in the mode.
///
/// Only reading the body and the mode's answer await; everything else is a
/// plain function, which keeps this future small (hyper moves one into
/// place for every request, and spawns one per HTTP/2 stream).
pub async fn handle<M: Mode>(state: Arc<State<M>>, request: Request<Incoming>, via: Via) -> ProxyResponse {
    let started = Instant::now();
    if request.uri().path().starts_with(admin::PREFIX) && !matches!(via, Via::Tunnel(_)) {
        if request.uri().path().starts_with(WEBHOOKS_PATH) {
            return webhooks(&state, request).await;
        }
        return admin::handle(
            &state.mode,
            &state.stats,
            &state.redactor,
            request.method(),
            request.uri(),
        );
    }
    // A block, so the request head is gone before the mode's answer is awaited.
    let prepared = {
        let (parts, body) = request.into_parts();
        let body = read_body(body, state.body_limit, state.body_read_timeout).await;
        prepare(&state, parts, body, via)
    };
    let mut handled = prepared.answer.await;
    if let Some(findings) = &prepared.findings {
        findings.note(&mut handled);
    }
    finish(&state, handled, prepared.audit, prepared.access, started)
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
/// answer, as a plain function. A request the memo knows is answered from
/// it, without decoding or validating it again.
fn prepare<M: Mode>(
    state: &State<M>,
    parts: hyper::http::request::Parts,
    body: Result<Bytes, ProxyError>,
    via: Via,
) -> Prepared<impl Future<Output = Handled> + Send + '_> {
    let mut access = AccessLine {
        via: via.as_str(),
        method: parts.method.clone(),
        path: LoggedPath::Uri(parts.uri.clone()),
    };
    let answered = |handled| Either::Left(std::future::ready(handled));
    let mut unknown = None;
    if let (Some(memo), Ok(bytes)) = (&state.memo, &body) {
        match memo.find(&parts, bytes) {
            Found::Known(entry) => {
                let head = Head {
                    method: &parts.method,
                    headers: &parts.headers,
                };
                if let Some(handled) = state.mode.handle_known(&entry.known, head) {
                    let findings = entry.findings.clone();
                    access.path = LoggedPath::Memo(entry);
                    return Prepared {
                        answer: answered(handled),
                        findings,
                        audit: None,
                        access,
                    };
                }
            }
            Found::Unknown(u) => unknown = Some(u),
        }
    }
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
    let violations = state.validator.check(&api.route, &api.canonical.params);
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
        // Integer arithmetic: `{:.2}` on a float costs more than the rest of the line.
        let micros = started.elapsed().as_micros();
        logging::access(format_args!(
            "request via={via} method={method} path={path} outcome={outcome} status={status} cassette={cassette} latency_ms={ms}.{hundredths:02}",
            via = line.via,
            method = &line.method,
            path = line.logged_path(&state.redactor),
            outcome = handled.outcome.as_str(),
            status = handled.response.status().as_u16(),
            cassette = logging::printable(&state.redactor.redact(handled.cassette.as_deref().unwrap_or("-"))),
            ms = micros / 1000,
            hundredths = micros % 1000 / 10,
        ));
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

/// A request's `--validate warn` findings, ready to ride along on the
/// mode's answer: one response header each, and a warning line. Worked out
/// once per distinct request (the memo keeps them with it).
#[derive(Debug)]
pub struct Findings {
    headers: Vec<HeaderValue>,
    line: String,
}

impl Findings {
    fn new(violations: &[Violation], line: String) -> Findings {
        let headers = violations
            .iter()
            .filter_map(|v| {
                let text = format!("{}: {}", v.code.unwrap_or("invalid"), v.message);
                HeaderValue::from_str(&text.replace(|c: char| !c.is_ascii() || c.is_ascii_control(), "?")).ok()
            })
            .collect();
        Findings { headers, line }
    }

    /// Adds the headers and the warning line to `handled`.
    fn note(&self, handled: &mut Handled) {
        for value in &self.headers {
            handled.response.headers_mut().append(VALIDATION_HEADER, value.clone());
        }
        let previous = handled.detail.take().map(|(_, d)| format!("; {d}")).unwrap_or_default();
        handled.detail = Some((Severity::Warn, format!("{}{previous}", self.line)));
    }
}

/// Reads the whole body: at most `limit` bytes, within `timeout`. A
/// declared `Content-Length` over the limit is refused before any of it is
/// read, and a client that stops sending halfway is answered (and its
/// connection closed) when the time is up, instead of holding it forever.
async fn read_body(body: Incoming, limit: usize, timeout: std::time::Duration) -> Result<Bytes, ProxyError> {
    if body.is_end_stream() {
        return Ok(Bytes::new());
    }
    if body.size_hint().lower() > limit as u64 {
        return Err(ClientError::BodyTooLarge { limit }.into());
    }
    let mut collect = std::pin::pin!(Limited::new(body, limit).collect());
    // A small body has usually arrived with its headers: no timer for it.
    let read = match std::future::poll_fn(|cx| std::task::Poll::Ready(collect.as_mut().poll(cx))).await {
        std::task::Poll::Ready(read) => Ok(read),
        // Boxed: the timer is large, and every request's future would carry it.
        std::task::Poll::Pending => Box::pin(tokio::time::timeout(timeout, collect)).await,
    };
    match read {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(ClientError::BodyTooLarge { limit }.into()),
        Ok(Err(e)) => Err(ClientError::BodyRead(e.to_string()).into()),
        Err(_) => Err(ClientError::BodyRead(format!(
            "the whole body did not arrive within {} (--body-read-timeout)",
            humantime::format_duration(timeout)
        ))
        .into()),
    }
}
