//! The reserved admin paths under `/__stripe-vcr/` (Stripe never uses them):
//! answered by the proxy itself, never recorded, replayed or forwarded, and
//! not reachable through a CONNECT tunnel to the API host.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};

use crate::error::ProxyResponse;
use crate::stats::Summary;

/// The reserved prefix.
pub const PREFIX: &str = "/__stripe-vcr/";

/// Answers an admin request: `health` (for readiness waits in CI).
pub fn handle(path: &str, mode: &str, summary: Summary) -> ProxyResponse {
    let (status, body) = match path.trim_start_matches(PREFIX).trim_end_matches('/') {
        "health" => (
            StatusCode::OK,
            serde_json::json!({
                "status": "ok",
                "service": "stripe-vcr",
                "version": env!("CARGO_PKG_VERSION"),
                "mode": mode,
                "requests": summary.requests,
            }),
        ),
        other => (
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": {
                "message": format!("stripe-vcr has no admin endpoint `{other}`; try {PREFIX}health"),
                "type": "invalid_request_error"
            }}),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(
        serde_json::to_vec_pretty(&body).unwrap_or_default(),
    )));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
