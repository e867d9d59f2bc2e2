//! Replay mode: answer every request from the cassette index of its set,
//! offline and deterministically. Nothing here opens a network connection —
//! except, with `--record-missing`, the recorder it hands misses to.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::{Method, Response};
use tokio_util::either::Either;

use crate::cassette::index::{PreparedResponse, ReplayIndex};
use crate::cassette::key::RequestKey;
use crate::cassette::set::CassetteSet;
use crate::error::{CassetteError, ClientError, ProxyResponse};
use crate::mode::record::Recorder;
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

/// One cassette set's index and run state.
#[derive(Debug)]
struct SetState {
    index: ReplayIndex,
    idempotency: Mutex<HashMap<String, Remembered>>,
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

    /// A miss: recorded by the fallback with `--record-missing`, else Stripe-shaped 404.
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
            .then(|| request.header("idempotency-key").map(str::to_owned))
            .flatten();
        let found = {
            let mut memory = state.idempotency.lock().unwrap_or_else(|p| p.into_inner());
            match idempotency_key
                .as_ref()
                .and_then(|k| memory.get(k).map(|seen| (k, seen)))
            {
                Some((k, seen)) if seen.key != request.key => {
                    return Ok(Handled::error(
                        ClientError::IdempotencyKeyReused { key: k.clone() }.into(),
                    ));
                }
                Some((k, seen)) => Err((
                    Self::serve(&seen.response, &seen.cassette, true, Some(k)),
                    seen.cassette.clone(),
                )),
                None => {
                    let recording = state.index.next(&request.key);
                    if let (Some(k), Some(rec)) = (&idempotency_key, &recording) {
                        if remembered_by_stripe(&rec.response) {
                            memory.insert(
                                k.clone(),
                                Remembered {
                                    key: request.key,
                                    cassette: request.set.qualify(&rec.file_name),
                                    response: rec.response.clone(),
                                },
                            );
                        }
                    }
                    Ok(recording)
                }
            }
        };
        match found {
            Err((response, cassette)) => {
                state.hits.fetch_add(1, Ordering::Relaxed);
                Ok(Handled::ok(response, Outcome::Hit, Some(cassette)))
            }
            Ok(Some(recording)) => {
                state.hits.fetch_add(1, Ordering::Relaxed);
                let cassette = request.set.qualify(&recording.file_name);
                Ok(Handled::ok(
                    Self::serve(&recording.response, &cassette, false, idempotency_key.as_deref()),
                    Outcome::Hit,
                    Some(cassette),
                ))
            }
            Ok(None) => {
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

    async fn miss(&self, request: ApiRequest, error: CassetteError) -> Handled {
        match &self.fallback {
            Some(recorder) => recorder.handle(request).await,
            None => Handled::error(error.into()),
        }
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

    async fn settle(&self) -> u64 {
        match &self.fallback {
            Some(recorder) => recorder.settle().await,
            None => 0,
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
