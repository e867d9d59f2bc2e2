//! The reserved admin paths under `/__stripe-vcr/` (Stripe never uses them):
//! answered by the proxy itself, never recorded, replayed or forwarded, and
//! not reachable through a CONNECT tunnel to the API host.
//!
//! - `GET health` — for readiness waits in CI;
//! - `GET stats` — the run's counters, and hits/misses/recorded per set;
//! - `POST reset[?set=NAME]` — restart sequence counters and forget
//!   idempotency keys, for one set or all;
//! - `GET unused` — cassettes not served so far in this run;
//! - `GET misses[?set=NAME]` — the replay misses so far and the message each
//!   client got (redacted), for test runners that fail the test that missed.

use hyper::{Method, StatusCode, Uri};
use serde_json::{json, Value};

use crate::answer::{self, ProxyResponse};
use crate::cassette::set::CassetteSet;
use crate::mode::Mode;
use crate::server::stats::Stats;
use crate::stripe::redact::Redactor;

/// The reserved prefix.
pub const PREFIX: &str = "/__stripe-vcr/";

fn error(status: StatusCode, message: String) -> (StatusCode, Value) {
    (
        status,
        json!({"error": {"message": message, "type": "invalid_request_error"}}),
    )
}

/// Answers an admin request from what the mode and the counters know;
/// `redactor` guards the miss messages, which quote requests.
pub fn handle<M: Mode>(mode: &M, stats: &Stats, redactor: &Redactor, method: &Method, uri: &Uri) -> ProxyResponse {
    let action = uri.path().trim_start_matches(PREFIX).trim_end_matches('/');
    let set = CassetteSet::query_value(uri);
    let parsed = set.as_deref().map(CassetteSet::parse).transpose();
    let (status, body) = match (method, action) {
        (&Method::GET, "health") => (
            StatusCode::OK,
            json!({
                "status": "ok",
                "service": "stripe-vcr",
                "version": env!("CARGO_PKG_VERSION"),
                "mode": mode.name(),
                "requests": stats.summary().requests,
            }),
        ),
        (&Method::GET, "stats") => (
            StatusCode::OK,
            json!({"mode": mode.name(), "totals": stats.summary(), "sets": mode.stats()}),
        ),
        (&Method::GET, "unused") => (StatusCode::OK, json!({"unused": mode.unused()})),
        (&Method::GET, "misses") => match parsed {
            Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
            Ok(parsed) => {
                let mut misses = mode.misses(parsed.as_ref());
                for miss in &mut misses.misses {
                    miss.message = redactor.redact(&miss.message).into_owned();
                }
                (StatusCode::OK, json!(misses))
            }
        },
        (&Method::POST, "reset") => match parsed {
            Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
            Ok(parsed) => {
                if mode.reset(parsed.as_ref()) {
                    (
                        StatusCode::OK,
                        json!({"reset": set.unwrap_or_else(|| "all".to_owned())}),
                    )
                } else {
                    error(
                        StatusCode::NOT_FOUND,
                        format!("no cassette set `{}` to reset", set.unwrap_or_default()),
                    )
                }
            }
        },
        (_, "health" | "stats" | "unused" | "misses" | "reset") => error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not allowed on {PREFIX}{action}; reset takes POST, the others GET"),
        ),
        _ => error(
            StatusCode::NOT_FOUND,
            format!("stripe-vcr has no admin endpoint `{action}`; there are health, stats, unused, misses and reset"),
        ),
    };
    answer::admin(status, &body, &[method.as_str().as_bytes(), uri.path().as_bytes()])
}
