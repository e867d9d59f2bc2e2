//! Replay mode: answer every request from the cassette index, offline and
//! deterministically. Nothing here can open a network connection.

use std::collections::HashMap;
use std::sync::Mutex;

use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::{Method, Response};

use crate::cassette::index::{PreparedResponse, ReplayIndex};
use crate::cassette::key::RequestKey;
use crate::error::{CassetteError, ClientError, ProxyResponse};
use crate::mode::{ApiRequest, ForeignTunnels, Handled, Mode};
use crate::route::Route;
use crate::stats::Outcome;
use crate::stripe::auth::ApiKey;

/// Header naming the cassette a replayed response came from.
pub const CASSETTE_HEADER: &str = "stripe-vcr-cassette";

/// What an `Idempotency-Key` was first used for in this run.
#[derive(Debug)]
struct Remembered {
    key: RequestKey,
    cassette: String,
    response: PreparedResponse,
}

/// The replay-mode handler.
#[derive(Debug)]
pub struct Replayer {
    index: ReplayIndex,
    idempotency: Mutex<HashMap<String, Remembered>>,
}

impl Replayer {
    /// A replayer over a loaded index.
    pub fn new(index: ReplayIndex) -> Replayer {
        Replayer {
            index,
            idempotency: Mutex::new(HashMap::new()),
        }
    }

    /// The index (for counts in the banner).
    pub fn index(&self) -> &ReplayIndex {
        &self.index
    }

    fn serve(prepared: &PreparedResponse, cassette: &str, replayed: bool) -> ProxyResponse {
        let mut response = Response::new(Full::new(prepared.body.clone()));
        *response.status_mut() = prepared.status;
        *response.headers_mut() = prepared.headers.clone();
        if let Ok(v) = HeaderValue::from_str(cassette) {
            response.headers_mut().insert(CASSETTE_HEADER, v);
        }
        if replayed {
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        response
    }

    fn hit(response: ProxyResponse, cassette: String) -> Handled {
        Handled::ok(response, Outcome::Hit, Some(cassette))
    }
}

/// Stripe saves an idempotent result only once the request really ran:
/// a retryable failure is not remembered, so the SDK's retry moves on to the
/// next recorded occurrence, as it did against the real API.
fn remembered_by_stripe(response: &PreparedResponse) -> bool {
    let status = response.status.as_u16();
    !(status == 409 || status == 429 || status >= 500)
}

impl Mode for Replayer {
    fn name(&self) -> &'static str {
        "replay"
    }

    async fn handle(&self, request: ApiRequest) -> Handled {
        if ApiKey::from_headers(&request.headers).is_none() {
            return Handled::error(ClientError::NoApiKey.into());
        }
        if request.route == Route::Other {
            return Handled::error(
                CassetteError::OutsideApi {
                    request: request.canonical.summary(),
                }
                .into(),
            );
        }
        let idempotency_key = (request.method == Method::POST)
            .then(|| request.header("idempotency-key").map(str::to_owned))
            .flatten();
        let mut memory = self.idempotency.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = &idempotency_key {
            if let Some(seen) = memory.get(k) {
                if seen.key != request.key {
                    return Handled::error(ClientError::IdempotencyKeyReused { key: k.clone() }.into());
                }
                return Self::hit(Self::serve(&seen.response, &seen.cassette, true), seen.cassette.clone());
            }
        }
        let Some(recording) = self.index.next(&request.key) else {
            drop(memory);
            return Handled::error(
                CassetteError::NotRecorded {
                    request: request.canonical.summary(),
                    closest: self.index.closest(&request.canonical),
                }
                .into(),
            );
        };
        if let Some(k) = idempotency_key {
            if remembered_by_stripe(&recording.response) {
                memory.insert(
                    k,
                    Remembered {
                        key: request.key,
                        cassette: recording.file_name.clone(),
                        response: recording.response.clone(),
                    },
                );
            }
        }
        drop(memory);
        Self::hit(
            Self::serve(&recording.response, &recording.file_name, false),
            recording.file_name.clone(),
        )
    }

    fn foreign_tunnels(&self) -> ForeignTunnels {
        ForeignTunnels::Refuse
    }
}
