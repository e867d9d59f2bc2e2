//! HTTP serving: one TLS connection, one request in, Stripe's common response headers out.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio_rustls::TlsAcceptor;

use crate::gateway::{Dialect, Gateway};
use crate::hooks::{echo_hooks, DELAY_HEADER, HOLD_HEADER};
use crate::state::State;
use crate::webhooks::{AnswerSent, Webhooks, FLUSH_PATH};
use std::collections::HashMap;

/// `Stripe-Version` sent back when the request does not name one.
pub(crate) const DEFAULT_STRIPE_VERSION: &str = "2026-07-29.dahlia";

/// Largest request body accepted.
pub(crate) const MAX_BODY_BYTES: usize = 1 << 20;
/// Longest delay honoured for `Standin-Delay-Ms`.
pub(crate) const MAX_DELAY_MS: u64 = 120_000;

/// Completes the TLS handshake and serves HTTP/1.1 or HTTP/2 on one connection.
pub(crate) async fn serve_connection(
    app: Arc<App>,
    acceptor: TlsAcceptor,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
) {
    let tls = match acceptor.accept(tcp).await {
        Ok(tls) => tls,
        Err(err) => {
            eprintln!("standin: TLS handshake with {peer} failed: {err}");
            return;
        }
    };
    let service = hyper::service::service_fn(move |req| {
        let app = app.clone();
        async move {
            let response = app.handle(req).await;
            Ok::<_, Infallible>(AnswerBody::carry(response))
        }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    if let Err(err) = builder.serve_connection(TokioIo::new(tls), service).await {
        eprintln!("standin: connection with {peer} ended with an error: {err}");
    }
}

/// A response body that keeps the [`AnswerSent`] guard of the events its
/// request caused until hyper is done sending it (and drops the body), so
/// their webhooks go out after the answer.
pub(crate) struct AnswerBody {
    inner: Full<Bytes>,
    _sent: Option<Arc<AnswerSent>>,
}

impl AnswerBody {
    /// Moves the guard (if any) from the response's extensions into its body.
    pub(crate) fn carry(response: Response<Full<Bytes>>) -> Response<AnswerBody> {
        let (mut parts, inner) = response.into_parts();
        let sent = parts.extensions.remove::<Arc<AnswerSent>>();
        Response::from_parts(parts, AnswerBody { inner, _sent: sent })
    }
}

impl hyper::body::Body for AnswerBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// The shared application: all state behind one mutex.
///
/// Requests are handled synchronously while holding the lock, which keeps the
/// store, the idempotency cache and the RNGs consistent without finer locking.
pub(crate) struct App {
    pub(crate) state: Mutex<State>,
    /// `Standin-Hold` tokens: 1 once a request is held, 2 once released.
    pub(crate) holds: Mutex<HashMap<String, tokio::sync::watch::Sender<u8>>>,
    /// Webhook delivery (`--webhook-url`), if on.
    pub(crate) webhooks: Option<Webhooks>,
    /// `--dialect gateway-002`: the gateway answers every API request.
    pub(crate) gateway: Option<Mutex<Gateway>>,
}

/// The parts of an HTTP request the API logic needs.
pub(crate) struct ApiRequest {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl ApiRequest {
    /// A header's value, if present and valid UTF-8.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A response before the common headers are added.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
    /// Extra headers (e.g. `WWW-Authenticate`).
    pub(crate) headers: Vec<(&'static str, String)>,
    /// Request-Id of the execution that produced this body (for `Original-Request`).
    pub(crate) original_request: Option<String>,
    /// True when served from the idempotency cache.
    pub(crate) replayed: bool,
}

impl Reply {
    /// A successful JSON reply.
    pub(crate) fn ok(body: &Value) -> Self {
        Self {
            status: StatusCode::OK,
            body: json_bytes(body),
            headers: Vec::new(),
            original_request: None,
            replayed: false,
        }
    }
}

/// Pretty-prints a JSON value the way Stripe does.
pub(crate) fn json_bytes(value: &Value) -> Bytes {
    Bytes::from(serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".to_owned()))
}

impl App {
    /// Creates the application; `seed` selects deterministic mode.
    pub(crate) fn new(seed: Option<u64>) -> Self {
        Self {
            state: Mutex::new(State::new(seed)),
            holds: Mutex::new(HashMap::new()),
            webhooks: None,
            gateway: None,
        }
    }

    /// Speaks `dialect` from now on (`--dialect`); `seed` as for [`App::new`].
    pub(crate) fn speak(&mut self, dialect: Dialect, seed: Option<u64>) {
        self.gateway = match dialect {
            Dialect::Stripe => None,
            Dialect::Gateway002 => Some(Mutex::new(Gateway::new(seed))),
        };
    }

    /// Delivers every event from now on (`--webhook-url`).
    pub(crate) fn deliver_webhooks(&mut self, webhooks: Webhooks) {
        self.state.get_mut().unwrap_or_else(|e| e.into_inner()).outbox = Some(Vec::new());
        self.webhooks = Some(webhooks);
    }

    /// `POST /__standin/webhooks/flush`: waits until every queued event is
    /// delivered or given up on.
    async fn flush_endpoint(&self, method: &Method, path: &str) -> Option<Response<Full<Bytes>>> {
        if path != FLUSH_PATH {
            return None;
        }
        let (status, body) = match (method, &self.webhooks) {
            (&Method::POST, Some(webhooks)) => {
                let counts = webhooks.flush().await;
                (
                    StatusCode::OK,
                    serde_json::json!({"delivered": counts.delivered, "failed": counts.failed}),
                )
            }
            (&Method::POST, None) => (StatusCode::OK, serde_json::json!({"delivered": 0, "failed": 0})),
            _ => (
                StatusCode::METHOD_NOT_ALLOWED,
                serde_json::json!({"error": {"message": format!("{FLUSH_PATH} takes POST"), "type": "invalid_request_error"}}),
            ),
        };
        let mut response = Response::new(Full::new(json_bytes(&body)));
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        Some(response)
    }

    /// Answers one HTTP request.
    pub(crate) async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        if let Some(response) = self.flush_endpoint(req.method(), req.uri().path()).await {
            return response;
        }
        if let Some(response) = self.hold_endpoint(req.method(), req.uri().path()).await {
            return response;
        }
        let hold = req
            .headers()
            .get(HOLD_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Some(token) = hold {
            self.hold_reached(&token, 1);
            if !self.hold_until(&token, 2).await {
                eprintln!("standin: hold {token} was never released");
            }
        }
        let delay = req
            .headers()
            .get(DELAY_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay.min(MAX_DELAY_MS))).await;
        }
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(err) => {
                eprintln!("standin: reading request body failed: {err}");
                Bytes::new()
            }
        };
        let request = ApiRequest {
            method: parts.method,
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts.headers,
            body,
        };
        if let Some(gateway) = &self.gateway {
            let request_id = self.state.lock().unwrap_or_else(|e| e.into_inner()).ids.request_id();
            let response = gateway
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .handle(&request, &request_id);
            eprintln!(
                "standin: gateway {} {} -> {} ({request_id})",
                request.method,
                request.path,
                response.status().as_u16()
            );
            return echo_hooks(&request.headers, response);
        }
        let (request_id, reply, sent) = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let request_id = state.ids.request_id();
            let reply = state.execute(&request, &request_id);
            // Queued under the lock: the queue's order is the log's.
            let sent = match (&self.webhooks, state.outbox.as_mut()) {
                (Some(webhooks), Some(outbox)) => webhooks.enqueue(std::mem::take(outbox)),
                _ => None,
            };
            (request_id, reply, sent)
        };
        eprintln!(
            "standin: {} {} -> {} ({request_id}{})",
            request.method,
            request.path,
            reply.status.as_u16(),
            if reply.replayed { ", replayed" } else { "" }
        );
        let mut response = echo_hooks(&request.headers, finish_response(&request, &request_id, reply));
        if let Some(sent) = sent {
            response.extensions_mut().insert(sent);
        }
        response
    }
}

/// Adds the headers every Stripe response carries and builds the hyper response.
pub(crate) fn finish_response(request: &ApiRequest, request_id: &str, reply: Reply) -> Response<Full<Bytes>> {
    let version = request
        .header("stripe-version")
        .unwrap_or(DEFAULT_STRIPE_VERSION)
        .to_owned();
    let mut headers: Vec<(&str, String)> = vec![
        ("content-type", "application/json".to_owned()),
        ("request-id", request_id.to_owned()),
        ("stripe-version", version),
        ("cache-control", "no-cache, no-store".to_owned()),
    ];
    if request.method == Method::POST {
        if let Some(key) = request.header("idempotency-key") {
            headers.push(("idempotency-key", key.to_owned()));
        }
        let original = reply.original_request.clone().unwrap_or_else(|| request_id.to_owned());
        headers.push(("original-request", original));
        if reply.replayed {
            headers.push(("idempotent-replayed", "true".to_owned()));
        }
    }
    headers.extend(reply.headers);

    let mut response = Response::new(Full::new(reply.body));
    *response.status_mut() = reply.status;
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(HeaderName::from_static(name), value);
        }
    }
    response
}
