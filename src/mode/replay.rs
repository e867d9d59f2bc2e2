//! Replay mode: answer every request from the cassette index of its set,
//! offline and deterministically. Nothing here opens a network connection —
//! except, with `--record-missing`, the recorder it hands misses to.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::{Method, Response};
use tokio_util::either::Either;

use crate::cassette::index::{PreparedResponse, Recording, ReplayIndex};
use crate::cassette::key::RequestKey;
use crate::cassette::set::CassetteSet;
use crate::error::{CassetteError, ClientError, ProxyResponse};
use crate::mode::record::Recorder;
use crate::mode::{ApiRequest, ForeignTunnels, Handled, Mode, Settled};
use crate::route::Route;
use crate::stats::Outcome;
use crate::stripe::auth::ApiKey;

/// Header naming the cassette a replayed response came from.
pub const CASSETTE_HEADER: &str = "stripe-vcr-cassette";

/// What an `Idempotency-Key` was used for in this run.
#[derive(Debug)]
struct KeyUse {
    /// The cassette first served to the key (its file name in the set):
    /// recorded retries name it in `reuses_idempotency_key_of`.
    first: String,
    /// The result Stripe saved under the key, if it saved one.
    saved: Option<Saved>,
}

/// A result saved under an idempotency key, answered again to a retry with
/// the same parameters.
#[derive(Debug)]
struct Saved {
    key: RequestKey,
    /// The endpoint's path: a key is bound to the endpoint it was first used on.
    path: String,
    cassette: String,
    response: PreparedResponse,
}

impl Saved {
    /// The result `recording` leaves under its key, if Stripe saves it.
    fn of(recording: &Recording, request: &ApiRequest) -> Option<Saved> {
        recording.saved_by_stripe.then(|| Saved {
            key: request.key,
            path: request.canonical.path.clone(),
            cassette: request.set.qualify(&recording.file_name),
            response: recording.response.clone(),
        })
    }
}

/// What replay answers a request with, before counting.
enum Answer {
    /// A recording, served as recorded.
    Recorded(Arc<Recording>),
    /// A result saved under the request's idempotency key, served again
    /// with `Idempotent-Replayed: true`.
    Saved {
        cassette: String,
        response: PreparedResponse,
    },
    /// Stripe's idempotency error.
    Refused(ClientError),
    /// Nothing recorded.
    Miss,
}

/// One cassette set's index and run state.
#[derive(Debug)]
struct SetState {
    index: ReplayIndex,
    idempotency: Mutex<HashMap<String, KeyUse>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// The replay-mode handler.
#[derive(Debug)]
pub struct Replayer {
    root: PathBuf,
    sets: BTreeMap<CassetteSet, SetState>,
    /// `--record-missing`: misses are forwarded and recorded by this.
    fallback: Option<Recorder>,
}

impl Replayer {
    /// A replayer over the sets loaded from `root`, optionally recording misses.
    pub fn new(root: PathBuf, sets: BTreeMap<CassetteSet, ReplayIndex>, fallback: Option<Recorder>) -> Replayer {
        Replayer {
            root,
            sets: sets
                .into_iter()
                .map(|(set, index)| {
                    (
                        set,
                        SetState {
                            index,
                            idempotency: Mutex::new(HashMap::new()),
                            hits: AtomicU64::new(0),
                            misses: AtomicU64::new(0),
                        },
                    )
                })
                .collect(),
            fallback,
        }
    }

    /// Cassettes loaded, across all sets.
    pub fn cassette_count(&self) -> usize {
        self.sets.values().map(|s| s.index.len()).sum()
    }

    /// The recorded response, except that `Idempotency-Key` echoes this
    /// request's key (as Stripe does), not the one sent while recording.
    fn serve(
        prepared: &PreparedResponse,
        cassette: &str,
        replayed: bool,
        idempotency_key: Option<&str>,
    ) -> ProxyResponse {
        let mut response = Response::new(Full::new(prepared.body.clone()));
        *response.status_mut() = prepared.status;
        *response.headers_mut() = prepared.header_map();
        response.headers_mut().remove("idempotency-key");
        if let Some(v) = idempotency_key.and_then(|k| HeaderValue::from_str(k).ok()) {
            response.headers_mut().insert("idempotency-key", v);
        }
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

    /// Answers `request` from the cassettes, or says why it is a miss (for
    /// [`Replayer::miss`]: record it with `--record-missing`, else a 404).
    fn respond(&self, request: &ApiRequest) -> Result<Handled, CassetteError> {
        if ApiKey::from_headers(&request.headers).is_none() {
            return Ok(Handled::error(ClientError::NoApiKey.into()));
        }
        if request.route == Route::Other {
            return Ok(Handled::error(
                CassetteError::OutsideApi {
                    request: request.canonical.summary(),
                }
                .into(),
            ));
        }
        let Some(state) = self.sets.get(&request.set) else {
            let known: Vec<String> = self.sets.keys().map(ToString::to_string).collect();
            let error = CassetteError::UnknownSet {
                set: request.set.to_string(),
                dir: self.root.display().to_string(),
                known: known.join(", "),
            };
            return Err(error);
        };
        let idempotency_key = (request.method == Method::POST)
            .then(|| request.header("idempotency-key"))
            .flatten()
            .filter(|k| !k.is_empty());
        let answer = match idempotency_key {
            None => state.index.next(&request.key).map_or(Answer::Miss, Answer::Recorded),
            Some(k) => Self::with_key(state, request, k),
        };
        match answer {
            Answer::Recorded(recording) => {
                state.hits.fetch_add(1, Ordering::Relaxed);
                let cassette = request.set.qualify(&recording.file_name);
                Ok(Handled::ok(
                    Self::serve(&recording.response, &cassette, false, idempotency_key),
                    Outcome::Hit,
                    Some(cassette),
                ))
            }
            Answer::Saved { cassette, response } => {
                state.hits.fetch_add(1, Ordering::Relaxed);
                Ok(Handled::ok(
                    Self::serve(&response, &cassette, true, idempotency_key),
                    Outcome::Hit,
                    Some(cassette),
                ))
            }
            Answer::Refused(error) => Ok(Handled::error(error.into())),
            Answer::Miss => {
                state.misses.fetch_add(1, Ordering::Relaxed);
                let closest = state.index.closest(&request.canonical).map(|mut near| {
                    near.file_name = request.set.qualify(&near.file_name);
                    near
                });
                Err(CassetteError::NotRecorded {
                    request: request.canonical.summary(),
                    closest,
                })
            }
        }
    }

    /// A POST with an `Idempotency-Key`. A key seen before in this run is
    /// answered as the recording answered it: the recorded retry of the
    /// cassette first served to the key, if one is left; otherwise by
    /// Stripe's rules (the saved result again, an idempotency error for
    /// other parameters or another endpoint, or, when nothing was saved, a
    /// fresh run of the request).
    fn with_key(state: &SetState, request: &ApiRequest, key: &str) -> Answer {
        let mut memory = state.idempotency.lock().unwrap_or_else(|p| p.into_inner());
        let Some(used) = memory.get_mut(key) else {
            let Some(recording) = state.index.next(&request.key) else {
                return Answer::Miss;
            };
            let saved = Saved::of(&recording, request);
            let first = recording.file_name.clone();
            memory.insert(key.to_owned(), KeyUse { first, saved });
            return Answer::Recorded(recording);
        };
        if let Some(retry) = state.index.next_reusing(&request.key, &used.first) {
            if used.saved.is_none() {
                used.saved = Saved::of(&retry, request);
            }
            return Answer::Recorded(retry);
        }
        match &used.saved {
            Some(saved) if saved.path != request.canonical.path => {
                Answer::Refused(ClientError::IdempotencyKeyOtherEndpoint {
                    key: key.to_owned(),
                    sent: request.canonical.path.clone(),
                    first: saved.path.clone(),
                })
            }
            Some(saved) if saved.key != request.key => {
                Answer::Refused(ClientError::IdempotencyKeyReused { key: key.to_owned() })
            }
            Some(saved) => Answer::Saved {
                cassette: saved.cassette.clone(),
                response: saved.response.clone(),
            },
            None => match state.index.next(&request.key) {
                Some(recording) => {
                    used.saved = Saved::of(&recording, request);
                    Answer::Recorded(recording)
                }
                None => Answer::Miss,
            },
        }
    }

    /// A miss: recorded by the fallback with `--record-missing`, else Stripe-shaped 404.
    async fn miss(&self, request: ApiRequest, error: CassetteError) -> Handled {
        match &self.fallback {
            Some(recorder) => recorder.handle(request).await,
            None => Handled::error(error.into()),
        }
    }
}

impl Mode for Replayer {
    fn name(&self) -> &'static str {
        "replay"
    }

    fn handle(&self, request: ApiRequest) -> impl Future<Output = Handled> + Send {
        // Answered before any future exists, so the one returned is tiny
        // (hyper moves the request's future into place, and spawns one per
        // HTTP/2 stream). Only a miss, which may record, has real work left.
        match self.respond(&request) {
            Ok(handled) => Either::Left(std::future::ready(handled)),
            Err(miss) => Either::Right(Box::pin(self.miss(request, miss))),
        }
    }

    fn foreign_tunnels(&self) -> ForeignTunnels {
        match self.fallback {
            Some(_) => ForeignTunnels::PassThrough,
            None => ForeignTunnels::Refuse,
        }
    }

    fn stats(&self) -> serde_json::Value {
        let sets: serde_json::Map<String, serde_json::Value> = self
            .sets
            .iter()
            .map(|(set, s)| {
                (
                    set.to_string(),
                    serde_json::json!({
                        "cassettes": s.index.len(),
                        "hits": s.hits.load(Ordering::Relaxed),
                        "misses": s.misses.load(Ordering::Relaxed),
                        "unused": s.index.unused().len(),
                    }),
                )
            })
            .collect();
        let mut stats = serde_json::json!({ "sets": sets });
        if let Some(recorder) = &self.fallback {
            stats["recorded"] = recorder.stats();
            stats["sync"] = recorder.sync_stats();
        }
        stats
    }

    async fn settle(&self) -> Settled {
        match &self.fallback {
            Some(recorder) => recorder.settle().await,
            None => Settled::default(),
        }
    }

    fn reset(&self, set: Option<&CassetteSet>) -> bool {
        let reset_one = |s: &SetState| {
            s.index.reset();
            s.idempotency.lock().unwrap_or_else(|p| p.into_inner()).clear();
        };
        match set {
            None => {
                self.sets.values().for_each(reset_one);
                true
            }
            Some(set) => self.sets.get(set).map(reset_one).is_some(),
        }
    }

    fn unused(&self) -> Vec<String> {
        self.sets
            .iter()
            .flat_map(|(set, s)| s.index.unused().into_iter().map(move |f| set.qualify(&f)))
            .collect()
    }
}
