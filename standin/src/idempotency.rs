//! `Idempotency-Key`: the remembered outcome of POSTs, replayed or refused.

use std::collections::HashMap;

use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{Map, Value};

use crate::errors::ApiError;

/// The remembered outcome of an idempotent request.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) path: String,
    pub(crate) params: Map<String, Value>,
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
    pub(crate) request_id: String,
}

/// Result of looking up an `Idempotency-Key`.
#[derive(Debug)]
pub(crate) enum Lookup<'a> {
    /// Never seen: execute the request.
    Fresh,
    /// Seen with the same request: replay this.
    Replay(&'a Recorded),
    /// Seen with a different request.
    Mismatch(ApiError),
}

/// Outcomes of POST requests by `Idempotency-Key`.
#[derive(Default)]
pub(crate) struct IdempotencyCache {
    pub(crate) entries: HashMap<String, Recorded>,
}

impl IdempotencyCache {
    pub(crate) fn lookup(&self, key: &str, path: &str, params: &Map<String, Value>) -> Lookup<'_> {
        let Some(recorded) = self.entries.get(key) else {
            return Lookup::Fresh;
        };
        if recorded.path != path {
            return Lookup::Mismatch(ApiError::new(
                StatusCode::BAD_REQUEST,
                "idempotency_error",
                format!(
                    "Keys for idempotent requests can only be used for the same endpoint they were first used for ('{}' vs '{path}'). Try using a key other than '{key}' if you meant to execute a different request.",
                    recorded.path
                ),
            ));
        }
        if &recorded.params != params {
            return Lookup::Mismatch(ApiError::new(
                StatusCode::BAD_REQUEST,
                "idempotency_error",
                format!(
                    "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
                ),
            ));
        }
        Lookup::Replay(recorded)
    }

    pub(crate) fn record(&mut self, key: &str, recorded: Recorded) {
        self.entries.insert(key.to_owned(), recorded);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_form;

    #[test]
    fn idempotency_replays_same_and_rejects_different_params() {
        let mut cache = IdempotencyCache::default();
        let params = decode_form(b"amount=1&currency=usd").expect("decodes");
        assert!(matches!(
            cache.lookup("k", "/v1/payment_intents", &params),
            Lookup::Fresh
        ));
        cache.record(
            "k",
            Recorded {
                path: "/v1/payment_intents".to_owned(),
                params: params.clone(),
                status: StatusCode::OK,
                body: Bytes::from_static(b"{}"),
                request_id: "req_1".to_owned(),
            },
        );
        let reordered = decode_form(b"currency=usd&amount=1").expect("decodes");
        match cache.lookup("k", "/v1/payment_intents", &reordered) {
            Lookup::Replay(r) => assert_eq!(r.request_id, "req_1"),
            other => panic!("expected replay, got {other:?}"),
        }
        let different = decode_form(b"amount=2&currency=usd").expect("decodes");
        match cache.lookup("k", "/v1/payment_intents", &different) {
            Lookup::Mismatch(e) => {
                assert_eq!(e.kind, "idempotency_error");
                assert!(e.message.contains("same parameters"));
            }
            other => panic!("expected mismatch, got {other:?}"),
        }
    }
}
