//! Test hooks: held requests, delays and the echo hooks (crafted headers, bodies, encodings).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, Response, StatusCode};

use crate::http::App;

/// Test hook header: fail the first request carrying a given token.
pub(crate) const FAIL_ONCE_HEADER: &str = "standin-fail-once";
/// Test hook metadata key on create: fail the first create carrying a given token.
pub(crate) const FAIL_ONCE_METADATA: &str = "standin_fail_once";
/// Test hook metadata key on create: the first create carrying a given token
/// runs (and is saved under its idempotency key), but its answer says
/// `Stripe-Should-Retry: true`, so an SDK retries it with the same key and
/// gets the saved result replayed: a retry of a request Stripe already ran.
pub(crate) const RETRY_AFTER_SUCCESS_METADATA: &str = "standin_retry_after_success";
/// Test hook header: sleep this many milliseconds before answering.
pub(crate) const DELAY_HEADER: &str = "standin-delay-ms";
/// Test hook header: hold the request until its token is released.
pub(crate) const HOLD_HEADER: &str = "standin-hold";
/// How long a hold, or a wait for one, lasts at most.
pub(crate) const HOLD_LIMIT: Duration = Duration::from_secs(30);
/// Test hook header: echo this value in the `standin-echo` response header.
pub(crate) const ECHO_HEADER: &str = "standin-echo-header";
/// Test hook header: answer with this body instead.
pub(crate) const ECHO_BODY: &str = "standin-echo-body";
/// Test hook header: the `Content-Type` of an echoed body.
pub(crate) const ECHO_TYPE: &str = "standin-echo-type";
/// Test hook header: send the body with this `Content-Encoding`.
pub(crate) const ENCODE_HEADER: &str = "standin-encode";

impl App {
    /// The watch channel of a hold token, created on first use.
    pub(crate) fn hold(&self, token: &str) -> tokio::sync::watch::Receiver<u8> {
        let mut holds = self.holds.lock().unwrap_or_else(|e| e.into_inner());
        holds
            .entry(token.to_owned())
            .or_insert_with(|| tokio::sync::watch::channel(0).0)
            .subscribe()
    }

    /// Moves a hold token to `stage` (1 held, 2 released).
    pub(crate) fn hold_reached(&self, token: &str, stage: u8) {
        self.hold(token);
        let holds = self.holds.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = holds.get(token) {
            sender.send_if_modified(|s| {
                let moved = *s < stage;
                *s = (*s).max(stage);
                moved
            });
        }
    }

    /// Waits (at most [`HOLD_LIMIT`]) until a hold token reaches `stage`.
    pub(crate) async fn hold_until(&self, token: &str, stage: u8) -> bool {
        let mut rx = self.hold(token);
        tokio::time::timeout(HOLD_LIMIT, rx.wait_for(|s| *s >= stage))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The hold hooks' own endpoints, `/__standin/held/T` and `/__standin/release/T`.
    pub(crate) async fn hold_endpoint(&self, method: &Method, path: &str) -> Option<Response<Full<Bytes>>> {
        let rest = path.strip_prefix("/__standin/")?;
        let status = match (method, rest.split_once('/')) {
            (&Method::GET, Some(("held", token))) => match self.hold_until(token, 1).await {
                true => StatusCode::OK,
                false => StatusCode::GATEWAY_TIMEOUT,
            },
            (&Method::POST, Some(("release", token))) => {
                self.hold_reached(token, 2);
                StatusCode::OK
            }
            _ => StatusCode::NOT_FOUND,
        };
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = status;
        Some(response)
    }
}

/// A test hook header's value, percent-decoded once.
pub(crate) fn hook_value(headers: &HeaderMap, name: &str) -> Option<Vec<u8>> {
    let raw = headers.get(name)?;
    Some(percent_encoding::percent_decode(raw.as_bytes()).collect())
}

/// The echo hooks (see the module doc): crafted headers, bodies and
/// encodings, as a hostile upstream would send them.
pub(crate) fn echo_hooks(headers: &HeaderMap, mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    use std::io::Write as _;
    if let Some(value) = hook_value(headers, ECHO_HEADER) {
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            response.headers_mut().insert("standin-echo", value);
        }
    }
    let echoed = hook_value(headers, ECHO_BODY);
    let encoding = headers
        .get(ENCODE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if echoed.is_none() && encoding.is_none() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let mut response = Response::from_parts(parts, Full::new(Bytes::new()));
    let body = match echoed {
        Some(bytes) => {
            let content_type = hook_value(headers, ECHO_TYPE).unwrap_or_else(|| b"text/plain".to_vec());
            if let Ok(value) = HeaderValue::from_bytes(&content_type) {
                response.headers_mut().insert("content-type", value);
            }
            bytes
        }
        // A `Full` body is one chunk, there at once.
        None => full_body_bytes(body),
    };
    let body = match encoding.as_deref() {
        None => body,
        Some(coding) => {
            let gzip = |data: &[u8]| {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(data).and_then(|()| e.finish()).unwrap_or_default()
            };
            let (sent_as, encoded) = match coding.to_ascii_lowercase().as_str() {
                "gzip" | "x-gzip" => (coding.to_owned(), gzip(&body)),
                "gzip-multi" => {
                    let half = body.len() / 2;
                    ("gzip".to_owned(), [gzip(&body[..half]), gzip(&body[half..])].concat())
                }
                "deflate" => {
                    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                    let encoded = e.write_all(&body).and_then(|()| e.finish()).unwrap_or_default();
                    (coding.to_owned(), encoded)
                }
                "deflate-raw" => {
                    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
                    let encoded = e.write_all(&body).and_then(|()| e.finish()).unwrap_or_default();
                    ("deflate".to_owned(), encoded)
                }
                _ => (coding.to_owned(), body),
            };
            if let Ok(value) = HeaderValue::from_str(&sent_as) {
                response.headers_mut().insert("content-encoding", value);
            }
            encoded
        }
    };
    *response.body_mut() = Full::new(Bytes::from(body));
    response
}

/// The bytes of a one-chunk `Full` body.
pub(crate) fn full_body_bytes(body: Full<Bytes>) -> Vec<u8> {
    use hyper::body::Body as _;
    let mut body = std::pin::pin!(body);
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    match body.as_mut().poll_frame(&mut cx) {
        std::task::Poll::Ready(Some(Ok(frame))) => frame.into_data().map(|d| d.to_vec()).unwrap_or_default(),
        _ => Vec::new(),
    }
}
